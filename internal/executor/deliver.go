package executor

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/sparsestream/sparse/pkg/tuple"
)

type sourceKey struct {
	task   int32
	stream string
}

// Source returns the shared Source of a task's stream, for decoding tuples from other
// workers; nil when the topology has no such task or stream.
func (r *Runtime) Source(task int32, stream string) *tuple.Source {
	return r.sources[sourceKey{task, stream}]
}

// NewBatch returns an empty batch for Deliver.
func (r *Runtime) NewBatch() *TupleBatch { return r.data.pool.get() }

// BatchSize is the most entries a batch should hold (topology.producer.batch.size): the
// receive queues are bounded in batches, so a transport that delivers a frame of
// thousands of tuples as one batch would make them hold that many times more than
// topology.executor.receive.buffer.size.
func (r *Runtime) BatchSize() int { return r.data.pool.size }

// NewControlBatch returns an empty control batch for DeliverControl.
func (r *Runtime) NewControlBatch() *ControlBatch { return r.ctl.pool.get() }

// Release returns a batch from NewBatch that will not be delivered.
func (r *Runtime) Release(b *TupleBatch) { r.data.pool.put(b) }

// ReleaseControl returns a control batch from NewControlBatch that will not be delivered.
func (r *Runtime) ReleaseControl(cb *ControlBatch) { r.ctl.pool.put(cb) }

// ErrStopped is returned by Deliver once the runtime has stopped.
var ErrStopped = errors.New("the topology runtime has stopped")

// Deliver hands tuples that arrived from another worker to the local tasks they are for.
// It blocks while a receiving executor's queue is full: that wait is what slows the
// sending worker down. Tuples for a task that does not run here are refused as a whole
// batch, with an error naming the task. Deliver takes ownership of b.
func (r *Runtime) Deliver(ctx context.Context, b *TupleBatch) error {
	b.to = b.to[:0]
	for _, it := range b.Items {
		di := -1
		if uint(it.Task) < uint(len(r.inputInbox)) {
			di = r.inputInbox[it.Task]
		}
		if di < 0 {
			err := r.checkInput(it.Task)
			if err == nil { // inputInbox and checkInput disagree: a bug, but refuse rather than misdeliver
				err = fmt.Errorf("task %d cannot take tuples from other workers", it.Task)
			}
			r.data.pool.put(b)
			return err
		}
		if it.Tuple.InitTask != 0 {
			if err := r.checkInit(it.Tuple); err != nil {
				r.data.pool.put(b)
				return err
			}
		}
		b.to = append(b.to, di)
	}
	return r.data.deliver(ctx, r.stopped, b)
}

// checkInit says why a tuple from a peer cannot carry its tree's init, if it cannot: its
// receiver will send acker messages in the name of the task it names.
func (r *Runtime) checkInit(t *tuple.Tuple) error {
	task := t.InitTask
	if !r.isSpoutTask(task) || t.Source == nil || t.Source.Task != task || len(t.Anchors) != 1 {
		return fmt.Errorf("a tuple carries the init of task %d (%s) with %d anchors; only a spout task's own tuple with one anchor may",
			task, r.layout.TaskComponent(task), len(t.Anchors))
	}
	return nil
}

// isSpoutTask reports whether task is a spout's, here or in another worker.
func (r *Runtime) isSpoutTask(task int32) bool {
	return uint(task) < uint(len(r.spoutTask)) && r.spoutTask[task]
}

// checkInput says why a task here cannot take a tuple from another worker, if it cannot.
func (r *Runtime) checkInput(task int32) error {
	if err := r.checkLocal(task); err != nil {
		return err
	}
	if r.tasks[task].bolt == nil {
		return fmt.Errorf("task %d is %s, which has no inputs; tuples for it are misrouted", task, r.layout.TaskComponent(task))
	}
	return nil
}

// DeliverControl hands acker messages from another worker to the local acker and spout
// tasks they are for. A message of the wrong kind for its task is refused with the whole
// batch. DeliverControl takes ownership of cb.
func (r *Runtime) DeliverControl(ctx context.Context, cb *ControlBatch) error {
	cb.to = cb.to[:0]
	for _, m := range cb.Items {
		if err := r.checkControl(m); err != nil {
			r.ctl.pool.put(cb)
			return err
		}
		cb.to = append(cb.to, r.taskInbox[m.Task])
	}
	return r.ctl.deliver(ctx, r.stopped, cb)
}

// checkControl says why a task here cannot take an acker message, if it cannot.
func (r *Runtime) checkControl(m Control) error {
	if err := r.checkLocal(m.Task); err != nil {
		return err
	}
	t := r.tasks[m.Task]
	switch m.Kind {
	case ControlReset:
		if t.ledger == nil && t.spout == nil {
			return fmt.Errorf("timeout reset for task %d, which is %s, neither an acker nor a spout", m.Task, r.layout.TaskComponent(m.Task))
		}
	case ControlInit, ControlAck, ControlFail:
		if t.ledger == nil {
			return fmt.Errorf("acker message (kind %d) for task %d, which is %s, not an acker", m.Kind, m.Task, r.layout.TaskComponent(m.Task))
		}
		// The acker replies to an init's spout task: it must be one.
		if m.Kind == ControlInit && !r.isSpoutTask(m.Spout) {
			return fmt.Errorf("acker init for task %d names task %d (%s) as its spout, which is not a spout task", m.Task, m.Spout, r.layout.TaskComponent(m.Spout))
		}
	case ControlComplete, ControlFailed:
		if t.spout == nil {
			return fmt.Errorf("spout message (kind %d) for task %d, which is %s, not a spout", m.Kind, m.Task, r.layout.TaskComponent(m.Task))
		}
	default:
		return fmt.Errorf("unknown control message kind %d for task %d", m.Kind, m.Task)
	}
	return nil
}

func (r *Runtime) checkLocal(task int32) error {
	if task <= 0 || int(task) >= len(r.tasks) {
		return fmt.Errorf("task %d does not exist; the topology has tasks 1..%d", task, len(r.tasks)-1)
	}
	if r.tasks[task] == nil {
		return fmt.Errorf("task %d (%s) does not run in this worker; the sender's assignment differs from ours", task, r.layout.TaskComponent(task))
	}
	return nil
}

// deliver queues a checked batch, whose b.to names each item's inbox, for the executors
// it is for. Each executor's items keep their arrival order.
func (l *lane[M]) deliver(ctx context.Context, stopped <-chan struct{}, b *Batch[M]) error {
	if len(b.Items) == 0 {
		l.pool.put(b)
		return nil
	}
	// The usual case: every item is for one executor, which takes the batch as it is.
	first, same := b.to[0], true
	for _, di := range b.to {
		if di != first {
			same = false
			break
		}
	}
	if same {
		return l.enqueue(ctx, stopped, first, b)
	}
	// Split by receiving executor.
	var parts []*Batch[M]
	var targets []int
	for i, m := range b.Items {
		di := b.to[i]
		g := slices.Index(targets, di)
		if g < 0 {
			g = len(targets)
			targets = append(targets, di)
			parts = append(parts, l.pool.get())
		}
		parts[g].Items = append(parts[g].Items, m)
	}
	l.pool.put(b)
	for i, p := range parts {
		if err := l.enqueue(ctx, stopped, targets[i], p); err != nil {
			return err
		}
	}
	return nil
}

// enqueue waits until inbox di takes b, ctx ends or the runtime stops.
func (l *lane[M]) enqueue(ctx context.Context, stopped <-chan struct{}, di int, b *Batch[M]) error {
	select {
	case l.queues[di] <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-stopped:
		return ErrStopped
	}
}
