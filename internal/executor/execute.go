package executor

import (
	"time"

	"github.com/sparsestream/sparse/pkg/tuple"
)

// tickSource is the Source of tick tuples, which no task emits.
var tickSource = &tuple.Source{Component: tuple.SystemID, Stream: tuple.TickStream, Task: tuple.SystemTask, Fields: tuple.NewFields("freq_secs")}

// latencySample: one input in this many has its execute and process latency measured,
// so that two clock reads and a map entry are not paid on every tuple.
const latencySample = 32

// maxSampled bounds the inputs waiting for their ack to be timed; inputs that are never
// acked must not grow the map. When it is full, entries older than the message timeout
// (inputs that will never be acked in time) are swept, at most once per timeout, so that
// a few lost inputs do not stop process latency from being measured for good.
const maxSampled = 1024

// executeBatch is the last step of a tuple's path: it runs Execute for every tuple of a
// batch from the executor's inbox, timing one in latencySample, and returns the batch to
// its pool.
func (e *executor) executeBatch(b *TupleBatch) {
	for _, it := range b.Items {
		t := e.rt.tasks[it.Task]
		e.sampleTick++
		if e.sampleTick%latencySample != 0 {
			e.execute(t, it.Tuple)
			continue
		}
		// Most bolts ack or fail an input within its Execute: then the input never
		// enters sampled, whose insert and delete cost more than the rest of the timing.
		start := e.now()
		e.timing, e.timingDone, e.timingAckedAt = it.Tuple, false, 0
		e.execute(t, it.Tuple)
		e.timing = nil
		end := e.now()
		e.stats.ExecuteLatency.Observe(end - start)
		switch {
		case e.timingAckedAt != 0:
			e.stats.ProcessLatency.Observe(e.timingAckedAt - start)
		case e.timingDone:
		default:
			if len(e.sampled) >= maxSampled && end-e.sweptAt >= e.rt.timeout {
				e.sweepSampled(end)
			}
			if len(e.sampled) < maxSampled {
				e.sampled[it.Tuple] = start
			}
		}
	}
	e.cnt.executed += int64(len(b.Items))
	e.rt.data.pool.put(b)
	e.maybeFlush()
}

// sweepSampled forgets the sampled inputs that have waited longer than the message
// timeout for their ack.
func (e *executor) sweepSampled(now time.Duration) {
	e.sweptAt = now
	for in, start := range e.sampled {
		if now-start >= e.rt.timeout {
			delete(e.sampled, in)
		}
	}
}

// execute runs Execute for one input. A panic fails the input, so its spout replays it,
// and is reported with the component and task; the executor keeps running.
func (e *executor) execute(t *task, in *tuple.Tuple) {
	defer func() {
		if r := recover(); r != nil {
			_ = e.recovered(t, "Execute", r)
			e.failInput(in)
		}
	}()
	t.bolt.Execute(in)
}

// deliverTicks gives every task of the executor a tick tuple (Storm's __tick stream).
func (e *executor) deliverTicks() {
	secs := int64(e.tickEvery / time.Second)
	for _, t := range e.tasks {
		tk := tuple.New(tickSource, secs)
		e.execute(t, tk)
	}
	e.maybeFlush()
}
