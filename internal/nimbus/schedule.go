package nimbus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/pkg/scheduler"
)

// snapshot is the cluster state one scheduling round (or one Describe) works from.
type snapshot struct {
	sups    []*cluster.SupervisorRecord
	topos   []*cluster.TopologyRecord
	assigns map[string]*cluster.AssignmentRecord
	// beats are the live workers' heartbeats by "<topology>/<worker>".
	beats map[string]*cluster.WorkerHeartbeat
}

// readSnapshot reads supervisors, topologies, assignments and heartbeats. Invalid
// records are left out (and logged); a failed read is an error.
func (s *Server) readSnapshot(ctx context.Context) (*snapshot, error) {
	snap := &snapshot{assigns: map[string]*cluster.AssignmentRecord{}, beats: map[string]*cluster.WorkerHeartbeat{}}
	check := func(what string, err error) error {
		if err == nil {
			return nil
		}
		if invalidOnly(err) {
			s.log.Warn("ignoring invalid records", "kind", what, "error", err)
			return nil
		}
		s.metrics.EtcdErrors.Inc()
		return fmt.Errorf("reading %s: %w", what, err)
	}
	var err error
	snap.sups, err = s.store.ListSupervisors(ctx)
	if err := check("supervisors", err); err != nil {
		return nil, err
	}
	snap.topos, err = s.store.ListTopologies(ctx)
	if err := check("topologies", err); err != nil {
		return nil, err
	}
	as, err := s.store.ListAssignments(ctx)
	if err := check("assignments", err); err != nil {
		return nil, err
	}
	for _, a := range as {
		snap.assigns[a.TopologyID] = a
	}
	hbs, err := s.store.ListWorkers(ctx, "")
	if err := check("worker heartbeats", err); err != nil {
		return nil, err
	}
	for _, hb := range hbs {
		snap.beats[hb.TopologyID+"/"+hb.WorkerID] = hb
	}
	return snap, nil
}

// buildCluster turns a snapshot into the scheduler's input; unhealthy lists bad slots by
// supervisor. The rebalance generations come from the records (the topology's, and the
// one its assignment was made for), so that every leader sees the same. Killed
// topologies still in their kill wait are scheduled as inactive: their workers keep
// running until the wait is over.
func buildCluster(snap *snapshot, unhealthy map[string][]int) (scheduler.Cluster, map[string]*topoInfo) {
	c := scheduler.Cluster{Assignments: map[string]scheduler.Assignment{}}
	for _, sup := range snap.sups {
		c.Supervisors = append(c.Supervisors, scheduler.Supervisor{
			ID: sup.ID, Host: sup.Host, Slots: sup.Slots, Alive: true, Unhealthy: unhealthy[sup.ID],
		})
	}
	infos := map[string]*topoInfo{}
	for _, r := range snap.topos {
		ti := inspect(r)
		infos[r.ID] = ti
		st := scheduler.Topology{ID: r.ID, Status: scheduler.Active, Workers: ti.requested, ExecutorOverrides: r.ExecutorOverrides, Generation: r.Generation}
		if r.Status != cluster.StatusActive {
			st.Status = scheduler.Inactive
		}
		if ti.layout != nil {
			st.Executors = ti.layout.Executors
		}
		c.Topologies = append(c.Topologies, st)
	}
	for id, a := range snap.assigns {
		requested := 1
		var execs map[string][][]int32
		if ti := infos[id]; ti != nil {
			requested, execs = ti.requested, ti.placedExecutors(a)
		}
		c.Assignments[id] = assignmentFromRecord(a, execs, requested)
	}
	return c, infos
}

// health finds the slots whose worker has not heartbeat for WorkerTimeout after
// WorkerStartGrace from its assignment's version (or from the start of this term), and
// keeps them out of use for one WorkerTimeout. It returns the bad slots by supervisor
// and when to look again.
func (t *term) health(s *Server, snap *snapshot, now time.Time) (map[string][]int, time.Duration) {
	grace, timeout := s.cfg.WorkerStartGrace, s.cfg.WorkerTimeout
	wake := time.Duration(math.MaxInt64)
	inUse := map[string]bool{}
	for id, a := range snap.assigns {
		vs, ok := t.seen[id]
		if !ok || vs.version != a.Version {
			vs = versionSeen{version: a.Version, at: now}
			t.seen[id] = vs
		}
		graceEnd := vs.at.Add(grace)
		for _, w := range a.Workers {
			key := id + "/" + w.ID
			inUse[key] = true
			if hb := snap.beats[key]; hb != nil && (hb.Version == 0 || hb.Version == a.Version) {
				t.lastBeat[key] = now
				continue
			}
			missing := graceEnd
			if lb, ok := t.lastBeat[key]; ok && lb.After(missing) {
				missing = lb
			}
			if d := now.Sub(missing); d < timeout {
				wake = min(wake, timeout-d)
				continue
			}
			k := slotKey{w.Supervisor, w.Port}
			if _, bad := t.badSlots[k]; !bad {
				s.log.Warn("worker has no heartbeat; moving its executors and keeping its slot out of use for a while",
					"topology", id, "worker", w.ID, "supervisor", w.Supervisor, "slot", w.Port,
					"since", missing.Format(time.RFC3339), "version", a.Version)
			}
			t.badSlots[k] = now.Add(timeout)
		}
	}
	unhealthy := map[string][]int{}
	for k, until := range t.badSlots {
		if !now.Before(until) {
			delete(t.badSlots, k)
			continue
		}
		unhealthy[k.sup] = append(unhealthy[k.sup], k.port)
		wake = min(wake, until.Sub(now))
	}
	for id := range t.seen {
		if snap.assigns[id] == nil {
			delete(t.seen, id)
		}
	}
	for key := range t.lastBeat {
		if !inUse[key] {
			delete(t.lastBeat, key)
		}
	}
	return unhealthy, wake
}

// scheduleLoop runs scheduling rounds while t lasts: at once, on every change of
// supervisors, topologies and worker heartbeats, on a kick, and every ScheduleEvery (or
// sooner when a kill wait or a worker's grace ends).
func (s *Server) scheduleLoop(t *term) {
	var wg sync.WaitGroup
	defer wg.Wait()
	forward(&wg, s.store.WatchSupervisors(t.ctx), s.kick)
	forward(&wg, s.store.WatchTopologies(t.ctx), s.kick)
	forward(&wg, s.store.WatchWorkers(t.ctx, ""), s.kick)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-timer.C:
		case <-s.kick:
		}
		next := s.round(t)
		timer.Reset(next)
	}
}

// round is one scheduling round; it returns when the next is due at the latest.
func (s *Server) round(t *term) time.Duration {
	start := time.Now()
	next := s.cfg.ScheduleEvery
	ctx, cancel := context.WithTimeout(t.ctx, 30*time.Second)
	defer cancel()
	snap, err := s.readSnapshot(ctx)
	if err != nil {
		if t.ctx.Err() == nil {
			s.log.Warn("scheduling: cannot read the cluster state; retrying", "error", err)
		}
		return min(next, time.Second)
	}
	now := time.Now()

	// Kills whose wait is over.
	kept := snap.topos[:0]
	for _, r := range snap.topos {
		if r.Status == cluster.StatusKilled {
			deadline := r.StatusChangedAt.Add(time.Duration(r.KillWaitSecs) * time.Second)
			if !now.Before(deadline) {
				if err := s.finishKill(ctx, t, r.ID); err != nil {
					if errors.Is(err, cluster.ErrNotLeader) {
						return next
					}
					s.metrics.EtcdErrors.Inc()
					s.log.Warn("cannot remove a killed topology; retrying", "topology", r.ID, "error", err)
					next = min(next, time.Second)
					kept = append(kept, r)
					continue
				}
				delete(snap.assigns, r.ID)
				continue
			}
			next = min(next, deadline.Sub(now))
		}
		kept = append(kept, r)
	}
	snap.topos = kept

	unhealthy, wake := t.health(s, snap, now)
	next = min(next, wake)
	c, infos := buildCluster(snap, unhealthy)
	res, err := scheduler.Schedule(c)
	if err != nil {
		s.log.Error("scheduling failed", "error", err)
		return next
	}
	for _, id := range res.Changed {
		a := res.Assignments[id]
		cur := snap.assigns[id]
		var prev int64
		if cur != nil {
			// The scheduler keeps the version of an unchanged placement made for another
			// request (workers, generation): rewriting the record at that version keeps
			// the request without moving any worker.
			prev = cur.Version
		} else if a.Version <= t.lastVersion[id] {
			a.Version = t.lastVersion[id] + 1
		}
		var overrides map[string]int
		if ti := infos[id]; ti != nil {
			overrides = ti.rec.ExecutorOverrides
		}
		rec := recordFromAssignment(a, overrides, now)
		if err := t.store.PutAssignment(ctx, rec, prev); err != nil {
			switch {
			case errors.Is(err, cluster.ErrNotLeader):
				return next
			case errors.Is(err, cluster.ErrConflict):
				s.log.Info("an assignment changed while it was scheduled; scheduling again", "topology", id, "error", err)
				trigger(s.kick)
			default:
				s.metrics.EtcdErrors.Inc()
				s.log.Warn("cannot write an assignment; retrying", "topology", id, "error", err)
				next = min(next, time.Second)
			}
			continue
		}
		s.metrics.AssignmentWrites.Inc()
		if a.Version == prev {
			s.log.Info("placement unchanged by the new request; recorded it", "topology", id, "version", a.Version,
				"requested", a.RequestedWorkers, "generation", a.Generation)
			continue
		}
		t.lastVersion[id] = a.Version
		t.seen[id] = versionSeen{version: a.Version, at: now}
		s.log.Info("assigned topology", "topology", id, "version", a.Version, "workers", len(a.Workers), "requested", a.RequestedWorkers,
			"slots", slotList(a))
	}
	for _, id := range res.Removed {
		if snap.assigns[id] == nil {
			continue
		}
		if err := t.store.DeleteAssignment(ctx, id); err != nil {
			if errors.Is(err, cluster.ErrNotLeader) {
				return next
			}
			s.metrics.EtcdErrors.Inc()
			s.log.Warn("cannot delete an assignment; retrying", "topology", id, "error", err)
			next = min(next, time.Second)
			continue
		}
		s.metrics.AssignmentWrites.Inc()
		delete(t.seen, id)
		s.log.Info("unassigned topology", "topology", id, "reason", res.Reasons[id])
	}

	reasons := map[string]string{}
	for id, r := range res.Reasons {
		reasons[id] = r
	}
	for id, ti := range infos {
		if ti.problem != "" {
			reasons[id] = "cannot be scheduled: " + ti.problem
		}
	}
	t.mu.Lock()
	for id, r := range reasons {
		if t.reasons[id] != r {
			s.log.Warn("topology not fully scheduled", "topology", id, "reason", r)
		}
	}
	t.reasons = reasons
	t.mu.Unlock()

	slots, used, topologies := 0, 0, 0
	for _, sup := range snap.sups {
		slots += len(sup.Slots)
	}
	for _, a := range res.Assignments {
		used += len(a.Workers)
	}
	for _, r := range snap.topos {
		if r.Status != cluster.StatusKilled {
			topologies++
		}
	}
	s.metrics.LiveSupervisors.Set(float64(len(snap.sups)))
	s.metrics.SlotsTotal.Set(float64(slots))
	s.metrics.SlotsUsed.Set(float64(used))
	s.metrics.Topologies.Set(float64(topologies))
	s.metrics.SchedulingRounds.Inc()
	s.metrics.SchedulingDuration.Observe(time.Since(start).Seconds())
	return max(next, 10*time.Millisecond)
}

// finishKill removes a killed topology whose wait is over: its assignment (supervisors
// stop its workers), its workers' heartbeats, then its record.
func (s *Server) finishKill(ctx context.Context, t *term, id string) error {
	if err := t.store.DeleteAssignment(ctx, id); err != nil {
		return err
	}
	if err := t.store.DeleteWorkers(ctx, id); err != nil {
		return err
	}
	if err := t.store.DeleteTopology(ctx, id); err != nil {
		return err
	}
	s.metrics.AssignmentWrites.Inc()
	t.mu.Lock()
	delete(t.reasons, id)
	t.mu.Unlock()
	delete(t.lastVersion, id)
	delete(t.seen, id)
	s.log.Info("killed topology removed", "topology", id)
	return nil
}

func slotList(a scheduler.Assignment) []string {
	out := make([]string, 0, len(a.Workers))
	for _, w := range a.Workers {
		out = append(out, w.ID())
	}
	return out
}
