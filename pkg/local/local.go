// Package local runs a whole topology in one process: Storm's local mode. It is what
// `sparsectl run` and a topology binary's `run` subcommand use (Run), and what a
// topology's tests use (RunUntil, which returns each component's Summary).
package local

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/pkg/topology"
)

// Options configure a local run.
type Options struct {
	Spec *topology.Spec
	// Config overrides the topology config (-o key=value).
	Config topology.Config
	Logger hclog.Logger
	// Duration stops the run after this long; 0 runs until ctx ends. For RunUntil it
	// is the deadline by which the condition must hold.
	Duration time.Duration
	// StatsEvery prints a summary line per component this often to Out (0: never).
	StatsEvery time.Duration
	Out        io.Writer
}

// Run runs the topology until Duration passes or ctx ends, printing periodic summaries
// and a final one. It returns when every goroutine of the topology has ended.
func Run(ctx context.Context, o Options) error {
	rt, err := executor.New(executor.Options{Spec: o.Spec, Config: o.Config, Logger: o.Logger})
	if err != nil {
		return err
	}
	return RunRuntime(ctx, rt, o)
}

// RunRuntime is Run for a runtime built by the caller: the module's worker, which
// builds its runtime with remote peers. A topology's tests use RunUntil.
func RunRuntime(ctx context.Context, rt *executor.Runtime, o Options) error {
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	if o.StatsEvery > 0 && o.Out != nil {
		wg.Go(func() {
			t := time.NewTicker(o.StatsEvery)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					PrintSummary(o.Out, summarize(rt.Stats()))
				case <-done:
					return
				}
			}
		})
	}
	err := rt.Run(ctx)
	close(done)
	wg.Wait() // the final summary must not interleave with a periodic one
	if err == nil && o.Out != nil {
		fmt.Fprintln(o.Out, "final:")
		PrintSummary(o.Out, summarize(rt.Stats()))
	}
	return err
}
