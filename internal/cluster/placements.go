package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sparsestream/sparse/internal/retry"
)

// The per-supervisor index of the assignments, <root>/placements/<supervisor>/<topology>.
//
// Without it every supervisor would watch every assignment, so one assignment write
// would reach, and be decoded by, every supervisor of the cluster: N writes × S
// supervisors. With it a supervisor watches only its own folder, which changes when an
// assignment that places workers on it is written (a new version there, or its workers
// move away) or deleted, and reads just that assignment.

// maxIndexOpsPerTxn bounds the index writes that go in one transaction with their
// assignment. etcd refuses a transaction of more than --max-txn-ops operations (128 by
// default); the index keys of a topology spread wider are written by further
// transactions right after it.
const maxIndexOpsPerTxn = 100

// placementSupervisors returns the supervisors a record places workers on, sorted.
// Workers of a static assignment made without supervisors have none and are left out.
func placementSupervisors(r *AssignmentRecord) []string {
	if r == nil {
		return nil
	}
	set := map[string]bool{}
	for _, w := range r.Workers {
		if w.Supervisor != "" {
			set[w.Supervisor] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// placementOps are the index writes that go with storing next (nil: deleting the
// assignment) in place of prev (nil: there was none): a put for every supervisor next
// places workers on, and a delete for every supervisor only prev did.
func (s *Store) placementOps(topologyID string, prev, next *AssignmentRecord) ([]clientv3.Op, error) {
	var ops []clientv3.Op
	keep := map[string]bool{}
	for _, sup := range placementSupervisors(next) {
		keep[sup] = true
		key, val, err := encode(s.keys, placementKind, &PlacementRecord{Supervisor: sup, TopologyID: topologyID, Version: next.Version})
		if err != nil {
			return nil, fmt.Errorf("assignment of topology %s: %w", topologyID, err)
		}
		ops = append(ops, clientv3.OpPut(key, string(val)))
	}
	for _, sup := range placementSupervisors(prev) {
		if !keep[sup] && ValidateID("supervisor id", sup) == nil {
			ops = append(ops, clientv3.OpDelete(s.keys.Placement(sup, topologyID)))
		}
	}
	return ops, nil
}

// splitOps returns the first ops that fit in one transaction beside first, and the rest.
func splitOps(ops []clientv3.Op) (now, later []clientv3.Op) {
	if len(ops) <= maxIndexOpsPerTxn {
		return ops, nil
	}
	return ops[:maxIndexOpsPerTxn], ops[maxIndexOpsPerTxn:]
}

// writeOps writes ops in transactions of at most maxIndexOpsPerTxn, fenced as every
// write of the store is.
func (s *Store) writeOps(ctx context.Context, what string, ops []clientv3.Op) error {
	for len(ops) > 0 {
		n := min(len(ops), maxIndexOpsPerTxn)
		if _, err := s.txn(ctx, what, nil, ops[:n]...); err != nil {
			return err
		}
		ops = ops[n:]
	}
	return nil
}

// SyncPlacements makes the per-supervisor index agree with assignments, which must be
// every assignment as stored now: it writes the index keys that are missing or name
// another version, and deletes those of assignments that are gone or no longer place
// workers on their supervisor. It returns how many keys it changed. PutAssignment and
// DeleteAssignment keep the index in step on their own; this repairs what they could
// not (an index write that failed after its assignment was stored, a cluster whose
// assignments were written by a release without the index, an edit by hand). Only the
// one writer of the assignments, the leading nimbus, may call it, between its writes.
// The first repair also writes PlacementsIndexed, after the index, which tells
// supervisors that they can rely on it.
func (s *Store) SyncPlacements(ctx context.Context, assignments []*AssignmentRecord) (int, error) {
	want := map[string]string{}
	for _, a := range assignments {
		if a == nil {
			continue
		}
		ops, err := s.placementOps(a.TopologyID, nil, a)
		if err != nil {
			return 0, err
		}
		for _, op := range ops {
			want[string(op.KeyBytes())] = string(op.ValueBytes())
		}
	}
	prefix := s.keys.PlacementsPrefix()
	resp, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, s.wrap("listing "+prefix, err)
	}
	var ops []clientv3.Op
	have := make(map[string]bool, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		key := string(kv.Key)
		have[key] = true
		if val, ok := want[key]; !ok {
			ops = append(ops, clientv3.OpDelete(key))
		} else if val != string(kv.Value) {
			ops = append(ops, clientv3.OpPut(key, val))
		}
	}
	for _, key := range slices.Sorted(maps.Keys(want)) {
		if !have[key] {
			ops = append(ops, clientv3.OpPut(key, want[key]))
		}
	}
	marker := s.keys.PlacementsIndexed()
	mresp, err := s.cli.Get(ctx, marker, clientv3.WithCountOnly())
	if err != nil {
		return 0, s.wrap("reading "+marker, err)
	}
	if mresp.Count == 0 {
		// Last: supervisors move to the index once it is complete.
		val, _ := json.Marshal(map[string]time.Time{"indexed_at": time.Now().UTC()})
		ops = append(ops, clientv3.OpPut(marker, string(val)))
	}
	if err := s.writeOps(ctx, "repairing the index under "+prefix, ops); err != nil {
		return 0, err
	}
	return len(ops), nil
}

// WatchSupervisorAssignments follows the assignments that place workers on one
// supervisor, as WatchAssignments follows all of them: a put for each such assignment
// and then a sync, then a put whenever one of them is written, and a delete (with the
// last record sent) when one is deleted or no longer places workers there. It watches
// only the supervisor's folder of the index (<root>/placements/<supervisor-id>/) and
// reads an assignment when its index key changes, so a supervisor hears nothing of the
// assignments of other supervisors.
//
// An index key whose assignment is gone (left by a nimbus that stopped between the two
// writes) gives a delete, or nothing if its assignment was never sent; the supervisor
// deletes nothing itself, and the leader's SyncPlacements removes the key. A read that
// fails for a while (etcd unreachable) is retried, and the events behind it wait.
//
// Until a leader has written the index once (the key PlacementsIndexed, which a nimbus
// of a release before the index never writes), it watches every assignment and passes
// on those that concern the supervisor, and it looks for the key every
// indexPollInterval; once the key is there it moves to the index for good. An invalid
// supervisorID gives one event carrying the error, then the channel closes.
func (s *Store) WatchSupervisorAssignments(ctx context.Context, supervisorID string) <-chan Event[AssignmentRecord] {
	if err := ValidateID("supervisor id", supervisorID); err != nil {
		return failedWatch[AssignmentRecord](ctx, s.keys.PlacementsPrefix(), err)
	}
	w := &supervisorWatch{s: s, sup: supervisorID, prefix: s.keys.SupervisorPlacementsPrefix(supervisorID),
		out: make(chan Event[AssignmentRecord], 64), sent: map[string]*AssignmentRecord{}}
	go w.run(ctx)
	return w.out
}

// indexPollInterval is how often a supervisor that watches every assignment, because
// no leader has written the index yet, looks again.
var indexPollInterval = 10 * time.Second

type supervisorWatch struct {
	s      *Store
	sup    string
	prefix string
	out    chan Event[AssignmentRecord]
	// sent is the last record sent of each assignment not deleted since.
	sent map[string]*AssignmentRecord
	// listed, while the index's first listing goes on, holds the assignments it named.
	listed map[string]bool
}

func (w *supervisorWatch) send(ctx context.Context, ev Event[AssignmentRecord]) bool {
	select {
	case w.out <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// gone sends the delete of an assignment, if it was sent.
func (w *supervisorWatch) gone(ctx context.Context, topo string, rev int64) bool {
	last, ok := w.sent[topo]
	if !ok {
		return true
	}
	delete(w.sent, topo)
	return w.send(ctx, Event[AssignmentRecord]{Type: EventDelete, Key: w.s.keys.Assignment(topo), ID: topo, Record: last, Revision: rev})
}

func (w *supervisorWatch) put(ctx context.Context, topo string, rec *AssignmentRecord, rev int64) bool {
	w.sent[topo] = rec
	return w.send(ctx, Event[AssignmentRecord]{Type: EventPut, Key: w.s.keys.Assignment(topo), ID: topo, Record: rec, Revision: rev})
}

func (w *supervisorWatch) run(ctx context.Context) {
	defer close(w.out)
	if !w.indexed(ctx) {
		if !w.followAll(ctx) {
			return
		}
		w.listed = map[string]bool{}
	}
	w.followIndex(ctx)
}

// indexed reports whether a leader has written the index, retrying while etcd fails.
func (w *supervisorWatch) indexed(ctx context.Context) bool {
	pause := retry.New(watchBackoffMin, watchBackoffMax)
	key := w.s.keys.PlacementsIndexed()
	for {
		resp, err := w.s.cli.Get(ctx, key, clientv3.WithCountOnly())
		if err == nil {
			return resp.Count > 0
		}
		if retry.Sleep(ctx, pause.Next()) != nil {
			return false
		}
	}
}

// followAll passes on the assignments that concern the supervisor from a watch of
// every assignment, until a leader has written the index (true) or ctx ends (false).
func (w *supervisorWatch) followAll(ctx context.Context) bool {
	w.s.log.Info("no nimbus has written the supervisors' index of the assignments yet; watching every assignment until one does", "supervisor", w.sup)
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	all := watch(actx, w.s, assignmentKind, w.s.keys.AssignmentsPrefix())
	poll := time.NewTicker(indexPollInterval)
	defer poll.Stop()
	for {
		select {
		case <-poll.C:
			if w.indexed(ctx) {
				return true
			}
			continue
		case ev, ok := <-all:
			if !ok {
				return false
			}
			var sent bool
			switch {
			case ev.Type == EventSync:
				sent = w.send(ctx, Event[AssignmentRecord]{Type: EventSync, Key: w.prefix, Revision: ev.Revision})
			case ev.Type == EventDelete:
				sent = w.gone(ctx, ev.ID, ev.Revision)
			case ev.Err != nil:
				sent = w.send(ctx, ev)
			case len(ev.Record.OnSupervisor(w.sup)) > 0:
				sent = w.put(ctx, ev.ID, ev.Record, ev.Revision)
			default:
				sent = w.gone(ctx, ev.ID, ev.Revision)
			}
			if !sent {
				return false
			}
		}
	}
}

// followIndex follows the supervisor's folder of the index until ctx ends.
func (w *supervisorWatch) followIndex(ctx context.Context) {
	for ev := range watch(ctx, w.s, placementKind, w.prefix) {
		ok := true
		topo, _ := splitID(ev.Key, w.prefix)
		if w.listed != nil && ev.Type == EventPut {
			w.listed[topo] = true
		}
		switch {
		case ev.Type == EventSync:
			// After watching every assignment, the first listing of the index says
			// which of the assignments sent are no longer here.
			for _, gone := range slices.Sorted(maps.Keys(w.sent)) {
				if ok && w.listed != nil && !w.listed[gone] {
					ok = w.gone(ctx, gone, ev.Revision)
				}
			}
			w.listed = nil
			ok = ok && w.send(ctx, Event[AssignmentRecord]{Type: EventSync, Key: w.prefix, Revision: ev.Revision, Err: ev.Err})
		case ev.Type == EventDelete:
			ok = w.gone(ctx, topo, ev.Revision)
		case ev.Err != nil:
			ok = w.send(ctx, Event[AssignmentRecord]{Type: EventPut, Key: ev.Key, ID: topo, Revision: ev.Revision, Err: ev.Err})
		default:
			rec, rev, err := w.s.readAssignment(ctx, topo)
			switch {
			case ctx.Err() != nil:
				return
			case errors.Is(err, ErrNotFound):
				w.s.log.Debug("an index key names an assignment that is gone; the leader removes the key", "key", ev.Key)
				ok = w.gone(ctx, topo, ev.Revision)
			case err != nil:
				ok = w.send(ctx, Event[AssignmentRecord]{Type: EventPut, Key: w.s.keys.Assignment(topo), ID: topo, Revision: rev, Err: err})
			default:
				ok = w.put(ctx, topo, rec, rev)
			}
		}
		if !ok {
			return
		}
	}
}

// readAssignment reads an assignment for WatchSupervisorAssignments, retrying while
// etcd fails; a missing or invalid record is returned at once.
func (s *Store) readAssignment(ctx context.Context, topologyID string) (*AssignmentRecord, int64, error) {
	pause := retry.New(watchBackoffMin, watchBackoffMax)
	key := s.keys.Assignment(topologyID)
	for {
		r, rev, err := get(ctx, s, assignmentKind, key)
		var bad *InvalidRecordError
		if err == nil || errors.Is(err, ErrNotFound) || errors.As(err, &bad) {
			return r, rev, err
		}
		d := pause.Next()
		if ctx.Err() == nil {
			s.log.Warn("cannot read "+key+"; retrying", "error", err, "in", d)
		}
		if retry.Sleep(ctx, d) != nil {
			return nil, 0, ctx.Err()
		}
	}
}
