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

// Outbound is the queue of tuples and acker messages bound for one other worker. The
// transport drains it; while it cannot, the queue fills and emitters block, exactly as
// with a slow local bolt.
type Outbound struct {
	Peer  string
	in    *inbox
	pools *pools
	idx   int // in Runtime.inboxes
}

// Data delivers batches of tuples for the peer's tasks.
func (o *Outbound) Data() <-chan *Batch { return o.in.data }

// Control delivers batches of acker messages for the peer's tasks.
func (o *Outbound) Control() <-chan *ControlBatch { return o.in.ctl }

// Release returns a sent batch for reuse.
func (o *Outbound) Release(b *Batch) { o.pools.putData(b) }

// ReleaseControl returns a sent control batch for reuse.
func (o *Outbound) ReleaseControl(b *ControlBatch) { o.pools.putCtl(b) }

// Outbound returns the queues towards other workers, one per peer.
func (r *Runtime) Outbound() []*Outbound { return r.outbound }

// Source returns the shared Source of a task's stream, for decoding tuples from other
// workers; nil when the topology has no such task or stream.
func (r *Runtime) Source(task int32, stream string) *tuple.Source {
	return r.sources[sourceKey{task, stream}]
}

// NewBatch returns an empty batch for Deliver.
func (r *Runtime) NewBatch() *Batch { return r.pools.getData() }

// NewControlBatch returns an empty control batch for DeliverControl.
func (r *Runtime) NewControlBatch() *ControlBatch { return r.pools.getCtl() }

// Release returns a batch from NewBatch that will not be delivered.
func (r *Runtime) Release(b *Batch) { r.pools.putData(b) }

// ReleaseControl returns a control batch from NewControlBatch that will not be delivered.
func (r *Runtime) ReleaseControl(cb *ControlBatch) { r.pools.putCtl(cb) }

// ErrStopped is returned by Deliver once the runtime has stopped.
var ErrStopped = errors.New("the topology runtime has stopped")

// Deliver hands tuples that arrived from another worker to the local tasks they are for.
// It blocks while a receiving executor's queue is full: that wait is what slows the
// sending worker down. Tuples for a task that does not run here are refused as a whole
// batch, with an error naming the task. Deliver takes ownership of b.
func (r *Runtime) Deliver(ctx context.Context, b *Batch) error {
	if len(b.Items) == 0 {
		r.pools.putData(b)
		return nil
	}
	first, same := -1, true
	for _, it := range b.Items {
		if err := r.checkLocal(it.Task); err != nil {
			r.pools.putData(b)
			return err
		}
		if t := r.tasks[it.Task]; t.bolt == nil {
			r.pools.putData(b)
			return fmt.Errorf("task %d is %s, which has no inputs; tuples for it are misrouted", it.Task, r.layout.TaskComponent(it.Task))
		}
		if first < 0 {
			first = r.taskInbox[it.Task] // the task is known valid from here
		}
		same = same && r.taskInbox[it.Task] == first
	}
	// The usual case: every tuple is for one executor, which takes the batch as it is.
	if same {
		return r.pushData(ctx, first, b)
	}
	// Split by receiving executor, keeping each executor's tuples in arrival order.
	var groups []*Batch
	var targets []int
	for _, it := range b.Items {
		di := r.taskInbox[it.Task]
		g := slices.Index(targets, di)
		if g < 0 {
			g = len(targets)
			targets = append(targets, di)
			groups = append(groups, r.pools.getData())
		}
		groups[g].Items = append(groups[g].Items, it)
	}
	r.pools.putData(b)
	for i, g := range groups {
		if err := r.pushData(ctx, targets[i], g); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runtime) pushData(ctx context.Context, di int, b *Batch) error {
	select {
	case r.inboxes[di].data <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-r.stopped:
		return ErrStopped
	}
}

// DeliverControl hands acker messages from another worker to the local acker and spout
// tasks they are for. A message of the wrong kind for its task is refused with the whole
// batch. DeliverControl takes ownership of cb.
func (r *Runtime) DeliverControl(ctx context.Context, cb *ControlBatch) error {
	for _, m := range cb.Msgs {
		if err := r.checkLocal(m.Task); err != nil {
			r.pools.putCtl(cb)
			return err
		}
		t := r.tasks[m.Task]
		switch m.Kind {
		case ControlReset:
			if t.ledger == nil && t.spout == nil {
				r.pools.putCtl(cb)
				return fmt.Errorf("timeout reset for task %d, which is %s, neither an acker nor a spout", m.Task, r.layout.TaskComponent(m.Task))
			}
		case ControlInit, ControlAck, ControlFail:
			if t.ledger == nil {
				r.pools.putCtl(cb)
				return fmt.Errorf("acker message (kind %d) for task %d, which is %s, not an acker", m.Kind, m.Task, r.layout.TaskComponent(m.Task))
			}
		case ControlComplete, ControlFailed:
			if t.spout == nil {
				r.pools.putCtl(cb)
				return fmt.Errorf("spout message (kind %d) for task %d, which is %s, not a spout", m.Kind, m.Task, r.layout.TaskComponent(m.Task))
			}
		default:
			r.pools.putCtl(cb)
			return fmt.Errorf("unknown control message kind %d for task %d", m.Kind, m.Task)
		}
	}
	if len(cb.Msgs) == 0 {
		r.pools.putCtl(cb)
		return nil
	}
	// Messages for one task keep their order; split by executor like Deliver.
	first := r.taskInbox[cb.Msgs[0].Task]
	same := true
	for _, m := range cb.Msgs {
		if r.taskInbox[m.Task] != first {
			same = false
			break
		}
	}
	if same {
		return r.pushControl(ctx, first, cb)
	}
	var parts []*ControlBatch
	var targets []int
	for _, m := range cb.Msgs {
		di := r.taskInbox[m.Task]
		g := slices.Index(targets, di)
		if g < 0 {
			g = len(targets)
			targets = append(targets, di)
			parts = append(parts, r.pools.getCtl())
		}
		parts[g].Msgs = append(parts[g].Msgs, m)
	}
	r.pools.putCtl(cb)
	for i, p := range parts {
		if err := r.pushControl(ctx, targets[i], p); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runtime) pushControl(ctx context.Context, di int, cb *ControlBatch) error {
	select {
	case r.inboxes[di].ctl <- cb:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-r.stopped:
		return ErrStopped
	}
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
