package executor_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// ledger records what a reliable spout was told, shared by all its tasks.
type ledger struct {
	mu      sync.Mutex
	total   int
	acked   map[int64]int
	failed  int
	emitted int
	done    chan struct{}
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

func (l *ledger) snapshot() (acked, dupAcks, failed, emitted int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.acked {
		if n > 1 {
			dupAcks += n - 1
		}
	}
	return len(l.acked), dupAcks, l.failed, l.emitted
}

// replaySpout emits ids [0, total) split across its tasks, replays on Fail.
type replaySpout struct {
	topology.BaseSpout
	l       *ledger
	out     topology.SpoutCollector
	next    int64
	step    int64
	end     int64
	replays []int64
}

func (s *replaySpout) Open(ctx *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	s.next = int64(ctx.ThisTaskIndex())
	s.step = int64(len(ctx.ComponentTasks(ctx.ComponentID)))
	s.end = int64(s.l.total)
	return nil
}

func (s *replaySpout) NextTuple() {
	var id int64
	switch {
	case len(s.replays) > 0:
		id = s.replays[0]
		s.replays = s.replays[1:]
	case s.next < s.end:
		id = s.next
		s.next += s.step
	default:
		return
	}
	s.l.mu.Lock()
	s.l.emitted++
	s.l.mu.Unlock()
	s.out.Emit([]any{id}, id)
}

func (s *replaySpout) Ack(id any) { s.l.ack(id.(int64)) }

func (s *replaySpout) Fail(id any) {
	s.l.mu.Lock()
	s.l.failed++
	s.l.mu.Unlock()
	s.replays = append(s.replays, id.(int64))
}

// funcBolt runs a function per input.
type funcBolt struct {
	topology.BaseBolt
	out topology.BoltCollector
	ctx *topology.Context
	f   func(b *funcBolt, in *tuple.Tuple)
}

func (b *funcBolt) Prepare(ctx *topology.Context, out topology.BoltCollector) error {
	b.ctx, b.out = ctx, out
	return nil
}

func (b *funcBolt) Execute(in *tuple.Tuple) { b.f(b, in) }

func boltOf(f func(b *funcBolt, in *tuple.Tuple)) topology.BoltFactory {
	return func() topology.Bolt { return &funcBolt{f: f} }
}

// start runs a runtime in the background; stop cancels it and waits for Run to return.
func start(t *testing.T, spec *topology.Spec, conf topology.Config) (*executor.Runtime, func() error) {
	t.Helper()
	rt, err := executor.New(executor.Options{Spec: spec, Config: conf})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("Run did not return within 30s of cancel: a goroutine is stuck")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return rt, stop
}

// waitDone waits for the ledger to see every id acked, failing the test on timeout.
func waitDone(t *testing.T, l *ledger, within time.Duration) {
	t.Helper()
	select {
	case <-l.done:
	case <-time.After(within):
		acked, dup, failed, emitted := l.snapshot()
		t.Fatalf("after %v only %d of %d ids acked (dup acks %d, fails %d, emits %d)", within, acked, l.total, dup, failed, emitted)
	}
}

func summary(rt *executor.Runtime, component string) executor.ComponentSummary {
	for _, c := range executor.Summarize(rt.Stats()) {
		if c.Component == component {
			return c
		}
	}
	return executor.ComponentSummary{}
}

func build(t *testing.T, b *topology.Builder) *topology.Spec {
	t.Helper()
	spec, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return spec
}
