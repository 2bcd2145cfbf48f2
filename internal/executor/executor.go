package executor

import (
	"fmt"
	"math"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/pkg/acker"
	"github.com/sparsestream/sparse/pkg/grouping"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// executor is one goroutine running one or more tasks of one component. The fields are
// touched only by that goroutine, except stats (atomics) and the inbox (channels).
type executor struct {
	rt    *Runtime
	comp  *topology.ComponentSpec
	kind  string
	tasks []*task
	self  *inbox
	stats *Stats
	log   hclog.Logger

	batchSize     int
	flushInterval time.Duration
	debug         bool // topology.debug: log every emit
	tickEvery     time.Duration

	// outbox: one filling batch per destination inbox, plus the list of those non-empty.
	outData  []*Batch
	outCtl   []*ControlBatch
	dirty    []int
	isDirty  []bool
	lastSent time.Duration // monotonic time of the last flush

	cnt       counts
	taskBuf   []int32 // receiving tasks returned by EmitStream, reused
	directBuf [1]int32
	chunk     []boxedTuple // tuples not yet handed out

	// Latency sampling of bolt inputs: a counter, and the sampled inputs awaiting their
	// ack with the time Execute started.
	sampleTick int
	sampled    map[*tuple.Tuple]time.Duration
	sweptAt    time.Duration // when sampled was last swept of stale entries
	anchBuf    []tuple.Anchor
	deferred   []Control // acker replies received while blocked on a send (spouts)

	spout *spoutState
}

// task is one instance of a component, with its routing table.
type task struct {
	id    int32
	ctx   *topology.Context
	log   hclog.Logger
	out   map[string]*streamOut
	def   *streamOut // the default stream, looked up once
	spout topology.Spout
	bolt  topology.Bolt
	// ledger is the XOR ledger of an __acker task.
	ledger *acker.Acker
	// pending counts a spout task's reliable tuples in flight.
	pending int
	// opened is set once Open or Prepare succeeded, so only those tasks are closed.
	opened bool
	// wakeable is the bolt when it is topology.Wakeable; woken is set by its
	// Context.Wake until the executor calls Woken.
	wakeable topology.Wakeable
	woken    atomic.Bool
}

// streamOut is everything needed to route one output stream of one task.
type streamOut struct {
	src    *tuple.Source
	direct bool
	subs   []subscriber
}

type subscriber struct {
	component string
	grouper   grouping.Grouper
	direct    bool
	targets   []int32
}

// now is monotonic time since the runtime started; cheap enough to read per batch.
func (e *executor) now() time.Duration { return time.Since(e.rt.epoch) }

// emit routes one tuple from task t: it picks receiving tasks through each subscriber's
// grouping, gives each receiver its own Tuple (with its own edge ids when reliable), and
// queues it in the outbox. root is the spout tuple's root id (0: not a reliable spout
// emit); anchors are the bolt inputs the tuple is anchored to. It returns the XOR of the
// edge ids created for root, and the receiving tasks when wantTasks is set.
func (e *executor) emit(t *task, stream string, values []any, direct int32, root uint64, anchors []*tuple.Tuple, wantTasks bool) (uint64, []int32) {
	so := t.def
	if stream != tuple.DefaultStream || so == nil {
		so = t.out[stream]
	}
	if so == nil {
		panic(fmt.Errorf("emit on stream %q, which component %q does not declare; declare it with OutputStream (declared: %v)",
			stream, e.comp.ID, declared(e.comp)))
	}
	if so.direct != (direct != noDirect) {
		if so.direct {
			panic(fmt.Errorf("stream %q of %q is a direct stream; emit on it with EmitDirect", stream, e.comp.ID))
		}
		panic(fmt.Errorf("EmitDirect on stream %q of %q, which is not declared direct; declare it with DirectStream", stream, e.comp.ID))
	}
	if len(values) != so.src.Fields.Len() {
		panic(fmt.Errorf("emit on stream %q of %q with %d values, but the stream declares %d fields %s",
			stream, e.comp.ID, len(values), so.src.Fields.Len(), so.src.Fields))
	}
	if err := tuple.Normalize(values); err != nil {
		panic(fmt.Errorf("emit on stream %q of %q: %w", stream, e.comp.ID, err))
	}
	if e.debug {
		t.log.Info("emitting", "stream", stream, "values", values)
	}
	e.cnt.emitted++
	if wantTasks {
		e.taskBuf = e.taskBuf[:0]
	}
	reliable := e.rt.ackers > 0
	var initXor uint64
	for i := range so.subs {
		sub := &so.subs[i]
		var targets []int32
		if sub.direct {
			if !grouping.ValidDirectTarget(sub.grouper, direct) {
				continue // the task is not a subscriber of this component; Storm ignores it too
			}
			e.directBuf[0] = direct
			targets = e.directBuf[:]
		} else {
			targets = sub.grouper.ChooseTasks(t.id, values)
		}
		for _, dest := range targets {
			nt := e.newTuple()
			nt.Values, nt.Source = values, so.src
			if reliable {
				if root != 0 {
					edge := acker.ID()
					initXor ^= edge
					nt.Anchors = nt.anchor0[:1]
					nt.Anchors[0] = tuple.Anchor{Root: root, Edge: edge}
				} else if len(anchors) > 0 {
					nt.Anchors = e.anchorChild(nt, anchors)
				}
			}
			e.push(dest, &nt.Tuple)
			if wantTasks {
				e.taskBuf = append(e.taskBuf, dest)
			}
		}
	}
	if !wantTasks {
		return initXor, nil
	}
	return initXor, e.taskBuf
}

// noDirect marks an emit that is not an EmitDirect.
const noDirect int32 = math.MinInt32

func declared(c *topology.ComponentSpec) []string {
	var out []string
	for _, s := range c.Streams {
		out = append(out, s.ID)
	}
	return out
}

// boxedTuple gives a tuple room for one anchor in the same allocation: a child of one
// spout tuple (by far the common case) costs a single allocation.
type boxedTuple struct {
	tuple.Tuple
	anchor0 [1]tuple.Anchor
}

// tupleChunk is how many tuples are allocated at once. A chunk is one allocation instead
// of sixteen, which is most of the cost of an emit; a tuple kept by user code keeps its
// chunk alive (1.3 KB), which bounds the waste.
const tupleChunk = 16

// newTuple hands out the next tuple of the executor's current chunk.
func (e *executor) newTuple() *boxedTuple {
	if len(e.chunk) == 0 {
		e.chunk = make([]boxedTuple, tupleChunk)
	}
	t := &e.chunk[0]
	e.chunk = e.chunk[1:]
	return t
}

// anchorChild creates the child's edge ids: one new edge per anchor, XORed into every root
// of that anchor, and remembered in the anchor's AckVal for when it is acked.
func (e *executor) anchorChild(nt *boxedTuple, anchors []*tuple.Tuple) []tuple.Anchor {
	if len(anchors) == 1 && anchors[0] != nil && len(anchors[0].Anchors) == 1 {
		a := anchors[0]
		edge := acker.ID()
		a.AckVal ^= edge
		nt.anchor0[0] = tuple.Anchor{Root: a.Anchors[0].Root, Edge: edge}
		return nt.anchor0[:1]
	}
	out := e.anchBuf[:0]
	for _, a := range anchors {
		if a == nil || len(a.Anchors) == 0 {
			continue
		}
		edge := acker.ID()
		a.AckVal ^= edge
	roots:
		for _, an := range a.Anchors {
			for i := range out {
				if out[i].Root == an.Root {
					out[i].Edge ^= edge
					continue roots
				}
			}
			out = append(out, tuple.Anchor{Root: an.Root, Edge: edge})
		}
	}
	e.anchBuf = out[:0]
	if len(out) == 0 {
		return nil
	}
	if len(out) == 1 {
		nt.anchor0[0] = out[0]
		return nt.anchor0[:1]
	}
	return append([]tuple.Anchor(nil), out...)
}

// push queues a tuple for a task; a full batch is sent at once.
func (e *executor) push(dest int32, t *tuple.Tuple) {
	di := e.rt.taskInbox[dest]
	b := e.outData[di]
	if b == nil {
		b = e.rt.pools.getData()
		e.outData[di] = b
		e.markDirty(di)
	}
	b.Items = append(b.Items, Item{Task: dest, Tuple: t})
	e.cnt.transferred++
	if len(b.Items) >= e.batchSize {
		e.outData[di] = nil
		e.sendData(di, b)
	}
}

// pushCtl queues an acker message for a task.
func (e *executor) pushCtl(m Control) {
	di := e.rt.taskInbox[m.Task]
	b := e.outCtl[di]
	if b == nil {
		b = e.rt.pools.getCtl()
		e.outCtl[di] = b
		e.markDirty(di)
	}
	b.Msgs = append(b.Msgs, m)
	if len(b.Msgs) >= e.batchSize {
		e.outCtl[di] = nil
		e.sendCtl(di, b)
	}
}

func (e *executor) markDirty(di int) {
	if !e.isDirty[di] {
		e.isDirty[di] = true
		e.dirty = append(e.dirty, di)
	}
}

// flush sends every partly filled batch, control first.
func (e *executor) flush() {
	for _, di := range e.dirty {
		e.isDirty[di] = false
		if b := e.outCtl[di]; b != nil {
			e.outCtl[di] = nil
			e.sendCtl(di, b)
		}
		if b := e.outData[di]; b != nil {
			e.outData[di] = nil
			e.sendData(di, b)
		}
	}
	e.dirty = e.dirty[:0]
	e.lastSent = e.now()
	e.cnt.publish(e.stats)
}

// maybeFlush flushes when the flush interval has passed since the last flush, so that a
// busy executor still delivers partial batches to quiet destinations on time.
func (e *executor) maybeFlush() {
	if len(e.dirty) > 0 && e.now()-e.lastSent >= e.flushInterval {
		e.flush()
	}
}

// sendData blocks until the receiver has room: that is the backpressure. A spout keeps
// taking acker replies while it waits (deferred until it is back in its loop), so that an
// acker blocked on this spout can never close a cycle of full queues.
func (e *executor) sendData(di int, b *Batch) {
	in := e.rt.inboxes[di]
	select {
	case in.data <- b:
		return
	default:
	}
	e.cnt.backpressed++
	for {
		select {
		case in.data <- b:
			return
		case cb := <-e.ownCtl():
			e.deferCtl(cb)
		case <-e.rt.ctx.Done():
			return
		}
	}
}

func (e *executor) sendCtl(di int, b *ControlBatch) {
	in := e.rt.inboxes[di]
	select {
	case in.ctl <- b:
		return
	default:
	}
	e.cnt.backpressed++
	for {
		select {
		case in.ctl <- b:
			return
		case cb := <-e.ownCtl():
			e.deferCtl(cb)
		case <-e.rt.ctx.Done():
			return
		}
	}
}

// ownCtl is the executor's own control queue when it must drain it while blocked
// (spouts), and nil (never ready) otherwise.
func (e *executor) ownCtl() chan *ControlBatch {
	if e.spout != nil {
		return e.self.ctl
	}
	return nil
}

func (e *executor) deferCtl(cb *ControlBatch) {
	e.deferred = append(e.deferred, cb.Msgs...)
	e.rt.pools.putCtl(cb)
}

// reportError logs and counts an error against a task.
func (e *executor) reportError(t *task, err error) {
	e.stats.Errors.Add(1)
	msg := err.Error()
	e.stats.lastErr.Store(&msg)
	t.log.Error("task reported an error", "error", err)
}

// recovered turns a panic in user code into an error naming the component and task.
func (e *executor) recovered(t *task, what string, r any) error {
	err, ok := r.(error)
	if !ok {
		err = fmt.Errorf("%v", r)
	}
	e.stats.Errors.Add(1)
	msg := fmt.Sprintf("panic in %s of component %q task %d: %v", what, e.comp.ID, t.id, err)
	e.stats.lastErr.Store(&msg)
	t.log.Error("recovered a panic in user code", "in", what, "error", err, "stack", string(debug.Stack()))
	return fmt.Errorf("%s: %w", msg, err)
}

// safely runs a user callback, turning a panic into an error.
func (e *executor) safely(t *task, what string, f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = e.recovered(t, what, r)
		}
	}()
	f()
	return nil
}
