package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

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
// writes, or by an older release) gives a delete, or nothing if its assignment was never
// sent; the supervisor deletes nothing itself, and the leader's SyncPlacements removes
// the key. A read that fails for a while (etcd unreachable) is retried, and the events
// behind it wait. An invalid supervisorID gives one event carrying the error, then the
// channel closes.
func (s *Store) WatchSupervisorAssignments(ctx context.Context, supervisorID string) <-chan Event[AssignmentRecord] {
	if err := ValidateID("supervisor id", supervisorID); err != nil {
		return failedWatch[AssignmentRecord](ctx, s.keys.PlacementsPrefix(), err)
	}
	prefix := s.keys.SupervisorPlacementsPrefix(supervisorID)
	in := watch(ctx, s, placementKind, prefix)
	out := make(chan Event[AssignmentRecord], 64)
	go func() {
		defer close(out)
		sent := map[string]*AssignmentRecord{} // topology id -> the last record sent
		send := func(ev Event[AssignmentRecord]) bool {
			select {
			case out <- ev:
				return true
			case <-ctx.Done():
				return false
			}
		}
		gone := func(topo string, rev int64) bool {
			last, ok := sent[topo]
			if !ok {
				return true
			}
			delete(sent, topo)
			return send(Event[AssignmentRecord]{Type: EventDelete, Key: s.keys.Assignment(topo), ID: topo, Record: last, Revision: rev})
		}
		for ev := range in {
			ok := true
			topo, _ := splitID(ev.Key, prefix)
			switch {
			case ev.Type == EventSync:
				ok = send(Event[AssignmentRecord]{Type: EventSync, Key: prefix, Revision: ev.Revision, Err: ev.Err})
			case ev.Type == EventDelete:
				ok = gone(topo, ev.Revision)
			case ev.Err != nil:
				ok = send(Event[AssignmentRecord]{Type: EventPut, Key: ev.Key, ID: topo, Revision: ev.Revision, Err: ev.Err})
			default:
				rec, rev, err := s.readAssignment(ctx, topo)
				switch {
				case ctx.Err() != nil:
					return
				case errors.Is(err, ErrNotFound):
					s.log.Debug("an index key names an assignment that is gone; the leader removes the key", "key", ev.Key)
					ok = gone(topo, ev.Revision)
				case err != nil:
					ok = send(Event[AssignmentRecord]{Type: EventPut, Key: s.keys.Assignment(topo), ID: topo, Revision: rev, Err: err})
				default:
					sent[topo] = rec
					ok = send(Event[AssignmentRecord]{Type: EventPut, Key: s.keys.Assignment(topo), ID: topo, Record: rec, Revision: rev})
				}
			}
			if !ok {
				return
			}
		}
	}()
	return out
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
