package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zapcore"
)

// Defaults for Options and ConnectConfig.
const (
	DefaultDialTimeout = 5 * time.Second
	DefaultSessionTTL  = 10 * time.Second
)

// Options configures a Store.
type Options struct {
	// Root is the key prefix (default DefaultRoot).
	Root string
	// SessionTTL is the lease TTL of a leader candidate: how long after a leader dies
	// another can take over (default 10s; etcd rounds up to whole seconds).
	SessionTTL time.Duration
	// Logger receives what background loops have to say: a watch that re-lists, a lease
	// that is re-registered. Nil discards it.
	Logger hclog.Logger
}

// ConnectConfig says how to reach etcd.
type ConnectConfig struct {
	Endpoints []string // e.g. http://127.0.0.1:2379
	// DialTimeout bounds connecting and the first request that proves etcd answers
	// (default 5s).
	DialTimeout time.Duration
	// TLS, when set, is used for client connections.
	TLS *tls.Config
	// ReloadTLS, set by Security.Apply with TLS files, reads them again: connections
	// made afterwards use the new CA and client certificate. A file that does not load
	// keeps the ones in use, and the error says why.
	ReloadTLS func() error
	// Username and Password, when set, authenticate to etcd.
	Username, Password string
	Options
}

// Store reads and writes sparse's records in etcd. It is safe for concurrent use.
type Store struct {
	cli   *clientv3.Client
	keys  Keys
	opts  Options
	log   hclog.Logger
	owned bool // Close closes cli
	// fence, when set, makes every write conditional on a leadership still holding.
	fence *Leadership
}

// Connect dials etcd and checks that it answers within DialTimeout. An etcd that does not
// answer is an *UnreachableError that names the endpoints (and, when TLS is the reason,
// says what in it is wrong); an etcd that refuses the user is an error that says why.
func Connect(ctx context.Context, cfg ConnectConfig) (*Store, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("no etcd endpoints given; pass --etcd-endpoints, e.g. http://127.0.0.1:2379")
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            cfg.Endpoints,
		DialTimeout:          cfg.DialTimeout,
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: cfg.DialTimeout,
		TLS:                  cfg.TLS,
		Username:             cfg.Username,
		Password:             cfg.Password,
		Logger:               zapLogger(cfg.Logger, zapcore.ErrorLevel),
	})
	if err != nil {
		if !unavailable(err) {
			// With a user, the client signs in as it connects.
			return nil, refusedError(cfg, NewKeys(cfg.Root).Root(), err)
		}
		return nil, unreachableError(ctx, cfg, err)
	}
	s := NewStore(cli, cfg.Options)
	s.owned = true
	pctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	// Read under the root, as every record is, so that a user without the right to is
	// found now rather than at the first write.
	if _, err := cli.Get(pctx, s.keys.Root()+"/", clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithLimit(1)); err != nil {
		cli.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connecting to etcd at %v: %w", cfg.Endpoints, ctx.Err())
		}
		if !unavailable(err) {
			return nil, refusedError(cfg, s.keys.Root(), err)
		}
		return nil, unreachableError(ctx, cfg, err)
	}
	return s, nil
}

// NewStore uses an existing client; Close leaves it open.
func NewStore(cli *clientv3.Client, opts Options) *Store {
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = DefaultSessionTTL
	}
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Store{cli: cli, keys: NewKeys(opts.Root), opts: opts, log: log}
}

// Client is the underlying etcd client.
func (s *Store) Client() *clientv3.Client { return s.cli }

// Keys is the key layout this store uses.
func (s *Store) Keys() Keys { return s.keys }

// Endpoints are the etcd endpoints the client uses.
func (s *Store) Endpoints() []string { return s.cli.Endpoints() }

// Close closes the client if Connect opened it. A fenced copy shares the client: close
// only the original.
func (s *Store) Close() error {
	if !s.owned || s.fence != nil {
		return nil
	}
	return s.cli.Close()
}

// Fenced returns a Store whose writes succeed only while l still leads: each write is one
// etcd transaction that also checks l's election key. A write after l ended fails with
// ErrNotLeader, so a deposed nimbus cannot overwrite its successor's work.
// Registrations (leases) are not fenced.
func (s *Store) Fenced(l *Leadership) *Store {
	c := *s
	c.fence = l
	return &c
}

// txn runs a conditional write: cmps (and the fence) must hold for then to run. It
// reports whether it ran; when it did not because the fence failed, the error is
// ErrNotLeader.
func (s *Store) txn(ctx context.Context, what string, cmps []clientv3.Cmp, then ...clientv3.Op) (bool, error) {
	var els []clientv3.Op
	if s.fence != nil {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(s.fence.Key()), "=", s.fence.Rev()))
		els = append(els, clientv3.OpGet(s.fence.Key()))
	}
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(then...).Else(els...).Commit()
	if err != nil {
		return false, s.wrap(what, err)
	}
	if resp.Succeeded {
		return true, nil
	}
	if s.fence != nil {
		kvs := resp.Responses[0].GetResponseRange().GetKvs()
		if len(kvs) == 0 || kvs[0].CreateRevision != s.fence.Rev() {
			return false, fmt.Errorf("%s: %w (nimbus %s); stop writing and campaign again", what, ErrNotLeader, s.fence.ID())
		}
	}
	return false, nil
}

func (s *Store) put(ctx context.Context, what, key string, val []byte, opts ...clientv3.OpOption) error {
	_, err := s.txn(ctx, what, nil, clientv3.OpPut(key, string(val), opts...))
	return err
}

func (s *Store) del(ctx context.Context, what, key string, opts ...clientv3.OpOption) error {
	_, err := s.txn(ctx, what, nil, clientv3.OpDelete(key, opts...))
	return err
}

// get reads one record; a missing key is ErrNotFound. rev is the key's ModRevision.
func get[T any, P interface {
	*T
	record
}](ctx context.Context, s *Store, kd kind[T], key string) (*T, int64, error) {
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return nil, 0, s.wrap("reading "+key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, fmt.Errorf("%s %s: %w", kd.name, key, ErrNotFound)
	}
	kv := resp.Kvs[0]
	r, err := decode[T, P](s.keys, kd, key, kv.Value)
	if err != nil {
		return nil, kv.ModRevision, err
	}
	return r, kv.ModRevision, nil
}

// list reads every record under prefix. Values that are not valid records are left out
// and reported together in the error (as *InvalidRecordError), next to the valid ones.
func list[T any, P interface {
	*T
	record
}](ctx context.Context, s *Store, kd kind[T], prefix string) ([]*T, error) {
	resp, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, s.wrap("listing "+prefix, err)
	}
	out := make([]*T, 0, len(resp.Kvs))
	var bad []error
	for _, kv := range resp.Kvs {
		r, err := decode[T, P](s.keys, kd, string(kv.Key), kv.Value)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(bad...)
}

func putRecord[T any, P interface {
	*T
	record
}](ctx context.Context, s *Store, kd kind[T], r *T, opts ...clientv3.OpOption) error {
	key, val, err := encode[T, P](s.keys, kd, r)
	if err != nil {
		return err
	}
	return s.put(ctx, "writing "+key, key, val, opts...)
}

func checkIDs(ids ...[2]string) error {
	var errs []error
	for _, p := range ids {
		if err := ValidateID(p[0], p[1]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// --- topologies

// PutTopology writes a topology record (unconditionally; see UpdateTopology).
func (s *Store) PutTopology(ctx context.Context, r *TopologyRecord) error {
	return putRecord(ctx, s, topologyKind, r)
}

// GetTopology reads one topology; ErrNotFound if there is none.
func (s *Store) GetTopology(ctx context.Context, id string) (*TopologyRecord, error) {
	if err := ValidateID("topology id", id); err != nil {
		return nil, err
	}
	r, _, err := get(ctx, s, topologyKind, s.keys.Topology(id))
	return r, err
}

// ListTopologies reads every topology, sorted by id. Invalid values are skipped and
// reported in the error, next to the valid records.
func (s *Store) ListTopologies(ctx context.Context) ([]*TopologyRecord, error) {
	return list(ctx, s, topologyKind, s.keys.TopologiesPrefix())
}

// DeleteTopology removes a topology record; removing one that is not there is no error.
func (s *Store) DeleteTopology(ctx context.Context, id string) error {
	if err := ValidateID("topology id", id); err != nil {
		return err
	}
	return s.del(ctx, "deleting topology "+id, s.keys.Topology(id))
}

// UpdateTopology applies change to the stored topology and writes it back only if nobody
// changed it in between, retrying on such a race. change must not alter the id; an error
// from it aborts the update and is returned as is.
func (s *Store) UpdateTopology(ctx context.Context, id string, change func(*TopologyRecord) error) (*TopologyRecord, error) {
	if err := ValidateID("topology id", id); err != nil {
		return nil, err
	}
	key := s.keys.Topology(id)
	for attempt := 0; ; attempt++ {
		r, rev, err := get(ctx, s, topologyKind, key)
		if err != nil {
			return nil, err
		}
		if err := change(r); err != nil {
			return nil, err
		}
		if r.ID != id {
			return nil, fmt.Errorf("updating topology %s: the change renamed it to %q; ids are fixed", id, r.ID)
		}
		_, val, err := encode(s.keys, topologyKind, r)
		if err != nil {
			return nil, err
		}
		ok, err := s.txn(ctx, "updating topology "+id,
			[]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", rev)},
			clientv3.OpPut(key, string(val)))
		if err != nil {
			return nil, err
		}
		if ok {
			return r, nil
		}
		if attempt >= 20 {
			return nil, fmt.Errorf("updating topology %s: %w 20 times in a row; try again", id, ErrConflict)
		}
	}
}

// WatchTopologies follows every topology. The channel first gets a put for each existing
// record and then a sync event, then every change in order. If the watch breaks (etcd
// compacted the revisions it needed, lost its leader, or restarted), it lists again, sends
// only the difference (puts for new or changed records, deletes for vanished ones) and a
// sync, and goes on. A value that is not a valid record arrives as a put with Err set.
// The channel closes when ctx ends or the client is closed. The other Watch methods work
// the same way.
func (s *Store) WatchTopologies(ctx context.Context) <-chan Event[TopologyRecord] {
	return watch(ctx, s, topologyKind, s.keys.TopologiesPrefix())
}

// --- supervisors

// GetSupervisor reads one live supervisor; ErrNotFound if it is not registered.
func (s *Store) GetSupervisor(ctx context.Context, id string) (*SupervisorRecord, error) {
	if err := ValidateID("supervisor id", id); err != nil {
		return nil, err
	}
	r, _, err := get(ctx, s, supervisorKind, s.keys.Supervisor(id))
	return r, err
}

// ListSupervisors reads every live supervisor, sorted by id.
func (s *Store) ListSupervisors(ctx context.Context) ([]*SupervisorRecord, error) {
	return list(ctx, s, supervisorKind, s.keys.SupervisorsPrefix())
}

// DeleteSupervisor removes a supervisor's record at once (an operator's action; a
// supervisor that is still alive registers again when it notices).
func (s *Store) DeleteSupervisor(ctx context.Context, id string) error {
	if err := ValidateID("supervisor id", id); err != nil {
		return err
	}
	return s.del(ctx, "deleting supervisor "+id, s.keys.Supervisor(id))
}

// WatchSupervisors follows supervisors as they register and as their leases end.
func (s *Store) WatchSupervisors(ctx context.Context) <-chan Event[SupervisorRecord] {
	return watch(ctx, s, supervisorKind, s.keys.SupervisorsPrefix())
}

// --- assignments

// GetAssignment reads a topology's assignment; ErrNotFound if it has none.
func (s *Store) GetAssignment(ctx context.Context, topologyID string) (*AssignmentRecord, error) {
	if err := ValidateID("topology id", topologyID); err != nil {
		return nil, err
	}
	r, _, err := get(ctx, s, assignmentKind, s.keys.Assignment(topologyID))
	return r, err
}

// ListAssignments reads every assignment, sorted by topology id.
func (s *Store) ListAssignments(ctx context.Context) ([]*AssignmentRecord, error) {
	return list(ctx, s, assignmentKind, s.keys.AssignmentsPrefix())
}

// PutAssignment writes r if the stored assignment still has version prevVersion (0: if
// there is none), so that two schedulers never overwrite each other's work. r.Version
// must be greater than prevVersion for a new placement; the same version rewrites the
// record of an unchanged placement (what it was made for: requested workers,
// generation), which does not move workers. A lost race is an error wrapping
// ErrConflict: re-read the assignment and schedule again.
func (s *Store) PutAssignment(ctx context.Context, r *AssignmentRecord, prevVersion int64) error {
	key, val, err := encode(s.keys, assignmentKind, r)
	if err != nil {
		return err
	}
	if r.Version < prevVersion {
		return fmt.Errorf("assignment of topology %s: the new version %d is below the previous %d", r.TopologyID, r.Version, prevVersion)
	}
	cur, rev, err := get(ctx, s, assignmentKind, key)
	switch {
	case errors.Is(err, ErrNotFound):
		if prevVersion != 0 {
			return fmt.Errorf("assignment of topology %s: expected version %d but there is none (it was deleted): %w; re-read it and schedule again", r.TopologyID, prevVersion, ErrConflict)
		}
	case err != nil:
		return err
	case cur.Version != prevVersion:
		return fmt.Errorf("assignment of topology %s: expected version %d but found %d: %w; re-read it and schedule again", r.TopologyID, prevVersion, cur.Version, ErrConflict)
	}
	// The per-supervisor index changes in the same transaction (see placements.go).
	idx, err := s.placementOps(r.TopologyID, cur, r)
	if err != nil {
		return err
	}
	now, later := splitOps(idx)
	ok, err := s.txn(ctx, "writing "+key,
		[]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", rev)},
		append([]clientv3.Op{clientv3.OpPut(key, string(val))}, now...)...)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("assignment of topology %s: it changed while version %d was being written: %w; re-read it and schedule again", r.TopologyID, r.Version, ErrConflict)
	}
	if err := s.writeOps(ctx, "indexing the assignment of topology "+r.TopologyID, later); err != nil {
		return fmt.Errorf("the assignment is stored but not all of its index (SyncPlacements repairs it): %w", err)
	}
	return nil
}

// NextAssignmentVersion hands out the version of a topology's next placement: above every
// version handed out before for the topology (by any leader, before any removal of its
// assignment), and at least atLeast (the stored assignment's version + 1, so that a
// cluster whose counter is new continues above what its records hold). The counter is
// bumped by compare-and-swap, so two schedulers never get one version; a version whose
// assignment is then not written is skipped, never reused. The counter outlives the
// topology (a small key per topology ever submitted): an id that comes back, as
// "<name>-<second>" can after a kill, continues above the versions its workers ran.
func (s *Store) NextAssignmentVersion(ctx context.Context, topologyID string, atLeast int64) (int64, error) {
	if err := ValidateID("topology id", topologyID); err != nil {
		return 0, err
	}
	key := s.keys.AssignmentVersion(topologyID)
	for {
		resp, err := s.cli.Get(ctx, key)
		if err != nil {
			return 0, s.wrap("reading "+key, err)
		}
		var last, rev int64
		if len(resp.Kvs) > 0 {
			kv := resp.Kvs[0]
			if last, err = strconv.ParseInt(string(kv.Value), 10, 64); err != nil || last < 0 {
				return 0, &InvalidRecordError{Key: key, Kind: "assignment version", Err: fmt.Errorf("%q is not a version", kv.Value)}
			}
			rev = kv.ModRevision
		}
		next := max(last+1, atLeast, 1)
		ok, err := s.txn(ctx, "bumping "+key,
			[]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", rev)},
			clientv3.OpPut(key, strconv.FormatInt(next, 10)))
		if err != nil {
			return 0, err
		}
		if ok {
			return next, nil
		}
		// Another scheduler took a version first: read the counter again.
	}
}

// DeleteAssignment removes a topology's assignment, and its keys in the per-supervisor
// index in the same transaction; removing none is no error.
func (s *Store) DeleteAssignment(ctx context.Context, topologyID string) error {
	if err := ValidateID("topology id", topologyID); err != nil {
		return err
	}
	key := s.keys.Assignment(topologyID)
	what := "deleting assignment " + topologyID
	for attempt := 0; ; attempt++ {
		resp, err := s.cli.Get(ctx, key)
		if err != nil {
			return s.wrap("reading "+key, err)
		}
		if len(resp.Kvs) == 0 {
			return nil
		}
		kv := resp.Kvs[0]
		// An invalid record names no supervisors: its index keys, if any, are left to
		// SyncPlacements.
		cur, _ := decode(s.keys, assignmentKind, key, kv.Value)
		idx, err := s.placementOps(topologyID, cur, nil)
		if err != nil {
			return err
		}
		now, later := splitOps(idx)
		ok, err := s.txn(ctx, what,
			[]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision)},
			append([]clientv3.Op{clientv3.OpDelete(key)}, now...)...)
		if err != nil {
			return err
		}
		if ok {
			if err := s.writeOps(ctx, "removing the index of the assignment of topology "+topologyID, later); err != nil {
				return fmt.Errorf("the assignment is deleted but not all of its index (SyncPlacements repairs it): %w", err)
			}
			return nil
		}
		if attempt >= 20 {
			return fmt.Errorf("%s: %w 20 times in a row; try again", what, ErrConflict)
		}
	}
}

// WatchAssignments follows every assignment. A supervisor follows only its own with
// WatchSupervisorAssignments.
func (s *Store) WatchAssignments(ctx context.Context) <-chan Event[AssignmentRecord] {
	return watch(ctx, s, assignmentKind, s.keys.AssignmentsPrefix())
}

// --- workers

// GetWorker reads one worker's heartbeat; ErrNotFound if it is not alive.
func (s *Store) GetWorker(ctx context.Context, topologyID, workerID string) (*WorkerHeartbeat, error) {
	if err := checkIDs([2]string{"topology id", topologyID}, [2]string{"worker id", workerID}); err != nil {
		return nil, err
	}
	r, _, err := get(ctx, s, workerKind, s.keys.Worker(topologyID, workerID))
	return r, err
}

// ListWorkers reads the heartbeats of one topology's workers, or of all workers when
// topologyID is empty; sorted by topology, then worker id.
func (s *Store) ListWorkers(ctx context.Context, topologyID string) ([]*WorkerHeartbeat, error) {
	prefix, err := s.workersPrefix(topologyID)
	if err != nil {
		return nil, err
	}
	return list(ctx, s, workerKind, prefix)
}

// DeleteWorkers removes the heartbeats of a topology's workers (after a kill).
func (s *Store) DeleteWorkers(ctx context.Context, topologyID string) error {
	if err := ValidateID("topology id", topologyID); err != nil {
		return err
	}
	return s.del(ctx, "deleting workers of "+topologyID, s.keys.TopologyWorkersPrefix(topologyID), clientv3.WithPrefix())
}

// WatchWorkers follows the heartbeats of one topology's workers, or of all workers when
// topologyID is empty. An invalid topologyID gives one event carrying the error, then
// the channel closes.
func (s *Store) WatchWorkers(ctx context.Context, topologyID string) <-chan Event[WorkerHeartbeat] {
	prefix, err := s.workersPrefix(topologyID)
	if err != nil {
		return failedWatch[WorkerHeartbeat](ctx, prefix, err)
	}
	return watch(ctx, s, workerKind, prefix)
}

func (s *Store) workersPrefix(topologyID string) (string, error) {
	if topologyID == "" {
		return s.keys.WorkersPrefix(), nil
	}
	if err := ValidateID("topology id", topologyID); err != nil {
		return "", err
	}
	return s.keys.TopologyWorkersPrefix(topologyID), nil
}

// --- nimbus

// GetNimbus reads one live nimbus; ErrNotFound if it is not registered.
func (s *Store) GetNimbus(ctx context.Context, id string) (*NimbusRecord, error) {
	if err := ValidateID("nimbus id", id); err != nil {
		return nil, err
	}
	r, _, err := get(ctx, s, nimbusKind, s.keys.Nimbus(id))
	return r, err
}

// ListNimbus reads every live nimbus, sorted by id.
func (s *Store) ListNimbus(ctx context.Context) ([]*NimbusRecord, error) {
	return list(ctx, s, nimbusKind, s.keys.NimbusPrefix())
}

// WatchNimbus follows nimbus instances as they register and die.
func (s *Store) WatchNimbus(ctx context.Context) <-chan Event[NimbusRecord] {
	return watch(ctx, s, nimbusKind, s.keys.NimbusPrefix())
}

// --- artifacts

// PutArtifactHolder records that a nimbus holds a copy of an artifact.
func (s *Store) PutArtifactHolder(ctx context.Context, r *ArtifactHolder) error {
	return putRecord(ctx, s, artifactKind, r)
}

// ListArtifactHolders reads which nimbus instances hold the artifact with this digest, or
// every holder of every artifact when digest is empty.
func (s *Store) ListArtifactHolders(ctx context.Context, digest string) ([]*ArtifactHolder, error) {
	prefix := s.keys.ArtifactsPrefix()
	if digest != "" {
		if err := ValidateDigest(digest); err != nil {
			return nil, err
		}
		prefix = s.keys.ArtifactHoldersPrefix(digest)
	}
	return list(ctx, s, artifactKind, prefix)
}

// DeleteArtifactHolder removes one holder of an artifact, or every holder when nimbusID
// is empty (the artifact is gone everywhere).
func (s *Store) DeleteArtifactHolder(ctx context.Context, digest, nimbusID string) error {
	if err := ValidateDigest(digest); err != nil {
		return err
	}
	if nimbusID == "" {
		return s.del(ctx, "deleting holders of artifact "+digest, s.keys.ArtifactHoldersPrefix(digest), clientv3.WithPrefix())
	}
	if err := ValidateID("nimbus id", nimbusID); err != nil {
		return err
	}
	return s.del(ctx, "deleting artifact holder", s.keys.Artifact(digest, nimbusID))
}

// WatchArtifactHolders follows which nimbus holds which artifact.
func (s *Store) WatchArtifactHolders(ctx context.Context) <-chan Event[ArtifactHolder] {
	return watch(ctx, s, artifactKind, s.keys.ArtifactsPrefix())
}
