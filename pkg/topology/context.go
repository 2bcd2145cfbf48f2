package topology

import (
	"slices"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/pkg/tuple"
)

// Context tells a task where it runs: its ids, its configuration, and the shape of the
// topology around it. It is read-only.
type Context struct {
	TopologyID  string
	ComponentID string
	TaskID      int32
	// Config is the topology's configuration overlaid with the component's own.
	Config Config

	layout  *Layout
	log     hclog.Logger
	wake    func()
	metrics *UserMetrics
}

// NewContext is used by the engine to make a task's context.
func NewContext(topologyID string, l *Layout, component string, task int32, conf Config, log hclog.Logger) *Context {
	return &Context{TopologyID: topologyID, ComponentID: component, TaskID: task, Config: conf, layout: l, log: log}
}

// Wake asks the engine to call the bolt's Woken method on the task's goroutine (see
// Wakeable). Any goroutine may call it, at any rate: it does not block. It does nothing
// for a task whose bolt is not Wakeable.
func (c *Context) Wake() {
	if c.wake != nil {
		c.wake()
	}
}

// SetWaker is used by the engine to give a Wakeable bolt's context its wake function.
func (c *Context) SetWaker(wake func()) { c.wake = wake }

// Logger logs with the component and task attached; the same logger as the collector's.
func (c *Context) Logger() hclog.Logger { return c.log }

// ComponentTasks returns the sorted task ids of a component (including "__acker").
func (c *Context) ComponentTasks(component string) []int32 {
	return slices.Clone(c.layout.Tasks[component])
}

// TaskComponent returns the component a task belongs to.
func (c *Context) TaskComponent(task int32) string { return c.layout.TaskComponent(task) }

// ThisTaskIndex is this task's position among its component's tasks, from 0.
func (c *Context) ThisTaskIndex() int {
	return slices.Index(c.layout.Tasks[c.ComponentID], c.TaskID)
}

// OutputFields returns the fields a component declares on a stream.
func (c *Context) OutputFields(component, stream string) *tuple.Fields {
	return c.layout.Fields(component, stream)
}

// Layout returns the topology's task layout.
func (c *Context) Layout() *Layout { return c.layout }

// Layout numbers the tasks of a topology. Like Storm, task ids are assigned from 1 in
// the order of sorted component ids, so every process derives the same numbering from the
// same spec.
type Layout struct {
	Spec  *Spec
	Tasks map[string][]int32 // component -> sorted task ids
	comp  []string           // task id -> component (index 0 unused)
	// Executors splits each component's tasks among its executors, round robin.
	Executors map[string][][]int32
	fields    map[string]map[string]*tuple.Fields
}

// NewLayout numbers the tasks of a validated spec; ackers is the number of acker tasks.
func NewLayout(s *Spec, ackers int) *Layout {
	l := &Layout{Spec: s, Tasks: map[string][]int32{}, Executors: map[string][][]int32{}, comp: []string{""},
		fields: map[string]map[string]*tuple.Fields{}}
	type unit struct {
		id       string
		tasks    int
		parallel int
	}
	var units []unit
	for _, c := range s.Components {
		units = append(units, unit{c.ID, c.Tasks, c.Parallelism})
		fs := map[string]*tuple.Fields{}
		for _, st := range c.Streams {
			fs[st.ID] = tuple.NewFields(st.Fields...)
		}
		l.fields[c.ID] = fs
	}
	if ackers > 0 {
		units = append(units, unit{tuple.AckerID, ackers, ackers})
	}
	slices.SortFunc(units, func(a, b unit) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	next := int32(1)
	for _, u := range units {
		tasks := make([]int32, u.tasks)
		for i := range tasks {
			tasks[i] = next
			l.comp = append(l.comp, u.id)
			next++
		}
		l.Tasks[u.id] = tasks
		l.Executors[u.id] = Deal(tasks, u.parallel)
	}
	return l
}

// Deal groups a component's tasks into n executors round robin: task i goes to executor
// i mod n, and n is capped at the number of tasks. It is the one rule every process uses
// to form executors (a worker's layout, the scheduler's regrouping after a rebalance), so
// that nimbus and the workers cannot derive different groupings. n below 1 gives none.
func Deal(tasks []int32, n int) [][]int32 {
	n = min(n, len(tasks))
	if n <= 0 {
		return nil
	}
	out := make([][]int32, n)
	for i, t := range tasks {
		out[i%n] = append(out[i%n], t)
	}
	return out
}

// TaskComponent returns the component of a task, or "" when there is no such task.
func (l *Layout) TaskComponent(task int32) string {
	if task <= 0 || int(task) >= len(l.comp) {
		return ""
	}
	return l.comp[task]
}

// NumTasks is the total number of tasks, system tasks included.
func (l *Layout) NumTasks() int { return len(l.comp) - 1 }

// Fields returns the declared fields of a component's stream (nil when undeclared).
func (l *Layout) Fields(component, stream string) *tuple.Fields {
	return l.fields[component][stream]
}
