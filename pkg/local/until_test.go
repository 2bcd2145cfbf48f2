package local_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sparsestream/sparse/pkg/local"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// badBolt fails every input: with panic set it panics, otherwise Execute returns an
// error, which topology.Basic turns into a failed input.
type badBolt struct{ panic bool }

func (badBolt) Prepare(*topology.Context) error { return nil }
func (b badBolt) Execute(in *tuple.Tuple, _ topology.BasicCollector) error {
	if b.panic {
		panic(fmt.Sprintf("boom on %v", in.Values[0]))
	}
	return fmt.Errorf("cannot take %v", in.Values[0])
}
func (badBolt) Cleanup() {}

// badSpec is an endless spout -> bad -> sink, where bad fails every input.
func badSpec(t *testing.T, panics bool) *topology.Spec {
	t.Helper()
	b := topology.NewBuilder("bad")
	b.Config(topology.ConfMaxSpoutPending, 50)
	b.Spout("spout", func() topology.Spout { return &countingSpout{} }, 1).Output("id")
	b.Bolt("bad", topology.Basic(func() topology.BasicBolt { return badBolt{panic: panics} }), 1).Shuffle("spout").Output("id")
	b.Bolt("sink", topology.Basic(func() topology.BasicBolt { return sinkBolt{} }), 1).Shuffle("bad")
	s, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return s
}

var errStopTest = errors.New("the test had seen enough")

// TestRunUntil runs topologies until a condition, a deadline or the end of the context,
// and checks what RunUntil returned, how long it took, and that it left no goroutine.
func TestRunUntil(t *testing.T) {
	acked := func(comp string, n int64) func(local.Summary) bool {
		return func(s local.Summary) bool { return s.Component(comp).Acked >= n }
	}
	never := func(local.Summary) bool { return false }
	tests := []struct {
		name string
		spec func(*testing.T) *topology.Spec
		// duration is Options.Duration; cancelAfter, if set, cancels ctx with
		// errStopTest after this long.
		duration, cancelAfter time.Duration
		cond                  func(local.Summary) bool
		// minTook and maxTook bound how long RunUntil may take.
		minTook, maxTook time.Duration
		wantErr          []string // substrings of the error; nil: no error
		wantIs           error
		check            func(*testing.T, local.Summary)
	}{{
		name:     "condition met early",
		spec:     func(t *testing.T) *topology.Spec { return spec(t, 0) },
		duration: 20 * time.Second, cond: acked("spout", 200),
		maxTook: 10 * time.Second,
		check: func(t *testing.T, s local.Summary) {
			sp := s.Component("spout")
			if sp.Kind != "spout" || sp.Acked < 200 || sp.Emitted < sp.Acked || sp.Failed != 0 {
				t.Errorf("spout = %+v, want at least 200 acked, none failed", sp)
			}
			if p := s.Component("pass"); p.Kind != "bolt" || p.Executors != 2 || p.Executed < 200 || p.Acked != p.Executed {
				t.Errorf("pass = %+v, want 2 executors that executed and acked at least 200 inputs", p)
			}
			if s.Component(tuple.AckerID).Kind != "acker" {
				t.Errorf("summary %v has no acker", s)
			}
		},
	}, {
		name:     "every tuple of a bounded spout",
		spec:     func(t *testing.T) *topology.Spec { return spec(t, 1000) },
		duration: 20 * time.Second, cond: acked("spout", 1000),
		maxTook: 10 * time.Second,
		check: func(t *testing.T, s local.Summary) {
			// Read after the stop, so every executor has published its last counts.
			if sp := s.Component("spout"); sp.Emitted != 1000 || sp.Acked != 1000 || sp.Pending != 0 {
				t.Errorf("spout = %+v, want 1000 emitted and acked, none pending", sp)
			}
			if sk := s.Component("sink"); sk.Executed != 1000 || sk.Acked != 1000 {
				t.Errorf("sink = %+v, want 1000 executed and acked", sk)
			}
		},
	}, {
		name:     "deadline reached",
		spec:     func(t *testing.T) *topology.Spec { return spec(t, 0) },
		duration: 300 * time.Millisecond, cond: never,
		minTook: 300 * time.Millisecond, maxTook: 10 * time.Second,
		wantErr: []string{`topology "chain"`, "did not hold within 300ms", "deadline exceeded", "spout ", "pass ", "sink "},
		wantIs:  context.DeadlineExceeded,
		check: func(t *testing.T, s local.Summary) {
			if s.Component("spout").Emitted == 0 {
				t.Errorf("summary after the deadline = %v, want the spout to have emitted", s)
			}
		},
	}, {
		name:     "a bolt that panics",
		spec:     func(t *testing.T) *topology.Spec { return badSpec(t, true) },
		duration: 500 * time.Millisecond, cond: acked("sink", 1),
		minTook: 500 * time.Millisecond, maxTook: 10 * time.Second,
		wantErr: []string{"did not hold within 500ms", "errors=", `panic in Execute of component \"bad\"`, "boom on"},
		wantIs:  context.DeadlineExceeded,
		check: func(t *testing.T, s local.Summary) {
			bad := s.Component("bad")
			if bad.Errors == 0 || !strings.Contains(bad.LastError, "boom on") || bad.Acked != 0 {
				t.Errorf("bad = %+v, want recovered panics and nothing acked", bad)
			}
			if sp := s.Component("spout"); sp.Failed == 0 || sp.Acked != 0 {
				t.Errorf("spout = %+v, want its tuples failed and none acked", sp)
			}
		},
	}, {
		name:     "a bolt that fails its inputs",
		spec:     func(t *testing.T) *topology.Spec { return badSpec(t, false) },
		duration: 20 * time.Second,
		cond:     func(s local.Summary) bool { return s.Component("spout").Failed >= 20 },
		maxTook:  10 * time.Second,
		check: func(t *testing.T, s local.Summary) {
			bad := s.Component("bad")
			if bad.Failed < 20 || bad.Acked != 0 || bad.Errors < 20 || !strings.Contains(bad.LastError, "cannot take") {
				t.Errorf("bad = %+v, want at least 20 inputs failed with their errors reported", bad)
			}
			if sk := s.Component("sink"); sk.Executed != 0 {
				t.Errorf("sink = %+v, want nothing executed", sk)
			}
		},
	}, {
		name:     "context cancelled",
		spec:     func(t *testing.T) *topology.Spec { return spec(t, 0) },
		duration: 20 * time.Second, cancelAfter: 300 * time.Millisecond, cond: never,
		minTook: 300 * time.Millisecond, maxTook: 10 * time.Second,
		wantErr: []string{"stopped before the condition held", errStopTest.Error(), "spout "},
		wantIs:  errStopTest,
	}, {
		name:     "no condition runs for the duration",
		spec:     func(t *testing.T) *topology.Spec { return spec(t, 0) },
		duration: 300 * time.Millisecond,
		minTook:  300 * time.Millisecond, maxTook: 10 * time.Second,
		check: func(t *testing.T, s local.Summary) {
			if s.Component("spout").Acked == 0 {
				t.Errorf("summary = %v, want tuples acked", s)
			}
		},
	}, {
		name: "a task that fails to open",
		spec: func(t *testing.T) *topology.Spec {
			b := topology.NewBuilder("broken")
			b.Spout("source", func() topology.Spout { return &brokenSpout{} }, 1).Output("id")
			s, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		duration: 20 * time.Second, cond: never,
		maxTook: 10 * time.Second,
		wantErr: []string{`component "source"`, "no such queue"},
		check: func(t *testing.T, s local.Summary) {
			if s != nil {
				t.Errorf("summary = %v, want none from a run that never started", s)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			if tt.cancelAfter > 0 {
				stop := time.AfterFunc(tt.cancelAfter, func() { cancel(errStopTest) })
				defer stop.Stop()
			}
			start := time.Now()
			s, err := local.RunUntil(ctx, local.Options{Spec: tt.spec(t), Duration: tt.duration}, tt.cond)
			took := time.Since(start)
			if p, c := sinksPrepared.Load(), sinksCleaned.Load(); p != c {
				t.Errorf("RunUntil returned with %d sink tasks prepared and %d cleaned up, want every task closed", p, c)
			}
			if took < tt.minTook || took > tt.maxTook {
				t.Errorf("RunUntil took %v, want %v to %v", took, tt.minTook, tt.maxTook)
			}
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("RunUntil: %v", err)
			case tt.wantErr != nil && err == nil:
				t.Fatalf("RunUntil = nil error, want one containing %q; summary:\n%v", tt.wantErr, s)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("RunUntil error = %v\nwant it to contain %q", err, w)
				}
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("RunUntil error = %v, want it to wrap %v", err, tt.wantIs)
			}
			if tt.check != nil {
				tt.check(t, s)
			}
			noGoroutinesLeft(t, before)
		})
	}
}

// TestRunUntilRejectsBadOptions: a spec the runtime refuses is an error before anything
// runs, without a summary.
func TestRunUntilRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name    string
		o       local.Options
		wantErr string
	}{
		{"no spec", local.Options{Duration: time.Second}, "no topology spec"},
		{"invalid override", local.Options{Spec: spec(t, 10), Duration: time.Second,
			Config: topology.Config{topology.ConfMaxSpoutPending: 0}}, topology.ConfMaxSpoutPending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := local.RunUntil(context.Background(), tt.o, func(local.Summary) bool { return true })
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || s != nil {
				t.Errorf("RunUntil = %v, %v; want no summary and an error containing %q", s, err, tt.wantErr)
			}
		})
	}
}

// TestSummaryComponent: Component finds a component by id and returns a zero summary,
// with an empty Component, for an id the topology does not have.
func TestSummaryComponent(t *testing.T) {
	s := local.Summary{{Component: "a", Kind: "spout", Emitted: 3}, {Component: "b", Kind: "bolt", Acked: 2}}
	tests := []struct {
		id   string
		want local.ComponentSummary
	}{
		{"a", s[0]},
		{"b", s[1]},
		{"c", local.ComponentSummary{}},
	}
	for _, tt := range tests {
		if got := s.Component(tt.id); got != tt.want {
			t.Errorf("Component(%q) = %+v, want %+v", tt.id, got, tt.want)
		}
	}
	if got, want := s.String(), "a            spout  emitted=3 acked=0 failed=0 pending=0 timed_out=0 complete_ms(mean/p50/p99)=0.00/0.00/0.00\nb            bolt   emitted=0 acked=2 failed=0\n"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// noGoroutinesLeft fails the test if more goroutines run than before, once those that
// are ending have had a moment to end.
func noGoroutinesLeft(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines left after RunUntil returned, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
