package nimbus

import (
	"maps"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// recordFromAssignment converts what the scheduler placed into what etcd stores:
// worker id "<supervisor>:<port>", transport address host:port, the worker's tasks
// (its executors flattened, sorted), its supervisor and port. The record's worker list
// is exactly scheduler.Assignment.Worker()'s endpoints plus the slot. The record also
// keeps what the placement was made for: the workers asked for, the rebalance
// generation, and parallelism, the executor overrides (scheduler.Topology's) that formed
// the executors placed, which the workers of this version apply.
func recordFromAssignment(a scheduler.Assignment, parallelism map[string]int, now time.Time) *cluster.AssignmentRecord {
	r := &cluster.AssignmentRecord{TopologyID: a.TopologyID, Version: a.Version, UpdatedAt: now.UTC(),
		RequestedWorkers: a.RequestedWorkers, Generation: a.Generation,
		Workers: make([]cluster.AssignedWorker, 0, len(a.Workers))}
	if len(parallelism) > 0 {
		r.Parallelism = maps.Clone(parallelism)
	}
	for _, w := range a.Workers {
		r.Workers = append(r.Workers, cluster.AssignedWorker{
			ID:         w.ID(),
			Address:    w.Address(),
			Tasks:      w.Tasks(),
			Supervisor: w.Supervisor,
			Port:       w.Port,
		})
	}
	return r
}

// assignmentFromRecord rebuilds the scheduler's view of a stored assignment. The record
// keeps each worker's tasks, not how they form executors: the executors are those of
// execs (the executors it was placed with, see topoInfo.placedExecutors) split by worker. An
// executor whose tasks are split between workers, a task the topology does not have, or
// a task assigned twice each becomes an executor of its own, so that the scheduler sees
// the placement does not fit and places the topology again. A nil execs (the topology is
// unknown or malformed) makes every task an executor.
//
// The workers asked for and the rebalance generation come from the record. A record
// written before it kept them (see cluster.AssignmentRecord.KeepsRequest) is taken as
// made for requested, the topology's workers now, and generation 0, the generation of
// every topology before generations were stored.
func assignmentFromRecord(r *cluster.AssignmentRecord, execs map[string][][]int32, requested int) scheduler.Assignment {
	a := scheduler.Assignment{TopologyID: r.TopologyID, Version: r.Version, RequestedWorkers: r.RequestedWorkers, Generation: r.Generation,
		Workers: make([]scheduler.WorkerSlot, len(r.Workers))}
	if !r.KeepsRequest() {
		a.RequestedWorkers = requested
	}
	owner := map[int32]int{}
	var odd [][2]int32 // (worker index, task) that fit no executor
	for i, w := range r.Workers {
		host := w.Address
		if h, _, err := net.SplitHostPort(w.Address); err == nil {
			host = h
		}
		a.Workers[i] = scheduler.WorkerSlot{Supervisor: w.Supervisor, Host: host, Port: w.Port}
		if a.Workers[i].Supervisor == "" || a.Workers[i].Port == 0 {
			// A record written by something else: recover the slot from the worker id.
			if sup, port, ok := splitWorkerID(w.ID); ok {
				a.Workers[i].Supervisor, a.Workers[i].Port = sup, port
			}
		}
		for _, t := range w.Tasks {
			if _, dup := owner[t]; dup {
				odd = append(odd, [2]int32{int32(i), t})
				continue
			}
			owner[t] = i
		}
	}
	used := map[int32]bool{}
	for _, comp := range slices.Sorted(maps.Keys(execs)) {
		for _, e := range execs[comp] {
			groups := map[int][]int32{}
			var order []int
			for _, t := range e {
				wi, ok := owner[t]
				if !ok {
					continue
				}
				if _, seen := groups[wi]; !seen {
					order = append(order, wi)
				}
				groups[wi] = append(groups[wi], t)
				used[t] = true
			}
			for _, wi := range order {
				a.Workers[wi].Executors = append(a.Workers[wi].Executors, groups[wi])
			}
		}
	}
	for t, wi := range owner {
		if !used[t] {
			odd = append(odd, [2]int32{int32(wi), t})
		}
	}
	for _, o := range odd {
		a.Workers[o[0]].Executors = append(a.Workers[o[0]].Executors, []int32{o[1]})
	}
	for i := range a.Workers {
		ex := a.Workers[i].Executors
		for _, e := range ex {
			slices.Sort(e)
		}
		slices.SortFunc(ex, func(x, y []int32) int { return int(x[0]) - int(y[0]) })
	}
	return a
}

// splitWorkerID reads "<supervisor>:<port>".
func splitWorkerID(id string) (string, int, bool) {
	i := len(id) - 1
	for i >= 0 && id[i] != ':' {
		i--
	}
	if i <= 0 {
		return "", 0, false
	}
	p, err := strconv.Atoi(id[i+1:])
	if err != nil || p < 1 || p > 65535 {
		return "", 0, false
	}
	return id[:i], p, true
}

// topoInfo is what a topology record means for scheduling and display.
type topoInfo struct {
	rec       *cluster.TopologyRecord
	layout    *topology.Layout // nil when the record's spec is missing or invalid
	requested int
	// execs are the effective executors (overrides applied); nil with problem set.
	execs   map[string][][]int32
	problem string
}

// inspect derives a topology's layout and executors from its record.
func inspect(r *cluster.TopologyRecord) *topoInfo {
	ti := &topoInfo{rec: r, requested: max(r.Workers, 1)}
	if r.Spec == nil {
		ti.problem = "the topology record has no spec"
		return ti
	}
	spec := *r.Spec
	if r.Config != nil {
		spec.Config = r.Config
	}
	if err := topology.ValidateShape(&spec); err != nil {
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
