package executor

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/pkg/tuple"
)

var tickSource = &tuple.Source{Component: tuple.SystemID, Stream: tuple.TickStream, Task: tuple.SystemTask, Fields: tuple.NewFields("freq_secs")}

// runBolt is a bolt executor's loop: execute whatever is queued, and when the queue runs
// dry, flush partial batches downstream before waiting, so that a quiet topology has low
// latency and a busy one sends full batches.
func (e *executor) runBolt(ctx context.Context) {
	var tick <-chan time.Time
	if e.tickEvery > 0 {
		tk := time.NewTicker(e.tickEvery)
		defer tk.Stop()
		tick = tk.C
	}
	for {
		select {
		case b := <-e.self.data:
			e.executeBatch(b)
			continue
		case <-tick:
			e.deliverTicks()
			continue
		case <-e.self.wake:
			e.wakeTasks()
			continue
		case <-ctx.Done():
			return
		default:
		}
		e.flush()
		select {
		case b := <-e.self.data:
			e.executeBatch(b)
		case <-tick:
			e.deliverTicks()
		case <-e.self.wake:
			e.wakeTasks()
		case <-ctx.Done():
			return
		}
	}
}

// wakeTasks calls Woken on the Wakeable bolts that asked for it. A panic is reported
// like one in Execute; there is no input to fail.
func (e *executor) wakeTasks() {
	for _, t := range e.tasks {
		if t.wakeable == nil || !t.opened || !t.woken.Swap(false) {
			continue
		}
		_ = e.safely(t, "Woken", t.wakeable.Woken)
	}
	e.maybeFlush()
}

// latencySample: one input in this many has its execute and process latency measured,
// so that two clock reads and a map entry are not paid on every tuple.
const latencySample = 32

// maxSampled bounds the inputs waiting for their ack to be timed; inputs that are never
// acked must not grow the map. When it is full, entries older than the message timeout
// (inputs that will never be acked in time) are swept, at most once per timeout, so that
// a few lost inputs do not stop process latency from being measured for good.
const maxSampled = 1024

func (e *executor) executeBatch(b *Batch) {
	for _, it := range b.Items {
		t := e.rt.tasks[it.Task]
		e.sampleTick++
		if e.sampleTick%latencySample != 0 {
			e.execute(t, it.Tuple)
			continue
		}
		start := e.now()
		if len(e.sampled) >= maxSampled && start-e.sweptAt >= e.rt.timeout {
			e.sweepSampled(start)
		}
		if len(e.sampled) < maxSampled {
			e.sampled[it.Tuple] = start
		}
		e.execute(t, it.Tuple)
		e.stats.ExecuteLatency.Observe(e.now() - start)
	}
	e.cnt.executed += int64(len(b.Items))
	e.rt.pools.putData(b)
	e.maybeFlush()
}

// sweepSampled forgets the sampled inputs that have waited longer than the message
// timeout for their ack.
func (e *executor) sweepSampled(now time.Duration) {
	e.sweptAt = now
	for in, start := range e.sampled {
		if now-start >= e.rt.timeout {
			delete(e.sampled, in)
		}
	}
}

// execute runs Execute for one input. A panic fails the input, so its spout replays it,
// and is reported with the component and task; the executor keeps running.
func (e *executor) execute(t *task, in *tuple.Tuple) {
	defer func() {
		if r := recover(); r != nil {
			_ = e.recovered(t, "Execute", r)
			e.failInput(in)
		}
	}()
	t.bolt.Execute(in)
}

// deliverTicks gives every task of the executor a tick tuple (Storm's __tick stream).
func (e *executor) deliverTicks() {
	secs := int64(e.tickEvery / time.Second)
	for _, t := range e.tasks {
		tk := tuple.New(tickSource, secs)
		e.execute(t, tk)
	}
	e.maybeFlush()
}

// ackInput tells the acker that in is processed: for each of its roots, its edge id XOR
// the edge ids of the children anchored to it. Clearing Anchors makes a second ack or a
// later fail of the same input a no-op instead of corrupting the tree's XOR.
func (e *executor) ackInput(in *tuple.Tuple) {
	if in.Source.Component == tuple.SystemID {
		return // ticks are not part of any tree, and are not counted
	}
	e.cnt.acked++
	if len(e.sampled) > 0 {
		if start, ok := e.sampled[in]; ok {
			delete(e.sampled, in)
			e.stats.ProcessLatency.Observe(e.now() - start)
		}
	}
	if e.rt.ackers == 0 {
		return
	}
	for _, a := range in.Anchors {
		e.pushCtl(Control{Kind: ControlAck, Task: e.rt.ackerTask(a.Root), Root: a.Root, Val: a.Edge ^ in.AckVal})
	}
	in.Anchors = nil
}

func (e *executor) failInput(in *tuple.Tuple) {
	if in.Source.Component == tuple.SystemID {
		return
	}
	e.cnt.failed++
	delete(e.sampled, in)
	if e.rt.ackers == 0 {
		return
	}
	for _, a := range in.Anchors {
		e.pushCtl(Control{Kind: ControlFail, Task: e.rt.ackerTask(a.Root), Root: a.Root})
	}
	in.Anchors = nil
}

// boltCollector is the BoltCollector of one task.
type boltCollector struct {
	e   *executor
	t   *task
	one [1]*tuple.Tuple
}

func (c *boltCollector) Emit(in *tuple.Tuple, values []any) {
	var anchors []*tuple.Tuple
	if in != nil {
		c.one[0] = in
		anchors = c.one[:]
	}
	c.e.emit(c.t, tuple.DefaultStream, values, noDirect, 0, anchors, false)
	c.one[0] = nil
}

func (c *boltCollector) EmitStream(stream string, anchors []*tuple.Tuple, values []any) []int32 {
	_, tasks := c.e.emit(c.t, stream, values, noDirect, 0, anchors, true)
	return tasks
}

func (c *boltCollector) EmitDirect(task int32, stream string, anchors []*tuple.Tuple, values []any) {
	c.e.emit(c.t, stream, values, task, 0, anchors, false)
}

func (c *boltCollector) Ack(in *tuple.Tuple) { c.e.ackInput(in) }

func (c *boltCollector) Fail(in *tuple.Tuple) { c.e.failInput(in) }

func (c *boltCollector) ResetTimeout(in *tuple.Tuple) {
	if c.e.rt.ackers == 0 {
		return
	}
	for _, a := range in.Anchors {
		c.e.pushCtl(Control{Kind: ControlReset, Task: c.e.rt.ackerTask(a.Root), Root: a.Root})
	}
	// A reset matters while Execute is still running, so it cannot wait for the flush
	// that follows the batch.
	c.e.flush()
}

func (c *boltCollector) ReportError(err error) { c.e.reportError(c.t, err) }

func (c *boltCollector) Logger() hclog.Logger { return c.t.log }
