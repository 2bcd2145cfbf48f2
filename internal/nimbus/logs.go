package nimbus

import (
	"context"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/logging"
)

// MaxLogOverrideFor bounds how long a log level or debug sample set on a running
// topology lasts: a forgotten debug level does not fill the disks for ever.
const MaxLogOverrideFor = 24 * time.Hour

// ListLogSources says where each supervisor serves its logs, and for a topology that
// nimbus knows, which worker runs which tasks of which components on which supervisor.
// A topology it does not know (killed and gone) gets the supervisors alone, so that
// its leftover logs can be found and removed.
func (s *Server) ListLogSources(ctx context.Context, req *sparsev1.LogSourcesRequest) (*sparsev1.LogSourcesReply, error) {
	sups, err := s.store.ListSupervisors(ctx)
	if err != nil && !invalidOnly(err) {
		return nil, s.rpcErr(ctx, err)
	}
	out := &sparsev1.LogSourcesReply{}
	for _, sup := range sups {
		out.Supervisors = append(out.Supervisors, &sparsev1.LogSupervisor{Id: sup.ID, LogsAddr: sup.LogsAddr, Tls: sup.LogsTLS})
	}
	if req.GetTopology() == "" {
		return out, nil
	}
	r, err := s.resolve(ctx, req.GetTopology(), true)
	if status.Code(err) == codes.NotFound {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	out.TopologyId = r.ID
	ti := inspect(r, s.cfg.Limits)
	a, err := s.store.GetAssignment(ctx, r.ID)
	if err != nil {
		return out, nil // not placed (yet): no workers
	}
	for _, w := range a.Workers {
		lw := &sparsev1.LogWorker{Id: w.ID(), Supervisor: w.Supervisor, Port: int32(w.Port), Tasks: w.Tasks()}
		if ti.layout != nil {
			for _, t := range lw.Tasks {
				if c := ti.layout.TaskComponent(t); c != "" && !slices.Contains(lw.Components, c) {
					lw.Components = append(lw.Components, c)
				}
			}
		}
		out.Workers = append(out.Workers, lw)
	}
	return out, nil
}

// SetLogLevel sets a log level or a debug sample on a running topology (one component
// or all of them) until it lapses, or resets them. It is stored in the topology's
// record, where supervisors find it for the workers that run now and that start later.
func (s *Server) SetLogLevel(ctx context.Context, req *sparsev1.SetLogLevelRequest) (*sparsev1.SetLogLevelReply, error) {
	t, err := s.leading(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.resolve(ctx, req.GetTopology(), false)
	if err != nil {
		return nil, err
	}
	if err := s.checkOwner(ctx, r, "set-log-level"); err != nil {
		return nil, err
	}
	o := req.GetOverride()
	comp := o.GetComponent()
	if comp != "" && r.Spec != nil && r.Spec.Component(comp) == nil {
		var names []string
		for _, c := range r.Spec.Components {
			names = append(names, c.ID)
		}
		return nil, status.Errorf(codes.InvalidArgument, "topology %s has no component %q; its components: %v", r.ID, comp, names)
	}
	now := time.Now().UTC()
	var add *cluster.LogOverride
	if !req.GetRemove() {
		if o.GetLevel() != "" {
			if _, err := logging.ParseLevel(o.GetLevel()); err != nil {
				return nil, status.Error(codes.InvalidArgument, err.Error())
			}
		}
		exp := time.UnixMilli(o.GetExpiresUnixMs()).UTC()
		switch {
		case !exp.After(now):
			return nil, status.Errorf(codes.InvalidArgument, "the override lapses at %s, which is past; give a duration (--for 10m)", exp.Format(time.RFC3339))
		case exp.Sub(now) > MaxLogOverrideFor:
			return nil, status.Errorf(codes.InvalidArgument, "the override lasts %s; at most %s is allowed", exp.Sub(now).Round(time.Second), MaxLogOverrideFor)
		}
		add = &cluster.LogOverride{Component: comp, Level: o.GetLevel(), DebugSample: o.GetDebugSample(), Expires: exp}
		if err := add.Validate(); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
	}
	rec, err := t.store.UpdateTopology(ctx, r.ID, func(r *cluster.TopologyRecord) error {
		r.LogLevels = mergeLogOverrides(r.LogLevels, comp, add, req.GetRemove(), now)
		return nil
	})
	if err != nil {
		return nil, s.rpcErr(ctx, err)
	}
	s.log.Info("log levels set", "topology", r.ID, "component", comp, "level", o.GetLevel(), "debug_sample", o.GetDebugSample(), "reset", req.GetRemove())
	reply := &sparsev1.SetLogLevelReply{}
	for _, l := range rec.LogLevels {
		reply.Overrides = append(reply.Overrides, &sparsev1.LogLevelOverride{Component: l.Component, Level: l.Level,
			DebugSample: l.DebugSample, ExpiresUnixMs: l.Expires.UnixMilli()})
	}
	return reply, nil
}

// mergeLogOverrides is list without the lapsed overrides and with add, which replaces
// the component's override of the same kind (level or debug sample); reset removes the
// component's (every one, for comp ""). The newest are kept within
// cluster.MaxLogOverrides.
func mergeLogOverrides(list []cluster.LogOverride, comp string, add *cluster.LogOverride, reset bool, now time.Time) []cluster.LogOverride {
	var out []cluster.LogOverride
	for _, l := range list {
		switch {
		case !l.Expires.After(now):
		case reset && (comp == "" || l.Component == comp):
		case add != nil && l.Component == add.Component && (l.Level != "") == (add.Level != "") && (l.DebugSample > 0) == (add.DebugSample > 0):
		default:
			out = append(out, l)
		}
	}
	if add != nil {
		out = append(out, *add)
	}
	if len(out) > cluster.MaxLogOverrides {
		out = out[len(out)-cluster.MaxLogOverrides:]
	}
	return out
}
