package executor

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/internal/chunk"
	"github.com/sparsestream/sparse/pkg/acker"
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
	// touched keeps what a batch's pre-pass over the acker's index loaded (ackBatch), so
	// that the loads are not optimized away.
	touched uint64
	debug   bool // topology.debug: log every emit
	// debugSample is the share of emits logged (sparsectl debug), as a threshold out of
	// 2^32 for a random uint32; 0 (off) costs the emit path one atomic load.
	debugSample atomic.Uint32
	tickEvery   time.Duration

	// The outboxes: what was emitted but not yet sent, one filling batch per
	// destination inbox and kind, plus the list of inboxes with a batch filling.
	outData  outbox[Item]
	outCtl   outbox[Control]
	dirty    []int
	isDirty  []bool
	lastSent time.Duration // monotonic time of the last flush

	cnt       counts
	taskBuf   []int32 // receiving tasks returned by EmitStream, reused
	directBuf [1]int32
	tuples    chunk.Of[boxedTuple] // see newTuple
	reuse     []*boxedTuple        // tuples a peer's sender gave back, for newTuple
	reuseBox  *[]*boxedTuple       // the pooled slice reuse came in
	ids       acker.IDs            // root and edge ids, drawn on this executor's goroutine

	// Latency sampling of bolt inputs: a counter, and the sampled inputs awaiting their
	// ack with the time Execute started. timing is the sampled input whose Execute is
	// running; an ack or fail of it meanwhile sets timingDone (and timingAckedAt, the
	// ack's time, for an ack), and it joins sampled only if neither came.
	sampleTick    int
	sampled       map[*tuple.Tuple]time.Duration
	sweptAt       time.Duration // when sampled was last swept of stale entries
	timing        *tuple.Tuple
	timingDone    bool
	timingAckedAt time.Duration // 0: not acked
	anchBuf       []tuple.Anchor
	deferred      []Control // acker replies received while blocked on a send (spouts)

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

// now is monotonic time since the runtime started; cheap enough to read per batch.
func (e *executor) now() time.Duration { return time.Since(e.rt.epoch) }

// reportError logs and counts an error against a task.
func (e *executor) reportError(t *task, err error) {
	e.stats.Errors.Add(1)
	e.stats.setLastError(err.Error())
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
	e.stats.setLastError(msg)
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

// open runs Open or Prepare of every task; a task that fails is not closed.
func (e *executor) open() error {
	var errs []error
	for _, t := range e.tasks {
		var err error
		var panicked error
		switch {
		case t.spout != nil:
			c := &spoutCollector{e: e, t: t}
			panicked = e.safely(t, "Open", func() { err = t.spout.Open(t.ctx, c) })
		case t.bolt != nil:
			c := &boltCollector{e: e, t: t}
			panicked = e.safely(t, "Prepare", func() { err = t.bolt.Prepare(t.ctx, c) })
		}
		if err = errors.Join(err, panicked); err != nil {
			errs = append(errs, fmt.Errorf("component %q task %d failed to start: %w", e.comp.ID, t.id, err))
			continue
		}
		t.opened = true
	}
	return errors.Join(errs...)
}

// close runs Close or Cleanup of every task that opened.
func (e *executor) close() {
	for _, t := range e.tasks {
		if !t.opened {
			continue
		}
		switch {
		case t.spout != nil:
			if e.spout.active {
				e.callSpout(t, "Deactivate", t.spout.Deactivate)
			}
			e.callSpout(t, "Close", t.spout.Close)
		case t.bolt != nil:
			_ = e.safely(t, "Cleanup", t.bolt.Cleanup)
		}
	}
}
