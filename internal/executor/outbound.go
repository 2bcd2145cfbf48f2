package executor

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

// Release returns a sent batch for reuse.
func (o *Outbound) Release(b *TupleBatch) { o.rt.data.pool.put(b) }

// ReleaseControl returns a sent control batch for reuse.
func (o *Outbound) ReleaseControl(b *ControlBatch) { o.rt.ctl.pool.put(b) }

// Outbound returns the queues towards other workers, one per peer.
func (r *Runtime) Outbound() []*Outbound { return r.outbound }
