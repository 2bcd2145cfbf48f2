package executor

import (
	"sync"

	"github.com/sparsestream/sparse/pkg/tuple"
)

// item is a tuple addressed to one task.
type item struct {
	task int32
	t    *tuple.Tuple
}

// batch is the unit of data transfer between executors: tuples are passed by pointer,
// never serialized, and a whole batch costs one channel operation.
type batch struct{ items []item }

// ctlKind says what a control message means.
type ctlKind uint8

const (
	ctlInit     ctlKind = iota + 1 // spout -> acker: root, xor of edges, spout task
	ctlAck                         // bolt -> acker: root, edge ^ children
	ctlFail                        // bolt -> acker: root
	ctlReset                       // bolt -> acker: restart root's timeout
	ctlComplete                    // acker -> spout: root done
	ctlFailed                      // acker -> spout: root failed
)

// ctlMsg is acker traffic. It travels on its own queue, ahead of data, so acks can never
// wait behind the data they acknowledge.
type ctlMsg struct {
	kind  ctlKind
	task  int32 // destination task
	spout int32 // spout task, on init
	root  uint64
	val   uint64
}

type ctlBatch struct{ msgs []ctlMsg }

// inbox is an executor's receive side. Both queues are bounded; a full queue blocks the
// sender (backpressure) and never drops.
type inbox struct {
	data chan *batch
	ctl  chan *ctlBatch
	// wake nudges an idle executor (activation changes); it holds at most one signal.
	wake chan struct{}
}

func newInbox(batches int) *inbox {
	return &inbox{
		data: make(chan *batch, batches),
		ctl:  make(chan *ctlBatch, batches),
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
	p.data.New = func() any { return &batch{items: make([]item, 0, size)} }
	p.ctl.New = func() any { return &ctlBatch{msgs: make([]ctlMsg, 0, size)} }
	return p
}

func (p *pools) getData() *batch { return p.data.Get().(*batch) }

func (p *pools) putData(b *batch) {
	clear(b.items) // drop tuple pointers so the GC can take them
	b.items = b.items[:0]
	p.data.Put(b)
}

func (p *pools) getCtl() *ctlBatch { return p.ctl.Get().(*ctlBatch) }

func (p *pools) putCtl(b *ctlBatch) {
	b.msgs = b.msgs[:0]
	p.ctl.Put(b)
}
