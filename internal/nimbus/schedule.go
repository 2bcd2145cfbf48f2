package nimbus

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
)

// snapshot is the cluster state one scheduling round (or one Describe) works from.
type snapshot struct {
	sups    []*cluster.SupervisorRecord
	topos   []*cluster.TopologyRecord
	assigns map[string]*scheduler.Assignment
	// beats are the live workers' heartbeats by "<topology>/<worker>".
	beats map[string]*cluster.WorkerHeartbeat
	// limits are the nimbus's topology limits, which stored topologies are checked
	// against before they are laid out.
	limits topology.Limits
}

// readSnapshot reads supervisors, topologies, assignments and heartbeats. Invalid
// records are left out (and logged); a failed read is an error.
func (s *Server) readSnapshot(ctx context.Context) (*snapshot, error) {
	snap := &snapshot{assigns: map[string]*scheduler.Assignment{}, beats: map[string]*cluster.WorkerHeartbeat{}, limits: s.cfg.Limits}
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
		ti := inspect(r, snap.limits)
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
		c.Assignments[id] = asPlaced(a, execs, requested)
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
			key := id + "/" + w.ID()
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
					"topology", id, "worker", w.ID(), "supervisor", w.Supervisor, "slot", w.Port,
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

// round is one scheduling round; it returns when the next is due at the latest. Each
// step lowers next when it wants to look again sooner. A panic is recovered and logged
// (the topologies it concerns are found and reported by inspect and scheduleSafely),
// so that the leader keeps leading and scheduling the others.
func (s *Server) round(t *term) (next time.Duration) {
	defer func() {
		if p := recover(); p != nil {
			s.metrics.Panics.Inc()
			s.log.Error("a scheduling round panicked; trying again", "panic", p, "stack", string(debug.Stack()))
			next = time.Second
		}
	}()
	start := time.Now()
	next = s.cfg.ScheduleEvery
	ctx, cancel := context.WithTimeout(t.ctx, 30*time.Second)
	defer cancel()
	snap, err := s.readSnapshot(ctx)
	if err != nil {
		if t.ctx.Err() == nil {
			s.log.Warn("scheduling: cannot read the cluster state; retrying", "error", err)
		}
		return min(next, time.Second)
	}
	if t.indexStale && !s.repairIndex(ctx, t, snap, &next) {
		return next
	}
	now := time.Now()
	if !s.finishKills(ctx, t, snap, now, &next) || !s.finishRebalances(ctx, t, snap, now, &next) {
		return next
	}
	unhealthy, wake := t.health(s, snap, now)
	next = min(next, wake)
	c, infos := buildCluster(snap, unhealthy)
	res, panicked, err := scheduleSafely(c)
	if len(panicked) > 0 {
		s.metrics.Panics.Inc()
	}
	if err != nil {
		s.log.Error("scheduling failed", "error", err)
		return next
	}
	if !s.writeAssignments(ctx, t, snap, infos, res, now, &next) || !s.removeAssignments(ctx, t, snap, res, &next) {
		return next
	}
	if res.Reasons == nil {
		res.Reasons = map[string]string{}
	}
	maps.Copy(res.Reasons, panicked)
	t.noteReasons(s, res, infos)
	s.recordRound(snap, res, start)
	return max(next, 10*time.Millisecond)
}

// repairIndex makes the per-supervisor index of the assignments, which supervisors
// watch, agree with the assignments of the snapshot. It returns false when this nimbus
// no longer leads.
func (s *Server) repairIndex(ctx context.Context, t *term, snap *snapshot, next *time.Duration) bool {
	n, err := t.store.SyncPlacements(ctx, slices.Collect(maps.Values(snap.assigns)))
	switch {
	case errors.Is(err, cluster.ErrNotLeader):
		return false
	case err != nil:
		if t.ctx.Err() == nil {
			s.metrics.EtcdErrors.Inc()
			s.log.Warn("cannot repair the supervisors' index of the assignments; retrying", "error", err)
		}
		*next = min(*next, time.Second)
		return true
	case n > 0:
		s.log.Info("repaired the supervisors' index of the assignments", "keys", n)
	}
	t.indexStale = false
	return true
}

// finishKills removes the killed topologies whose wait is over, and drops them from
// snap. It returns false when this nimbus no longer leads.
func (s *Server) finishKills(ctx context.Context, t *term, snap *snapshot, now time.Time, next *time.Duration) bool {
	kept := snap.topos[:0]
	for _, r := range snap.topos {
		if r.Status != cluster.StatusKilled {
			kept = append(kept, r)
			continue
		}
		deadline := r.StatusChangedAt.Add(time.Duration(r.KillWaitSecs) * time.Second)
		if now.Before(deadline) {
			*next = min(*next, deadline.Sub(now))
			kept = append(kept, r)
			continue
		}
		if err := s.finishKill(ctx, t, r.ID); err != nil {
			if errors.Is(err, cluster.ErrNotLeader) {
				return false
			}
			t.indexStale = true
			s.metrics.EtcdErrors.Inc()
			s.log.Warn("cannot remove a killed topology; retrying", "topology", r.ID, "error", err)
			*next = min(*next, time.Second)
			kept = append(kept, r)
			continue
		}
		delete(snap.assigns, r.ID)
	}
	snap.topos = kept
	return true
}

// finishRebalances applies the pending rebalances whose wait is over (see
// Server.Rebalance), and puts the updated records in snap. It returns false when this
// nimbus no longer leads.
func (s *Server) finishRebalances(ctx context.Context, t *term, snap *snapshot, now time.Time, next *time.Duration) bool {
	for i, r := range snap.topos {
		if r.Rebalance == nil || r.Status == cluster.StatusKilled {
			continue
		}
		if now.Before(r.Rebalance.Until) {
			*next = min(*next, r.Rebalance.Until.Sub(now))
			continue
		}
		done, err := t.store.UpdateTopology(ctx, r.ID, finishRebalance(now))
		if err != nil {
			if errors.Is(err, cluster.ErrNotLeader) {
				return false
			}
			if !errors.Is(err, cluster.ErrNotFound) {
				s.metrics.EtcdErrors.Inc()
				s.log.Warn("cannot finish a rebalance; retrying", "topology", r.ID, "error", err)
				*next = min(*next, time.Second)
			}
			continue
		}
		snap.topos[i] = done
		if done.Rebalance != nil { // joined by a later rebalance: its wait goes on
			*next = min(*next, done.Rebalance.Until.Sub(now))
			continue
		}
		s.log.Info("rebalanced topology", "topology", done.ID, "workers", max(done.Workers, 1),
			"executor_overrides", done.ExecutorOverrides, "generation", done.Generation, "status", done.Status)
	}
	return true
}

// writeAssignments stores the assignments the scheduler changed. A new placement takes
// its version from the topology's counter in etcd, so that no version is ever handed out
// twice for a topology, whichever nimbus leads. It returns false when this nimbus no
// longer leads.
func (s *Server) writeAssignments(ctx context.Context, t *term, snap *snapshot, infos map[string]*topoInfo, res scheduler.Result, now time.Time, next *time.Duration) bool {
	for _, id := range res.Changed {
		a := res.Assignments[id]
		var prev int64
		if cur := snap.assigns[id]; cur != nil {
			prev = cur.Version
		}
		// The scheduler keeps the version of an unchanged placement made for another
		// request (workers, generation): rewriting the record at that version keeps the
		// request without moving any worker.
		moved := prev == 0 || a.Version != prev
		var overrides map[string]int
		if ti := infos[id]; ti != nil {
			overrides = ti.rec.ExecutorOverrides
		}
		rec := stamped(a, overrides, now)
		err := error(nil)
		if moved {
			rec.Version, err = t.store.NextAssignmentVersion(ctx, id, prev+1)
		}
		if err == nil {
			err = t.store.PutAssignment(ctx, rec, prev)
		}
		if err != nil {
			switch {
			case errors.Is(err, cluster.ErrNotLeader):
				return false
			case errors.Is(err, cluster.ErrConflict):
				s.log.Info("an assignment changed while it was scheduled; scheduling again", "topology", id, "error", err)
				trigger(s.kick)
			default:
				t.indexStale = true
				s.metrics.EtcdErrors.Inc()
				s.log.Warn("cannot write an assignment; retrying", "topology", id, "error", err)
				*next = min(*next, time.Second)
			}
			continue
		}
		s.metrics.AssignmentWrites.Inc()
		if !moved {
			s.log.Info("placement unchanged by the new request; recorded it", "topology", id, "version", rec.Version,
				"requested", rec.RequestedWorkers, "generation", rec.Generation)
			continue
		}
		t.seen[id] = versionSeen{version: rec.Version, at: now}
		s.log.Info("assigned topology", "topology", id, "version", rec.Version, "workers", len(rec.Workers), "requested", rec.RequestedWorkers,
			"slots", slotList(*rec))
	}
	return true
}

// removeAssignments deletes the assignments of the topologies the scheduler removed. It
// returns false when this nimbus no longer leads.
func (s *Server) removeAssignments(ctx context.Context, t *term, snap *snapshot, res scheduler.Result, next *time.Duration) bool {
	for _, id := range res.Removed {
		if snap.assigns[id] == nil {
			continue
		}
		if err := t.store.DeleteAssignment(ctx, id); err != nil {
			if errors.Is(err, cluster.ErrNotLeader) {
				return false
			}
			t.indexStale = true
			s.metrics.EtcdErrors.Inc()
			s.log.Warn("cannot delete an assignment; retrying", "topology", id, "error", err)
			*next = min(*next, time.Second)
			continue
		}
		s.metrics.AssignmentWrites.Inc()
		delete(t.seen, id)
		s.log.Info("unassigned topology", "topology", id, "reason", res.Reasons[id])
	}
	return true
}

// noteReasons keeps why each topology is not fully scheduled, for List and Describe,
// and logs the reasons that changed.
func (t *term) noteReasons(s *Server, res scheduler.Result, infos map[string]*topoInfo) {
	reasons := maps.Clone(res.Reasons)
	for id, ti := range infos {
		if ti.problem != "" {
			reasons[id] = "cannot be scheduled: " + ti.problem
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, r := range reasons {
		if t.reasons[id] != r {
			if ti := infos[id]; ti != nil && ti.stack != "" {
				s.log.Error("topology not scheduled: reading it panicked", "topology", id, "reason", r, "stack", ti.stack)
				continue
			}
			s.log.Warn("topology not fully scheduled", "topology", id, "reason", r)
		}
	}
	t.reasons = reasons
}

// recordRound sets the cluster gauges from the round's snapshot and result.
func (s *Server) recordRound(snap *snapshot, res scheduler.Result, start time.Time) {
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

// scheduleFunc is the scheduler; tests replace it to inject a panic.
var scheduleFunc = scheduler.Schedule

// scheduleSafely runs the scheduler on c, recovering a panic. After one, each topology
// is scheduled alone to find those the panic comes from; they are left out of the round
// (their assignments stay as they are, and their slots are kept out of use) and the
// others scheduled. It returns the left-out topologies with their reasons.
func scheduleSafely(c scheduler.Cluster) (scheduler.Result, map[string]string, error) {
	res, p, err := scheduleRecovering(c)
	if p == nil {
		return res, nil, err
	}
	bad := map[string]string{}
	for _, t := range c.Topologies {
		one := scheduler.Cluster{Supervisors: c.Supervisors, Topologies: []scheduler.Topology{t}, Assignments: map[string]scheduler.Assignment{}}
		if a, ok := c.Assignments[t.ID]; ok {
			one.Assignments[t.ID] = a
		}
		if _, p, _ := scheduleRecovering(one); p != nil {
			bad[t.ID] = fmt.Sprintf("cannot be scheduled: the scheduler panicked on it (%v); its current assignment is left as it is", p)
		}
	}
	if len(bad) == 0 {
		return scheduler.Result{}, nil, fmt.Errorf("the scheduler panicked (on no topology alone): %v", p)
	}
	rest := scheduler.Cluster{Assignments: map[string]scheduler.Assignment{}}
	held := map[string][]int{}
	for id, a := range c.Assignments {
		if bad[id] == "" {
			rest.Assignments[id] = a
			continue
		}
		for _, w := range a.Workers {
			held[w.Supervisor] = append(held[w.Supervisor], w.Port)
		}
	}
	for _, sup := range c.Supervisors {
		sup.Unhealthy = append(slices.Clone(sup.Unhealthy), held[sup.ID]...)
		rest.Supervisors = append(rest.Supervisors, sup)
	}
	for _, t := range c.Topologies {
		if bad[t.ID] == "" {
			rest.Topologies = append(rest.Topologies, t)
		}
	}
	res, p, err = scheduleRecovering(rest)
	if p != nil {
		return scheduler.Result{}, bad, fmt.Errorf("the scheduler panicked without the topologies it panicked on alone: %v", p)
	}
	return res, bad, err
}

// scheduleRecovering runs scheduleFunc, returning what it panicked with, if it did.
func scheduleRecovering(c scheduler.Cluster) (res scheduler.Result, panicked any, err error) {
	defer func() {
		if p := recover(); p != nil {
			panicked = p
		}
	}()
	res, err = scheduleFunc(c)
	return res, nil, err
}
