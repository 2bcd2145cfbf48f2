package executor

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// emit is where a tuple's path starts. It checks the values against the stream, routes
// the tuple to receiving tasks through each subscriber's grouping (route), gives each
// receiver its own Tuple (with its own edge ids when reliable), and sends it: queues it
// in the outbox (sendTuple). root is the spout tuple's root id (0: not a reliable spout
// emit); anchors are the bolt inputs the tuple is anchored to. It returns the XOR of the
// edge ids created for root, whether the tree's init rides on its one tuple (then the
// spout sends the acker none), and the receiving tasks when wantTasks is set. checked
// skips tuple.Normalize, for values whose emitter vouches for them (checked.Emitter).
func (e *executor) emit(t *task, stream string, values []any, direct int32, root uint64, anchors []*tuple.Tuple, wantTasks, checked bool) (initXor uint64, carried bool, tasks []int32) {
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
	if !checked {
		if err := tuple.Normalize(values); err != nil {
			panic(fmt.Errorf("emit on stream %q of %q: %w", stream, e.comp.ID, err))
		}
	}
	if e.debug {
		t.log.Info("emitting", "stream", stream, "values", values)
	} else if s := e.debugSample.Load(); s != 0 && rand.Uint32() < s {
		t.log.Info("sampled emit", "stream", stream, "values", values)
	}
	e.cnt.emitted++
	if wantTasks {
		e.taskBuf = e.taskBuf[:0]
	}
	reliable := e.rt.ackers > 0
	spoutTree := reliable && root != 0
	// A spout tuple's first receiver is held back until a second shows up: when it stays
	// the only one, the tree's init rides on its tuple (tuple.Tuple.InitTask).
	var first *boxedTuple
	var firstDest int32
	receivers := 0
	for i := range so.subs {
		for _, dest := range e.route(&so.subs[i], t.id, values, direct) {
			nt := e.newTuple()
			nt.Values, nt.Source = values, so.src
			if reliable {
				if root != 0 {
					edge := e.ids.Next()
					initXor ^= edge
					nt.Anchors = nt.anchor0[:1]
					nt.Anchors[0] = tuple.Anchor{Root: root, Edge: edge}
				} else if len(anchors) > 0 {
					nt.Anchors = e.anchorChild(nt, anchors)
				}
			}
			if wantTasks {
				e.taskBuf = append(e.taskBuf, dest)
			}
			if spoutTree {
				if receivers++; receivers == 1 {
					first, firstDest = nt, dest
					continue
				}
				if first != nil {
					e.sendTuple(firstDest, first)
					first = nil
				}
			}
			e.sendTuple(dest, nt)
		}
	}
	if carried = first != nil; carried {
		first.InitTask = t.id
		e.sendTuple(firstDest, first)
	}
	if wantTasks {
		tasks = e.taskBuf
	}
	return initXor, carried, tasks
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

// newTuple hands out the executor's next tuple: one a peer's sender has finished with
// (Runtime.recycle) when there is one, else one from a chunk (internal/chunk): one
// allocation for sixteen, where an allocation each was most of the cost of an emit; a
// tuple kept by user code keeps its chunk alive (1.4 KB), which bounds the waste. Reused
// tuples come from many chunks, so a bolt that keeps some may keep more chunks alive.
func (e *executor) newTuple() *boxedTuple {
	if n := len(e.reuse); n > 0 {
		bt := e.reuse[n-1]
		e.reuse = e.reuse[:n-1]
		return bt
	}
	// The pool is looked at only when a chunk runs out, so that an executor whose
	// tuples stay in this worker pays for it once in sixteen tuples.
	if e.tuples.Empty() && e.rt.spentSlices.Load() > 0 {
		full, _ := e.rt.spent.Get().(*[]*boxedTuple)
		if full == nil {
			e.rt.spentSlices.Store(0) // the pool dropped them
			return e.tuples.Next()
		}
		e.rt.spentSlices.Add(-1)
		if e.reuseBox != nil {
			clear((*e.reuseBox)[:cap(*e.reuseBox)]) // its tuples are in use again: keep none alive
			e.rt.spentEmpty.Put(e.reuseBox)
		}
		e.reuseBox, e.reuse = full, *full
		return e.newTuple()
	}
	return e.tuples.Next()
}

// anchorChild creates the child's edge ids: one new edge per anchor, XORed into every root
// of that anchor, and remembered in the anchor's AckVal for when it is acked.
func (e *executor) anchorChild(nt *boxedTuple, anchors []*tuple.Tuple) []tuple.Anchor {
	if len(anchors) == 1 && anchors[0] != nil && len(anchors[0].Anchors) == 1 {
		a := anchors[0]
		edge := e.ids.Next()
		a.AckVal ^= edge
		nt.anchor0[0] = tuple.Anchor{Root: a.Anchors[0].Root, Edge: edge}
		return nt.anchor0[:1]
	}
	out := e.anchBuf[:0]
	for _, a := range anchors {
		if a == nil || len(a.Anchors) == 0 {
			continue
		}
		edge := e.ids.Next()
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
