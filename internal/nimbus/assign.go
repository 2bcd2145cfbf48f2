package nimbus

import (
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// stamped is what nimbus stores for a placement the scheduler made: the assignment with
// parallelism, the executor overrides (scheduler.Topology's) that formed the executors
// placed, which the workers of this version apply, and the time it is stored.
func stamped(a scheduler.Assignment, parallelism map[string]int, now time.Time) *scheduler.Assignment {
	a = a.Clone()
	a.Parallelism = nil
	if len(parallelism) > 0 {
		a.Parallelism = maps.Clone(parallelism)
	}
	a.UpdatedAt = now.UTC()
	return &a
}

// asPlaced reads a stored assignment the way the scheduler needs it. A record written
// before records kept executors has only each worker's tasks: they are grouped by execs,
// the executors it was placed with (see topoInfo.placedExecutors and
// scheduler.Assignment.GroupTasks). A record written before it kept the request (see
// scheduler.Assignment.KeepsRequest) is taken as made for requested, the topology's
// workers now, and generation 0, the generation of every topology before generations
// were stored.
func asPlaced(r *scheduler.Assignment, execs map[string][][]int32, requested int) scheduler.Assignment {
	a := r.Clone()
	a.GroupTasks(execs)
	if !a.KeepsRequest() {
		a.RequestedWorkers = requested
	}
	return a
}

// topoInfo is what a topology record means for scheduling and display.
type topoInfo struct {
	rec       *cluster.TopologyRecord
	layout    *topology.Layout // nil when the record's spec is missing or invalid
	requested int
	// execs are the effective executors (overrides applied); nil with problem set.
	execs   map[string][][]int32
	problem string
	// stack is where inspecting the record panicked, if it did.
	stack string
}

// overLimits checks what a record holds beside its spec (which ValidateShapeWithin
// checks): the workers it asks for, now and after a pending rebalance, and its executor
// overrides.
func overLimits(r *cluster.TopologyRecord, l topology.Limits) string {
	var problems []string
	if r.Workers > l.Workers {
		problems = append(problems, fmt.Sprintf("it asks for %d workers; the limit is %d (%s)", r.Workers, l.Workers, LimitFlag("Workers")))
	}
	if rb := r.Rebalance; rb != nil && rb.Workers > l.Workers {
		problems = append(problems, fmt.Sprintf("its pending rebalance asks for %d workers; the limit is %d (%s)", rb.Workers, l.Workers, LimitFlag("Workers")))
	}
	for _, comp := range slices.Sorted(maps.Keys(r.ExecutorOverrides)) {
		if n := r.ExecutorOverrides[comp]; n > l.Executors {
			problems = append(problems, fmt.Sprintf("component %q is given %d executors; the limit is %d (%s)", comp, n, l.Executors, LimitFlag("Executors")))
		}
	}
	if len(problems) == 0 {
		return ""
	}
	return "the stored topology exceeds this nimbus's limits: " + strings.Join(problems, "; ")
}

// inspectHook, when set (by tests), runs at the start of every inspect: a panic it
// raises stands for a bug that a record's contents trigger.
var inspectHook func(r *cluster.TopologyRecord)

// inspect derives a topology's layout and executors from its record, which is first
// checked against the limits l: a record an older release stored with absurd values is
// reported (problem) and never laid out. A panic is recovered into problem (with the
// stack in ti.stack), so that one topology cannot stop a round or a view.
func inspect(r *cluster.TopologyRecord, l topology.Limits) (ti *topoInfo) {
	l = l.WithDefaults()
	defer func() {
		if p := recover(); p != nil {
			ti = &topoInfo{rec: r, requested: 1, problem: fmt.Sprintf("reading the topology panicked: %v", p), stack: string(debug.Stack())}
		}
	}()
	if inspectHook != nil {
		inspectHook(r)
	}
	ti = &topoInfo{rec: r, requested: max(r.Workers, 1)}
	if problem := overLimits(r, l); problem != "" {
		ti.requested, ti.problem = 1, problem
		return ti
	}
	if r.Spec == nil {
		ti.problem = "the topology record has no spec"
		return ti
	}
	spec := *r.Spec
	if r.Config != nil {
		spec.Config = r.Config
	}
	if err := topology.ValidateShapeWithin(&spec, l); err != nil {
		ti.problem = "the stored spec is invalid: " + err.Error()
		return ti
	}
	ti.layout = topology.NewLayout(&spec, spec.Config.AckerTasks())
	st := scheduler.Topology{ID: r.ID, Executors: ti.layout.Executors, ExecutorOverrides: r.ExecutorOverrides}
	execs, err := st.EffectiveExecutors()
	if err != nil {
		ti.problem = err.Error()
		return ti
	}
	ti.execs = execs
	return ti
}

// placedExecutors returns the executors an assignment record was placed with: the
// topology's executors regrouped by the record's parallelism, or, for a record from before
// records kept it, by the topology's executor overrides now. It is nil when they cannot be
// derived (then every task counts as an executor of its own, and the topology is placed
// again). Reading the record with the executors of a newer rebalance instead would find
// the workers' tasks unchanged and keep a version whose workers run the old executors.
func (ti *topoInfo) placedExecutors(a *cluster.AssignmentRecord) map[string][][]int32 {
	if !a.KeepsRequest() || maps.Equal(a.Parallelism, ti.rec.ExecutorOverrides) {
		return ti.execs
	}
	if ti.layout == nil {
		return nil
	}
	st := scheduler.Topology{ID: ti.rec.ID, Executors: ti.layout.Executors, ExecutorOverrides: a.Parallelism}
	execs, err := st.EffectiveExecutors()
	if err != nil {
		return nil
	}
	return execs
}

// numExecutors counts the effective executors.
func (ti *topoInfo) numExecutors() int {
	n := 0
	for _, e := range ti.execs {
		n += len(e)
	}
	return n
}

// componentKind says what a layout component is.
func componentKind(l *topology.Layout, id string) string {
	if id == tuple.AckerID {
		return "acker"
	}
	if l != nil && l.Spec != nil {
		if c := l.Spec.Component(id); c != nil {
			return string(c.Kind)
		}
	}
	return "system"
}
