package executor_test

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// TestGuaranteedProcessing is the at-least-once guarantee end to end in one process: a
// bolt fails 10% of its inputs at random and another never acks 5% of its inputs, so
// trees fail fast or time out; a reliable spout replays on Fail; every one of the ids
// must end acked, none lost, and the spout must never be told Ack twice for one id.
func TestGuaranteedProcessing(t *testing.T) {
	total := 100_000
	if testing.Short() {
		total = 20_000
	}
	l := newLedger(total)
	var sinkMu sync.Mutex
	seen := map[int64]int{}

	b := topology.NewBuilder("guarantee")
	b.Config(topology.ConfMessageTimeoutSecs, 1)
	b.Config(topology.ConfMaxSpoutPending, 5000)
	b.Config(topology.ConfAckerExecutors, 2)
	b.Spout("spout", func() topology.Spout { return &replaySpout{l: l} }, 2).Output("id")
	b.Bolt("flaky", boltOf(func(bt *funcBolt, in *tuple.Tuple) {
		if rand.IntN(10) == 0 {
			bt.out.Fail(in)
			return
		}
		// Two children per input, so trees have more than one edge per level.
		bt.out.Emit(in, []any{in.Int(0)})
		bt.out.Emit(in, []any{in.Int(0)})
		bt.out.Ack(in)
	}), 3).Shuffle("spout").Output("id")
	b.Bolt("lossy", boltOf(func(bt *funcBolt, in *tuple.Tuple) {
		if rand.IntN(20) == 0 {
			return // never acked: the tree must time out
		}
		sinkMu.Lock()
		seen[in.Int(0)]++
		sinkMu.Unlock()
		bt.out.Ack(in)
	}), 2).Fields("flaky", "id")

	rt, stop := start(t, build(t, b), nil)
	waitDone(t, l, 3*time.Minute)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	acked, dupAcks, failed, emitted := l.snapshot()
	if acked != total {
		t.Fatalf("acked %d ids, want %d", acked, total)
	}
	if dupAcks != 0 {
		t.Errorf("the spout was told Ack %d extra times for ids it had already been acked for", dupAcks)
	}
	sinkMu.Lock()
	dupProcessed := 0
	for _, n := range seen {
		if n > 2 { // each id reaches the sink twice per successful emission
			dupProcessed++
		}
	}
	sinkMu.Unlock()
	sp := summary(rt, "spout")
	t.Logf("ids=%d emits=%d replays=%d fails(told to spout)=%d timed_out=%d ids processed more than once by the sink=%d complete p50=%v p99=%v",
		total, emitted, emitted-total, failed, sp.TimedOut, dupProcessed, sp.LatencyP50, sp.LatencyP99)
	if failed == 0 || sp.TimedOut == 0 {
		t.Errorf("expected both explicit failures and timeouts, got fails=%d timeouts=%d", failed, sp.TimedOut)
	}
	if sp.Acked != int64(total) {
		t.Errorf("spout stats acked=%d, want %d", sp.Acked, total)
	}
}

// TestAckersOff: with topology.acker.executors=0 every emit with a message id is acked at
// once, even when a bolt fails it, as in Storm.
func TestAckersOff(t *testing.T) {
	const total = 2000
	l := newLedger(total)
	b := topology.NewBuilder("noack")
	b.Config(topology.ConfAckerExecutors, 0)
	b.Spout("spout", func() topology.Spout { return &replaySpout{l: l} }, 1).Output("id")
	b.Bolt("fail", boltOf(func(bt *funcBolt, in *tuple.Tuple) { bt.out.Fail(in) }), 1).Shuffle("spout")
	rt, stop := start(t, build(t, b), nil)
	waitDone(t, l, 30*time.Second)
	_ = stop()
	if _, _, failed, _ := l.snapshot(); failed != 0 {
		t.Errorf("spout got %d Fail calls with acking off, want 0", failed)
	}
	if rt.Ackers() != 0 {
		t.Errorf("Ackers() = %d", rt.Ackers())
	}
}

// TestMultiAnchoring: a child anchored to inputs from two different spout trees keeps both
// trees open until it is acked; failing it fails both.
func TestMultiAnchoring(t *testing.T) {
	for _, failChild := range []bool{false, true} {
		name := map[bool]string{false: "ack", true: "fail"}[failChild]
		t.Run(name, func(t *testing.T) {
			const total = 200 // even: inputs are joined in pairs
			l := newLedger(total)
			b := topology.NewBuilder("join")
			b.Config(topology.ConfMessageTimeoutSecs, 30)
			b.Spout("spout", func() topology.Spout { return &replaySpout{l: l} }, 1).Output("id")
			var held []*tuple.Tuple
			failedOnce := map[int64]bool{}
			b.Bolt("join", boltOf(func(bt *funcBolt, in *tuple.Tuple) {
				held = append(held, in)
				if len(held) < 2 {
					return // hold the first of a pair unacked
				}
				a, c := held[0], held[1]
				held = held[:0]
				bt.out.EmitStream(tuple.DefaultStream, []*tuple.Tuple{a, c}, []any{a.Int(0), c.Int(0)})
				bt.out.Ack(a)
				bt.out.Ack(c)
			}), 1).Global("spout").Output("a", "b")
			b.Bolt("sink", boltOf(func(bt *funcBolt, in *tuple.Tuple) {
				key := in.Int(0)
				if failChild && !failedOnce[key] {
					failedOnce[key] = true
					bt.out.Fail(in)
					return
				}
				bt.out.Ack(in)
			}), 1).Global("join")
			_, stop := start(t, build(t, b), nil)
			waitDone(t, l, 60*time.Second)
			_ = stop()
			_, dup, failed, _ := l.snapshot()
			if dup != 0 {
				t.Errorf("duplicate acks: %d", dup)
			}
			if failChild && failed < total/2 {
				t.Errorf("failing each joined child once should fail both its parents' trees: %d fails, want >= %d", failed, total/2)
			}
			if !failChild && failed != 0 {
				t.Errorf("got %d fails with nothing failing", failed)
			}
		})
	}
}

// TestTimeout: a bolt that never acks makes every tree time out and fail at the spout,
// after about the message timeout and not much later.
func TestTimeout(t *testing.T) {
	l := newLedger(1 << 30) // never done
	b := topology.NewBuilder("timeout")
	b.Config(topology.ConfMessageTimeoutSecs, 1)
	var emitted sync.Once
	first := make(chan time.Time, 1)
	b.Spout("spout", func() topology.Spout { return &onceSpout{l: l, first: first, once: &emitted} }, 1).Output("id")
	b.Bolt("blackhole", boltOf(func(*funcBolt, *tuple.Tuple) {}), 1).Shuffle("spout")
	rt, stop := start(t, build(t, b), nil)
	deadline := time.After(10 * time.Second)
	var emitAt time.Time
	select {
	case emitAt = <-first:
	case <-deadline:
		t.Fatal("the spout never emitted")
	}
	for summary(rt, "spout").TimedOut == 0 {
		select {
		case <-deadline:
			t.Fatal("the tuple did not time out within 10s with a 1s message timeout")
		case <-time.After(20 * time.Millisecond):
		}
	}
	after := time.Since(emitAt)
	_ = stop()
	if after < time.Second {
		t.Errorf("timed out after %v, before the 1s message timeout", after)
	}
	if _, _, failed, _ := l.snapshot(); failed != 1 {
		t.Errorf("spout Fail calls = %d, want 1", failed)
	}
}

type onceSpout struct {
	topology.BaseSpout
	l     *ledger
	out   topology.SpoutCollector
	first chan time.Time
	once  *sync.Once
}

func (s *onceSpout) Open(_ *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	return nil
}

func (s *onceSpout) NextTuple() {
	s.once.Do(func() {
		s.out.Emit([]any{int64(1)}, int64(1))
		s.first <- time.Now()
	})
}

func (s *onceSpout) Fail(any) {
	s.l.mu.Lock()
	s.l.failed++
	s.l.mu.Unlock()
}

// TestResetTimeoutKeepsATreeAlive: a bolt that holds its input for 2.5 message timeouts
// but calls ResetTimeout every 200ms gets it acked, not failed.
func TestResetTimeoutKeepsATreeAlive(t *testing.T) {
	l := newLedger(1)
	b := topology.NewBuilder("reset")
	b.Config(topology.ConfMessageTimeoutSecs, 1)
	b.Spout("spout", func() topology.Spout { return &replaySpout{l: l} }, 1).Output("id")
	b.Bolt("slow", boltOf(func(bt *funcBolt, in *tuple.Tuple) {
		for range 12 {
			time.Sleep(200 * time.Millisecond)
			bt.out.ResetTimeout(in)
		}
		bt.out.Ack(in)
	}), 1).Shuffle("spout")
	rt, stop := start(t, build(t, b), nil)
	waitDone(t, l, 20*time.Second)
	_ = stop()
	if _, _, failed, _ := l.snapshot(); failed != 0 {
		t.Errorf("the held tuple failed %d times despite ResetTimeout", failed)
	}
	if to := summary(rt, "spout").TimedOut; to != 0 {
		t.Errorf("%d timeouts", to)
	}
}

// TestInitRidesOnTheOnlyTuple: a spout tuple with one receiver in the worker carries its
// tree's init, so a tree that ends at that receiver never reaches the acker, and one that
// grows still completes only when its last tuple is acked. A tuple with two receivers
// takes the acker's usual path.
func TestInitRidesOnTheOnlyTuple(t *testing.T) {
	const total = 500
	cases := []struct {
		name string
		// topology adds the bolts after the spout "spout"; a bolt that holds inputs
		// sets acksBeforeRelease to the trees the spout saw complete before it acked them.
		topology   func(b *topology.Builder, l *ledger, acksBeforeRelease *int)
		ackerMsgs  func(n int64) bool // the acker's executed count is right
		wantFailed int
	}{
		{
			name: "one receiver ends the tree",
			topology: func(b *topology.Builder, _ *ledger, _ *int) {
				b.Bolt("sink", boltOf(func(bt *funcBolt, in *tuple.Tuple) { bt.out.Ack(in) }), 2).Shuffle("spout")
			},
			ackerMsgs: func(n int64) bool { return n == 0 },
		},
		{
			name: "one receiver fails once",
			topology: func(b *topology.Builder, _ *ledger, _ *int) {
				seen := map[int64]bool{}
				b.Bolt("sink", boltOf(func(bt *funcBolt, in *tuple.Tuple) {
					if !seen[in.Int(0)] {
						seen[in.Int(0)] = true
						bt.out.Fail(in)
						return
					}
					bt.out.Ack(in)
				}), 1).Shuffle("spout")
			},
			ackerMsgs:  func(n int64) bool { return n == 0 },
			wantFailed: total,
		},
		{
			name: "the tree grows",
			topology: func(b *topology.Builder, l *ledger, acksBeforeRelease *int) {
				b.Bolt("mid", boltOf(func(bt *funcBolt, in *tuple.Tuple) {
					bt.out.Emit(in, []any{in.Int(0)})
					bt.out.Ack(in)
				}), 2).Shuffle("spout").Output("id")
				var held []*tuple.Tuple
				b.Bolt("sink", boltOf(func(bt *funcBolt, in *tuple.Tuple) {
					// Hold every child until all have come: no tree may complete before.
					if held = append(held, in); len(held) < total {
						return
					}
					acked, _, _, _ := l.snapshot()
					*acksBeforeRelease = acked
					for _, h := range held {
						bt.out.Ack(h)
					}
				}), 1).Global("mid")
			},
			// the init from mid's ack and the child's ack, for each tree
			ackerMsgs: func(n int64) bool { return n == 2*total },
		},
		{
			name: "fail after a child",
			topology: func(b *topology.Builder, _ *ledger, _ *int) {
				failed := map[int64]bool{}
				b.Bolt("mid", boltOf(func(bt *funcBolt, in *tuple.Tuple) {
					bt.out.Emit(in, []any{in.Int(0)})
					if !failed[in.Int(0)] {
						failed[in.Int(0)] = true
						bt.out.Fail(in)
						return
					}
					bt.out.Ack(in)
				}), 1).Shuffle("spout").Output("id")
				b.Bolt("sink", boltOf(func(bt *funcBolt, in *tuple.Tuple) { bt.out.Ack(in) }), 1).Shuffle("mid")
			},
			// each failed tree: the init, the fail, the child's ack; each replayed tree:
			// the init and the child's ack
			ackerMsgs:  func(n int64) bool { return n == 5*total },
			wantFailed: total,
		},
		{
			name: "two receivers",
			topology: func(b *topology.Builder, _ *ledger, _ *int) {
				b.Bolt("a", boltOf(func(bt *funcBolt, in *tuple.Tuple) { bt.out.Ack(in) }), 1).Shuffle("spout")
				b.Bolt("b", boltOf(func(bt *funcBolt, in *tuple.Tuple) { bt.out.Ack(in) }), 1).Shuffle("spout")
			},
			// the spout's init and both acks, for each tree
			ackerMsgs: func(n int64) bool { return n == 3*total },
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLedger(total)
			b := topology.NewBuilder("carried")
			b.Config(topology.ConfMessageTimeoutSecs, 30)
			b.Spout("spout", func() topology.Spout { return &replaySpout{l: l} }, 1).Output("id")
			acksBeforeRelease := -1
			c.topology(b, l, &acksBeforeRelease)
			rt, stop := start(t, build(t, b), nil)
			waitDone(t, l, 30*time.Second)
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			_, dup, failed, _ := l.snapshot()
			if dup != 0 || failed != c.wantFailed {
				t.Errorf("duplicate acks %d, fails %d; want 0 and %d", dup, failed, c.wantFailed)
			}
			if acksBeforeRelease > 0 {
				t.Errorf("%d trees completed while their children were still held", acksBeforeRelease)
			}
			if n := summary(rt, tuple.AckerID).Executed; !c.ackerMsgs(n) {
				t.Errorf("the acker took %d messages for %d trees", n, total)
			}
			if sp := summary(rt, "spout"); sp.Acked != total {
				t.Errorf("spout stats acked=%d, want %d", sp.Acked, total)
			}
		})
	}
}
