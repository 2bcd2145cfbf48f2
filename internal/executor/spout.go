package executor

import (
	"context"
	"runtime"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/internal/checked"
	"github.com/sparsestream/sparse/pkg/acker"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// pendingBuckets: a pending tuple times out between timeout and timeout*4/3.
const pendingBuckets = 4

// idleFlushGap is how long partial batches may wait while a spout that just went idle
// yields (see runSpout); it bounds the latency the wait adds.
const idleFlushGap = 50 * time.Microsecond

type pendingTuple struct {
	msgID any
	task  *task
	born  time.Duration
}

type spoutState struct {
	pending     *acker.InFlight[pendingTuple]
	maxPending  int
	rotateEvery time.Duration
	nextRotate  time.Duration
	waitMax     time.Duration
	active      bool
	// acks of an acker-less topology, delivered after NextTuple returns so that user code
	// is never re-entered from inside an emit.
	autoAcks []autoAck
	emitted  int64 // emits during the current NextTuple, to detect an idle spout
	clock    time.Duration
}

type autoAck struct {
	t     *task
	msgID any
}

// runSpout is the spout executor's loop: take acker replies first, then ask for tuples
// while the pending limit allows, and back off progressively while the spout is idle.
func (e *executor) runSpout(ctx context.Context) {
	s := e.spout
	idle := 0
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for iter := 0; ; iter++ {
		if ctx.Err() != nil {
			return
		}
		// One clock read per iteration stamps every tuple NextTuple emits, for complete
		// latency; without ackers nothing is stamped, and a clock read is dear next to
		// an unacked emit (it costs as much as a few).
		if e.rt.ackers > 0 {
			s.clock = e.now()
		}
		e.drainCtl()
		e.syncActive()
		if iter&63 == 0 {
			e.timekeeping()
		}
		if !s.active || !e.anySpoutReady() {
			e.flush(true)
			e.waitSpout(ctx, timer, s.nextRotate-e.now())
			e.timekeeping()
			continue
		}
		s.emitted = 0
		for _, t := range e.tasks {
			if s.maxPending > 0 && t.pending >= s.maxPending {
				continue // max.spout.pending is per task, as in Storm
			}
			// A panic is reported by safely; the spout keeps running.
			_ = e.safely(t, "NextTuple", t.spout.NextTuple)
		}
		e.deliverAutoAcks()
		if s.emitted > 0 {
			idle = 0
			continue
		}
		// Idle: send what we have, then yield, then sleep progressively longer up to
		// waitMax, waking at once for acker replies. While the spout only yields, a
		// flush waits until idleFlushGap has passed since the last one: a spout that
		// trickles out a tuple or two per call would otherwise send batches of one,
		// each a queue hand-off and a wake-up downstream.
		idle++
		if idle < 8 {
			if e.now()-e.lastSent >= idleFlushGap {
				e.flush(false)
			}
			e.timekeeping()
			runtime.Gosched()
			continue
		}
		e.flush(true)
		e.timekeeping()
		wait := min(time.Duration(idle-7)*50*time.Microsecond, s.waitMax)
		e.waitSpout(ctx, timer, wait)
	}
}

// waitSpout blocks until a control message, a nudge or the wait elapses.
func (e *executor) waitSpout(ctx context.Context, timer *time.Timer, wait time.Duration) {
	if wait <= 0 {
		return
	}
	timer.Reset(wait)
	select {
	case cb := <-e.self.ctl:
		e.deferCtl(cb)
	case <-e.self.wake:
	case <-timer.C:
		return
	case <-ctx.Done():
	}
	if !timer.Stop() {
		select {
		case <-timer.C:
		default:
		}
	}
}

// timekeeping rotates the pending map when due (timing out old trees) and flushes late
// partial batches.
func (e *executor) timekeeping() {
	s := e.spout
	now := e.now()
	for now >= s.nextRotate {
		s.nextRotate += s.rotateEvery
		s.pending.Rotate(func(_ uint64, p pendingTuple) {
			p.task.pending--
			e.cnt.failed++
			e.cnt.timedOut++
			e.callSpout(p.task, "Fail", func() { p.task.spout.Fail(p.msgID) })
		})
	}
	e.stats.Pending.Store(int64(s.pending.Len()))
	e.maybeFlush()
}

// drainCtl takes every acker reply that is waiting, without blocking.
func (e *executor) drainCtl() {
	for {
		select {
		case cb := <-e.self.ctl:
			e.deferCtl(cb)
			continue
		default:
		}
		break
	}
	if len(e.deferred) == 0 {
		return
	}
	// Handle the replies in place; Ack and Fail may emit, which may block and defer
	// more replies, so work from a snapshot.
	msgs := e.deferred
	e.deferred = nil
	latency := histTally{h: &e.stats.CompleteLatency}
	for i := 0; i < len(msgs); {
		i = e.handleReplies(msgs, i, &latency)
	}
	latency.flush()
	if e.deferred == nil {
		e.deferred = msgs[:0]
	}
}

// handleReplies handles the acker replies msgs[i:] and returns len(msgs); when a spout's
// Ack or Fail panics, it reports the panic, as safely does, and returns the index after
// the reply. One deferred recover covers a batch of replies instead of one each.
func (e *executor) handleReplies(msgs []Control, i int, latency *histTally) (next int) {
	s := e.spout
	var t *task
	what := ""
	defer func() {
		if r := recover(); r != nil {
			if what == "" {
				panic(r) // not from user code: the engine's own bug
			}
			_ = e.recovered(t, what, r)
			next = i + 1
		}
	}()
	for ; i < len(msgs); i++ {
		m := msgs[i]
		if m.Kind == ControlReset {
			s.pending.Refresh(m.Root)
			continue
		}
		p, ok := s.pending.Remove(m.Root)
		if !ok {
			continue // timed out already, and Fail was called then
		}
		t = p.task
		t.pending--
		switch m.Kind {
		case ControlComplete:
			e.cnt.acked++
			// s.clock was read just before drainCtl, as born was: no clock read per tree.
			latency.observe(s.clock - p.born)
			what = "Ack"
			t.spout.Ack(p.msgID)
		case ControlFailed:
			e.cnt.failed++
			what = "Fail"
			t.spout.Fail(p.msgID)
		}
		what = ""
	}
	return i
}

// callSpout runs a spout callback; a panic is reported (logged and counted) by safely,
// and the spout keeps running, so the returned error is not needed.
func (e *executor) callSpout(t *task, what string, f func()) {
	_ = e.safely(t, what, f)
}

func (e *executor) deliverAutoAcks() {
	s := e.spout
	for i, a := range s.autoAcks {
		e.cnt.acked++
		e.callSpout(a.t, "Ack", func() { a.t.spout.Ack(a.msgID) })
		s.autoAcks[i] = autoAck{}
	}
	s.autoAcks = s.autoAcks[:0]
}

// syncActive calls Activate or Deactivate when the runtime's state changed.
func (e *executor) syncActive() {
	s := e.spout
	want := e.rt.active.Load()
	if want == s.active {
		return
	}
	s.active = want
	for _, t := range e.tasks {
		if want {
			e.callSpout(t, "Activate", t.spout.Activate)
		} else {
			e.callSpout(t, "Deactivate", t.spout.Deactivate)
		}
	}
}

// spoutCollector is the SpoutCollector of one task.
type spoutCollector struct {
	e *executor
	t *task
}

var _ checked.Emitter = (*spoutCollector)(nil)

func (c *spoutCollector) Emit(values []any, msgID any) {
	c.emitSpout(tuple.DefaultStream, values, msgID, noDirect, false, false)
}

// EmitChecked is Emit without tuple.Normalize (checked.Emitter): the caller vouches for
// the values.
func (c *spoutCollector) EmitChecked(values []any, msgID any) {
	c.emitSpout(tuple.DefaultStream, values, msgID, noDirect, false, true)
}

func (c *spoutCollector) EmitStream(stream string, values []any, msgID any) []int32 {
	return c.emitSpout(stream, values, msgID, noDirect, true, false)
}

func (c *spoutCollector) EmitDirect(task int32, stream string, values []any, msgID any) {
	c.emitSpout(stream, values, msgID, task, false, false)
}

func (c *spoutCollector) emitSpout(stream string, values []any, msgID any, direct int32, want, checked bool) []int32 {
	e, s := c.e, c.e.spout
	s.emitted++
	var root uint64
	reliable := msgID != nil && e.rt.ackers > 0
	if reliable {
		root = s.pending.Reserve() // kept only if the tree needs an entry (below)
	}
	xor, carried, tasks := e.emit(c.t, stream, values, direct, root, nil, want, checked)
	switch {
	case msgID == nil:
	case !reliable || xor == 0:
		// No acking, or nobody received the tuple: the tree is complete already.
		s.autoAcks = append(s.autoAcks, autoAck{c.t, msgID})
	default:
		s.pending.Put(root, pendingTuple{msgID: msgID, task: c.t, born: s.clock})
		c.t.pending++
		if !carried {
			e.sendInit(root, xor, c.t.id)
		}
	}
	return tasks
}

func (c *spoutCollector) ReportError(err error) { c.e.reportError(c.t, err) }

func (c *spoutCollector) Logger() hclog.Logger { return c.t.log }

func (c *spoutCollector) Pending() int { return c.t.pending }

// anySpoutReady reports whether some task of the executor may emit under the pending
// limit.
func (e *executor) anySpoutReady() bool {
	if e.spout.maxPending <= 0 {
		return true
	}
	for _, t := range e.tasks {
		if t.pending < e.spout.maxPending {
			return true
		}
	}
	return false
}
