// Package worker is one worker process of a topology: the executors of its slot, the
// transport to its peers, and its stats. Where its assignment comes from (a file today,
// etcd with the cluster) is not its concern.
package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"

	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// Assignment is the one model of a placement, scheduler.Assignment: which worker runs
// which executors, and where each worker listens. Its JSON is the assignment file.
type Assignment = scheduler.Assignment

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
func Save(a *Assignment, path string) error {
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ApplyParallelism returns a copy of spec whose components have the executor counts of
// the parallelism map (component id -> executors); spec itself is not changed. A
// component's tasks are then dealt to its executors by topology.NewLayout with
// topology.Deal, the rule the scheduler regroups by, so that the worker derives the
// executors the scheduler placed. An unknown component, the acker, or a count below 1 is an error.
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

// Spread assigns the executors of every component round robin over the workers, so
// each component is spread as evenly as its parallelism allows. workers gives each
// worker's id (its Name) and address; executors are filled in.
func Spread(topologyID string, version int64, l *topology.Layout, workers []scheduler.WorkerSlot) *Assignment {
	a := &Assignment{TopologyID: topologyID, Version: version}
	for _, w := range workers {
		a.Workers = append(a.Workers, scheduler.WorkerSlot{Name: w.ID(), Supervisor: w.Supervisor, Host: w.Host, Port: w.Port})
	}
	comps := slices.Sorted(maps.Keys(l.Executors))
	next := 0
	for _, c := range comps {
		for _, ex := range l.Executors[c] {
			w := &a.Workers[next%len(a.Workers)]
			w.Executors = append(w.Executors, slices.Clone(ex))
			next++
		}
	}
	return a
}

// Static is a worker of a static assignment, one made without supervisors: its id and
// the host:port its transport listens on.
func Static(id, address string) scheduler.WorkerSlot {
	w := scheduler.WorkerSlot{Name: id, Host: address}
	if h, p, err := net.SplitHostPort(address); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			w.Host, w.Port = h, n
		}
	}
	return w
}
