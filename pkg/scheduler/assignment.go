package scheduler

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"

	"github.com/sparsestream/sparse/internal/worker"
)

// Assignment is where one topology's workers run: which supervisor slot each worker has
// and which executors it runs. It is what nimbus stores for a topology and what Schedule
// reads back on the next round; Worker turns it into what a worker process runs from.
type Assignment struct {
	TopologyID string `json:"topology_id"`
	// Version changes whenever placement changes (a worker's slot, host or executors), and
	// only then; workers refuse peers that run another version.
	Version int64 `json:"version"`
	// RequestedWorkers is the topology.workers this placement was made for. Fewer
	// workers are placed when slots are short, or when the topology has fewer executors.
	RequestedWorkers int `json:"requested_workers"`
	// Generation is the topology's rebalance generation this placement was made for.
	Generation int64 `json:"generation,omitempty"`
	// Workers are ordered by supervisor id, then port.
	Workers []WorkerSlot `json:"workers"`
}

// WorkerSlot is one worker of an assignment: the supervisor slot it runs in and its
// executors (each a sorted list of task ids of one component, ordered by first task).
type WorkerSlot struct {
	Supervisor string    `json:"supervisor"`
	Host       string    `json:"host"`
	Port       int       `json:"port"`
	Executors  [][]int32 `json:"executors"`
}

// ID is the worker's id within its assignment, "<supervisor-id>:<port>": stable for as
// long as the worker keeps its slot, and unique because a slot runs one worker.
func (w WorkerSlot) ID() string { return w.Supervisor + ":" + strconv.Itoa(w.Port) }

// Address is where the worker's transport listens, host:port.
func (w WorkerSlot) Address() string { return net.JoinHostPort(w.Host, strconv.Itoa(w.Port)) }

// Tasks returns the worker's task ids, sorted.
func (w WorkerSlot) Tasks() []int32 {
	var ts []int32
	for _, e := range w.Executors {
		ts = append(ts, e...)
	}
	slices.Sort(ts)
	return ts
}

// Worker converts the assignment into what a worker process runs from.
func (a Assignment) Worker() *worker.Assignment {
	out := &worker.Assignment{TopologyID: a.TopologyID, Version: a.Version, Workers: make([]worker.Endpoint, 0, len(a.Workers))}
	for _, w := range a.Workers {
		out.Workers = append(out.Workers, worker.Endpoint{ID: w.ID(), Address: w.Address(), Tasks: w.Tasks()})
	}
	return out
}

// Clone returns a deep copy.
func (a Assignment) Clone() Assignment {
	a.Workers = slices.Clone(a.Workers)
	for i := range a.Workers {
		a.Workers[i].Executors = cloneExecs(a.Workers[i].Executors)
	}
	return a
}

// canonical returns a deep copy with every executor's tasks sorted, each worker's
// executors ordered by first task, and workers ordered by slot.
func (a Assignment) canonical() Assignment {
	a = a.Clone()
	for i := range a.Workers {
		sortExecs(a.Workers[i].Executors)
	}
	slices.SortFunc(a.Workers, compareSlots)
	return a
}

// samePlacement reports whether two canonical assignments put the same executors in the
// same slots on the same hosts.
func samePlacement(a, b Assignment) bool {
	return slices.EqualFunc(a.Workers, b.Workers, func(x, y WorkerSlot) bool {
		return x.Supervisor == y.Supervisor && x.Port == y.Port && x.Host == y.Host &&
			slices.EqualFunc(x.Executors, y.Executors, slices.Equal)
	})
}

// sameAssignment reports whether two canonical assignments are equal in every stored field.
func sameAssignment(a, b Assignment) bool {
	return a.TopologyID == b.TopologyID && a.Version == b.Version && a.RequestedWorkers == b.RequestedWorkers &&
		a.Generation == b.Generation && samePlacement(a, b)
}

func compareSlots(x, y WorkerSlot) int {
	return cmp.Or(cmp.Compare(x.Supervisor, y.Supervisor), cmp.Compare(x.Port, y.Port))
}

func cloneExecs(es [][]int32) [][]int32 {
	if es == nil {
		return nil
	}
	out := make([][]int32, len(es))
	for i, e := range es {
		out[i] = slices.Clone(e)
	}
	return out
}

// sortExecs sorts each executor's tasks and the executors by first task.
func sortExecs(es [][]int32) {
	for _, e := range es {
		slices.Sort(e)
	}
	slices.SortFunc(es, compareExec)
}

func compareExec(x, y []int32) int {
	if len(x) == 0 || len(y) == 0 {
		return cmp.Compare(len(x), len(y))
	}
	return cmp.Compare(x[0], y[0])
}

// Regroup deals a component's tasks to n executors round robin (task i to executor
// i mod n), exactly as topology.NewLayout does for a component's parallelism; n is capped
// at the number of tasks. It is how a rebalance's executor override regroups tasks.
func Regroup(tasks []int32, n int) [][]int32 {
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

// EffectiveExecutors returns the topology's executors with its rebalance overrides
// applied: a component with an override has its sorted tasks regrouped into that many
// executors (see Regroup); the others keep theirs. Each executor's tasks come sorted and
// each component's executors are ordered by first task. It fails when the executors are
// malformed (an empty executor, a task id below 1 or used twice) or an override names an
// unknown component or asks for fewer than one executor.
func (t Topology) EffectiveExecutors() (map[string][][]int32, error) {
	var errs []error
	out := make(map[string][][]int32, len(t.Executors))
	ntasks := 0
	for _, execs := range t.Executors {
		for _, e := range execs {
			ntasks += len(e)
		}
	}
	owner := make(map[int32]string, ntasks)
	total := 0
	for _, comp := range slices.Sorted(maps.Keys(t.Executors)) {
		execs := t.Executors[comp]
		if comp == "" {
			errs = append(errs, errors.New("a component has an empty id"))
		}
		if len(execs) == 0 {
			errs = append(errs, fmt.Errorf("component %q has no executors", comp))
			continue
		}
		tasks := make([]int32, 0, 2*len(execs))
		for _, e := range execs {
			if len(e) == 0 {
				errs = append(errs, fmt.Errorf("component %q has an executor without tasks", comp))
			}
			for _, task := range e {
				if task < 1 {
					errs = append(errs, fmt.Errorf("component %q: task id %d is not positive", comp, task))
				} else if prev, dup := owner[task]; dup {
					errs = append(errs, fmt.Errorf("task %d belongs to both %q and %q", task, prev, comp))
				}
				owner[task] = comp
				tasks = append(tasks, task)
			}
		}
		if n, ok := t.ExecutorOverrides[comp]; ok {
			if n < 1 {
				errs = append(errs, fmt.Errorf("executor override for %q is %d; it must be at least 1", comp, n))
				continue
			}
			slices.Sort(tasks)
			out[comp] = Regroup(tasks, n)
		} else {
			out[comp] = cloneExecs(execs)
			sortExecs(out[comp])
		}
		total += len(out[comp])
	}
	for _, comp := range slices.Sorted(maps.Keys(t.ExecutorOverrides)) {
		if _, ok := t.Executors[comp]; !ok {
			errs = append(errs, fmt.Errorf("executor override names component %q, which the topology does not have", comp))
		}
	}
	if len(errs) == 0 && total == 0 {
		errs = append(errs, errors.New("the topology has no executors"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
