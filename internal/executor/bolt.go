package executor

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/pkg/tuple"
)

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
		e.flush(true)
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
	c.e.emit(c.t, tuple.DefaultStream, values, noDirect, 0, anchors, false, false)
	c.one[0] = nil
}

func (c *boltCollector) EmitStream(stream string, anchors []*tuple.Tuple, values []any) []int32 {
	_, _, tasks := c.e.emit(c.t, stream, values, noDirect, 0, anchors, true, false)
	return tasks
}

func (c *boltCollector) EmitDirect(task int32, stream string, anchors []*tuple.Tuple, values []any) {
	c.e.emit(c.t, stream, values, task, 0, anchors, false, false)
}

func (c *boltCollector) Ack(in *tuple.Tuple) { c.e.ackInput(in) }

func (c *boltCollector) Fail(in *tuple.Tuple) { c.e.failInput(in) }

func (c *boltCollector) ResetTimeout(in *tuple.Tuple) {
	if c.e.rt.ackers == 0 {
		return
	}
	// The acker restarts the tree's timeout and tells the spout, so it must know the
	// tree first.
	c.e.handInit(in)
	for _, a := range in.Anchors {
		c.e.sendControl(Control{Kind: ControlReset, Task: c.e.rt.ackerTask(a.Root), Root: a.Root})
	}
	// A reset matters while Execute is still running, so it cannot wait for the flush
	// that follows the batch.
	c.e.flush(false)
}

func (c *boltCollector) ReportError(err error) { c.e.reportError(c.t, err) }

func (c *boltCollector) Logger() hclog.Logger { return c.t.log }
