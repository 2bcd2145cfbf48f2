package local_test

import (
	"context"
	"errors"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/pkg/local"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// countingSpout emits the ids 0..n-1 reliably (n = 0: without end), replaying failures.
type countingSpout struct {
	topology.BaseSpout
	out     topology.SpoutCollector
	n, next int64
	replays []int64
}

func (s *countingSpout) Open(_ *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	return nil
}

func (s *countingSpout) NextTuple() {
	var id int64
	switch {
	case len(s.replays) > 0:
		id, s.replays = s.replays[0], s.replays[1:]
	case s.n == 0 || s.next < s.n:
		id = s.next
		s.next++
	default:
		return
	}
	s.out.Emit([]any{id}, id)
}

func (s *countingSpout) Fail(id any) { s.replays = append(s.replays, id.(int64)) }

// passBolt re-emits its input (anchored, through topology.Basic).
type passBolt struct{}

func (passBolt) Prepare(*topology.Context) error { return nil }
func (passBolt) Execute(in *tuple.Tuple, out topology.BasicCollector) error {
	out.Emit(in.Values...)
	return nil
}
func (passBolt) Cleanup() {}

// sinkBolt acks every input. It counts its tasks' Prepare and Cleanup calls, so that a
// test can tell whether every task was closed when a run returned.
type sinkBolt struct{}

var sinksPrepared, sinksCleaned atomic.Int64

func (sinkBolt) Prepare(*topology.Context) error {
	sinksPrepared.Add(1)
	return nil
}
func (sinkBolt) Execute(*tuple.Tuple, topology.BasicCollector) error { return nil }
func (sinkBolt) Cleanup()                                            { sinksCleaned.Add(1) }

// spec is spout -> pass -> sink with n reliable tuples (0: endless).
func spec(t *testing.T, n int64) *topology.Spec {
	t.Helper()
	b := topology.NewBuilder("chain")
	b.Config(topology.ConfMaxSpoutPending, 500)
	b.Spout("spout", func() topology.Spout { return &countingSpout{n: n} }, 1).Output("id")
	b.Bolt("pass", topology.Basic(func() topology.BasicBolt { return passBolt{} }), 2).Shuffle("spout").Output("id")
	b.Bolt("sink", topology.Basic(func() topology.BasicBolt { return sinkBolt{} }), 1).Fields("pass", "id")
	s, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return s
}

// run calls local.Run in the background and fails the test if it does not return in time.
func run(t *testing.T, ctx context.Context, o local.Options, within time.Duration) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- local.Run(ctx, o) }()
	select {
	case err := <-done:
		return time.Since(start), err
	case <-time.After(within):
		t.Fatalf("local.Run did not return within %v", within)
		return 0, nil
	}
}

// finalLines returns the summary lines printed after "final:", by component.
func finalLines(t *testing.T, out string) map[string]string {
	t.Helper()
	_, final, ok := strings.Cut(out, "final:\n")
	if !ok {
		t.Fatalf("no final: summary in the output:\n%s", out)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(final), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			lines[f[0]] = l
		}
	}
	return lines
}

var summaryLine = regexp.MustCompile(`^(\S+)\s+(spout|bolt|acker)\s+emitted=\d+ acked=\d+ failed=\d+`)

// TestRunStopsAfterDuration: with a Duration the run ends on time by itself and prints
// the final summary: a line per component with emitted= acked= failed=, and the spout's
// complete latency.
func TestRunStopsAfterDuration(t *testing.T) {
	var out testutil.SyncBuffer
	took, err := run(t, context.Background(), local.Options{Spec: spec(t, 1000), Duration: time.Second, Out: &out}, 15*time.Second)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took < time.Second || took > 6*time.Second {
		t.Errorf("Run with Duration 1s took %v", took)
	}
	lines := finalLines(t, out.String())
	for _, c := range []string{"spout", "pass", "sink", tuple.AckerID} {
		if !summaryLine.MatchString(lines[c]) {
			t.Errorf("final line of %s = %q, want it to match %s", c, lines[c], summaryLine)
		}
	}
	sp := lines["spout"]
	if !strings.Contains(sp, "emitted=1000 acked=1000 failed=0 pending=0 timed_out=0") {
		t.Errorf("spout line = %q, want all 1000 tuples acked and none pending", sp)
	}
	if !regexp.MustCompile(`complete_ms\(mean/p50/p99\)=[0-9.]+/[0-9.]+/[0-9.]+`).MatchString(sp) {
		t.Errorf("spout line = %q, want complete_ms(mean/p50/p99)=a/b/c", sp)
	}
	if strings.Contains(lines["pass"], "complete_ms") {
		t.Errorf("bolt line %q has a complete latency; only spouts have one", lines["pass"])
	}
	if !strings.Contains(lines["pass"], "emitted=1000 acked=1000 failed=0") || !strings.Contains(lines["sink"], "acked=1000 failed=0") {
		t.Errorf("bolt lines = %q, %q, want 1000 inputs acked by each", lines["pass"], lines["sink"])
	}
}

// TestRunPrintsPeriodicStats: with StatsEvery a summary is printed while running, then
// the final one.
func TestRunPrintsPeriodicStats(t *testing.T) {
	var out testutil.SyncBuffer
	_, err := run(t, context.Background(), local.Options{Spec: spec(t, 0), Duration: 600 * time.Millisecond, StatsEvery: 100 * time.Millisecond, Out: &out}, 15*time.Second)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	before, _, ok := strings.Cut(out.String(), "final:")
	if !ok {
		t.Fatalf("no final: summary:\n%s", out.String())
	}
	n := 0
	for _, l := range strings.Split(before, "\n") {
		if strings.HasPrefix(l, "spout ") && summaryLine.MatchString(l) {
			n++
		}
	}
	if n < 2 {
		t.Errorf("%d periodic spout lines before final: in a 600ms run printing every 100ms:\n%s", n, out.String())
	}
}

// TestRunStopsOnCancel: without a Duration the run lasts until the context ends, then
// stops cleanly, prints the final summary and returns nil.
func TestRunStopsOnCancel(t *testing.T) {
	var out testutil.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	took, err := run(t, ctx, local.Options{Spec: spec(t, 0), Out: &out}, 15*time.Second)
	if err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if took < 300*time.Millisecond {
		t.Errorf("Run returned after %v, before the context was cancelled", took)
	}
	lines := finalLines(t, out.String())
	if !summaryLine.MatchString(lines["spout"]) || strings.Contains(lines["spout"], "emitted=0 ") {
		t.Errorf("spout line = %q, want a summary of a spout that emitted", lines["spout"])
	}
}

// TestRunLeavesNoGoroutines: after Run returns, every goroutine it started (executors,
// stats printer, timers) has ended, whether it stopped on time or on cancel.
func TestRunLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	var out testutil.SyncBuffer
	if _, err := run(t, context.Background(), local.Options{Spec: spec(t, 0), Duration: 300 * time.Millisecond, StatsEvery: 50 * time.Millisecond, Out: &out}, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	if _, err := run(t, ctx, local.Options{Spec: spec(t, 0), StatsEvery: 50 * time.Millisecond, Out: &out}, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines left after Run returned, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

type brokenSpout struct{ countingSpout }

func (*brokenSpout) Open(*topology.Context, topology.SpoutCollector) error {
	return errors.New("no such queue")
}

// TestRunReportsStartErrors: an Open error and an invalid override are returned, and
// nothing is printed as if the topology had run.
func TestRunReportsStartErrors(t *testing.T) {
	b := topology.NewBuilder("broken")
	b.Spout("source", func() topology.Spout { return &brokenSpout{} }, 1).Output("id")
	broken, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	var out testutil.SyncBuffer
	_, err = run(t, context.Background(), local.Options{Spec: broken, Duration: 5 * time.Second, Out: &out}, 15*time.Second)
	if err == nil || !strings.Contains(err.Error(), `component "source"`) || !strings.Contains(err.Error(), "no such queue") {
		t.Errorf("Run with a failing Open = %v, want the component and the cause", err)
	}

	_, err = run(t, context.Background(), local.Options{Spec: spec(t, 10), Duration: 5 * time.Second, Out: &out,
		Config: topology.Config{topology.ConfMaxSpoutPending: 0}}, 15*time.Second)
	var ve *topology.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), topology.ConfMaxSpoutPending) {
		t.Errorf("Run with max spout pending 0 = %v, want a ValidationError naming the key", err)
	}
	if s := out.String(); s != "" {
		t.Errorf("failed runs printed:\n%s", s)
	}
}
