package nimbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/specpb"
	"github.com/sparsestream/sparse/pkg/topology"
)

// rpcErr turns an error into a gRPC status error, keeping one that already is.
func (s *Server) rpcErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, cluster.ErrNotLeader):
		return s.notLeader(ctx)
	case errors.Is(err, cluster.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, cluster.ErrUnreachable):
		s.metrics.EtcdErrors.Inc()
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, cluster.ErrConflict):
		return status.Error(codes.Aborted, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Internal, err.Error())
}

// resolve finds a topology by id, or by name (preferring one that is not killed). A
// killed topology is refused unless allowKilled.
func (s *Server) resolve(ctx context.Context, name string, allowKilled bool) (*cluster.TopologyRecord, error) {
	if name == "" {
		return nil, status.Error(codes.InvalidArgument, "name a topology (by its name or its id)")
	}
	topos, err := s.store.ListTopologies(ctx)
	if err != nil && !invalidOnly(err) {
		return nil, s.rpcErr(ctx, err)
	}
	var found, killed *cluster.TopologyRecord
	for _, r := range topos {
		if r.ID == name {
			found = r
			break
		}
		if r.Name == name {
			if r.Status == cluster.StatusKilled {
				killed = r
			} else if found == nil {
				found = r
			}
		}
	}
	if found == nil {
		found = killed
	}
	if found == nil {
		return nil, status.Errorf(codes.NotFound, "no topology is named %q; `sparsectl list` shows the topologies", name)
	}
	if found.Status == cluster.StatusKilled && !allowKilled {
		return nil, status.Errorf(codes.FailedPrecondition, "topology %s is being killed; it cannot be changed any more", found.ID)
	}
	return found, nil
}

func messageTimeout(c topology.Config) int {
	n, err := c.Int(topology.ConfMessageTimeoutSecs, topology.DefaultMessageTimeoutSecs)
	if err != nil || n < 0 {
		return topology.DefaultMessageTimeoutSecs
	}
	return int(min(n, 24*3600))
}

// Kill marks a topology killed (supervisors deactivate its spouts), and returns once the
// leader has removed it after the wait. A caller that stops waiting does not stop the
// kill.
func (s *Server) Kill(ctx context.Context, req *sparsev1.KillRequest) (*sparsev1.KillReply, error) {
	id, wait, err := s.markKilled(ctx, req)
	if err != nil {
		return nil, err
	}
	return s.waitRemoved(ctx, id, wait)
}

// markKilled checks and records a kill, and returns the topology's id and the wait.
func (s *Server) markKilled(ctx context.Context, req *sparsev1.KillRequest) (string, int, error) {
	t, err := s.leading(ctx)
	if err != nil {
		return "", 0, err
	}
	r, err := s.resolve(ctx, req.GetName(), true)
	if err != nil {
		return "", 0, err
	}
	if err := s.checkOwner(ctx, r, "kill"); err != nil {
		return "", 0, err
	}
	wait, err := s.waitSecs("kill", req.GetWaitSecs(), r.Config)
	if err != nil {
		return "", 0, err
	}
	now := time.Now().UTC()
	_, err = t.store.UpdateTopology(ctx, r.ID, func(r *cluster.TopologyRecord) error {
		if r.Status == cluster.StatusKilled {
			// Killed again: the wait may only get shorter.
			if now.Add(time.Duration(wait) * time.Second).Before(r.StatusChangedAt.Add(time.Duration(r.KillWaitSecs) * time.Second)) {
				r.StatusChangedAt, r.KillWaitSecs = now, wait
			}
			return nil
		}
		r.Status, r.StatusChangedAt, r.KillWaitSecs = cluster.StatusKilled, now, wait
		return nil
	})
	if err != nil {
		return "", 0, s.rpcErr(ctx, err)
	}
	s.log.Info("killing topology", "topology", r.ID, "wait_secs", wait)
	trigger(s.kick)
	return r.ID, wait, nil
}

// waitRemoved returns once the leader has removed a killed topology.
func (s *Server) waitRemoved(ctx context.Context, id string, wait int) (*sparsev1.KillReply, error) {
	for {
		_, err := s.store.GetTopology(ctx, id)
		if errors.Is(err, cluster.ErrNotFound) {
			return &sparsev1.KillReply{}, nil
		}
		select {
		case <-ctx.Done():
			return nil, status.Errorf(status.FromContextError(ctx.Err()).Code(),
				"topology %s is killed and will be removed %ds after the kill; stopped waiting: %v", id, wait, ctx.Err())
		case <-s.ctx.Done():
			return nil, status.Errorf(codes.Unavailable, "nimbus %s is shutting down; the kill of %s goes on under the next leader", s.id, id)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Activate lets a topology's spouts emit.
func (s *Server) Activate(ctx context.Context, ref *sparsev1.TopologyRef) (*sparsev1.StatusReply, error) {
	return s.setStatus(ctx, ref.GetName(), cluster.StatusActive)
}

// Deactivate pauses a topology's spouts; its workers keep running.
func (s *Server) Deactivate(ctx context.Context, ref *sparsev1.TopologyRef) (*sparsev1.StatusReply, error) {
	return s.setStatus(ctx, ref.GetName(), cluster.StatusInactive)
}

func (s *Server) setStatus(ctx context.Context, name string, st cluster.TopologyStatus) (*sparsev1.StatusReply, error) {
	t, err := s.leading(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.resolve(ctx, name, false)
	if err != nil {
		return nil, err
	}
	action := "activate"
	if st == cluster.StatusInactive {
		action = "deactivate"
	}
	if err := s.checkOwner(ctx, r, action); err != nil {
		return nil, err
	}
	changed := false
	_, err = t.store.UpdateTopology(ctx, r.ID, func(r *cluster.TopologyRecord) error {
		if r.Status == cluster.StatusKilled {
			return status.Errorf(codes.FailedPrecondition, "topology %s is being killed; it cannot be changed any more", r.ID)
		}
		if r.Status != st {
			r.Status, r.StatusChangedAt, changed = st, time.Now().UTC(), true
		}
		if st == cluster.StatusInactive && r.Rebalance != nil && r.Rebalance.Reactivate {
			// The operator wants it paused: the rebalance must not activate it again.
			r.Rebalance.Reactivate, changed = false, true
		}
		return nil
	})
	if err != nil {
		return nil, s.rpcErr(ctx, err)
	}
	if changed {
		s.log.Info("topology status changed", "topology", r.ID, "status", st)
	}
	return &sparsev1.StatusReply{}, nil
}

// Rebalance changes a topology's number of workers and executors. With a wait, an
// active topology is deactivated first, and activated again once moved.
func (s *Server) Rebalance(ctx context.Context, req *sparsev1.RebalanceRequest) (*sparsev1.StatusReply, error) {
	return s.rebalance(ctx, req, true)
}

// rebalance checks and records a rebalance; with block, a rebalance with a wait returns
// once applied, else once recorded.
func (s *Server) rebalance(ctx context.Context, req *sparsev1.RebalanceRequest, block bool) (*sparsev1.StatusReply, error) {
	t, err := s.leading(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.resolve(ctx, req.GetName(), false)
	if err != nil {
		return nil, err
	}
	if err := s.checkOwner(ctx, r, "rebalance"); err != nil {
		return nil, err
	}
	if err := checkRebalance(r, req, s.cfg.Limits); err != nil {
		return nil, err
	}
	wait, err := s.waitSecs("rebalance", req.GetWaitSecs(), r.Config)
	if err != nil {
		return nil, err
	}
	if wait == 0 {
		return s.rebalanceNow(ctx, t, r.ID, req)
	}
	return s.rebalanceAfter(ctx, t, r.ID, req, wait, block)
}

// rebalanceNow applies a rebalance without a wait.
func (s *Server) rebalanceNow(ctx context.Context, t *term, id string, req *sparsev1.RebalanceRequest) (*sparsev1.StatusReply, error) {
	r, err := t.store.UpdateTopology(ctx, id, func(r *cluster.TopologyRecord) error {
		if r.Status == cluster.StatusKilled {
			return status.Errorf(codes.FailedPrecondition, "topology %s is being killed; it cannot be rebalanced", id)
		}
		execs := executorCounts(req)
		applyRebalance(r, int(req.GetWorkers()), execs)
		// The later request wins: a pending rebalance must not set back, when its wait
		// ends, what this one set now.
		r.Rebalance.Forget(int(req.GetWorkers()), execs)
		return nil
	})
	if err != nil {
		return nil, s.rpcErr(ctx, err)
	}
	trigger(s.kick)
	s.log.Info("rebalanced topology", "topology", id, "workers", max(r.Workers, 1), "executor_overrides", r.ExecutorOverrides, "generation", r.Generation)
	return &sparsev1.StatusReply{}, nil
}

// rebalanceAfter deactivates the topology (if active) and stores the rebalance as
// pending in its record; the scheduling round of whichever nimbus leads applies it once
// the wait is over, and activates the topology again unless the operator deactivated it
// meanwhile (see finishRebalance). A second rebalance during the wait joins the first.
// The call returns once the rebalance is applied.
func (s *Server) rebalanceAfter(ctx context.Context, t *term, id string, req *sparsev1.RebalanceRequest, wait int, block bool) (*sparsev1.StatusReply, error) {
	now := time.Now().UTC()
	_, err := t.store.UpdateTopology(ctx, id, func(r *cluster.TopologyRecord) error {
		if r.Status == cluster.StatusKilled {
			return status.Errorf(codes.FailedPrecondition, "topology %s is being killed; it cannot be rebalanced", id)
		}
		pending := r.Rebalance
		if pending == nil {
			pending = &cluster.PendingRebalance{}
		}
		if n := int(req.GetWorkers()); n > 0 {
			pending.Workers = n
		}
		for comp, n := range executorCounts(req) {
			if pending.Executors == nil {
				pending.Executors = map[string]int{}
			}
			pending.Executors[comp] = n
		}
		pending.Until = later(pending.Until, now.Add(time.Duration(wait)*time.Second))
		if r.Status == cluster.StatusActive {
			r.Status, r.StatusChangedAt, pending.Reactivate = cluster.StatusInactive, now, true
		}
		r.Rebalance = pending
		return nil
	})
	if err != nil {
		return nil, s.rpcErr(ctx, err)
	}
	s.log.Info("rebalancing topology: deactivated, waiting for tuples in flight", "topology", id, "wait_secs", wait)
	trigger(s.kick)
	if !block {
		return &sparsev1.StatusReply{}, nil
	}
	for {
		r, err := s.store.GetTopology(ctx, id)
		switch {
		case errors.Is(err, cluster.ErrNotFound) || (err == nil && r.Status == cluster.StatusKilled):
			return nil, status.Errorf(codes.FailedPrecondition, "topology %s was killed while it was being rebalanced", id)
		case err == nil && r.Rebalance == nil:
			return &sparsev1.StatusReply{}, nil
		}
		select {
		case <-ctx.Done():
			return nil, status.Errorf(status.FromContextError(ctx.Err()).Code(),
				"stopped waiting for the rebalance of %s, which goes on: %v", id, ctx.Err())
		case <-s.ctx.Done():
			return nil, status.Errorf(codes.Unavailable, "nimbus %s is shutting down; the rebalance of %s goes on under the next leader", s.id, id)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// executorCounts is a rebalance request's executors by component.
func executorCounts(req *sparsev1.RebalanceRequest) map[string]int {
	var out map[string]int
	for comp, n := range req.GetExecutors() {
		if out == nil {
			out = map[string]int{}
		}
		out[comp] = int(n)
	}
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// applyRebalance sets a topology's new workers (0: unchanged) and executors, and bumps
// its generation, which the scheduler places once, whichever leader schedules next.
func applyRebalance(r *cluster.TopologyRecord, workers int, executors map[string]int) {
	if workers > 0 {
		r.Workers = workers
	}
	for comp, n := range executors {
		if r.ExecutorOverrides == nil {
			r.ExecutorOverrides = map[string]int{}
		}
		if r.Spec != nil && r.Spec.Component(comp) != nil && r.Spec.Component(comp).Parallelism == n {
			delete(r.ExecutorOverrides, comp)
		} else {
			r.ExecutorOverrides[comp] = n
		}
	}
	if len(r.ExecutorOverrides) == 0 {
		r.ExecutorOverrides = nil
	}
	r.Generation++
}

// finishRebalance applies, at now, a topology's pending rebalance whose wait is over,
// and activates it again if the
// rebalance deactivated it and the operator did not deactivate it since. A topology
// with none, or killed, is left as it is.
func finishRebalance(now time.Time) func(r *cluster.TopologyRecord) error {
	return func(r *cluster.TopologyRecord) error {
		rb := r.Rebalance
		// The record is read again here: a rebalance that joined since the round's
		// snapshot may have moved the end of the wait.
		if rb == nil || r.Status == cluster.StatusKilled || now.Before(rb.Until) {
			return nil
		}
		r.Rebalance = nil
		applyRebalance(r, rb.Workers, rb.Executors)
		if rb.Reactivate && r.Status == cluster.StatusInactive {
			r.Status, r.StatusChangedAt = cluster.StatusActive, now
		}
		return nil
	}
}

// checkRebalance refuses a request that cannot apply, listing every problem.
func checkRebalance(r *cluster.TopologyRecord, req *sparsev1.RebalanceRequest, l topology.Limits) error {
	var problems []string
	l = l.WithDefaults()
	switch {
	case req.GetWorkers() < 0:
		problems = append(problems, fmt.Sprintf("workers is %d; give at least 1 (or 0 to keep %d)", req.GetWorkers(), max(r.Workers, 1)))
	case int(req.GetWorkers()) > l.Workers:
		problems = append(problems, fmt.Sprintf("workers is %d; the limit of %s is %d (nimbusd %s)", req.GetWorkers(), topology.ConfWorkers, l.Workers, LimitFlag("Workers")))
	}
	for _, id := range slices.Sorted(maps.Keys(req.GetExecutors())) {
		n := req.GetExecutors()[id]
		var c *topology.ComponentSpec
		if r.Spec != nil {
			c = r.Spec.Component(id)
		}
		switch {
		case strings.HasPrefix(id, "__"):
			problems = append(problems, fmt.Sprintf("component %q: the executors of system components are fixed at submit (%s)", id, topology.ConfAckerExecutors))
		case c == nil:
			problems = append(problems, fmt.Sprintf("component %q does not exist (components: %s)", id, componentIDs(r.Spec)))
		case n < 1:
			problems = append(problems, fmt.Sprintf("component %q: %d executors; give at least 1", id, n))
		case int(n) > c.Tasks:
			problems = append(problems, fmt.Sprintf("component %q has %d tasks; it cannot have %d executors (the number of tasks is fixed at submit)", id, c.Tasks, n))
		}
	}
	if len(problems) > 0 {
		return status.Errorf(codes.InvalidArgument, "cannot rebalance %s (%d problem%s):\n  - %s", r.ID, len(problems), plural(len(problems)), strings.Join(problems, "\n  - "))
	}
	return nil
}

// List summarizes every topology.
func (s *Server) List(ctx context.Context, _ *sparsev1.ListRequest) (*sparsev1.ListReply, error) {
	v, err := s.view(ctx)
	if err != nil {
		return nil, err
	}
	out := &sparsev1.ListReply{}
	for _, r := range v.snap.topos {
		out.Topologies = append(out.Topologies, s.safeSummary(v, r))
	}
	return out, nil
}

// Describe tells everything about one topology: its components, where its workers run
// and whether they are alive, why it is not fully scheduled, and its configuration.
func (s *Server) Describe(ctx context.Context, ref *sparsev1.TopologyRef) (*sparsev1.TopologyDescription, error) {
	r, err := s.resolve(ctx, ref.GetName(), true)
	if err != nil {
		return nil, err
	}
	v, err := s.view(ctx)
	if err != nil {
		return nil, err
	}
	for _, cur := range v.snap.topos {
		if cur.ID == r.ID {
			r = cur
			break
		}
	}
	ti := v.infos[r.ID]
	if ti == nil {
		ti = inspect(r, v.snap.limits)
	}
	d := &sparsev1.TopologyDescription{Summary: v.summary(r), ArtifactSha256: r.ArtifactDigest}
	if ti.layout != nil {
		for _, comp := range slices.Sorted(maps.Keys(ti.layout.Tasks)) {
			d.Components = append(d.Components, &sparsev1.ComponentDescription{
				Id: comp, Kind: componentKind(ti.layout, comp), Executors: int32(len(ti.execs[comp])), Tasks: slices.Clone(ti.layout.Tasks[comp]),
			})
		}
	}
	if reason := v.reasons[r.ID]; reason != "" {
		d.Errors = append(d.Errors, reason)
	}
	if r.Status == cluster.StatusKilled {
		left := time.Until(r.StatusChangedAt.Add(time.Duration(r.KillWaitSecs) * time.Second)).Round(time.Second)
		d.Errors = append(d.Errors, fmt.Sprintf("being killed: its workers stop in %s", max(left, 0)))
	}
	problems, err := s.workerProblems(ctx, r.ID)
	if err != nil {
		// Describe still answers, without the problems it could not read.
		s.log.Warn("describe: cannot read the workers' problems", "topology", r.ID, "error", err)
		d.Errors = append(d.Errors, err.Error())
	}
	if a := v.snap.assigns[r.ID]; a != nil {
		d.AssignmentVersion = a.Version
		for _, w := range a.Workers {
			hb := v.snap.beats[r.ID+"/"+w.ID()]
			alive := hb != nil && (hb.Version == 0 || hb.Version == a.Version)
			wd := &sparsev1.WorkerDescription{Id: w.ID(), Supervisor: w.Supervisor, Host: w.Host, Port: int32(w.Port), Tasks: w.Tasks(), Alive: alive}
			if alive && !hb.Time.IsZero() {
				wd.UptimeSecs = int64(max(time.Since(hb.Time), 0) / time.Second)
			}
			if !alive {
				if p := problems[w.ID()]; p != nil {
					d.Errors = append(d.Errors, fmt.Sprintf("worker %s cannot start on supervisor %s: %s", w.ID(), p.Supervisor, p.Problem))
				} else if hb != nil {
					d.Errors = append(d.Errors, fmt.Sprintf("worker %s runs assignment version %d, not %d", w.ID(), hb.Version, a.Version))
				} else {
					d.Errors = append(d.Errors, fmt.Sprintf("worker %s has no heartbeat", w.ID()))
				}
			}
			d.Workers = append(d.Workers, wd)
		}
	}
	if cfg, err := specpb.ConfigToProto(r.Config); err == nil {
		d.Config = cfg
	} else {
		d.Errors = append(d.Errors, "the configuration cannot be shown: "+err.Error())
	}
	return d, nil
}

// ListSupervisors describes the live supervisors and which of their slots are used.
func (s *Server) ListSupervisors(ctx context.Context, _ *sparsev1.ListSupervisorsRequest) (*sparsev1.ListSupervisorsReply, error) {
	sups, err := s.store.ListSupervisors(ctx)
	if err != nil && !invalidOnly(err) {
		return nil, s.rpcErr(ctx, err)
	}
	as, err := s.store.ListAssignments(ctx)
	if err != nil && !invalidOnly(err) {
		return nil, s.rpcErr(ctx, err)
	}
	used := map[string][]int32{}
	for _, a := range as {
		for _, w := range a.Workers {
			used[w.Supervisor] = append(used[w.Supervisor], int32(w.Port))
		}
	}
	out := &sparsev1.ListSupervisorsReply{}
	for _, sup := range sups {
		d := &sparsev1.SupervisorDescription{Id: sup.ID, Host: sup.Host}
		for _, p := range sup.Slots {
			d.Slots = append(d.Slots, int32(p))
		}
		u := used[sup.ID]
		slices.Sort(u)
		d.UsedSlots = u
		if !sup.StartedAt.IsZero() {
			d.UptimeSecs = int64(max(time.Since(sup.StartedAt), 0) / time.Second)
		}
		out.Supervisors = append(out.Supervisors, d)
	}
	return out, nil
}

// Leader says which nimbus leads; both fields are empty when none does.
func (s *Server) Leader(ctx context.Context, _ *sparsev1.LeaderRequest) (*sparsev1.LeaderReply, error) {
	id, addr, err := s.store.Leader(ctx)
	if err != nil {
		if errors.Is(err, cluster.ErrNoLeader) {
			return &sparsev1.LeaderReply{}, nil
		}
		return nil, s.rpcErr(ctx, err)
	}
	return &sparsev1.LeaderReply{LeaderId: id, LeaderAddress: addr, IsLeader: id == s.id && s.IsLeader()}, nil
}

// FetchArtifact streams a stored artifact in chunks of ChunkSize.
func (s *Server) FetchArtifact(ref *sparsev1.ArtifactRef, stream grpc.ServerStreamingServer[sparsev1.ArtifactChunk]) error {
	d := normalizeDigest(ref.GetSha256())
	if err := cluster.ValidateDigest(d); err != nil {
		return status.Errorf(codes.InvalidArgument, "artifact digest: %v", err)
	}
	f, err := s.blobs.Open(d)
	if errors.Is(err, fs.ErrNotExist) {
		return status.Errorf(codes.NotFound, "artifact %s is not stored on nimbus %s; fetch it from the leader (see Leader) or another nimbus that holds it, or resubmit its topology", d, s.id)
	}
	if err != nil {
		return status.Errorf(codes.Internal, "opening artifact %s: %v", d, err)
	}
	defer f.Close()
	buf := make([]byte, ChunkSize)
	for {
		n, err := io.ReadFull(f, buf)
		if n > 0 {
			if serr := stream.Send(&sparsev1.ArtifactChunk{Data: buf[:n]}); serr != nil {
				return serr
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return status.Errorf(codes.Internal, "reading artifact %s: %v", d, err)
		}
	}
}

// clusterView is a snapshot with what is derived from it for display.
type clusterView struct {
	snap    *snapshot
	infos   map[string]*topoInfo
	reasons map[string]string
}

// view reads the cluster for List and Describe. The scheduling reasons are the leader's
// from its last round; a standby derives them by running the scheduler on what it read
// (the scheduler is deterministic, so it finds what the leader found, short of the
// leader's view of worker health).
func (s *Server) view(ctx context.Context) (*clusterView, error) {
	snap, err := s.readSnapshot(ctx)
	if err != nil {
		return nil, s.rpcErr(ctx, err)
	}
	v := &clusterView{snap: snap, reasons: map[string]string{}}
	if t := s.currentTerm(); t != nil {
		v.infos = map[string]*topoInfo{}
		for _, r := range snap.topos {
			v.infos[r.ID] = inspect(r, snap.limits)
		}
		t.mu.Lock()
		for id, r := range t.reasons {
			v.reasons[id] = r
		}
		t.mu.Unlock()
		return v, nil
	}
	c, infos := buildCluster(snap, nil)
	v.infos = infos
	if res, panicked, err := scheduleSafely(c); err == nil {
		if res.Reasons != nil {
			v.reasons = res.Reasons
		}
		maps.Copy(v.reasons, panicked)
	}
	for id, ti := range infos {
		if ti.problem != "" {
			v.reasons[id] = "cannot be scheduled: " + ti.problem
		}
	}
	return v, nil
}

func (v *clusterView) summary(r *cluster.TopologyRecord) *sparsev1.TopologySummary {
	ti := v.infos[r.ID]
	if ti == nil {
		ti = inspect(r, v.snap.limits)
	}
	st := string(r.Status)
	switch {
	case r.Status == cluster.StatusKilled:
		st = "killing"
	case r.Rebalance != nil:
		st = "rebalancing"
	}
	sum := &sparsev1.TopologySummary{
		Id: r.ID, Name: r.Name, Status: st, RequestedWorkers: int32(ti.requested),
		Executors: int32(ti.numExecutors()), Scheduling: v.reasons[r.ID], Owner: r.Owner,
	}
	if ti.layout != nil {
		sum.Tasks = int32(ti.layout.NumTasks())
	}
	if a := v.snap.assigns[r.ID]; a != nil {
		sum.Workers = int32(len(a.Workers))
	}
	if !r.SubmittedAt.IsZero() {
		sum.UptimeSecs = int64(max(time.Since(r.SubmittedAt), 0) / time.Second)
	}
	return sum
}

func componentIDs(s *topology.Spec) string {
	if s == nil {
		return "none"
	}
	ids := make([]string, 0, len(s.Components))
	for _, c := range s.Components {
		ids = append(ids, c.ID)
	}
	return strings.Join(ids, ", ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// UpdateVirtualenv asks every supervisor to build a spec bundle topology's virtualenv
// again and restart its workers with it: it counts a new generation in the topology's
// record, which the supervisors' virtualenv key and worker identity include.
func (s *Server) UpdateVirtualenv(ctx context.Context, ref *sparsev1.TopologyRef) (*sparsev1.UpdateVirtualenvReply, error) {
	t, err := s.leading(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.resolve(ctx, ref.GetName(), false)
	if err != nil {
		return nil, err
	}
	if err := s.checkOwner(ctx, r, "update-virtualenv"); err != nil {
		return nil, err
	}
	if r.ArtifactKind != cluster.ArtifactSpecBundle {
		return nil, status.Errorf(codes.FailedPrecondition, "topology %s is a Go topology binary, which has no Python virtualenv; update-virtualenv is for spec bundles and streamparse projects (whose requirements come with the bundle)", r.Name)
	}
	updated, err := t.store.UpdateTopology(ctx, r.ID, func(r *cluster.TopologyRecord) error {
		if r.Status == cluster.StatusKilled {
			return status.Errorf(codes.FailedPrecondition, "topology %s is being killed; it cannot be changed any more", r.ID)
		}
		r.VenvGeneration++
		return nil
	})
	if err != nil {
		return nil, s.rpcErr(ctx, err)
	}
	s.log.Info("the topology's virtualenv is to be built again on every supervisor", "topology", updated.ID, "generation", updated.VenvGeneration)
	return &sparsev1.UpdateVirtualenvReply{TopologyId: updated.ID, Generation: updated.VenvGeneration}, nil
}
