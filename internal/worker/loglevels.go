package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/logging"
	"github.com/sparsestream/sparse/internal/tlsconf"
	"github.com/sparsestream/sparse/pkg/transport"
)

// componentLogger is the executor's ComponentLogger of a worker with levels (nil: the
// executor's default).
func componentLogger(l *logging.Levels) func(string) hclog.Logger {
	if l == nil {
		return nil
	}
	return l.Component
}

// logOverrides are the log levels and debug samples set on the running worker
// (sparsectl set-log-level and debug, through the supervisor): each lapses at its
// expiry by itself, even if the supervisor is gone by then.
type logOverrides struct {
	mu     sync.Mutex
	list   []*sparsev1.LogLevelOverride
	timer  *time.Timer
	active bool // some override was in force at the last application
	// stopped: the worker's Run has ended, and with it the overrides. Nothing arms the
	// timer again, not even a lapse that fired as Run ended and waited for mu.
	stopped bool
}

// errStopped is SetLogLevels' answer once the worker has stopped.
var errStopped = errors.New("the worker has stopped; its log levels no longer change")

// SetLogLevels replaces the overrides in force and applies them now; the worker
// applies them again as each one lapses. A wrong level is an error and changes nothing.
func (w *Worker) SetLogLevels(list []*sparsev1.LogLevelOverride) error {
	for _, o := range list {
		if o.GetLevel() == "" {
			continue
		}
		if _, err := logging.ParseLevel(o.GetLevel()); err != nil {
			return fmt.Errorf("component %q: %w", o.GetComponent(), err)
		}
	}
	w.logs.mu.Lock()
	defer w.logs.mu.Unlock()
	if w.logs.stopped {
		return errStopped
	}
	w.logs.list = list
	w.applyLogLevels(time.Now())
	return nil
}

// applyLogLevels sets each component's level and sample from the overrides live at now
// (one for the component beats one for every component; the latest set wins among
// equals) and arms the timer for the next expiry; w.logs.mu is held.
func (w *Worker) applyLogLevels(now time.Time) {
	levels, samples, next := EffectiveLogLevels(w.logs.list, now)
	comps := make([]string, 0, len(w.o.Spec.Components))
	for _, c := range w.o.Spec.Components {
		comps = append(comps, c.ID)
	}
	levels, samples = forComponents(levels, comps), forComponents(samples, comps)
	if w.o.Levels != nil {
		w.o.Levels.Set(levels)
	}
	w.rt.SetDebugSamples(samples)
	switch {
	case len(levels) > 0 || len(samples) > 0:
		w.log.Info("log levels set", "levels", fmt.Sprint(levels), "debug_samples", fmt.Sprint(samples), "next_change", next.UTC().Format(time.RFC3339))
		w.logs.active = true
	case w.logs.active:
		w.log.Info("log levels back to --log-level, debug samples off")
		w.logs.active = false
	}
	if w.logs.timer != nil {
		w.logs.timer.Stop()
		w.logs.timer = nil
	}
	if !next.IsZero() {
		w.logs.timer = time.AfterFunc(next.Sub(now), func() {
			w.logs.mu.Lock()
			defer w.logs.mu.Unlock()
			if w.logs.stopped {
				return // fired as the worker stopped; Stop came too late to prevent it
			}
			w.applyLogLevels(time.Now())
		})
	}
}

// stopLogTimer ends the lapse timer, for good, when the worker's context ends or its
// Run returns.
func (w *Worker) stopLogTimer() {
	w.logs.mu.Lock()
	defer w.logs.mu.Unlock()
	w.logs.stopped = true
	if w.logs.timer != nil {
		w.logs.timer.Stop()
		w.logs.timer = nil
	}
}

// EffectiveLogLevels is what the overrides live at now give each component of the
// topology: a level (for components named, or "" for all of them expanded by the
// caller's Levels), a debug sample, and when the next one lapses (zero: none live).
func EffectiveLogLevels(list []*sparsev1.LogLevelOverride, now time.Time) (levels map[string]hclog.Level, samples map[string]float64, next time.Time) {
	levels, samples = map[string]hclog.Level{}, map[string]float64{}
	nowMs := now.UnixMilli()
	// Every component's entries first, so that a component's own ones win.
	for _, pass := range []bool{true, false} {
		for _, o := range list {
			exp := o.GetExpiresUnixMs()
			if exp <= nowMs || (o.GetComponent() == allComponents) != pass {
				continue
			}
			if t := time.UnixMilli(exp); next.IsZero() || t.Before(next) {
				next = t
			}
			if l, err := logging.ParseLevel(o.GetLevel()); o.GetLevel() != "" && err == nil {
				levels[o.GetComponent()] = l
			}
			if o.GetDebugSample() > 0 {
				samples[o.GetComponent()] = o.GetDebugSample()
			}
		}
	}
	return levels, samples, next
}

// allComponents keys an override of every component in EffectiveLogLevels' maps.
const allComponents = ""

// forComponents expands the all-components entry over the given components.
func forComponents[V any](m map[string]V, comps []string) map[string]V {
	all, ok := m[allComponents]
	if !ok {
		return m
	}
	out := make(map[string]V, len(comps))
	for _, c := range comps {
		out[c] = all
	}
	for c, v := range m {
		if c != allComponents {
			out[c] = v
		}
	}
	return out
}

func (s adminServer) SetLogLevels(ctx context.Context, req *sparsev1.SetLogLevelsRequest) (*sparsev1.SetLogLevelsReply, error) {
	if tlsconf.PeerIsTLS(ctx) {
		if id, ok := tlsconf.PeerIdentity(ctx); !ok || id.Role != tlsconf.RoleSupervisor {
			s.w.log.Error("refused a WorkerAdmin call: only the supervisor may call it", "peer", id.String())
			return nil, status.Error(codes.PermissionDenied, transport.Refused)
		}
	}
	switch err := s.w.SetLogLevels(req.GetOverrides()); {
	case errors.Is(err, errStopped):
		return nil, status.Error(codes.Unavailable, err.Error())
	case err != nil:
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &sparsev1.SetLogLevelsReply{}, nil
}
