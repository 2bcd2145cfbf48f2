package executor

// outbox holds what an executor has emitted of one kind but not yet sent: one filling
// batch per receiving inbox (an executor here, or a peer worker's Outbound).
type outbox[M Message] struct {
	lane    *lane[M]
	filling []*Batch[M] // by inbox index; nil: nothing waiting
	// owesIdle says, by inbox index, that a peer worker's Outbound was last sent a batch
	// without the idle mark: when the executor goes idle it owes that sender one (markIdle).
	owesIdle []bool
}

func (o *outbox[M]) init(l *lane[M]) {
	o.lane = l
	o.filling = make([]*Batch[M], len(l.queues))
	o.owesIdle = make([]bool, len(l.queues))
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

// flush sends the partly filled batch for inbox di, if there is one, marked idle when the
// executor is about to block.
func (o *outbox[M]) flush(e *executor, di int, idle bool) {
	if b := o.filling[di]; b != nil {
		o.filling[di] = nil
		b.Idle = idle
		o.send(e, di, b)
	}
}

// markIdle tells the sender of peer inbox di that this executor went idle, with an empty
// idle batch, if the last batch it sent there was not marked. Without the mark, a sender
// waiting for more batches to share a frame waits out its timer, which in a process gone
// idle fires a millisecond late (Go's timers sleep in whole milliseconds then). A full
// queue means the sender has plenty to send without waiting, so the mark is dropped then
// rather than blocking.
func (o *outbox[M]) markIdle(di int) {
	if !o.owesIdle[di] {
		return
	}
	o.owesIdle[di] = false
	b := o.lane.pool.get()
	b.Idle = true
	select {
	case o.lane.queues[di] <- b:
	default:
		o.lane.pool.put(b)
	}
}

// send blocks until the receiver has room: that is the backpressure. A spout keeps
// taking acker replies while it waits (deferred until it is back in its loop), so that an
// acker blocked on this spout can never close a cycle of full queues.
func (o *outbox[M]) send(e *executor, di int, b *Batch[M]) {
	if e.rt.isOutbound[di] {
		o.owesIdle[di] = !b.Idle
		b.emitted = true
	}
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

// sendTuple queues a tuple for task dest. Every tuple queued is a boxedTuple from
// newTuple, which lets a peer's sender give it back (Runtime.recycle).
func (e *executor) sendTuple(dest int32, bt *boxedTuple) {
	e.cnt.transferred++
	e.outData.add(e, e.rt.taskInbox[dest], Item{Task: dest, Tuple: &bt.Tuple})
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

// flush sends every partly filled batch, control first. idle says the executor is about
// to block or sleep: the batches are marked so, and every peer's sender that was sent an
// unmarked batch since is told (markIdle), so that none waits for more from it.
func (e *executor) flush(idle bool) {
	for _, di := range e.dirty {
		e.isDirty[di] = false
		e.outCtl.flush(e, di, idle)
		e.outData.flush(e, di, idle)
	}
	e.dirty = e.dirty[:0]
	if idle {
		for _, ob := range e.rt.outbound {
			e.outCtl.markIdle(ob.idx)
			e.outData.markIdle(ob.idx)
		}
	}
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
		e.flush(false)
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
