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

// ControlKind says what a control message means. The values are the wire's
// (internal/wire's Control* constants, the sparse.v1.ControlKind enum); a test keeps
// them equal, so the transport converts nothing.
type ControlKind = uint8

// Control kinds.
const (
	ControlInit     ControlKind = 1 // spout -> acker: root, xor of edges, spout task
	ControlAck      ControlKind = 2 // bolt -> acker: root, edge ^ children
	ControlFail     ControlKind = 3 // bolt -> acker: root
	ControlReset    ControlKind = 4 // bolt -> acker -> spout: restart root's timeout
	ControlComplete ControlKind = 5 // acker -> spout: root done
	ControlFailed   ControlKind = 6 // acker -> spout: root failed
)

// Control is acker traffic. It travels on its own queues (and, between workers, its own
// stream), ahead of data, so acks can never wait behind the data they acknowledge. Its
// fields are those of the wire's Control, so the transport converts one to the other as
// a whole, and the compiler checks that they still match.
type Control struct {
	Kind  ControlKind
	Task  int32 // destination task
	Spout int32 // spout task, on init
	Root  uint64
	Val   uint64
}

// Message is what a batch carries: tuples on the data queues, acker messages on the
// control queues. Both kinds take the same path through the same generic code; only
// where a message is checked or executed does its kind matter.
type Message interface{ Item | Control }

// Batch is the unit of transfer: between executors of a worker it moves messages by
// pointer, never serialized, for one channel operation; towards another worker it is
// what the transport encodes.
type Batch[M Message] struct {
	Items []M
	// Idle says that its producer had nothing more to send when it sent it: the executor
	// was about to block or sleep. A peer's sender sends its frame at once then, rather
	// than wait for more batches to share it (see transport's pump). An idle batch may be
	// empty: the mark alone.
	Idle bool
	// emitted says that an executor's emits filled it for a peer's Outbound
	// (outbox.send): its tuples are boxedTuples nothing else points at, which the sender
	// may give back (Runtime.recycle).
	emitted bool
	// to is Deliver's scratch: the receiving inbox of each item. It stays with the
	// pooled batch so that delivery allocates nothing in the steady state.
	to []int
}

// TupleBatch is a batch of tuples, ControlBatch a batch of acker messages.
type (
	TupleBatch   = Batch[Item]
	ControlBatch = Batch[Control]
)

// inbox is an executor's receive side (or a peer worker's, for an Outbound). Both queues
// are bounded; a full queue blocks the sender (backpressure) and never drops.
type inbox struct {
	data chan *TupleBatch
	ctl  chan *ControlBatch
	// wake nudges an idle executor (activation changes); it holds at most one signal.
	wake chan struct{}
}

func newInbox(batches int) *inbox {
	return &inbox{
		data: make(chan *TupleBatch, batches),
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

// lane is one kind of traffic through a runtime: the pool its batches come from and
// every inbox's queue for it, by inbox index. A runtime has two, data and control, so
// that acker messages never queue behind tuples.
type lane[M Message] struct {
	pool   pool[M]
	queues []chan *Batch[M]
}

// pool recycles the batches of one lane between the executors of a runtime, so
// steady-state transfer allocates no batch buffers.
type pool[M Message] struct {
	p    sync.Pool
	size int // a new batch's capacity: the producer batch size
	// clear drops the items' pointers when a batch comes back, so that the GC can
	// take the tuples; control messages hold none.
	clear bool
}

func (p *pool[M]) init(size int, clearItems bool) {
	p.size, p.clear = size, clearItems
	p.p.New = func() any { return &Batch[M]{Items: make([]M, 0, size)} }
}

func (p *pool[M]) get() *Batch[M] { return p.p.Get().(*Batch[M]) }

func (p *pool[M]) put(b *Batch[M]) {
	if p.clear {
		clear(b.Items)
	}
	b.Items = b.Items[:0]
	b.to = b.to[:0]
	b.Idle, b.emitted = false, false
	p.p.Put(b)
}
