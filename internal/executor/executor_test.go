package executor_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/checked"
	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/pkg/grouping"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// countSpout emits 0..n-1, then nothing: unreliably, or every reliableEvery-th one with
// its number as message id when reliableEvery is set.
type countSpout struct {
	topology.BaseSpout
	out           topology.SpoutCollector
	n, i          int64
	reliableEvery int64
	// With resume set, the spout emits nothing from pauseAt on until resume is closed.
	pauseAt int64
	resume  <-chan struct{}
}

func (s *countSpout) Open(_ *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	return nil
}

func (s *countSpout) NextTuple() {
	if s.resume != nil && s.i == s.pauseAt {
		select {
		case <-s.resume:
			s.resume = nil
		default:
			return
		}
	}
	if s.i < s.n {
		var id any
		if s.reliableEvery > 0 && s.i%s.reliableEvery == 0 {
			id = s.i
		}
		s.out.Emit([]any{s.i}, id)
		s.i++
	}
}

// TestBackpressureNeverDrops: a slow bolt behind tiny queues slows the spout down; every
// tuple arrives exactly once.
func TestBackpressureNeverDrops(t *testing.T) {
	const n = 20_000
	var got atomic.Int64
	seen := make([]atomic.Int32, n)
	b := topology.NewBuilder("backpressure")
	b.Config(topology.ConfAckerExecutors, 0)
	b.Config(topology.ConfReceiveBufferSize, 8)
	b.Config(topology.ConfProducerBatchSize, 4)
	b.Spout("spout", func() topology.Spout { return &countSpout{n: n} }, 1).Output("i")
	b.Bolt("slow", boltOf(func(bt *funcBolt, in *tuple.Tuple) {
		if in.Int(0)%100 == 0 {
			time.Sleep(100 * time.Microsecond)
		}
		seen[in.Int(0)].Add(1)
		got.Add(1)
		bt.out.Ack(in)
	}), 1).Shuffle("spout")
	rt, stop := start(t, build(t, b), nil)
	deadline := time.Now().Add(60 * time.Second)
	for got.Load() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	_ = stop()
	if got.Load() != n {
		t.Fatalf("bolt received %d tuples, want %d", got.Load(), n)
	}
	for i := range seen {
		if c := seen[i].Load(); c != 1 {
			t.Fatalf("tuple %d arrived %d times", i, c)
		}
	}
	if bp := summary(rt, "spout").Backpressed; bp == 0 {
		t.Errorf("the spout never found the bolt's queue full; the test did not exercise backpressure")
	}
}

// TestNoDeadlockWithTinyQueues: with one-tuple batches and one-batch queues everywhere,
// ack traffic and data traffic share nothing that can close a cycle of full queues: a
// fan-out topology with acking still completes every tree.
func TestNoDeadlockWithTinyQueues(t *testing.T) {
	const total = 3000
	l := newLedger(total)
	b := topology.NewBuilder("tiny")
	b.Config(topology.ConfReceiveBufferSize, 1)
	b.Config(topology.ConfProducerBatchSize, 1)
	b.Config(topology.ConfAckerExecutors, 1)
	b.Spout("spout", func() topology.Spout { return &replaySpout{l: l} }, 2).Output("id")
	b.Bolt("fan", boltOf(func(bt *funcBolt, in *tuple.Tuple) {
		for range 5 {
			bt.out.Emit(in, []any{in.Int(0)})
		}
		bt.out.Ack(in)
	}), 2).Shuffle("spout").Output("id")
	b.Bolt("sink", boltOf(func(bt *funcBolt, in *tuple.Tuple) { bt.out.Ack(in) }), 2).All("fan")
	_, stop := start(t, build(t, b), nil)
	waitDone(t, l, 2*time.Minute)
	_ = stop()
}

// TestTickTuples: ticks arrive on __tick from __system at the component's frequency, and
// a topology-wide frequency applies to bolts that do not set their own.
func TestTickTuples(t *testing.T) {
	var mu sync.Mutex
	ticks := map[string]int{}
	tickBolt := boltOf(func(bt *funcBolt, in *tuple.Tuple) {
		if in.IsTick() {
			if in.Component() != tuple.SystemID || in.Stream() != tuple.TickStream || in.Task() != tuple.SystemTask {
				t.Errorf("tick from %s/%s/%d", in.Component(), in.Stream(), in.Task())
			}
			mu.Lock()
			ticks[bt.ctx.ComponentID]++
			mu.Unlock()
		}
		bt.out.Ack(in)
	})
	b := topology.NewBuilder("ticks")
	b.Config(topology.ConfTickTupleFreqSecs, 1)
	b.Spout("spout", func() topology.Spout { return &countSpout{} }, 1).Output("i")
	b.Bolt("global", tickBolt, 1).Shuffle("spout")
	b.Bolt("never", tickBolt, 1).Shuffle("spout").Config(topology.ConfTickTupleFreqSecs, 0)
	b.Bolt("two", tickBolt, 2).Shuffle("spout")
	_, stop := start(t, build(t, b), nil)
	time.Sleep(2500 * time.Millisecond)
	_ = stop()
	mu.Lock()
	defer mu.Unlock()
	if ticks["global"] < 2 || ticks["global"] > 3 {
		t.Errorf("global: %d ticks in 2.5s at 1/s, want 2", ticks["global"])
	}
	if ticks["never"] != 0 {
		t.Errorf("never: %d ticks with frequency 0", ticks["never"])
	}
	if ticks["two"] < 4 {
		t.Errorf("two tasks: %d ticks, want each task ticked (>= 4)", ticks["two"])
	}
}

// ackPanicSpout is a replaySpout whose Ack panics after recording every tenth id.
type ackPanicSpout struct{ replaySpout }

func (s *ackPanicSpout) Ack(id any) {
	s.replaySpout.Ack(id)
	if id.(int64)%10 == 0 {
		panic(fmt.Sprintf("ack of %d", id))
	}
}

// TestPanicInSpoutAck: a spout's Ack that panics is reported with the component and
// task, and the replies after it in the same batch are still handled: every tree is
// acked once, and none fails or times out.
func TestPanicInSpoutAck(t *testing.T) {
	const total = 2000
	l := newLedger(total)
	b := topology.NewBuilder("ackpanics")
	b.Spout("spout", func() topology.Spout { return &ackPanicSpout{replaySpout{l: l}} }, 2).Output("id")
	b.Bolt("sink", boltOf(func(bt *funcBolt, in *tuple.Tuple) { bt.out.Ack(in) }), 1).Shuffle("spout")
	rt, stop := start(t, build(t, b), nil)
	waitDone(t, l, 30*time.Second)
	_ = stop()
	acked, dups, failed, _ := l.snapshot()
	if acked != total || dups != 0 || failed != 0 {
		t.Errorf("acked %d (duplicates %d), failed %d; want %d, 0, 0", acked, dups, failed, total)
	}
	c := summary(rt, "spout")
	if c.Errors != total/10 {
		t.Errorf("errors=%d, want %d (one per panic)", c.Errors, total/10)
	}
	if !strings.Contains(c.LastError, `panic in Ack of component "spout" task`) || !strings.Contains(c.LastError, "ack of") {
		t.Errorf("last error %q does not name Ack, the component and the panic", c.LastError)
	}
}

// viaChecked emits through the collector's EmitChecked.
type viaChecked struct{ topology.SpoutCollector }

func (c viaChecked) Emit(values []any, msgID any) {
	c.SpoutCollector.(checked.Emitter).EmitChecked(values, msgID)
}

type checkedSpout struct{ replaySpout }

func (s *checkedSpout) Open(ctx *topology.Context, out topology.SpoutCollector) error {
	return s.replaySpout.Open(ctx, viaChecked{out})
}

// TestEmitChecked: a spout collector is a checked.Emitter, and a tuple emitted through
// EmitChecked reaches its bolt with its values and is tracked to its ack like any other.
func TestEmitChecked(t *testing.T) {
	const total = 1000
	l := newLedger(total)
	b := topology.NewBuilder("checked")
	b.Spout("spout", func() topology.Spout { return &checkedSpout{replaySpout{l: l}} }, 2).Output("id")
	b.Bolt("sink", boltOf(func(bt *funcBolt, in *tuple.Tuple) {
		if id, ok := in.Values[0].(int64); !ok || id < 0 || id >= total {
			t.Errorf("received %#v", in.Values)
		}
		bt.out.Ack(in)
	}), 1).Shuffle("spout")
	_, stop := start(t, build(t, b), nil)
	waitDone(t, l, 30*time.Second)
	_ = stop()
	if acked, dups, failed, _ := l.snapshot(); acked != total || dups != 0 || failed != 0 {
		t.Errorf("acked %d (duplicates %d), failed %d; want %d, 0, 0", acked, dups, failed, total)
	}
}

// TestPanicInExecuteFailsTheTuple: a panic is recovered, reported with the component and
// task, fails the input so it replays, and the executor keeps going.
func TestPanicInExecuteFailsTheTuple(t *testing.T) {
	const total = 500
	l := newLedger(total)
	var panicked sync.Map
	b := topology.NewBuilder("panics")
	b.Spout("spout", func() topology.Spout { return &replaySpout{l: l} }, 1).Output("id")
	b.Bolt("crashy", boltOf(func(bt *funcBolt, in *tuple.Tuple) {
		id := in.Int(0)
		if _, again := panicked.LoadOrStore(id, true); !again && id%10 == 0 {
			panic("boom on " + string(rune('0'+id%10)))
		}
		bt.out.Ack(in)
	}), 1).Shuffle("spout")
	rt, stop := start(t, build(t, b), nil)
	waitDone(t, l, 30*time.Second)
	_ = stop()
	_, _, failed, _ := l.snapshot()
	if failed != total/10 {
		t.Errorf("spout told Fail %d times, want %d (one per panic)", failed, total/10)
	}
	c := summary(rt, "crashy")
	if c.Errors != total/10 {
		t.Errorf("errors=%d, want %d", c.Errors, total/10)
	}
	if !strings.Contains(c.LastError, `component "crashy" task`) || !strings.Contains(c.LastError, "boom") {
		t.Errorf("last error %q does not name the component, task and panic", c.LastError)
	}
}

// TestEmitMistakesAreReported: emitting on an undeclared stream, with the wrong number of
// values or with an unsupported value type is reported with a fix, not a crash.
func TestEmitMistakesAreReported(t *testing.T) {
	cases := []struct {
		name string
		emit func(topology.BoltCollector, *tuple.Tuple)
		want string
	}{
		{"undeclared stream", func(c topology.BoltCollector, in *tuple.Tuple) { c.EmitStream("nope", nil, []any{int64(1)}) }, `stream "nope"`},
		{"wrong arity", func(c topology.BoltCollector, in *tuple.Tuple) { c.Emit(in, []any{int64(1), int64(2)}) }, "declares 1 fields"},
		{"bad type", func(c topology.BoltCollector, in *tuple.Tuple) { c.Emit(in, []any{struct{}{}}) }, "is not a tuple value"},
		{"direct on plain stream", func(c topology.BoltCollector, in *tuple.Tuple) {
			c.EmitDirect(1, tuple.DefaultStream, nil, []any{int64(1)})
		}, "EmitDirect"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := topology.NewBuilder("mistakes")
			b.Spout("spout", func() topology.Spout { return &countSpout{n: 1} }, 1).Output("i")
			b.Bolt("bad", boltOf(func(bt *funcBolt, in *tuple.Tuple) { tc.emit(bt.out, in) }), 1).Shuffle("spout").Output("x")
			rt, stop := start(t, build(t, b), nil)
			deadline := time.Now().Add(10 * time.Second)
			for summary(rt, "bad").Errors == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			_ = stop()
			if e := summary(rt, "bad").LastError; !strings.Contains(e, tc.want) {
				t.Errorf("last error %q does not contain %q", e, tc.want)
			}
		})
	}
}

// blockingSpout emits reliable tuples forever and records the most it had pending.
type pendingSpout struct {
	topology.BaseSpout
	out     topology.SpoutCollector
	id      int64
	maxSeen *atomic.Int64
}

func (s *pendingSpout) Open(_ *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	return nil
}

func (s *pendingSpout) NextTuple() {
	if p := int64(s.out.Pending()); p > s.maxSeen.Load() {
		s.maxSeen.Store(p)
	}
	s.id++
	s.out.Emit([]any{s.id}, s.id)
}

// TestMaxSpoutPending: NextTuple is not called while max.spout.pending tuples are in
// flight, so a bolt that holds every tuple sees exactly that many.
func TestMaxSpoutPending(t *testing.T) {
	const limit = 37
	var held atomic.Int64
	var maxSeen atomic.Int64
	b := topology.NewBuilder("pending")
	b.Config(topology.ConfMaxSpoutPending, limit)
	b.Spout("spout", func() topology.Spout { return &pendingSpout{maxSeen: &maxSeen} }, 1).Output("id")
	b.Bolt("hold", boltOf(func(*funcBolt, *tuple.Tuple) { held.Add(1) }), 1).Shuffle("spout")
	_, stop := start(t, build(t, b), nil)
	time.Sleep(500 * time.Millisecond)
	_ = stop()
	if held.Load() != limit {
		t.Errorf("bolt holds %d tuples, want exactly max.spout.pending=%d", held.Load(), limit)
	}
	if maxSeen.Load() != limit-1 {
		t.Errorf("Pending() peaked at %d before an emit, want %d", maxSeen.Load(), limit-1)
	}
}

type activeSpout struct {
	topology.BaseSpout
	out            topology.SpoutCollector
	calls, act, de *atomic.Int64
	activeNow      *atomic.Bool
}

func (s *activeSpout) Open(_ *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	return nil
}
func (s *activeSpout) NextTuple() {
	if !s.activeNow.Load() {
		panic("NextTuple called while deactivated")
	}
	s.calls.Add(1)
}
func (s *activeSpout) Activate()   { s.act.Add(1); s.activeNow.Store(true) }
func (s *activeSpout) Deactivate() { s.de.Add(1); s.activeNow.Store(false) }

// TestActivateDeactivate: spouts are activated at start, deactivated on demand (no
// NextTuple while inactive) and activated again.
func TestActivateDeactivate(t *testing.T) {
	var calls, act, de atomic.Int64
	var activeNow atomic.Bool
	b := topology.NewBuilder("activation")
	b.Spout("spout", func() topology.Spout {
		return &activeSpout{calls: &calls, act: &act, de: &de, activeNow: &activeNow}
	}, 1).Output("x")
	rt, stop := start(t, build(t, b), nil)
	testutil.Eventually(t, 10*time.Second, "NextTuple calls", func() bool { return calls.Load() > 0 })
	rt.Deactivate()
	testutil.Eventually(t, 10*time.Second, "the spout to be deactivated", func() bool { return de.Load() == 1 })
	before := calls.Load()
	time.Sleep(100 * time.Millisecond)
	if calls.Load() != before {
		t.Errorf("NextTuple called %d times while deactivated", calls.Load()-before)
	}
	rt.Activate()
	testutil.Eventually(t, 10*time.Second, "NextTuple calls after Activate", func() bool { return calls.Load() > before })
	_ = stop()
	if act.Load() != 2 || de.Load() != 2 {
		t.Errorf("Activate x%d, Deactivate x%d; want 2 and 2 (start, resume; pause, shutdown)", act.Load(), de.Load())
	}
	if e := summary(rt, "spout").Errors; e != 0 {
		t.Errorf("%d errors: %s", e, summary(rt, "spout").LastError)
	}
}

// directSpout sends each tuple directly to the task named in the value.
type directSpout struct {
	topology.BaseSpout
	out     topology.SpoutCollector
	targets []int32
	i       int
	got     *[][]int32
}

func (s *directSpout) Open(ctx *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	s.targets = ctx.ComponentTasks("sink")
	return nil
}

func (s *directSpout) NextTuple() {
	if s.i >= 30 {
		return
	}
	task := s.targets[s.i%len(s.targets)]
	s.out.EmitDirect(task, "d", []any{int64(task)}, nil)
	tasks := s.out.EmitStream("all", []any{int64(s.i)}, nil)
	*s.got = append(*s.got, slices.Clone(tasks))
	s.i++
}

// TestDirectAndAllGroupings: a direct emit reaches exactly the named task; an all
// grouping reaches every task, and EmitStream returns the receiving tasks.
func TestDirectAndAllGroupings(t *testing.T) {
	var mu sync.Mutex
	wrong, direct := 0, 0
	perTask := map[int32]int{}
	var returned [][]int32
	b := topology.NewBuilder("direct")
	b.Spout("spout", func() topology.Spout { return &directSpout{got: &returned} }, 1).
		DirectStream("d", "task").OutputStream("all", "i")
	b.Bolt("sink", boltOf(func(bt *funcBolt, in *tuple.Tuple) {
		mu.Lock()
		defer mu.Unlock()
		if in.Stream() == "d" {
			direct++
			if int32(in.Int(0)) != bt.ctx.TaskID {
				wrong++
			}
		} else {
			perTask[bt.ctx.TaskID]++
		}
	}), 3).Direct("spout", "d").InputStream("spout", "all", grouping.Spec{Type: grouping.All})
	rt, stop := start(t, build(t, b), nil)
	testutil.Eventually(t, 10*time.Second, "every direct and all-grouped tuple", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return direct == 30 && len(perTask) == 3 && perTask[rt.Layout().Tasks["sink"][2]] == 30
	})
	_ = stop()
	if wrong != 0 {
		t.Errorf("%d direct tuples reached the wrong task", wrong)
	}
	sinkTasks := rt.Layout().Tasks["sink"]
	for _, task := range sinkTasks {
		if perTask[task] != 30 {
			t.Errorf("task %d got %d of 30 all-grouped tuples", task, perTask[task])
		}
	}
	for _, r := range returned {
		if !slices.Equal(r, sinkTasks) {
			t.Fatalf("EmitStream returned %v, want %v", r, sinkTasks)
		}
	}
}

type failingOpen struct{ topology.BaseSpout }

func (failingOpen) Open(*topology.Context, topology.SpoutCollector) error {
	return errors.New("cannot reach the queue")
}
func (failingOpen) NextTuple() {}

// TestOpenErrorStopsEverything: an Open error stops the runtime before any tuple flows,
// naming the component and task, and leaves no goroutine behind.
func TestOpenErrorStopsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	b := topology.NewBuilder("broken")
	b.Spout("source", func() topology.Spout { return failingOpen{} }, 2).Output("x")
	rt, err := executor.New(executor.Options{Spec: build(t, b)})
	if err != nil {
		t.Fatal(err)
	}
	err = rt.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), `component "source" task`) || !strings.Contains(err.Error(), "cannot reach the queue") {
		t.Fatalf("Run error = %v", err)
	}
	// Run has returned, so every goroutine it started has ended; a moment's grace covers
	// the runtime's finalizer goroutine, which counts while it runs finalizers.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after a failed start, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestShutdownEndsEveryGoroutine: after Run returns, no goroutine of the runtime is left,
// even when stopped under backpressure.
func TestShutdownEndsEveryGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	b := topology.NewBuilder("shutdown")
	b.Config(topology.ConfReceiveBufferSize, 2)
	b.Config(topology.ConfProducerBatchSize, 1)
	b.Config(topology.ConfTickTupleFreqSecs, 1)
	var mx atomic.Int64
	b.Spout("spout", func() topology.Spout { return &pendingSpout{maxSeen: &mx} }, 2).Output("id")
	b.Bolt("slow", boltOf(func(bt *funcBolt, in *tuple.Tuple) {
		time.Sleep(time.Millisecond)
		bt.out.Ack(in)
	}), 2).Shuffle("spout")
	_, stop := start(t, build(t, b), nil)
	time.Sleep(300 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines left, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestConfigOverridesAreValidated: a bad -o value is refused by New with the key named.
func TestConfigOverridesAreValidated(t *testing.T) {
	b := topology.NewBuilder("conf")
	b.Spout("spout", func() topology.Spout { return &countSpout{} }, 1).Output("i")
	_, err := executor.New(executor.Options{Spec: build(t, b), Config: topology.Config{topology.ConfMessageTimeoutSecs: "soon"}})
	if err == nil || !strings.Contains(err.Error(), topology.ConfMessageTimeoutSecs) {
		t.Fatalf("error = %v, want it to name %s", err, topology.ConfMessageTimeoutSecs)
	}
}

// TestLatencySamplingAckInExecute: an input acked or failed within its Execute is timed
// without waiting in the map of inputs awaiting their ack, and its process latency ends
// at the ack, not when Execute returns; a failed input has none, even if acked after the
// fail, and so has one whose Execute panics before acking it.
func TestLatencySamplingAckInExecute(t *testing.T) {
	const total = 960 // 30 sampled
	work := func() { time.Sleep(200 * time.Microsecond) }
	cases := []struct {
		name    string
		execute func(bt *funcBolt, in *tuple.Tuple)
		acked   bool // sampled inputs have a process latency
	}{
		{"work, then ack", func(bt *funcBolt, in *tuple.Tuple) { work(); bt.out.Ack(in); bt.out.Ack(in) }, true},
		{"ack, then work", func(bt *funcBolt, in *tuple.Tuple) { bt.out.Ack(in); work() }, true},
		{"fail, then ack", func(bt *funcBolt, in *tuple.Tuple) { bt.out.Fail(in); bt.out.Ack(in) }, false},
		{"ack, then panic", func(bt *funcBolt, in *tuple.Tuple) { bt.out.Ack(in); panic("after the ack") }, true},
		{"panic", func(*funcBolt, *tuple.Tuple) { panic("before any ack") }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var executed atomic.Int64
			b := topology.NewBuilder("latency-in-execute")
			b.Config(topology.ConfAckerExecutors, 0) // failed inputs are not replayed
			b.Spout("spout", func() topology.Spout { return &countSpout{n: total} }, 1).Output("i")
			b.Bolt("bolt", boltOf(func(bt *funcBolt, in *tuple.Tuple) {
				executed.Add(1)
				tc.execute(bt, in)
			}), 1).Shuffle("spout")
			rt, stop := start(t, build(t, b), nil)
			for deadline := time.Now().Add(30 * time.Second); executed.Load() < total; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d inputs executed in 30s", executed.Load(), total)
				}
			}
			_ = stop()
			for _, st := range rt.Stats() {
				if st.Component != "bolt" {
					continue
				}
				n, p := st.ExecuteLatency.Count(), st.ProcessLatency.Count()
				if n < total/32-1 || n > total/32+1 {
					t.Errorf("%d execute latencies sampled from %d inputs, want about %d", n, total, total/32)
				}
				if want := map[bool]int64{true: n, false: 0}[tc.acked]; p != want {
					t.Errorf("%d process latencies for %d sampled inputs, want %d", p, n, want)
				}
				pm, em := st.ProcessLatency.Mean(), st.ExecuteLatency.Mean()
				switch tc.name {
				case "work, then ack":
					if pm < 200*time.Microsecond || pm > em {
						t.Errorf("mean process latency %v, execute %v: want at least the 200µs of work, at most the execute latency", pm, em)
					}
				case "ack, then work":
					if em < 200*time.Microsecond || pm > em-150*time.Microsecond {
						t.Errorf("mean process latency %v, execute %v: the ack came before the 200µs of work", pm, em)
					}
				}
			}
		})
	}
}

// TestLatencySamplingAndQueueDepths: bolts sample execute and process latency (one input
// in 32, the process latency ending at the ack), and every executor reports its queues.
func TestLatencySamplingAndQueueDepths(t *testing.T) {
	const total = 3200
	l := newLedger(total)
	b := topology.NewBuilder("latency")
	b.Spout("spout", func() topology.Spout { return &replaySpout{l: l} }, 1).Output("id")
	var held []*tuple.Tuple
	b.Bolt("bolt", boltOf(func(bt *funcBolt, in *tuple.Tuple) {
		time.Sleep(10 * time.Microsecond)
		held = append(held, in) // ack one input later, so process latency > execute latency
		if len(held) == 2 {
			bt.out.Ack(held[0])
			bt.out.Ack(held[1])
			held = held[:0]
		}
	}), 1).Shuffle("spout")
	rt, stop := start(t, build(t, b), nil)
	waitDone(t, l, 30*time.Second)
	depths := rt.QueueDepths()
	_ = stop()
	var st *executor.Stats
	for _, s := range rt.Stats() {
		if s.Component == "bolt" {
			st = s
		}
	}
	n := st.ExecuteLatency.Count()
	if n < total/32-1 || n > total/32+1 {
		t.Errorf("%d execute latencies sampled from %d inputs, want about %d", n, total, total/32)
	}
	if p := st.ProcessLatency.Count(); p == 0 || p > n {
		t.Errorf("%d process latencies for %d sampled inputs", p, n)
	}
	if st.ExecuteLatency.Mean() < 10*time.Microsecond {
		t.Errorf("mean execute latency %v is below the bolt's 10µs sleep", st.ExecuteLatency.Mean())
	}
	if len(depths) != len(rt.Stats()) {
		t.Fatalf("%d queue depths for %d executors", len(depths), len(rt.Stats()))
	}
	for _, d := range depths {
		if d.Capacity <= 0 || d.Data < 0 || d.Data > d.Capacity {
			t.Errorf("queue depth %+v", d)
		}
	}
}

// TestBusySinkPublishesItsCounts: a bolt that emits and acks nothing (acking off) and
// whose input never runs dry still publishes what it executed, every flush interval;
// it used to publish only when its inbox was empty.
func TestBusySinkPublishesItsCounts(t *testing.T) {
	const n = 1 << 40 // never runs out while the test looks
	release := make(chan struct{})
	var got atomic.Int64
	b := topology.NewBuilder("busy-sink")
	b.Config(topology.ConfAckerExecutors, 0)
	b.Spout("spout", func() topology.Spout { return &countSpout{n: n} }, 1).Output("i")
	b.Bolt("sink", boltOf(func(_ *funcBolt, _ *tuple.Tuple) {
		if got.Add(1) == 1 {
			<-release // let the inbox fill before the sink starts draining it
		}
		time.Sleep(20 * time.Microsecond) // slower than the spout: the inbox stays full
	}), 1).Shuffle("spout")
	rt, stop := start(t, build(t, b), nil)
	defer func() { _ = stop() }()
	time.Sleep(100 * time.Millisecond)
	close(release)
	deadline := time.Now().Add(30 * time.Second)
	for summary(rt, "sink").Executed < 1000 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if ex := summary(rt, "sink").Executed; ex < 1000 {
		t.Fatalf("the busy sink published %d executed after executing %d", ex, got.Load())
	}
}
