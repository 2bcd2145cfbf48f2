package executor

import (
	"fmt"

	"github.com/sparsestream/sparse/pkg/grouping"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// streamOut is everything needed to route one output stream of one task.
type streamOut struct {
	src    *tuple.Source
	direct bool
	subs   []subscriber
}

// subscriber is one component that consumes a stream, with its prepared grouping.
type subscriber struct {
	grouper grouping.Grouper
	direct  bool
}

// route picks a subscriber's tasks that receive a tuple emitted by task from: the task
// an EmitDirect names, when it is one of the subscriber's, or the grouping's choice.
func (e *executor) route(sub *subscriber, from int32, values []any, direct int32) []int32 {
	if sub.direct {
		if !grouping.ValidDirectTarget(sub.grouper, direct) {
			return nil // the task is not a subscriber of this component; Storm ignores it too
		}
		e.directBuf[0] = direct
		return e.directBuf[:]
	}
	return sub.grouper.ChooseTasks(from, values)
}

// buildRoutes builds a task's routing table: for each stream it declares, one prepared
// grouper per subscribing component.
func (r *Runtime) buildRoutes(e *executor, t *task) error {
	t.out = map[string]*streamOut{}
	for _, st := range e.comp.Streams {
		so := &streamOut{src: r.sources[sourceKey{t.id, st.ID}], direct: st.Direct}
		for _, c := range r.spec.Components {
			for _, in := range c.Inputs {
				if in.Component != e.comp.ID || in.Stream != st.ID {
					continue
				}
				g, err := grouping.New(in.Grouping)
				if err != nil {
					return fmt.Errorf("component %q input from %q stream %q: %w", c.ID, in.Component, in.Stream, err)
				}
				gctx := grouping.Context{SourceComponent: e.comp.ID, Stream: st.ID, TargetComponent: c.ID, OutputFields: st.Fields,
					IsLocal: r.isLocal}
				if err := g.Prepare(gctx, r.layout.Tasks[c.ID]); err != nil {
					return fmt.Errorf("component %q input from %q stream %q: %w", c.ID, in.Component, in.Stream, err)
				}
				so.subs = append(so.subs, subscriber{grouper: g, direct: in.Grouping.Type == grouping.Direct})
			}
		}
		t.out[st.ID] = so
	}
	t.def = t.out[tuple.DefaultStream]
	return nil
}

// isLocal reports whether a task runs in this runtime (local_or_shuffle prefers those).
func (r *Runtime) isLocal(task int32) bool {
	return task > 0 && int(task) < len(r.tasks) && r.tasks[task] != nil
}

// ackerTask picks the acker task that tracks a root.
func (r *Runtime) ackerTask(root uint64) int32 {
	return r.ackerTasks[root%uint64(len(r.ackerTasks))]
}
