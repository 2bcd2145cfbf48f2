package scheduler_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
)

// comp is a component fixture: its id, executors and tasks.
type comp struct {
	id               string
	parallel, ntasks int
}

// layoutOf numbers the tasks of a spec made of comps, as a worker would.
func layoutOf(ackers int, comps ...comp) *topology.Layout {
	s := &topology.Spec{Name: "fixture"}
	for _, c := range comps {
		s.Components = append(s.Components, &topology.ComponentSpec{ID: c.id, Kind: topology.KindBolt, Parallelism: c.parallel, Tasks: c.ntasks})
	}
	return topology.NewLayout(s, ackers)
}

// wordcount is a typical layout: 13 executors over 4 components.
func wordcount() *topology.Layout {
	return layoutOf(3, comp{"words", 4, 4}, comp{"split", 4, 8}, comp{"count", 2, 2})
}

func topo(id string, workers int, l *topology.Layout) scheduler.Topology {
	execs := map[string][][]int32{}
	for c, es := range l.Executors {
		execs[c] = slices.Clone(es)
	}
	return scheduler.Topology{ID: id, Status: scheduler.Active, Workers: workers, Executors: execs}
}

// sups makes n live supervisors "s1".."sn" with slots ports 6700.. on hosts 10.0.0.i.
func sups(n, slots int) []scheduler.Supervisor {
	var out []scheduler.Supervisor
	for i := 1; i <= n; i++ {
		s := scheduler.Supervisor{ID: fmt.Sprintf("s%d", i), Host: fmt.Sprintf("10.0.0.%d", i), Alive: true}
		for p := range slots {
			s.Slots = append(s.Slots, 6700+p)
		}
		out = append(out, s)
	}
	return out
}

// fixture is a cluster plus the layouts its topologies run with.
type fixture struct {
	cluster scheduler.Cluster
	layouts map[string]*topology.Layout
}

func newFixture(s []scheduler.Supervisor) *fixture {
	return &fixture{cluster: scheduler.Cluster{Supervisors: s}, layouts: map[string]*topology.Layout{}}
}

func (f *fixture) add(id string, workers int, l *topology.Layout) *fixture {
	f.cluster.Topologies = append(f.cluster.Topologies, topo(id, workers, l))
	f.layouts[id] = l
	return f
}

func (f *fixture) topology(id string) *scheduler.Topology {
	for i := range f.cluster.Topologies {
		if f.cluster.Topologies[i].ID == id {
			return &f.cluster.Topologies[i]
		}
	}
	return nil
}

func (f *fixture) supervisor(id string) *scheduler.Supervisor {
	for i := range f.cluster.Supervisors {
		if f.cluster.Supervisors[i].ID == id {
			return &f.cluster.Supervisors[i]
		}
	}
	return nil
}

// schedule runs a round, checks the result's invariants, and makes it the current state.
func (f *fixture) schedule(t *testing.T) scheduler.Result {
	t.Helper()
	res, err := scheduler.Schedule(f.cluster)
	if err != nil {
		t.Fatalf("Schedule: %v", err)
	}
	checkResult(t, f, res)
	f.cluster.Assignments = maps.Clone(res.Assignments)
	return res
}

// checkResult checks what must hold of any round: every assignment passes Validate
// against its topology's layout (with the effective executors), uses only usable slots,
// no slot is used twice, unchanged assignments keep their version, and scheduling the
// result again changes nothing.
func checkResult(t *testing.T, f *fixture, res scheduler.Result) {
	t.Helper()
	usable := map[string]bool{}
	for _, s := range f.cluster.Supervisors {
		if !s.Alive {
			continue
		}
		for _, p := range s.Slots {
			if !slices.Contains(s.Unhealthy, p) {
				usable[fmt.Sprintf("%s:%d", s.ID, p)] = true
			}
		}
	}
	used := map[string]string{}
	for _, id := range slices.Sorted(maps.Keys(res.Assignments)) {
		a := res.Assignments[id]
		if a.TopologyID != id {
			t.Errorf("assignment filed under %q is for %q", id, a.TopologyID)
		}
		tp := f.topology(id)
		if tp == nil {
			t.Errorf("assignment for unknown topology %q", id)
			continue
		}
		execs, err := tp.EffectiveExecutors()
		if err != nil {
			continue // malformed: its assignment is left as it was
		}
		l := *f.layouts[id]
		l.Executors = execs
		if err := a.CheckLayout(&l); err != nil {
			t.Errorf("%s: assignment does not validate: %v\n%+v", id, err, a)
		}
		if len(a.Workers) > max(tp.Workers, 1) {
			t.Errorf("%s: %d workers, asked for %d", id, len(a.Workers), tp.Workers)
		}
		for _, w := range a.Workers {
			if !usable[w.ID()] {
				t.Errorf("%s: worker %s is not on a usable slot", id, w.ID())
			}
			if prev, dup := used[w.ID()]; dup {
				t.Errorf("slot %s is used by %s and %s", w.ID(), prev, id)
			}
			used[w.ID()] = id
			if len(w.Executors) == 0 {
				t.Errorf("%s: worker %s has no executors", id, w.ID())
			}
		}
		if cur, ok := f.cluster.Assignments[id]; ok {
			same := placement(cur) == placement(a)
			if same && a.Version != cur.Version {
				t.Errorf("%s: placement unchanged but version %d -> %d", id, cur.Version, a.Version)
			}
			if !same && a.Version != cur.Version+1 {
				t.Errorf("%s: placement changed but version %d -> %d", id, cur.Version, a.Version)
			}
		} else if a.Version != 1 {
			t.Errorf("%s: new assignment has version %d", id, a.Version)
		}
	}
	if !slices.IsSorted(res.Changed) || !slices.IsSorted(res.Removed) {
		t.Errorf("Changed %v or Removed %v is not sorted", res.Changed, res.Removed)
	}

	again := f.cluster
	again.Assignments = maps.Clone(res.Assignments)
	res2, err := scheduler.Schedule(again)
	if err != nil {
		t.Fatalf("Schedule again: %v", err)
	}
	if len(res2.Changed) != 0 || len(res2.Removed) != 0 {
		t.Errorf("scheduling the result again changed %v and removed %v", res2.Changed, res2.Removed)
	}
	for _, id := range slices.Sorted(maps.Keys(res.Assignments)) {
		if placement(res.Assignments[id]) != placement(res2.Assignments[id]) || res.Assignments[id].Version != res2.Assignments[id].Version {
			t.Errorf("%s: not stable:\n%+v\n%+v", id, res.Assignments[id], res2.Assignments[id])
		}
	}
	if !maps.Equal(res.Reasons, res2.Reasons) {
		t.Errorf("reasons changed when scheduling again:\n%v\n%v", res.Reasons, res2.Reasons)
	}
}

// placement renders an assignment's placement (slots, hosts, executors) as a string.
func placement(a scheduler.Assignment) string {
	ws := slices.Clone(a.Workers)
	slices.SortFunc(ws, func(x, y scheduler.WorkerSlot) int {
		if x.Supervisor != y.Supervisor {
			if x.Supervisor < y.Supervisor {
				return -1
			}
			return 1
		}
		return x.Port - y.Port
	})
	s := ""
	for _, w := range ws {
		s += fmt.Sprintf("%s@%s%v ", w.ID(), w.Host, w.Executors)
	}
	return s
}

// worker returns the worker of a in a slot.
func workerAt(a scheduler.Assignment, id string) (scheduler.WorkerSlot, bool) {
	for _, w := range a.Workers {
		if w.ID() == id {
			return w, true
		}
	}
	return scheduler.WorkerSlot{}, false
}

// perSupervisor counts a's workers per supervisor.
func perSupervisor(as ...scheduler.Assignment) map[string]int {
	m := map[string]int{}
	for _, a := range as {
		for _, w := range a.Workers {
			m[w.Supervisor]++
		}
	}
	return m
}

// checkEven checks that a's workers' executor counts, in total and per component, differ
// by at most one.
func checkEven(t *testing.T, a scheduler.Assignment, l *topology.Layout) {
	t.Helper()
	total := map[string]int{}
	perComp := map[string]map[string]int{}
	for _, w := range a.Workers {
		total[w.ID()] = len(w.Executors)
		for _, e := range w.Executors {
			c := l.TaskComponent(e[0])
			if perComp[c] == nil {
				perComp[c] = map[string]int{}
			}
			perComp[c][w.ID()]++
		}
	}
	spreadOK := func(what string, m map[string]int) {
		lo, hi := 1<<30, 0
		for _, w := range a.Workers {
			lo, hi = min(lo, m[w.ID()]), max(hi, m[w.ID()])
		}
		if hi-lo > 1 {
			t.Errorf("%s: executors per worker range from %d to %d: %v", what, lo, hi, m)
		}
	}
	spreadOK("all components", total)
	for c, m := range perComp {
		spreadOK(c, m)
	}
}
