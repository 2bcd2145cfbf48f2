package multilang_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/pkg/local"
	"github.com/sparsestream/sparse/pkg/multilang"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// needPython skips a test that runs Python subprocesses when python3 is missing.
func needPython(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not on PATH; the multi-lang tests run the bundled Python client and need it")
	}
}

// repoPath returns an absolute path under the repository root.
func repoPath(t *testing.T, parts ...string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(append([]string{"..", ".."}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// py returns the command running a Python script of dir with the bundled client on
// PYTHONPATH.
func py(t *testing.T, dir, script string, env ...string) multilang.ShellCommand {
	t.Helper()
	return multilang.ShellCommand{
		Command: "python3",
		Args:    []string{script},
		Dir:     dir,
		Env:     append([]string{"PYTHONPATH=" + repoPath(t, "python"), "PYTHONDONTWRITEBYTECODE=1"}, env...),
	}
}

func testdata(t *testing.T) string { return repoPath(t, "pkg", "multilang", "testdata") }

func examples(t *testing.T) string { return repoPath(t, "examples", "wordcount-python") }

// ledger records what a reliable Go spout was told.
type ledger struct {
	mu     sync.Mutex
	total  int
	acked  map[int64]int
	failed int
	done   chan struct{}
}

func newLedger(total int) *ledger {
	return &ledger{total: total, acked: map[int64]int{}, done: make(chan struct{})}
}

func (l *ledger) ack(id int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked[id]++
	if len(l.acked) == l.total && l.acked[id] == 1 {
		close(l.done)
	}
}

func (l *ledger) fail() {
	l.mu.Lock()
	l.failed++
	l.mu.Unlock()
}

func (l *ledger) snapshot() (acked, dup, failed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.acked {
		dup += n - 1
	}
	return len(l.acked), dup, l.failed
}

func (l *ledger) wait(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-l.done:
	case <-time.After(within):
		acked, dup, failed := l.snapshot()
		t.Fatalf("after %v only %d of %d ids were acked (duplicate acks %d, fails %d)", within, acked, l.total, dup, failed)
	}
}

// replaySpout emits values(id) for the ids 0..total-1 with the id as message id, and
// emits a failed id again.
type replaySpout struct {
	topology.BaseSpout
	l       *ledger
	values  func(id int64) []any
	out     topology.SpoutCollector
	next    int64
	replays []int64
}

func (s *replaySpout) Open(_ *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	return nil
}

func (s *replaySpout) NextTuple() {
	var id int64
	switch {
	case len(s.replays) > 0:
		id, s.replays = s.replays[0], s.replays[1:]
	case s.next < int64(s.l.total):
		id = s.next
		s.next++
	default:
		return
	}
	s.out.Emit(s.values(id), id)
}

func (s *replaySpout) Ack(id any) { s.l.ack(id.(int64)) }

func (s *replaySpout) Fail(id any) {
	s.l.fail()
	s.replays = append(s.replays, id.(int64))
}

// sink is a Go bolt that records its inputs.
type sink struct {
	mu   sync.Mutex
	seen []*tuple.Tuple
	f    func(in *tuple.Tuple) // optional, under mu
}

func (s *sink) factory() topology.BoltFactory {
	return func() topology.Bolt { return &sinkBolt{s: s} }
}

func (s *sink) all() []*tuple.Tuple {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*tuple.Tuple(nil), s.seen...)
}

type sinkBolt struct {
	topology.BaseBolt
	s   *sink
	out topology.BoltCollector
}

func (b *sinkBolt) Prepare(_ *topology.Context, out topology.BoltCollector) error {
	b.out = out
	return nil
}

func (b *sinkBolt) Execute(in *tuple.Tuple) {
	b.s.mu.Lock()
	b.s.seen = append(b.s.seen, in)
	if b.s.f != nil {
		b.s.f(in)
	}
	b.s.mu.Unlock()
	b.out.Ack(in)
}

// run builds and runs a topology in local mode until stop is called.
func run(t *testing.T, b *topology.Builder, conf topology.Config) (*executor.Runtime, func()) {
	t.Helper()
	spec, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testutil.LogWriter(t)})
	rt, err := executor.New(executor.Options{Spec: spec, Config: conf, Logger: log})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- local.RunRuntime(ctx, rt, local.Options{}) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("RunRuntime: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the topology did not stop within 30s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return rt, stop
}

func summary(rt *executor.Runtime, component string) executor.ComponentSummary {
	for _, c := range executor.Summarize(rt.Stats()) {
		if c.Component == component {
			return c
		}
	}
	return executor.ComponentSummary{}
}

// children lists the processes whose parent is this test process, zombies included
// (Linux only; nil elsewhere).
func children(t *testing.T) []string {
	t.Helper()
	if runtime.GOOS != "linux" {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	me := strconv.Itoa(os.Getpid())
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces, so split after the last ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) >= 2 && f[1] == me {
			out = append(out, e.Name()+" "+s[:i+1]+" state "+f[0])
		}
	}
	return out
}

// checkClean checks that every subprocess was reaped and that the goroutines of the
// topology ended.
func checkClean(t *testing.T, goroutinesBefore int) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, "subprocesses left behind", func() bool { return len(children(t)) == 0 })
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutinesBefore {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines after the topology stopped, %d before:\n%s", runtime.NumGoroutine(), goroutinesBefore, buf[:n])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
