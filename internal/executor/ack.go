package executor

import (
	"context"
	"time"

	"github.com/sparsestream/sparse/pkg/acker"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// Acking: a bolt's ack or fail of an input becomes a control message to the acker task
// of each root (ackInput, failInput); the acker executor folds them into its XOR ledger
// (runAcker, ackBatch) and tells the spout task when a tree completes or fails, which
// the spout takes in drainCtl (spout.go). An input that carries its tree's init
// (tuple.Tuple.InitTask) is the exception: its ack or fail tells the spout directly when
// the tree ends there, and otherwise hands the acker the init in place of the ack.

// ackerBuckets: the acker forgets a tree between timeout and timeout*4/3, the same window
// as the spout's pending map, so a tree the spout has failed is not kept long after.
const ackerBuckets = pendingBuckets

// ackInput tells the acker that in is processed: for each of its roots, its edge id XOR
// the edge ids of the children anchored to it (for a carried init, see above). Clearing
// Anchors makes a second ack or a
// later fail of the same input a no-op instead of corrupting the tree's XOR.
func (e *executor) ackInput(in *tuple.Tuple) {
	if in.Source.Component == tuple.SystemID {
		return // ticks are not part of any tree, and are not counted
	}
	e.cnt.acked++
	if in == e.timing {
		// An ack after a fail of the same input does not make it acked.
		if !e.timingDone {
			e.timingAckedAt = max(e.now(), 1)
		}
		e.timingDone = true
	} else if len(e.sampled) > 0 {
		if start, ok := e.sampled[in]; ok {
			delete(e.sampled, in)
			e.stats.ProcessLatency.Observe(e.now() - start)
		}
	}
	if e.rt.ackers == 0 {
		return
	}
	if carriesInit(in) {
		// The tree's init rides on in: its ledger is the init (in's edge) XOR this ack
		// (in's edge XOR its children's), which is AckVal. With no children the tree
		// ends here, and only the spout needs to hear it; with some, the acker gets the
		// init, with the spout task, in place of this ack.
		a := in.Anchors[0]
		if in.AckVal == 0 {
			e.sendControl(Control{Kind: ControlComplete, Task: in.InitTask, Root: a.Root})
		} else {
			e.sendInit(a.Root, in.AckVal, in.InitTask)
		}
		in.Anchors = nil
		return
	}
	for _, a := range in.Anchors {
		e.sendControl(Control{Kind: ControlAck, Task: e.rt.ackerTask(a.Root), Root: a.Root, Val: a.Edge ^ in.AckVal})
	}
	in.Anchors = nil
}

// carriesInit reports whether in carries its tree's init (tuple.Tuple.InitTask) and has
// not been acked or failed yet (which clears its anchors).
func carriesInit(in *tuple.Tuple) bool { return in.InitTask != 0 && len(in.Anchors) == 1 }

// handInit hands the acker the init that rides on in, for a message about in other than
// its ack or fail: after it, in is an input like any other.
func (e *executor) handInit(in *tuple.Tuple) {
	if !carriesInit(in) {
		return
	}
	e.sendInit(in.Anchors[0].Root, in.Anchors[0].Edge, in.InitTask)
	in.InitTask = 0
}

// sendInit tells root's acker that spout started the tree, with xor the XOR of the edges
// it created that the acker has not seen.
func (e *executor) sendInit(root, xor uint64, spout int32) {
	e.sendControl(Control{Kind: ControlInit, Task: e.rt.ackerTask(root), Spout: spout, Root: root, Val: xor})
}

// failInput tells the acker that in failed, so its spout tuples fail at once instead of
// timing out.
func (e *executor) failInput(in *tuple.Tuple) {
	if in.Source.Component == tuple.SystemID {
		return
	}
	e.cnt.failed++
	if in == e.timing {
		e.timingDone = true
	} else {
		delete(e.sampled, in)
	}
	if e.rt.ackers == 0 {
		return
	}
	if carriesInit(in) && in.AckVal == 0 {
		// No children: the acker has not heard of the tree, and nothing will tell it.
		e.sendControl(Control{Kind: ControlFailed, Task: in.InitTask, Root: in.Anchors[0].Root})
		in.Anchors = nil
		return
	}
	// With children, whose acks the acker may hold, it gets the init first, so that it
	// reports the failure and forgets the tree.
	e.handInit(in)
	for _, a := range in.Anchors {
		e.sendControl(Control{Kind: ControlFail, Task: e.rt.ackerTask(a.Root), Root: a.Root})
	}
	in.Anchors = nil
}

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
		e.flush(true)
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
	// Touch every tree's entry first: the lookups below are mostly cache misses, and
	// these loads overlap where the lookups' would come one after another.
	var touched uint64
	for _, m := range cb.Items {
		touched ^= e.rt.tasks[m.Task].ledger.Touch(m.Root)
	}
	e.touched = touched
	for _, m := range cb.Items {
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
				e.sendControl(Control{Kind: ControlReset, Task: spout, Root: m.Root})
			}
			continue
		default:
			continue
		}
		switch r.Outcome {
		case acker.Complete:
			e.cnt.acked++
			e.sendControl(Control{Kind: ControlComplete, Task: r.SpoutTask, Root: r.Root})
		case acker.Failed:
			e.cnt.failed++
			e.sendControl(Control{Kind: ControlFailed, Task: r.SpoutTask, Root: r.Root})
		}
	}
	e.cnt.executed += int64(len(cb.Items))
	e.rt.ctl.pool.put(cb)
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
