// Package worker is one worker process of a topology: the executors of its slot, the
// transport to its peers, and its stats. Where its assignment comes from (a file today,
// etcd with the cluster) is not its concern.
package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// Assignment says which worker runs which tasks, and where each worker listens.
type Assignment struct {
	TopologyID string `json:"topology_id"`
	// Version changes whenever task placement changes; workers refuse peers that run
	// another version.
	Version int64      `json:"version"`
	Workers []Endpoint `json:"workers"`
	// Parallelism overrides the number of executors of some components (component id ->
	// executors), as a rebalance sets them. The tasks stay the same and are dealt to the
	// executors round robin, exactly as scheduler.Regroup does; the acker's executors
	// cannot be changed this way.
	Parallelism map[string]int `json:"parallelism,omitempty"`
}

// Endpoint is one worker of an assignment.
type Endpoint struct {
	ID      string  `json:"id"`
	Address string  `json:"address"` // host:port of its transport
	Tasks   []int32 `json:"tasks"`
}

// FromSchedule converts a scheduler's placement into what a worker process runs from.
// It lives here, not in the scheduler, so that the scheduler (and nimbus with it)
// does not link the worker and its engine.
func FromSchedule(a scheduler.Assignment) *Assignment {
	out := &Assignment{TopologyID: a.TopologyID, Version: a.Version, Workers: make([]Endpoint, 0, len(a.Workers))}
	for _, w := range a.Workers {
		out.Workers = append(out.Workers, Endpoint{ID: w.ID(), Address: w.Address(), Tasks: w.Tasks()})
	}
	return out
}

// Load reads an assignment from a JSON file.
func Load(path string) (*Assignment, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the assignment: %w", err)
	}
	var a Assignment
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("assignment %s is not valid JSON: %w", path, err)
	}
	return &a, nil
}

// Save writes an assignment as JSON.
func (a *Assignment) Save(path string) error {
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ApplyParallelism returns a copy of spec whose components have the executor counts of
// the parallelism map (component id -> executors); spec itself is not changed. A
// component's tasks are then dealt to its executors by topology.NewLayout, the same
// round robin as scheduler.Regroup, so that the worker derives the executors the
// scheduler placed. An unknown component, the acker, or a count below 1 is an error.
func ApplyParallelism(spec *topology.Spec, parallelism map[string]int) (*topology.Spec, error) {
	if len(parallelism) == 0 {
		return spec, nil
	}
	out := *spec
	out.Components = make([]*topology.ComponentSpec, len(spec.Components))
	for i, c := range spec.Components {
		cc := *c
		out.Components[i] = &cc
	}
	var errs []error
	ids := make([]string, 0, len(parallelism))
	for id := range parallelism {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		n := parallelism[id]
		c := out.Component(id)
		switch {
		case id == tuple.AckerID:
			errs = append(errs, fmt.Errorf("parallelism of %s: the acker's executors follow %s and cannot be overridden", id, topology.ConfAckerExecutors))
		case c == nil:
			errs = append(errs, fmt.Errorf("parallelism of %q: the topology has no such component", id))
		case n < 1:
			errs = append(errs, fmt.Errorf("parallelism of %q is %d; it must be at least 1", id, n))
		default:
			c.Parallelism = n
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("the assignment's parallelism does not fit topology %q: %w", spec.Name, err)
	}
	return &out, nil
}

// Worker returns a worker's endpoint.
func (a *Assignment) Worker(id string) (*Endpoint, bool) {
	for i := range a.Workers {
		if a.Workers[i].ID == id {
			return &a.Workers[i], true
		}
	}
	return nil, false
}

// Validate checks an assignment against a topology's layout: every task assigned exactly
// once, whole executors per worker, unique worker ids and addresses.
func (a *Assignment) Validate(l *topology.Layout) error {
	var errs []error
	if a.TopologyID == "" {
		errs = append(errs, errors.New("the assignment has no topology_id"))
	}
	owner := map[int32]string{}
	ids, addrs := map[string]bool{}, map[string]bool{}
	for _, w := range a.Workers {
		switch {
		case w.ID == "":
			errs = append(errs, errors.New("a worker has no id"))
		case ids[w.ID]:
			errs = append(errs, fmt.Errorf("worker id %q is used twice", w.ID))
		}
		if w.Address == "" || addrs[w.Address] {
			errs = append(errs, fmt.Errorf("worker %q: address %q is empty or used twice", w.ID, w.Address))
		}
		ids[w.ID], addrs[w.Address] = true, true
		for _, t := range w.Tasks {
			if l.TaskComponent(t) == "" {
				errs = append(errs, fmt.Errorf("worker %q: task %d does not exist (the topology has tasks 1..%d)", w.ID, t, l.NumTasks()))
				continue
			}
			if prev, dup := owner[t]; dup {
				errs = append(errs, fmt.Errorf("task %d is assigned to both %q and %q", t, prev, w.ID))
			}
			owner[t] = w.ID
		}
	}
	for comp, execs := range l.Executors {
		for _, ex := range execs {
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

// Spread assigns the executors of every component round robin over the workers, so
// each component is spread as evenly as its parallelism allows. addrs gives each
// worker's id and address; tasks are filled in.
func Spread(topologyID string, version int64, l *topology.Layout, addrs []Endpoint) *Assignment {
	a := &Assignment{TopologyID: topologyID, Version: version}
	for _, e := range addrs {
		a.Workers = append(a.Workers, Endpoint{ID: e.ID, Address: e.Address})
	}
	comps := make([]string, 0, len(l.Executors))
	for c := range l.Executors {
		comps = append(comps, c)
	}
	slices.Sort(comps)
	next := 0
	for _, c := range comps {
		for _, ex := range l.Executors[c] {
			w := &a.Workers[next%len(a.Workers)]
			w.Tasks = append(w.Tasks, ex...)
			next++
		}
	}
	for i := range a.Workers {
		slices.Sort(a.Workers[i].Tasks)
	}
	return a
}
