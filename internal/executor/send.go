package executor

import "github.com/sparsestream/sparse/pkg/tuple"

// outbox holds what an executor has emitted of one kind but not yet sent: one filling
// batch per receiving inbox (an executor here, or a peer worker's Outbound).
type outbox[M Message] struct {
	lane    *lane[M]
	filling []*Batch[M] // by inbox index; nil: nothing waiting
}

func (o *outbox[M]) init(l *lane[M]) {
	o.lane = l
	o.filling = make([]*Batch[M], len(l.queues))
}

// add queues m for inbox di; a full batch is sent at once.
func (o *outbox[M]) add(e *executor, di int, m M) {
	b := o.filling[di]
	if b == nil {
		b = o.lane.pool.get()
		o.filling[di] = b
		e.markDirty(di)
	}
	b.Items = append(b.Items, m)
	if len(b.Items) >= e.batchSize {
		o.filling[di] = nil
		o.send(e, di, b)
	}
}

// flush sends the partly filled batch for inbox di, if there is one.
func (o *outbox[M]) flush(e *executor, di int) {
	if b := o.filling[di]; b != nil {
		o.filling[di] = nil
		o.send(e, di, b)
	}
}

// send blocks until the receiver has room: that is the backpressure. A spout keeps
// taking acker replies while it waits (deferred until it is back in its loop), so that an
// acker blocked on this spout can never close a cycle of full queues.
func (o *outbox[M]) send(e *executor, di int, b *Batch[M]) {
	q := o.lane.queues[di]
	select {
	case q <- b:
		return
	default:
	}
	e.cnt.backpressed++
	for {
		select {
		case q <- b:
			return
		case cb := <-e.ownCtl():
			e.deferCtl(cb)
		case <-e.rt.ctx.Done():
			return
		}
	}
}

// sendTuple queues a tuple for task dest.
func (e *executor) sendTuple(dest int32, t *tuple.Tuple) {
	e.cnt.transferred++
	e.outData.add(e, e.rt.taskInbox[dest], Item{Task: dest, Tuple: t})
}

// sendControl queues an acker message for its task.
func (e *executor) sendControl(m Control) {
	e.outCtl.add(e, e.rt.taskInbox[m.Task], m)
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
		e.outCtl.flush(e, di)
		e.outData.flush(e, di)
	}
	e.dirty = e.dirty[:0]
	e.lastSent = e.now()
	e.cnt.publish(e.stats)
}

// maybeFlush flushes when the flush interval has passed since the last flush, so that a
// busy executor still delivers partial batches to quiet destinations on time. An
// executor with nothing to send publishes its counters instead: a busy bolt that emits
// nothing and acks nothing (acking off) otherwise never flushed, and its stats stood
// still for as long as its input never ran dry.
func (e *executor) maybeFlush() {
	now := e.now()
	if now-e.lastSent < e.flushInterval {
		return
	}
	if len(e.dirty) > 0 {
		e.flush()
		return
	}
	e.lastSent = now
	e.cnt.publish(e.stats)
}

// ownCtl is the executor's own control queue when it must drain it while blocked
// (spouts), and nil (never ready) otherwise.
func (e *executor) ownCtl() chan *ControlBatch {
	if e.spout != nil {
		return e.self.ctl
	}
	return nil
}

// deferCtl keeps acker replies that arrived while the spout could not handle them.
func (e *executor) deferCtl(cb *ControlBatch) {
	e.deferred = append(e.deferred, cb.Items...)
	e.rt.ctl.pool.put(cb)
}
