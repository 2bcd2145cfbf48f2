package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sparsestream/sparse/internal/logging"
	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
)

// TopologyStatus is the life-cycle state of a submitted topology.
type TopologyStatus string

// The states of a topology, as in Storm.
const (
	StatusActive   TopologyStatus = "active"   // spouts emit
	StatusInactive TopologyStatus = "inactive" // deployed, spouts paused
	StatusKilled   TopologyStatus = "killed"   // being torn down after KillWaitSecs
)

// Valid reports whether s is one of the known states.
func (s TopologyStatus) Valid() bool {
	switch s {
	case StatusActive, StatusInactive, StatusKilled:
		return true
	}
	return false
}

// TopologyRecord is a submitted topology, under <root>/topologies/<id>.
type TopologyRecord struct {
	ID     string         `json:"id"`
	Name   string         `json:"name"`
	Status TopologyStatus `json:"status"`
	// Spec is the validated topology (plain data; no factories).
	Spec *topology.Spec `json:"spec,omitempty"`
	// Config is the topology-wide configuration as submitted, overrides included.
	Config topology.Config `json:"config,omitempty"`
	// ArtifactDigest is the sha256 (lowercase hex) of the deployable artifact: the
	// topology binary, or the archive of a multi-lang topology's resources.
	ArtifactDigest string `json:"artifact_digest,omitempty"`
	ArtifactSize   int64  `json:"artifact_size,omitempty"`
	// ArtifactKind says how supervisors run the artifact (empty: a Go binary).
	ArtifactKind ArtifactKind `json:"artifact_kind,omitempty"`
	SubmittedAt  time.Time    `json:"submitted_at"`
	// Workers is the number of worker processes asked for (topology.workers, or a
	// rebalance).
	Workers int `json:"workers,omitempty"`
	// ExecutorOverrides maps component id to a parallelism set by rebalance.
	ExecutorOverrides map[string]int `json:"executor_overrides,omitempty"`
	// Generation counts the rebalances of the topology (scheduler.Topology.Generation).
	// Rebalance bumps it with the new Workers and ExecutorOverrides, so that the leader
	// that schedules next, this one or a new one, re-places the topology once for it.
	Generation int64 `json:"generation,omitempty"`
	// Rebalance is a rebalance waiting for the topology's tuples in flight; the scheduling
	// round of whichever nimbus leads applies it once its wait is over.
	Rebalance *PendingRebalance `json:"rebalance,omitempty"`
	// KillWaitSecs is how long a killed topology's spouts stay deactivated before its
	// workers are stopped.
	KillWaitSecs int `json:"kill_wait_secs,omitempty"`
	// StatusChangedAt is when Status last changed (for a kill: when the wait started).
	StatusChangedAt time.Time `json:"status_changed_at,omitzero"`
	// VenvGeneration counts the rebuilds of the topology's Python virtualenv asked for
	// with update-virtualenv: a new one makes every supervisor build it again and
	// restart the topology's workers with it.
	VenvGeneration int64 `json:"venv_generation,omitempty"`
	// Owner is the name of the token that submitted it (empty with ACLs off). With ACLs
	// on, only a token of that name or an admin may change the topology.
	Owner string `json:"owner,omitempty"`
	// LogLevels are the log levels and debug samples set on the running topology
	// (sparsectl set-log-level and debug); supervisors hand them to its workers, and
	// each lapses at its Expires.
	LogLevels []LogOverride `json:"log_levels,omitempty"`
}

// LogOverride is one log level or debug sample set on a running topology.
type LogOverride struct {
	// Component is the component it applies to (empty: every component).
	Component string `json:"component,omitempty"`
	// Level is a log level (empty: unchanged, for a debug sample alone).
	Level string `json:"level,omitempty"`
	// DebugSample is the share of emitted tuples logged (0: none).
	DebugSample float64   `json:"debug_sample,omitempty"`
	Expires     time.Time `json:"expires"`
}

// MaxLogOverrides bounds a topology's LogLevels.
const MaxLogOverrides = 64

// Validate checks one override.
func (o *LogOverride) Validate() error {
	if o.Component != "" {
		if err := ValidateID("component", o.Component); err != nil {
			return err
		}
	}
	if o.Level != "" {
		if _, err := logging.ParseLevel(o.Level); err != nil {
			return err
		}
	}
	if !(o.DebugSample >= 0 && o.DebugSample <= 1) {
		return fmt.Errorf("debug sample %v is not between 0 and 1", o.DebugSample)
	}
	if o.Level == "" && o.DebugSample == 0 {
		return errors.New("the override sets neither a level nor a debug sample")
	}
	return nil
}

// PendingRebalance is a rebalance request that waits, with its topology deactivated,
// until Until; then it is applied as a rebalance without a wait is.
type PendingRebalance struct {
	// Workers is the new number of workers (0: unchanged), and Executors the new
	// executors of some components.
	Workers   int            `json:"workers,omitempty"`
	Executors map[string]int `json:"executors,omitempty"`
	// Until is when the wait ends.
	Until time.Time `json:"until"`
	// Reactivate says the rebalance deactivated the topology and activates it again when
	// done; a deactivation by the operator during the wait clears it.
	Reactivate bool `json:"reactivate,omitempty"`
}

// Forget drops from a pending rebalance what a later rebalance, applied at once, has
// set: workers (when above 0) and the given components' executors. A nil p is fine.
func (p *PendingRebalance) Forget(workers int, executors map[string]int) {
	if p == nil {
		return
	}
	if workers > 0 {
		p.Workers = 0
	}
	for comp := range executors {
		delete(p.Executors, comp)
	}
	if len(p.Executors) == 0 {
		p.Executors = nil
	}
}

// ArtifactKind is what a topology's artifact is.
type ArtifactKind string

// Artifact kinds.
const (
	// ArtifactGoBinary is a Go topology binary: workers run `<binary> worker ...`.
	ArtifactGoBinary ArtifactKind = "go_binary"
	// ArtifactSpecBundle is a tar.gz of a spec file and its resources, run by the
	// generic worker (sparse-worker).
	ArtifactSpecBundle ArtifactKind = "spec_bundle"
)

// Valid reports whether k is a known kind; empty means a Go binary.
func (k ArtifactKind) Valid() bool {
	return k == "" || k == ArtifactGoBinary || k == ArtifactSpecBundle
}

// Validate checks the record's own consistency.
func (r *TopologyRecord) Validate() error {
	var errs []error
	if err := ValidateID("topology id", r.ID); err != nil {
		errs = append(errs, err)
	}
	if r.Name == "" {
		errs = append(errs, errors.New("the topology has no name"))
	}
	if !r.Status.Valid() {
		errs = append(errs, fmt.Errorf("status %q is not one of active, inactive, killed", r.Status))
	}
	if r.ArtifactDigest != "" {
		if err := ValidateDigest(r.ArtifactDigest); err != nil {
			errs = append(errs, err)
		}
	}
	if r.ArtifactSize < 0 {
		errs = append(errs, fmt.Errorf("artifact size %d is negative", r.ArtifactSize))
	}
	if !r.ArtifactKind.Valid() {
		errs = append(errs, fmt.Errorf("artifact kind %q is not one of %s, %s", r.ArtifactKind, ArtifactGoBinary, ArtifactSpecBundle))
	}
	if r.Workers < 0 {
		errs = append(errs, fmt.Errorf("workers %d is negative", r.Workers))
	}
	if r.Generation < 0 {
		errs = append(errs, fmt.Errorf("generation %d is negative", r.Generation))
	}
	if r.KillWaitSecs < 0 {
		errs = append(errs, fmt.Errorf("kill wait %ds is negative", r.KillWaitSecs))
	}
	if len(r.LogLevels) > MaxLogOverrides {
		errs = append(errs, fmt.Errorf("%d log level overrides; at most %d are kept", len(r.LogLevels), MaxLogOverrides))
	}
	for i := range r.LogLevels {
		if err := r.LogLevels[i].Validate(); err != nil {
			errs = append(errs, fmt.Errorf("log level override %d: %w", i, err))
		}
	}
	for c, n := range r.ExecutorOverrides {
		if n < 1 {
			errs = append(errs, fmt.Errorf("executor override for %q is %d; it must be at least 1", c, n))
		}
	}
	if rb := r.Rebalance; rb != nil {
		if rb.Workers < 0 {
			errs = append(errs, fmt.Errorf("the pending rebalance's workers %d is negative", rb.Workers))
		}
		for c, n := range rb.Executors {
			if n < 1 {
				errs = append(errs, fmt.Errorf("the pending rebalance gives %q %d executors; it must be at least 1", c, n))
			}
		}
	}
	if r.Spec != nil {
		for i, c := range r.Spec.Components {
			if c == nil {
				errs = append(errs, fmt.Errorf("spec component %d is null", i))
			}
		}
	}
	return errors.Join(errs...)
}

// SupervisorRecord is a live supervisor, under <root>/supervisors/<id>, kept under the
// supervisor's lease: it disappears a TTL after the supervisor dies.
type SupervisorRecord struct {
	ID   string `json:"id"`
	Host string `json:"host"`
	// Address is the supervisor's own API (artifact cache, operations), if it has one.
	Address string `json:"address,omitempty"`
	// Slots are the worker ports this supervisor offers.
	Slots     []int     `json:"slots"`
	StartedAt time.Time `json:"started_at"`
	// Version is the sparse version the supervisor runs.
	Version string `json:"version,omitempty"`
	// LogsAddr is where it serves its workers' logs (supervisord --logs-addr), over
	// HTTPS when LogsTLS.
	LogsAddr string `json:"logs_addr,omitempty"`
	// Metrics is where it serves /metrics (host:port), when it does; MetricsTLS says
	// whether over HTTPS (its workers' too). A worker on slot port P serves its own on
	// P+WorkerMetricsOffset (0: workers serve none).
	Metrics             string `json:"metrics,omitempty"`
	MetricsTLS          bool   `json:"metrics_tls,omitempty"`
	WorkerMetricsOffset int    `json:"worker_metrics_offset,omitempty"`
	LogsTLS             bool   `json:"logs_tls,omitempty"`
}

// Validate checks the record's own consistency.
func (r *SupervisorRecord) Validate() error {
	var errs []error
	if err := ValidateID("supervisor id", r.ID); err != nil {
		errs = append(errs, err)
	}
	seen := make(map[int]bool, len(r.Slots))
	for _, p := range r.Slots {
		if p < 1 || p > 65535 {
			errs = append(errs, fmt.Errorf("slot port %d is not in 1..65535", p))
		} else if seen[p] {
			errs = append(errs, fmt.Errorf("slot port %d is listed twice", p))
		}
		seen[p] = true
	}
	return errors.Join(errs...)
}

// AssignmentRecord is where a topology runs, under <root>/assignments/<topology-id>: the
// one assignment model, scheduler.Assignment, stored as its JSON (see its MarshalJSON).
// The same bytes are a worker's assignment file. Version changes whenever placement
// changes; PutAssignment never moves it back, and NextAssignmentVersion never repeats it.
//
// Records written before a release kept the workers' executors, or what the placement
// was made for (RequestedWorkers, Generation, Parallelism), still read: see
// scheduler.Assignment.KeepsExecutors and KeepsRequest.
type AssignmentRecord = scheduler.Assignment

// checkAssignmentIDs checks what the model's own Validate cannot: that its ids fit in
// etcd keys.
func checkAssignmentIDs(r *AssignmentRecord) error {
	var errs []error
	if err := ValidateID("topology id", r.TopologyID); err != nil {
		errs = append(errs, err)
	}
	for _, w := range r.Workers {
		if err := ValidateID("worker id", w.ID()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// PlacementRecord says that a topology's assignment places workers on a supervisor,
// under <root>/placements/<supervisor-id>/<topology-id>: the per-supervisor index of the
// assignments, so that a supervisor watches only the assignments that concern it
// (WatchSupervisorAssignments) rather than every one. PutAssignment and DeleteAssignment
// keep it in the same transaction as the assignment; SyncPlacements repairs it.
type PlacementRecord struct {
	Supervisor string `json:"supervisor"`
	TopologyID string `json:"topology_id"`
	// Version is the assignment's version when the key was written.
	Version int64 `json:"version"`
}

// Validate checks the record's own consistency.
func (r *PlacementRecord) Validate() error {
	var errs []error
	if err := ValidateID("supervisor id", r.Supervisor); err != nil {
		errs = append(errs, err)
	}
	if err := ValidateID("topology id", r.TopologyID); err != nil {
		errs = append(errs, err)
	}
	if r.Version < 0 {
		errs = append(errs, fmt.Errorf("assignment version %d is negative", r.Version))
	}
	return errors.Join(errs...)
}

// WorkerHeartbeat says that a worker is alive, under
// <root>/workers/<topology-id>/<worker-id>, kept under the worker's lease.
type WorkerHeartbeat struct {
	TopologyID string `json:"topology_id"`
	WorkerID   string `json:"worker_id"`
	Supervisor string `json:"supervisor"`
	Port       int    `json:"port"`
	PID        int    `json:"pid"`
	// Time is when this heartbeat was written.
	Time time.Time `json:"time"`
	// Version is the assignment version the worker runs.
	Version int64 `json:"version"`
}

// Validate checks the record's own consistency.
func (r *WorkerHeartbeat) Validate() error {
	var errs []error
	if err := ValidateID("topology id", r.TopologyID); err != nil {
		errs = append(errs, err)
	}
	if err := ValidateID("worker id", r.WorkerID); err != nil {
		errs = append(errs, err)
	}
	if r.Port < 0 || r.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d is not in 0..65535", r.Port))
	}
	if r.PID < 0 {
		errs = append(errs, fmt.Errorf("pid %d is negative", r.PID))
	}
	if r.Version < 0 {
		errs = append(errs, fmt.Errorf("assignment version %d is negative", r.Version))
	}
	return errors.Join(errs...)
}

// NimbusRecord is a live nimbus, under <root>/nimbus/<id>, kept under its lease.
type NimbusRecord struct {
	ID string `json:"id"`
	// Address is its gRPC API (host:port), which also serves artifacts.
	Address   string    `json:"address"`
	StartedAt time.Time `json:"started_at"`
	Version   string    `json:"version,omitempty"`
	// HTTP is its REST API (host:port), when it serves one.
	HTTP string `json:"http,omitempty"`
	// Metrics is where it serves /metrics (host:port), when it does; MetricsTLS says
	// whether over HTTPS.
	Metrics    string `json:"metrics,omitempty"`
	MetricsTLS bool   `json:"metrics_tls,omitempty"`
}

// Validate checks the record's own consistency.
func (r *NimbusRecord) Validate() error {
	var errs []error
	if err := ValidateID("nimbus id", r.ID); err != nil {
		errs = append(errs, err)
	}
	if r.Address == "" {
		errs = append(errs, errors.New("the nimbus has no address"))
	}
	return errors.Join(errs...)
}

// ArtifactHolder says that a nimbus holds a copy of an artifact, under
// <root>/artifacts/<sha256>/<nimbus-id>. Standbys replicate what they lack.
type ArtifactHolder struct {
	Digest   string    `json:"digest"`
	NimbusID string    `json:"nimbus_id"`
	Size     int64     `json:"size"`
	StoredAt time.Time `json:"stored_at"`
}

// Validate checks the record's own consistency.
func (r *ArtifactHolder) Validate() error {
	var errs []error
	if err := ValidateDigest(r.Digest); err != nil {
		errs = append(errs, err)
	}
	if err := ValidateID("nimbus id", r.NimbusID); err != nil {
		errs = append(errs, err)
	}
	if r.Size < 0 {
		errs = append(errs, fmt.Errorf("size %d is negative", r.Size))
	}
	return errors.Join(errs...)
}

// record is what every stored value is.
type record interface {
	Validate() error
}

// kind describes one folder of records: where it lives and how a record's ids must match
// its key.
type kind[T any] struct {
	name   string
	prefix func(Keys) string
	// key returns the key a record belongs under.
	key func(Keys, *T) string
	// match checks a decoded record against the key's rest (the part after prefix).
	match func(rest string, r *T) error
	// check, when set, checks a record beyond its own Validate.
	check func(r *T) error
}

// validate checks a record before it is written and after it is read.
func (kd kind[T]) validate(r *T, own func() error) error {
	err := own()
	if kd.check != nil {
		err = errors.Join(err, kd.check(r))
	}
	return err
}

func sameID(what, got, want string) error {
	if got != want {
		return fmt.Errorf("the record's %s is %q but the key says %q", what, got, want)
	}
	return nil
}

var (
	topologyKind = kind[TopologyRecord]{
		name:   "topology",
		prefix: Keys.TopologiesPrefix,
		key:    func(k Keys, r *TopologyRecord) string { return k.Topology(r.ID) },
		match:  func(rest string, r *TopologyRecord) error { return sameID("id", r.ID, rest) },
	}
	supervisorKind = kind[SupervisorRecord]{
		name:   "supervisor",
		prefix: Keys.SupervisorsPrefix,
		key:    func(k Keys, r *SupervisorRecord) string { return k.Supervisor(r.ID) },
		match:  func(rest string, r *SupervisorRecord) error { return sameID("id", r.ID, rest) },
	}
	assignmentKind = kind[AssignmentRecord]{
		name:   "assignment",
		prefix: Keys.AssignmentsPrefix,
		key:    func(k Keys, r *AssignmentRecord) string { return k.Assignment(r.TopologyID) },
		match: func(rest string, r *AssignmentRecord) error {
			return sameID("topology_id", r.TopologyID, rest)
		},
		check: checkAssignmentIDs,
	}
	workerKind = kind[WorkerHeartbeat]{
		name:   "worker heartbeat",
		prefix: Keys.WorkersPrefix,
		key:    func(k Keys, r *WorkerHeartbeat) string { return k.Worker(r.TopologyID, r.WorkerID) },
		match: func(rest string, r *WorkerHeartbeat) error {
			topo, worker, _ := strings.Cut(rest, "/")
			return errors.Join(sameID("topology_id", r.TopologyID, topo), sameID("worker_id", r.WorkerID, worker))
		},
	}
	placementKind = kind[PlacementRecord]{
		name:   "placement",
		prefix: Keys.PlacementsPrefix,
		key:    func(k Keys, r *PlacementRecord) string { return k.Placement(r.Supervisor, r.TopologyID) },
		match: func(rest string, r *PlacementRecord) error {
			sup, topo, _ := strings.Cut(rest, "/")
			return errors.Join(sameID("supervisor", r.Supervisor, sup), sameID("topology_id", r.TopologyID, topo))
		},
	}
	nimbusKind = kind[NimbusRecord]{
		name:   "nimbus",
		prefix: Keys.NimbusPrefix,
		key:    func(k Keys, r *NimbusRecord) string { return k.Nimbus(r.ID) },
		match:  func(rest string, r *NimbusRecord) error { return sameID("id", r.ID, rest) },
	}
	artifactKind = kind[ArtifactHolder]{
		name:   "artifact holder",
		prefix: Keys.ArtifactsPrefix,
		key:    func(k Keys, r *ArtifactHolder) string { return k.Artifact(r.Digest, r.NimbusID) },
		match: func(rest string, r *ArtifactHolder) error {
			digest, nimbus, _ := strings.Cut(rest, "/")
			return errors.Join(sameID("digest", r.Digest, digest), sameID("nimbus_id", r.NimbusID, nimbus))
		},
	}
)

// maxValueSize bounds what a decoder accepts; etcd's own request limit is 1.5 MiB by
// default, so a larger value is not one of ours.
const maxValueSize = 16 << 20

// decode reads the record stored under key. Any problem is an error that names the key
// and says what to do; it never panics.
func decode[T any, P interface {
	*T
	record
}](k Keys, kd kind[T], key string, value []byte) (*T, error) {
	fail := func(err error) error {
		return &InvalidRecordError{Key: key, Kind: kd.name, Err: err}
	}
	rest, ok := splitID(key, kd.prefix(k))
	if !ok {
		return nil, fail(fmt.Errorf("the key is not under %s", kd.prefix(k)))
	}
	if len(value) > maxValueSize {
		return nil, fail(fmt.Errorf("the value is %d bytes", len(value)))
	}
	if len(bytes.TrimSpace(value)) == 0 {
		return nil, fail(errors.New("the value is empty"))
	}
	var r T
	if err := json.Unmarshal(value, &r); err != nil {
		return nil, fail(fmt.Errorf("not JSON of the expected shape: %w", err))
	}
	if err := kd.validate(&r, P(&r).Validate); err != nil {
		return nil, fail(err)
	}
	if err := kd.match(rest, &r); err != nil {
		return nil, fail(err)
	}
	return &r, nil
}

// encode checks a record before it is written and returns its key and JSON.
func encode[T any, P interface {
	*T
	record
}](k Keys, kd kind[T], r *T) (string, []byte, error) {
	if r == nil {
		return "", nil, fmt.Errorf("cannot store a nil %s record", kd.name)
	}
	if err := kd.validate(r, P(r).Validate); err != nil {
		return "", nil, fmt.Errorf("refusing to store an invalid %s record: %w", kd.name, err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "", nil, fmt.Errorf("encoding the %s record: %w", kd.name, err)
	}
	return kd.key(k, r), b, nil
}

// DecodeTopology reads a TopologyRecord stored under key (for tools that read etcd
// themselves). The error names the key.
func (k Keys) DecodeTopology(key string, value []byte) (*TopologyRecord, error) {
	return decode(k, topologyKind, key, value)
}

// DecodeSupervisor reads a SupervisorRecord stored under key.
func (k Keys) DecodeSupervisor(key string, value []byte) (*SupervisorRecord, error) {
	return decode(k, supervisorKind, key, value)
}

// DecodeAssignment reads an AssignmentRecord stored under key.
func (k Keys) DecodeAssignment(key string, value []byte) (*AssignmentRecord, error) {
	return decode(k, assignmentKind, key, value)
}

// DecodeWorker reads a WorkerHeartbeat stored under key.
func (k Keys) DecodeWorker(key string, value []byte) (*WorkerHeartbeat, error) {
	return decode(k, workerKind, key, value)
}

// DecodePlacement reads a PlacementRecord stored under key.
func (k Keys) DecodePlacement(key string, value []byte) (*PlacementRecord, error) {
	return decode(k, placementKind, key, value)
}

// DecodeNimbus reads a NimbusRecord stored under key.
func (k Keys) DecodeNimbus(key string, value []byte) (*NimbusRecord, error) {
	return decode(k, nimbusKind, key, value)
}

// DecodeArtifactHolder reads an ArtifactHolder stored under key.
func (k Keys) DecodeArtifactHolder(key string, value []byte) (*ArtifactHolder, error) {
	return decode(k, artifactKind, key, value)
}
