package scheduler

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/sparsestream/sparse/pkg/topology"
)

// Assignment is where one topology's workers run: which supervisor slot each worker has
// and which executors it runs. It is the one model of a placement: Schedule makes it,
// nimbus stores it in etcd (its JSON, see MarshalJSON, is the record), supervisors read it
// back and hand the same JSON to each worker as its assignment file, and the next round
// of Schedule starts from it.
type Assignment struct {
	TopologyID string
	// Version changes whenever placement changes (a worker's slot, host or executors), and
	// only then; workers refuse peers that run another version. Nimbus keeps it rising
	// for a topology's whole life, across leaders and removals.
	Version int64
	// RequestedWorkers is the topology.workers this placement was made for. Fewer
	// workers are placed when slots are short, or when the topology has fewer executors.
	// It is 0 in a record written before records kept it (see KeepsRequest).
	RequestedWorkers int
	// Generation is the topology's rebalance generation this placement was made for.
	Generation int64
	// Parallelism is the executor overrides (component id -> executors) the placement was
	// made for, Topology.ExecutorOverrides: a worker of this version forms its executors
	// with them, so it derives the executors that were placed even while the topology
	// has moved on to a rebalance not placed yet. Schedule leaves it to the caller.
	Parallelism map[string]int
	// UpdatedAt is when this version was stored; Schedule leaves it zero.
	UpdatedAt time.Time
	// Workers are ordered by supervisor id, then port.
	Workers []WorkerSlot

	// tasksOnly: decoded from a record written before records kept executors, so each
	// worker's executors are its tasks one by one (see KeepsExecutors).
	tasksOnly bool
}

// WorkerSlot is one worker of an assignment: the supervisor slot it runs in and its
// executors (each a sorted list of task ids of one component, ordered by first task).
type WorkerSlot struct {
	// Name is the worker's id when it is not "<supervisor>:<port>": a static assignment
	// made without supervisors (a topology binary's assign command). Schedule leaves it
	// empty.
	Name       string
	Supervisor string
	Host       string
	Port       int
	Executors  [][]int32
}

// ID is the worker's id within its assignment, "<supervisor-id>:<port>" (or its Name):
// stable for as long as the worker keeps its slot, and unique because a slot runs one
// worker.
func (w WorkerSlot) ID() string {
	if w.Name != "" {
		return w.Name
	}
	return w.Supervisor + ":" + strconv.Itoa(w.Port)
}

// Address is where the worker's transport listens, host:port.
func (w WorkerSlot) Address() string {
	if w.Host == "" && w.Port == 0 {
		return ""
	}
	return net.JoinHostPort(w.Host, strconv.Itoa(w.Port))
}

// Tasks returns the worker's task ids, sorted.
func (w WorkerSlot) Tasks() []int32 {
	var ts []int32
	for _, e := range w.Executors {
		ts = append(ts, e...)
	}
	slices.Sort(ts)
	return ts
}

// Worker returns the worker with the given id.
func (a *Assignment) Worker(id string) (*WorkerSlot, bool) {
	for i := range a.Workers {
		if a.Workers[i].ID() == id {
			return &a.Workers[i], true
		}
	}
	return nil, false
}

// OnSupervisor returns the workers placed on one supervisor.
func (a *Assignment) OnSupervisor(id string) []WorkerSlot {
	var out []WorkerSlot
	for _, w := range a.Workers {
		if w.Supervisor == id {
			out = append(out, w)
		}
	}
	return out
}

// KeepsRequest reports whether the assignment says what its placement was made for
// (RequestedWorkers, Generation and Parallelism). A record written before those fields
// existed does not: its RequestedWorkers is 0, and its readers take the three from the
// topology instead.
func (a *Assignment) KeepsRequest() bool { return a.RequestedWorkers > 0 }

// KeepsExecutors reports whether the workers' executors are known. A record written
// before records kept executors has only each worker's tasks: they read as one executor
// per task, and a reader that needs the real executors groups them by the topology's.
func (a *Assignment) KeepsExecutors() bool { return !a.tasksOnly }

// Validate checks the assignment's own consistency. It does not know the topology's
// layout: a worker checks the tasks against its own.
func (a *Assignment) Validate() error {
	var errs []error
	if a.TopologyID == "" {
		errs = append(errs, errors.New("the assignment has no topology id"))
	}
	if a.Version < 1 {
		errs = append(errs, fmt.Errorf("version %d is not positive", a.Version))
	}
	if a.RequestedWorkers < 0 {
		errs = append(errs, fmt.Errorf("requested workers %d is negative", a.RequestedWorkers))
	}
	if a.Generation < 0 {
		errs = append(errs, fmt.Errorf("generation %d is negative", a.Generation))
	}
	for _, c := range slices.Sorted(maps.Keys(a.Parallelism)) {
		if n := a.Parallelism[c]; n < 1 {
			errs = append(errs, fmt.Errorf("parallelism of %q is %d; it must be at least 1", c, n))
		}
	}
	ids := make(map[string]bool, len(a.Workers))
	slots := make(map[string]bool, len(a.Workers))
	for _, w := range a.Workers {
		id := w.ID()
		switch {
		case w.Name == "" && w.Supervisor == "":
			errs = append(errs, fmt.Errorf("the worker at %q has no id", w.Address()))
		case ids[id]:
			errs = append(errs, fmt.Errorf("worker id %q is used twice", id))
		}
		ids[id] = true
		if w.Port < 0 || w.Port > 65535 {
			errs = append(errs, fmt.Errorf("worker %q: port %d is not in 0..65535", id, w.Port))
		}
		if w.Supervisor != "" && w.Port != 0 {
			slot := w.Supervisor + ":" + strconv.Itoa(w.Port)
			if slots[slot] {
				errs = append(errs, fmt.Errorf("worker %q: slot %d of supervisor %q is assigned twice", id, w.Port, w.Supervisor))
			}
			slots[slot] = true
		}
	}
	return errors.Join(errs...)
}

// Clone returns a deep copy.
func (a Assignment) Clone() Assignment {
	if a.Parallelism != nil {
		a.Parallelism = maps.Clone(a.Parallelism)
	}
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

// isCanonical reports whether the assignment is ordered as canonical makes it, with no
// ties (two workers in one slot, two executors with one first task) whose order a sort
// might change.
func (a *Assignment) isCanonical() bool {
	for i, w := range a.Workers {
		if i > 0 && compareSlots(a.Workers[i-1], w) >= 0 {
			return false
		}
		for j, e := range w.Executors {
			if !slices.IsSorted(e) || (j > 0 && compareExec(w.Executors[j-1], e) >= 0) {
				return false
			}
		}
	}
	return true
}

// samePlacement reports whether two canonical assignments put the same executors in the
// same slots on the same hosts.
func samePlacement(a, b Assignment) bool {
	return slices.EqualFunc(a.Workers, b.Workers, func(x, y WorkerSlot) bool {
		return x.Supervisor == y.Supervisor && x.Port == y.Port && x.Host == y.Host &&
			slices.EqualFunc(x.Executors, y.Executors, slices.Equal)
	})
}

// sameRequest reports whether two assignments were made for the same topology and
// request (workers and generation). With samePlacement, and so the same version, they
// are equal in every field Schedule sets.
func sameRequest(a, b Assignment) bool {
	return a.TopologyID == b.TopologyID && a.RequestedWorkers == b.RequestedWorkers && a.Generation == b.Generation
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
// i mod n), with topology.Deal, the rule topology.NewLayout forms a component's executors
// by; n is capped at the number of tasks. It is how a rebalance's executor override
// regroups tasks.
func Regroup(tasks []int32, n int) [][]int32 { return topology.Deal(tasks, n) }

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

// CheckLayout checks the assignment against a topology's layout, as a worker does
// before it runs: every task assigned exactly once, whole executors of the layout per
// worker, unique worker ids and addresses. (The layout's executors are formed with
// topology.Deal, as the scheduler's are, so a worker forms the executors that were
// placed.)
func (a *Assignment) CheckLayout(l *topology.Layout) error {
	var errs []error
	if a.TopologyID == "" {
		errs = append(errs, errors.New("the assignment has no topology_id"))
	}
	owner := map[int32]string{}
	ids, addrs := map[string]bool{}, map[string]bool{}
	for _, w := range a.Workers {
		id, addr := w.ID(), w.Address()
		if ids[id] {
			errs = append(errs, fmt.Errorf("worker id %q is used twice", id))
		}
		if addr == "" || addrs[addr] {
			errs = append(errs, fmt.Errorf("worker %q: address %q is empty or used twice", id, addr))
		}
		ids[id], addrs[addr] = true, true
		for _, e := range w.Executors {
			for _, t := range e {
				if l.TaskComponent(t) == "" {
					errs = append(errs, fmt.Errorf("worker %q: task %d does not exist (the topology has tasks 1..%d)", id, t, l.NumTasks()))
					continue
				}
				if prev, dup := owner[t]; dup {
					errs = append(errs, fmt.Errorf("task %d is assigned to both %q and %q", t, prev, id))
				}
				owner[t] = id
			}
		}
	}
	for _, comp := range slices.Sorted(maps.Keys(l.Executors)) {
		for _, ex := range l.Executors[comp] {
			for _, t := range ex {
				if owner[t] == "" {
					errs = append(errs, fmt.Errorf("task %d (%s) is assigned to no worker", t, comp))
				} else if owner[t] != owner[ex[0]] {
					errs = append(errs, fmt.Errorf("tasks %v of %s form one executor but are split between workers %q and %q", ex, comp, owner[ex[0]], owner[t]))
				}
			}
		}
	}
	return errors.Join(errs...)
}
