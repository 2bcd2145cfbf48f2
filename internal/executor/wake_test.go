package executor_test

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// asyncBolt hands its inputs to a goroutine of its own, which "processes" them and asks
// to be woken; Woken acks what was processed, on the task's goroutine. It never gets
// ticks, so without wakes the last inputs of a burst would never be acked.
type asyncBolt struct {
	topology.BaseBolt
	ctx  *topology.Context
	out  topology.BoltCollector
	work chan *tuple.Tuple
	mu   sync.Mutex
	done []*tuple.Tuple
	quit chan struct{}
	// panicEvery makes every n-th Woken panic (0: never).
	panicEvery int
	woken      int
	wokenCalls *atomic.Int64
}

func (b *asyncBolt) Prepare(ctx *topology.Context, out topology.BoltCollector) error {
	b.ctx, b.out = ctx, out
	b.work, b.quit = make(chan *tuple.Tuple, 1024), make(chan struct{})
	go func() {
		for {
			select {
			case in := <-b.work:
				time.Sleep(10 * time.Microsecond)
				b.mu.Lock()
				b.done = append(b.done, in)
				b.mu.Unlock()
				b.ctx.Wake()
			case <-b.quit:
				return
			}
		}
	}()
	return nil
}

func (b *asyncBolt) Execute(in *tuple.Tuple) { b.work <- in }

func (b *asyncBolt) Woken() {
	b.wokenCalls.Add(1)
	b.woken++
	if b.panicEvery > 0 && b.woken%b.panicEvery == 0 {
		b.ctx.Wake() // its work is still to do: ask again, or the last inputs wait forever
		panic("woken went wrong")
	}
	b.mu.Lock()
	done := b.done
	b.done = nil
	b.mu.Unlock()
	for _, in := range done {
		b.out.Ack(in)
	}
}

func (b *asyncBolt) Cleanup() { close(b.quit) }

func TestWakeableBoltIsWokenWithoutInput(t *testing.T) {
	for _, tc := range []struct {
		name       string
		panicEvery int
	}{
		{"acks applied on wake", 0},
		{"a panicking Woken is reported and the task goes on", 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const total = 2000
			l := newLedger(total)
			var calls atomic.Int64
			b := topology.NewBuilder("wake")
			b.Config(topology.ConfMaxSpoutPending, 64) // many bursts, each ending with no input left
			b.Spout("spout", func() topology.Spout { return &replaySpout{l: l} }, 1).Output("id")
			b.Bolt("async", func() topology.Bolt {
				return &asyncBolt{panicEvery: tc.panicEvery, wokenCalls: &calls}
			}, 2).Shuffle("spout")
			rt, stop := start(t, build(t, b), nil)
			waitDone(t, l, 30*time.Second)
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if acked, dup, _, _ := l.snapshot(); acked != total || dup != 0 {
				t.Errorf("acked %d of %d, %d duplicates", acked, total, dup)
			}
			if calls.Load() == 0 {
				t.Fatal("Woken was never called")
			}
			c := summary(rt, "async")
			if tc.panicEvery == 0 {
				if c.Errors != 0 {
					t.Errorf("errors = %d (%s), want 0", c.Errors, c.LastError)
				}
				return
			}
			if c.Errors == 0 || !strings.Contains(c.LastError, "Woken") || !strings.Contains(c.LastError, "woken went wrong") {
				t.Errorf("errors = %d, last %q: want the Woken panic reported", c.Errors, c.LastError)
			}
		})
	}
}

// A bolt that is not Wakeable may call Wake: nothing happens.
func TestWakeOnPlainBoltIsHarmless(t *testing.T) {
	l := newLedger(100)
	b := topology.NewBuilder("plain")
	b.Spout("spout", func() topology.Spout { return &replaySpout{l: l} }, 1).Output("id")
	b.Bolt("plain", boltOf(func(bt *funcBolt, in *tuple.Tuple) {
		bt.ctx.Wake()
		bt.out.Ack(in)
	}), 1).Shuffle("spout")
	_, stop := start(t, build(t, b), nil)
	waitDone(t, l, 30*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
