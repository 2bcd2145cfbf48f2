package executor

import (
	"context"
	"time"

	"github.com/sparsestream/sparse/pkg/acker"
)

// ackerBuckets: the acker forgets a tree between timeout and timeout*4/3, the same window
// as the spout's pending map, so a tree the spout has failed is not kept long after.
const ackerBuckets = pendingBuckets

// runAcker is the loop of an __acker executor: fold acker messages into each task's XOR
// ledger and tell spouts about finished trees. It sends only control messages, which
// spouts always drain, so it cannot deadlock behind data.
func (e *executor) runAcker(ctx context.Context, timeout time.Duration) {
	rot := time.NewTicker(timeout / (ackerBuckets - 1))
	defer rot.Stop()
	for {
		select {
		case cb := <-e.self.ctl:
			e.ackBatch(cb)
			continue
		case <-rot.C:
			e.rotateAckers()
			continue
		case <-ctx.Done():
			return
		default:
		}
		e.flush()
		select {
		case cb := <-e.self.ctl:
			e.ackBatch(cb)
		case <-rot.C:
			e.rotateAckers()
		case <-ctx.Done():
			return
		}
	}
}

func (e *executor) ackBatch(cb *ControlBatch) {
	for _, m := range cb.Msgs {
		l := e.rt.tasks[m.Task].ledger
		var r acker.Result
		switch m.Kind {
		case ControlInit:
			r = l.Init(m.Root, m.Val, m.Spout)
		case ControlAck:
			r = l.Ack(m.Root, m.Val)
		case ControlFail:
			r = l.Fail(m.Root)
		case ControlReset:
			// The spout times trees out on its own, so it must hear of the reset too.
			if spout, ok := l.ResetTimeout(m.Root); ok {
				e.pushCtl(Control{Kind: ControlReset, Task: spout, Root: m.Root})
			}
			continue
		default:
			continue
		}
		switch r.Outcome {
		case acker.Complete:
			e.cnt.acked++
			e.pushCtl(Control{Kind: ControlComplete, Task: r.SpoutTask, Root: r.Root})
		case acker.Failed:
			e.cnt.failed++
			e.pushCtl(Control{Kind: ControlFailed, Task: r.SpoutTask, Root: r.Root})
		}
	}
	e.cnt.executed += int64(len(cb.Msgs))
	e.rt.pools.putCtl(cb)
}

func (e *executor) rotateAckers() {
	var pending int64
	for _, t := range e.tasks {
		t.ledger.Rotate()
		pending += int64(t.ledger.Len())
	}
	e.stats.Pending.Store(pending)
	e.maybeFlush()
}
