package local

import (
	"context"
	"fmt"
	"time"

	"github.com/sparsestream/sparse/internal/executor"
)

// pollEvery is how often RunUntil checks its condition. Executors publish their counts
// in batches, so polling faster would mostly see the same summary again.
const pollEvery = 10 * time.Millisecond

// RunUntil runs the topology in this process until cond holds for the summary of its
// components, then stops it and returns the final summary, read once every executor
// has stopped and published its last counts. It is the harness for a topology's tests,
// as Storm's LocalCluster is:
//
//	s, err := local.RunUntil(ctx, local.Options{Spec: spec, Duration: 30 * time.Second},
//		func(s local.Summary) bool { return s.Component("sentences").Acked >= 500 })
//
// cond is called on the caller's goroutine every few milliseconds with the counts so
// far; it should only read the summary. When o.Duration passes or ctx ends first,
// RunUntil stops the topology and calls cond once more with the final counts (which
// may complete the condition: executors publish theirs in batches). If it still does
// not hold, RunUntil returns the final summary with an error that says which happened,
// wraps context.DeadlineExceeded or ctx's cause, and lists every component. With a nil
// cond the run lasts o.Duration (or until ctx ends) and ending so is no error. A task
// that fails to open stops the run at once with that error and no summary. RunUntil
// returns when every goroutine of the topology has ended; o.StatsEvery and o.Out print
// as Run does.
func RunUntil(ctx context.Context, o Options, cond func(Summary) bool) (Summary, error) {
	rt, err := executor.New(executor.Options{Spec: o.Spec, Config: o.Config, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	ro := o
	ro.Duration = 0 // the deadline is kept below, to tell it from the condition
	go func() { done <- RunRuntime(runCtx, rt, ro) }()

	var deadline <-chan time.Time
	if o.Duration > 0 {
		t := time.NewTimer(o.Duration)
		defer t.Stop()
		deadline = t.C
	}
	poll := time.NewTicker(pollEvery)
	defer poll.Stop()

	var why error // why the run stopped before cond held; nil once it held
	stopped := false
	for running := true; running; {
		select {
		case <-poll.C:
			running = cond == nil || !cond(summarize(rt.Stats()))
		case <-deadline:
			why = fmt.Errorf("the condition did not hold within %v: %w", o.Duration, context.DeadlineExceeded)
			running = false
		case <-ctx.Done():
			why = fmt.Errorf("the run was stopped before the condition held: %w", context.Cause(ctx))
			running = false
		case err := <-done:
			// The runtime ends by itself only when a task failed to open or ctx ended.
			if err != nil {
				return nil, err
			}
			why = fmt.Errorf("the run was stopped before the condition held: %w", context.Cause(ctx))
			stopped, running = true, false
		}
	}
	stop()
	if !stopped {
		if err := <-done; err != nil {
			return nil, err
		}
	}
	final := summarize(rt.Stats())
	if why == nil || cond == nil || cond(final) {
		return final, nil
	}
	return final, fmt.Errorf("topology %q: %w; the components then:\n%s", o.Spec.Name, why, final)
}
