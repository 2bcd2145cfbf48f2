package executor

import (
	"sync"

	"github.com/sparsestream/sparse/pkg/tuple"
)

// Item is a tuple addressed to one task.
type Item struct {
	Task  int32
	Tuple *tuple.Tuple
}

// Batch is the unit of transfer: between executors of a worker it moves tuples by
// pointer, never serialized, for one channel operation; towards another worker it is
// what the transport encodes.
type Batch struct{ Items []Item }

// ControlKind says what a control message means. The values are the wire's.
type ControlKind uint8

// Control kinds.
const (
	ControlInit     ControlKind = iota + 1 // spout -> acker: root, xor of edges, spout task
	ControlAck                             // bolt -> acker: root, edge ^ children
	ControlFail                            // bolt -> acker: root
	ControlReset                           // bolt -> acker -> spout: restart root's timeout
	ControlComplete                        // acker -> spout: root done
	ControlFailed                          // acker -> spout: root failed
)

// Control is acker traffic. It travels on its own queues (and, between workers, its own
// stream), ahead of data, so acks can never wait behind the data they acknowledge.
type Control struct {
	Kind  ControlKind
	Task  int32 // destination task
	Spout int32 // spout task, on init
	Root  uint64
	Val   uint64
}

// ControlBatch is a batch of control messages.
type ControlBatch struct{ Msgs []Control }

// inbox is an executor's receive side. Both queues are bounded; a full queue blocks the
// sender (backpressure) and never drops.
type inbox struct {
	data chan *Batch
	ctl  chan *ControlBatch
	// wake nudges an idle executor (activation changes); it holds at most one signal.
	wake chan struct{}
}

func newInbox(batches int) *inbox {
	return &inbox{
		data: make(chan *Batch, batches),
		ctl:  make(chan *ControlBatch, batches),
		wake: make(chan struct{}, 1),
	}
}

func (in *inbox) nudge() {
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// pools recycle batches between the executors of one runtime, so steady-state transfer
// allocates no batch buffers.
type pools struct {
	size int
	data sync.Pool
	ctl  sync.Pool
}

func newPools(size int) *pools {
	p := &pools{size: size}
	p.data.New = func() any { return &Batch{Items: make([]Item, 0, size)} }
	p.ctl.New = func() any { return &ControlBatch{Msgs: make([]Control, 0, size)} }
	return p
}

func (p *pools) getData() *Batch { return p.data.Get().(*Batch) }

func (p *pools) putData(b *Batch) {
	clear(b.Items) // drop tuple pointers so the GC can take them
	b.Items = b.Items[:0]
	p.data.Put(b)
}

func (p *pools) getCtl() *ControlBatch { return p.ctl.Get().(*ControlBatch) }

func (p *pools) putCtl(b *ControlBatch) {
	b.Msgs = b.Msgs[:0]
	p.ctl.Put(b)
}
