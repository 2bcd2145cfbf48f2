package executor_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// shuttle moves one runtime's outbound traffic into another, re-resolving each tuple's
// Source on the receiving side as a decoder does.
func shuttle(ctx context.Context, t *testing.T, ob *executor.Outbound, to *executor.Runtime, wg *sync.WaitGroup) {
	wg.Go(func() {
		for {
			select {
			case b := <-ob.Data():
				in := to.NewBatch()
				for _, it := range b.Items {
					src := to.Source(it.Tuple.Task(), it.Tuple.Stream())
					if src == nil {
						t.Errorf("no source for task %d stream %s", it.Tuple.Task(), it.Tuple.Stream())
						continue
					}
					nt := &tuple.Tuple{Values: it.Tuple.Values, Source: src, Anchors: slices.Clone(it.Tuple.Anchors), InitTask: it.Tuple.InitTask}
					in.Items = append(in.Items, executor.Item{Task: it.Task, Tuple: nt})
				}
				ob.Release(b)
				if err := to.Deliver(ctx, in); err != nil && ctx.Err() == nil {
					t.Errorf("Deliver: %v", err)
				}
			case cb := <-ob.Control():
				in := to.NewControlBatch()
				in.Items = append(in.Items, cb.Items...)
				ob.ReleaseControl(cb)
				if err := to.DeliverControl(ctx, in); err != nil && ctx.Err() == nil {
					t.Errorf("DeliverControl: %v", err)
				}
			case <-ctx.Done():
				return
			}
		}
	})
}

// TestSplitAcrossRuntimes runs one topology as two runtimes, each with half the
// executors (spouts, bolts and ackers on both sides), connected only through Outbound and
// Deliver: every id is acked and nothing is counted twice.
func TestSplitAcrossRuntimes(t *testing.T) {
	const total = 20_000
	l := newLedger(total)
	var mu sync.Mutex
	counts := map[int64]int{}
	b := topology.NewBuilder("split")
	b.Config(topology.ConfAckerExecutors, 2)
	b.Config(topology.ConfWorkers, 2)
	b.Spout("spout", func() topology.Spout { return &replaySpout{l: l} }, 2).Output("id")
	b.Bolt("double", boltOf(func(bt *funcBolt, in *tuple.Tuple) {
		bt.out.Emit(in, []any{in.Int(0)})
		bt.out.Emit(in, []any{in.Int(0)})
		bt.out.Ack(in)
	}), 2).Shuffle("spout").Output("id")
	b.Bolt("count", boltOf(func(bt *funcBolt, in *tuple.Tuple) {
		mu.Lock()
		counts[in.Int(0)]++
		mu.Unlock()
		bt.out.Ack(in)
	}), 2).Fields("double", "id")
	spec := build(t, b)

	layout := topology.NewLayout(spec, 2)
	owner := map[int32]string{}
	var tasksA, tasksB []int32
	for comp, execs := range layout.Executors {
		_ = comp
		for i, ex := range execs {
			for _, task := range ex {
				if i%2 == 0 {
					owner[task] = "A"
					tasksA = append(tasksA, task)
				} else {
					owner[task] = "B"
					tasksB = append(tasksB, task)
				}
			}
		}
	}
	peerOf := func(task int32) string { return owner[task] }
	rtA, err := executor.New(executor.Options{Spec: spec, LocalTasks: tasksA, PeerOf: peerOf})
	if err != nil {
		t.Fatal(err)
	}
	rtB, err := executor.New(executor.Options{Spec: spec, LocalTasks: tasksB, PeerOf: peerOf})
	if err != nil {
		t.Fatal(err)
	}
	if len(rtA.Outbound()) != 1 || rtA.Outbound()[0].Peer != "B" {
		t.Fatalf("A's outbound peers: %v", rtA.Outbound())
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	shuttle(ctx, t, rtA.Outbound()[0], rtB, &wg)
	shuttle(ctx, t, rtB.Outbound()[0], rtA, &wg)
	errs := make(chan error, 2)
	go func() { errs <- rtA.Run(ctx) }()
	go func() { errs <- rtB.Run(ctx) }()
	waitDone(t, l, time.Minute)
	cancel()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for id := int64(0); id < total; id++ {
		if counts[id] != 2 {
			t.Fatalf("id %d counted %d times, want 2", id, counts[id])
		}
	}
	if _, dup, failed, _ := l.snapshot(); dup != 0 || failed != 0 {
		t.Errorf("dup acks %d, fails %d; want 0 and 0", dup, failed)
	}
}

// TestDeliverRefusesMisroutedTraffic: tuples or acker messages for tasks that do not run
// here, or of the wrong kind for their task, are refused with an error naming the task;
// nothing is half delivered and the runtime keeps working.
func TestDeliverRefusesMisroutedTraffic(t *testing.T) {
	b := topology.NewBuilder("refuse")
	b.Config(topology.ConfAckerExecutors, 1)
	b.Spout("spout", func() topology.Spout { return &countSpout{} }, 1).Output("i")
	b.Bolt("bolt", boltOf(func(bt *funcBolt, in *tuple.Tuple) { bt.out.Ack(in) }), 2).Shuffle("spout")
	spec := build(t, b)
	layout := topology.NewLayout(spec, 1)
	boltTasks := layout.Tasks["bolt"]
	local := []int32{layout.Tasks["spout"][0], layout.Tasks[tuple.AckerID][0], boltTasks[0]}
	rt, err := executor.New(executor.Options{Spec: spec, LocalTasks: local, PeerOf: func(int32) string { return "other" }})
	if err != nil {
		t.Fatal(err)
	}
	src := rt.Source(layout.Tasks["spout"][0], tuple.DefaultStream)
	ctx := context.Background()
	cases := []struct {
		name string
		do   func() error
		want string
	}{
		{"tuple for a remote task", func() error {
			bt := rt.NewBatch()
			bt.Items = append(bt.Items, executor.Item{Task: boltTasks[1], Tuple: tuple.New(src, int64(1))})
			return rt.Deliver(ctx, bt)
		}, "does not run in this worker"},
		{"tuple for a spout", func() error {
			bt := rt.NewBatch()
			bt.Items = append(bt.Items, executor.Item{Task: layout.Tasks["spout"][0], Tuple: tuple.New(src, int64(1))})
			return rt.Deliver(ctx, bt)
		}, "has no inputs"},
		{"tuple for no task", func() error {
			bt := rt.NewBatch()
			bt.Items = append(bt.Items, executor.Item{Task: 99, Tuple: tuple.New(src, int64(1))})
			return rt.Deliver(ctx, bt)
		}, "does not exist"},
		{"tuple for task 0", func() error {
			bt := rt.NewBatch()
			bt.Items = append(bt.Items, executor.Item{Task: 0, Tuple: tuple.New(src, int64(1))})
			return rt.Deliver(ctx, bt)
		}, "does not exist"},
		{"tuple for a negative task", func() error {
			bt := rt.NewBatch()
			bt.Items = append(bt.Items, executor.Item{Task: -3, Tuple: tuple.New(src, int64(1))})
			return rt.Deliver(ctx, bt)
		}, "does not exist"},
		{"tuple for an acker", func() error {
			bt := rt.NewBatch()
			bt.Items = append(bt.Items, executor.Item{Task: layout.Tasks[tuple.AckerID][0], Tuple: tuple.New(src, int64(1))})
			return rt.Deliver(ctx, bt)
		}, "has no inputs"},
		{"a good tuple, then one for a remote task", func() error {
			bt := rt.NewBatch()
			bt.Items = append(bt.Items, executor.Item{Task: boltTasks[0], Tuple: tuple.New(src, int64(1))},
				executor.Item{Task: boltTasks[1], Tuple: tuple.New(src, int64(2))})
			return rt.Deliver(ctx, bt)
		}, "does not run in this worker"},
		{"a bolt's tuple carrying an init", func() error {
			bsrc := &tuple.Source{Component: "bolt", Stream: tuple.DefaultStream, Task: boltTasks[1], Fields: src.Fields}
			bt := rt.NewBatch()
			bt.Items = append(bt.Items, executor.Item{Task: boltTasks[0], Tuple: &tuple.Tuple{Source: bsrc, Values: []any{int64(1)},
				Anchors: []tuple.Anchor{{Root: 1, Edge: 2}}, InitTask: boltTasks[1]}})
			return rt.Deliver(ctx, bt)
		}, "only a spout task's own tuple"},
		{"a spout tuple carrying another task's init", func() error {
			bt := rt.NewBatch()
			bt.Items = append(bt.Items, executor.Item{Task: boltTasks[0], Tuple: &tuple.Tuple{Source: src, Values: []any{int64(1)},
				Anchors: []tuple.Anchor{{Root: 1, Edge: 2}}, InitTask: layout.Tasks[tuple.AckerID][0]}})
			return rt.Deliver(ctx, bt)
		}, "only a spout task's own tuple"},
		{"an init with no anchor", func() error {
			bt := rt.NewBatch()
			bt.Items = append(bt.Items, executor.Item{Task: boltTasks[0], Tuple: &tuple.Tuple{Source: src, Values: []any{int64(1)},
				InitTask: src.Task}})
			return rt.Deliver(ctx, bt)
		}, "with 0 anchors"},
		{"an init for no task", func() error {
			bt := rt.NewBatch()
			bt.Items = append(bt.Items, executor.Item{Task: boltTasks[0], Tuple: &tuple.Tuple{Source: src, Values: []any{int64(1)},
				Anchors: []tuple.Anchor{{Root: 1, Edge: 2}}, InitTask: -5}})
			return rt.Deliver(ctx, bt)
		}, "only a spout task's own tuple"},
		{"an init naming a bolt as its spout", func() error {
			cb := rt.NewControlBatch()
			cb.Items = append(cb.Items, executor.Control{Kind: executor.ControlInit, Task: layout.Tasks[tuple.AckerID][0], Spout: boltTasks[0], Root: 1})
			return rt.DeliverControl(ctx, cb)
		}, "not a spout task"},
		{"an init naming no task as its spout", func() error {
			cb := rt.NewControlBatch()
			cb.Items = append(cb.Items, executor.Control{Kind: executor.ControlInit, Task: layout.Tasks[tuple.AckerID][0], Spout: 1 << 30, Root: 1})
			return rt.DeliverControl(ctx, cb)
		}, "not a spout task"},
		{"ack for a bolt", func() error {
			cb := rt.NewControlBatch()
			cb.Items = append(cb.Items, executor.Control{Kind: executor.ControlAck, Task: boltTasks[0], Root: 1})
			return rt.DeliverControl(ctx, cb)
		}, "not an acker"},
		{"complete for an acker", func() error {
			cb := rt.NewControlBatch()
			cb.Items = append(cb.Items, executor.Control{Kind: executor.ControlComplete, Task: layout.Tasks[tuple.AckerID][0], Root: 1})
			return rt.DeliverControl(ctx, cb)
		}, "not a spout"},
		{"unknown kind", func() error {
			cb := rt.NewControlBatch()
			cb.Items = append(cb.Items, executor.Control{Kind: 42, Task: boltTasks[0]})
			return rt.DeliverControl(ctx, cb)
		}, "unknown control message kind 42"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// runSpoutsAgainstPeer runs the spout tasks of spec in a runtime whose every other task
// is on peer "B", and returns that peer's Outbound and a stop that ends the run and
// checks its error.
func runSpoutsAgainstPeer(t *testing.T, spec *topology.Spec, ackers int) (*executor.Outbound, func()) {
	t.Helper()
	layout := topology.NewLayout(spec, ackers)
	rt, err := executor.New(executor.Options{Spec: spec, LocalTasks: layout.Tasks["spout"], PeerOf: func(int32) string { return "B" }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // a test that fails early still stops the run
	errs := make(chan error, 1)
	go func() { errs <- rt.Run(ctx) }()
	return rt.Outbound()[0], func() {
		cancel()
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestIdleExecutorMarksItsPeers: an executor that runs out of work tells each peer's
// sender it sent to, with the idle mark on its last batch or an empty batch after it, so
// that no sender waits for more; an executor that stays idle sends no further marks.
func TestIdleExecutorMarksItsPeers(t *testing.T) {
	const total = 300 // two full batches and a part
	b := topology.NewBuilder("idle")
	b.Config(topology.ConfAckerExecutors, 0)
	b.Spout("spout", func() topology.Spout { return &countSpout{n: total} }, 1).Output("i")
	b.Bolt("bolt", boltOf(func(bt *funcBolt, in *tuple.Tuple) {}), 1).Shuffle("spout")
	ob, stop := runSpoutsAgainstPeer(t, build(t, b), 0)

	items, markedAfterLast := 0, false
	deadline := time.After(30 * time.Second)
	for items < total || !markedAfterLast {
		select {
		case bt := <-ob.Data():
			if len(bt.Items) > 0 {
				markedAfterLast = false
			}
			items += len(bt.Items)
			markedAfterLast = markedAfterLast || bt.Idle && items == total
			ob.Release(bt)
		case <-deadline:
			t.Fatalf("%d of %d tuples arrived, idle mark after the last: %v", items, total, markedAfterLast)
		}
	}
	// The spout keeps going idle (it has nothing left) without sending more marks.
	time.Sleep(100 * time.Millisecond)
	if n := len(ob.Data()) + len(ob.Control()); n != 0 {
		t.Errorf("%d more batches after the idle mark, want none", n)
	}
	if items != total {
		t.Errorf("%d tuples sent, want %d", items, total)
	}
	stop()
}

// TestSentTuplesAreReused: the tuples a peer's sender has released come back for later
// emits, and no tuple changes while the sender still reads it: every tuple carries the
// value it was emitted with, in order; a reused tuple keeps nothing of its last use (an
// unreliable tuple has no anchor nor init, though reliable ones came before it). Every
// third tuple is reliable, not every second: reused tuples come back in batches of an
// even size, so a tuple would go from an even emit to an even one, and a missing reset
// would go unseen.
func TestSentTuplesAreReused(t *testing.T) {
	const total = 20000
	b := topology.NewBuilder("reuse")
	b.Config(topology.ConfAckerExecutors, 1)
	b.Config(topology.ConfMaxSpoutPending, 2*total) // no acks come back here
	// The spout stops halfway until the first half is released: otherwise, on a busy
	// machine, it may emit every tuple before the first release comes back.
	resume := make(chan struct{})
	b.Spout("spout", func() topology.Spout {
		return &countSpout{n: total, reliableEvery: 3, pauseAt: total / 2, resume: resume}
	}, 1).Output("i")
	b.Bolt("bolt", boltOf(func(bt *funcBolt, in *tuple.Tuple) {}), 1).Shuffle("spout")
	ob, stop := runSpoutsAgainstPeer(t, build(t, b), 1)

	seen := map[*tuple.Tuple]bool{}
	next, reused := int64(0), 0
	resumed := false
	deadline := time.After(30 * time.Second)
	for next < total {
		select {
		case bt := <-ob.Data():
			for _, it := range bt.Items {
				if got := it.Tuple.Int(0); got != next {
					t.Fatalf("tuple %d carries %d", next, got)
				}
				if reliable := next%3 == 0; reliable != (len(it.Tuple.Anchors) == 1) || reliable != (it.Tuple.InitTask != 0) {
					t.Fatalf("tuple %d: anchors %v, init task %d; want them only on every third tuple", next, it.Tuple.Anchors, it.Tuple.InitTask)
				}
				if seen[it.Tuple] {
					reused++
				}
				seen[it.Tuple] = true
				next++
			}
			ob.Release(bt)
			if next == total/2 && !resumed {
				close(resume)
				resumed = true
			}
		case cb := <-ob.Control(): // the inits of trees not carried, if any
			ob.ReleaseControl(cb)
		case <-deadline:
			t.Fatalf("%d of %d tuples arrived", next, total)
		}
	}
	if reused == 0 {
		t.Errorf("none of %d tuples reused one the sender had released", total)
	}
	stop()
}
