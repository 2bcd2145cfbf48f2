package executor

import "unsafe"

// Outbound is the queue of tuples and acker messages bound for one other worker. The
// transport drains it; while it cannot, the queue fills and emitters block, exactly as
// with a slow local bolt.
type Outbound struct {
	Peer string
	in   *inbox
	rt   *Runtime
	idx  int // its inbox index, in the runtime's lanes
}

// Data delivers batches of tuples for the peer's tasks.
func (o *Outbound) Data() <-chan *TupleBatch { return o.in.data }

// Control delivers batches of acker messages for the peer's tasks.
func (o *Outbound) Control() <-chan *ControlBatch { return o.in.ctl }

// Release returns a sent batch for reuse, and its tuples: the caller must not touch
// them afterwards.
func (o *Outbound) Release(b *TupleBatch) {
	o.rt.recycle(b)
	o.rt.data.pool.put(b)
}

// recycle takes the tuples of a batch a peer's sender has encoded, for executors' emits
// to reuse (newTuple): nothing else points at them then, since only the sender ever saw
// them after their emit. They are zeroed here, on the sender's goroutine, so that they
// keep nothing alive while they wait. A sending worker otherwise allocated every tuple
// it sent, and collected its garbage every few hundred milliseconds at full speed.
//
// Only a batch an executor's emits filled is taken (Batch.emitted): Deliver never queues
// to an Outbound, but a batch from anywhere else would hold tuples that are no
// boxedTuples, or that someone still reads.
func (r *Runtime) recycle(b *TupleBatch) {
	if len(b.Items) == 0 || !b.emitted {
		return
	}
	box, _ := r.spentEmpty.Get().(*[]*boxedTuple)
	if box == nil {
		s := make([]*boxedTuple, 0, len(b.Items))
		box = &s
	}
	spent := (*box)[:0]
	for _, it := range b.Items {
		// sendTuple queues only boxedTuples, and Tuple is their first field
		// (boxedTupleFirst).
		bt := (*boxedTuple)(unsafe.Pointer(it.Tuple))
		*bt = boxedTuple{}
		spent = append(spent, bt)
	}
	*box = spent
	r.spent.Put(box)
	r.spentSlices.Add(1)
}

// boxedTupleFirst fails to compile unless Tuple is boxedTuple's first field, which
// recycle's conversion from *tuple.Tuple relies on.
var _ [0]struct{} = [unsafe.Offsetof(boxedTuple{}.Tuple)]struct{}{}

// ReleaseControl returns a sent control batch for reuse.
func (o *Outbound) ReleaseControl(b *ControlBatch) { o.rt.ctl.pool.put(b) }

// Outbound returns the queues towards other workers, one per peer.
func (r *Runtime) Outbound() []*Outbound { return r.outbound }
