package scheduler_test

import (
	"cmp"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sparsestream/sparse/pkg/scheduler"
)

// remap returns a deep copy of c with every task id passed through task and, when
// reverse is set, every list a round must not depend on the order of (an assignment's
// workers, a worker's executors, a component's executors, an executor's tasks)
// reversed.
func remap(c scheduler.Cluster, task func(int32) int32, reverse bool) scheduler.Cluster {
	execs := func(es [][]int32) [][]int32 {
		if es == nil {
			return nil
		}
		out := make([][]int32, len(es))
		for i, e := range es {
			out[i] = make([]int32, len(e))
			for j, t := range e {
				out[i][j] = task(t)
			}
			if reverse {
				slices.Reverse(out[i])
			}
		}
		if reverse {
			slices.Reverse(out)
		}
		return out
	}
	out := scheduler.Cluster{Assignments: map[string]scheduler.Assignment{}}
	for _, s := range c.Supervisors {
		s.Slots, s.Unhealthy = slices.Clone(s.Slots), slices.Clone(s.Unhealthy)
		out.Supervisors = append(out.Supervisors, s)
	}
	for _, t := range c.Topologies {
		ex := map[string][][]int32{}
		for comp, es := range t.Executors {
			ex[comp] = execs(es)
		}
		t.Executors, t.ExecutorOverrides = ex, maps.Clone(t.ExecutorOverrides)
		out.Topologies = append(out.Topologies, t)
	}
	for id, a := range c.Assignments {
		a.Parallelism = maps.Clone(a.Parallelism)
		a.Workers = slices.Clone(a.Workers)
		for i := range a.Workers {
			a.Workers[i].Executors = execs(a.Workers[i].Executors)
		}
		if reverse {
			slices.Reverse(a.Workers)
		}
		out.Assignments[id] = a
	}
	return out
}

// remapResult is remap's task mapping applied to a result.
func remapResult(res scheduler.Result, task func(int32) int32) scheduler.Result {
	c := remap(scheduler.Cluster{Assignments: res.Assignments}, task, false)
	res.Assignments = c.Assignments
	return res
}

// TestFastPathsMatchSlowPaths changes one input at a time and checks that a round which
// reads the input in place (canonical assignments, sorted executors, task ids indexed by
// array) gives exactly the result of the paths that copy and sort the input (every list
// reversed) and that look task ids up the slow way (ids above the indexed range), that it
// leaves its input as it was, and that its result shares no memory with the input.
func TestFastPathsMatchSlowPaths(t *testing.T) {
	base := func() scheduler.Cluster {
		f := newFixture(sups(5, 3)).
			add("a", 4, wordcount()).
			add("b", 3, layoutOf(1, comp{"x", 3, 6}, comp{"y", 5, 5})).
			add("c", 8, wordcount()). // two more than the slots left: degraded
			add("d", 2, layoutOf(0, comp{"z", 2, 4}))
		f.schedule(t)
		return f.cluster
	}
	assignment := func(c *scheduler.Cluster, id string) *scheduler.Assignment {
		a := c.Assignments[id].Clone()
		c.Assignments = maps.Clone(c.Assignments)
		c.Assignments[id] = a
		return &a
	}
	topology := func(c *scheduler.Cluster, id string) *scheduler.Topology {
		for i := range c.Topologies {
			if c.Topologies[i].ID == id {
				return &c.Topologies[i]
			}
		}
		t.Fatalf("no topology %q", id)
		return nil
	}
	tests := []struct {
		name   string
		change func(c *scheduler.Cluster)
	}{
		{"nothing", func(c *scheduler.Cluster) {}},
		{"a supervisor dies", func(c *scheduler.Cluster) { c.Supervisors[1].Alive = false }},
		{"two supervisors die", func(c *scheduler.Cluster) { c.Supervisors[0].Alive, c.Supervisors[3].Alive = false, false }},
		{"a slot is unhealthy", func(c *scheduler.Cluster) { c.Supervisors[2].Unhealthy = []int{6701} }},
		{"a supervisor changes host", func(c *scheduler.Cluster) { c.Supervisors[4].Host = "10.0.9.9" }},
		{"two supervisors share a host", func(c *scheduler.Cluster) { c.Supervisors[2].Host = c.Supervisors[0].Host }},
		{"a supervisor comes", func(c *scheduler.Cluster) { c.Supervisors = append(c.Supervisors, sups(6, 3)[5]) }},
		{"more workers", func(c *scheduler.Cluster) { topology(c, "b").Workers = 5 }},
		{"fewer workers", func(c *scheduler.Cluster) { topology(c, "a").Workers = 2 }},
		{"a rebalance generation", func(c *scheduler.Cluster) { topology(c, "c").Generation++ }},
		{"an executor override", func(c *scheduler.Cluster) { topology(c, "b").ExecutorOverrides = map[string]int{"x": 2} }},
		{"a bad executor override", func(c *scheduler.Cluster) { topology(c, "b").ExecutorOverrides = map[string]int{"nope": 2} }},
		{"an executor without tasks", func(c *scheduler.Cluster) {
			topology(c, "d").Executors = map[string][][]int32{"z": {{1, 2}, {}}}
		}},
		{"unsorted executors", func(c *scheduler.Cluster) {
			topology(c, "d").Executors = map[string][][]int32{"z": {{4, 2}, {3, 1}}}
		}},
		{"a topology is killed", func(c *scheduler.Cluster) { topology(c, "a").Status = scheduler.Killed }},
		{"a topology comes", func(c *scheduler.Cluster) { c.Topologies = append(c.Topologies, topo("e", 2, wordcount())) }},
		{"an assignment misses an executor", func(c *scheduler.Cluster) {
			a := assignment(c, "a")
			a.Workers[0].Executors = a.Workers[0].Executors[1:]
		}},
		{"an assignment names an executor twice", func(c *scheduler.Cluster) {
			a := assignment(c, "b")
			a.Workers[0].Executors[1] = a.Workers[1].Executors[0]
		}},
		{"an assignment has an empty worker", func(c *scheduler.Cluster) {
			a := assignment(c, "d")
			a.Workers = append(a.Workers, scheduler.WorkerSlot{Supervisor: "s5", Host: "10.0.0.5", Port: 6702})
		}},
		{"two assignments name one slot", func(c *scheduler.Cluster) {
			a, b := assignment(c, "a"), assignment(c, "c")
			b.Workers[0].Supervisor, b.Workers[0].Port, b.Workers[0].Host = a.Workers[0].Supervisor, a.Workers[0].Port, a.Workers[0].Host
		}},
		{"an assignment of a gone topology", func(c *scheduler.Cluster) {
			*assignment(c, "gone") = scheduler.Assignment{TopologyID: "gone", Version: 3, Workers: []scheduler.WorkerSlot{{Supervisor: "s1", Port: 6700, Executors: [][]int32{{1}}}}}
		}},
	}
	same := func(x int32) int32 { return x }
	const shift = 1 << 21 // above the ids a round indexes by array
	up := func(x int32) int32 { return x + shift }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.change(&c)
			snapshot := fmt.Sprintf("%#v", c)
			got, err := scheduler.Schedule(c)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%#v", c) != snapshot {
				t.Fatal("Schedule changed its input")
			}
			sorted, err := scheduler.Schedule(remap(c, same, true))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, sorted) {
				t.Errorf("reading the input in place gives\n%+v\nsorting a copy of it gives\n%+v", got, sorted)
			}
			slow, err := scheduler.Schedule(remap(c, up, false))
			if err != nil {
				t.Fatal(err)
			}
			if want := remapResult(got, up); !reflect.DeepEqual(want, slow) {
				t.Errorf("task ids indexed by array give\n%+v\nlooked up the slow way\n%+v", want, slow)
			}
			checkVersions(t, c, got)
			for _, a := range got.Assignments {
				for _, w := range a.Workers {
					for _, e := range w.Executors {
						e[0] = -1
					}
				}
			}
			if fmt.Sprintf("%#v", c) != snapshot {
				t.Error("the result shares memory with the input")
			}
		})
	}
}

// checkVersions checks, from scratch, that each result is canonical, keeps its version
// exactly when its placement is the current one, and is listed as changed exactly when
// it differs from the current one.
func checkVersions(t *testing.T, c scheduler.Cluster, res scheduler.Result) {
	t.Helper()
	canon := func(ws []scheduler.WorkerSlot) string {
		var out []string
		for _, w := range ws {
			var es []string
			for _, e := range w.Executors {
				if len(e) > 0 {
					es = append(es, fmt.Sprint(slices.Sorted(slices.Values(e))))
				}
			}
			slices.Sort(es) // by text: any fixed order does
			if len(es) > 0 {
				out = append(out, fmt.Sprintf("%s:%d@%s=%v", w.Supervisor, w.Port, w.Host, es))
			}
		}
		slices.Sort(out)
		return strings.Join(out, " ")
	}
	for id, a := range res.Assignments {
		if !slices.IsSortedFunc(a.Workers, func(x, y scheduler.WorkerSlot) int {
			return cmp.Or(cmp.Compare(x.Supervisor, y.Supervisor), cmp.Compare(x.Port, y.Port))
		}) {
			t.Errorf("%s: workers out of order: %+v", id, a.Workers)
		}
		for _, w := range a.Workers {
			if !slices.IsSortedFunc(w.Executors, func(x, y []int32) int { return cmp.Compare(x[0], y[0]) }) {
				t.Errorf("%s: executors of %s out of order: %v", id, w.ID(), w.Executors)
			}
		}
		cur, ok := c.Assignments[id]
		if !ok || strings.HasPrefix(res.Reasons[id], "cannot be scheduled") {
			continue // new, or left as it was
		}
		samePlace := canon(cur.Workers) == canon(a.Workers)
		want := cur.Version
		if !samePlace {
			want++
		}
		if a.Version != want {
			t.Errorf("%s: version %d, want %d (same placement: %v)", id, a.Version, want, samePlace)
		}
		changed := !samePlace || a.RequestedWorkers != cur.RequestedWorkers || a.Generation != cur.Generation || cur.TopologyID != id
		if slices.Contains(res.Changed, id) != changed {
			t.Errorf("%s: listed as changed: %v, changed: %v", id, !changed, changed)
		}
	}
}

// TestSteadyRoundKeepsEverything: a round over its own result changes nothing and
// gives back equal assignments, which share no memory with the ones it was given.
func TestSteadyRoundKeepsEverything(t *testing.T) {
	c := largeCluster()
	first, err := scheduler.Schedule(c)
	if err != nil {
		t.Fatal(err)
	}
	c.Assignments = first.Assignments
	again, err := scheduler.Schedule(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Changed) != 0 || len(again.Removed) != 0 {
		t.Fatalf("changed %v, removed %v", again.Changed, again.Removed)
	}
	if !reflect.DeepEqual(first.Assignments, again.Assignments) {
		t.Fatal("a steady round changed an assignment")
	}
	for id, a := range again.Assignments {
		if &a.Workers[0] == &first.Assignments[id].Workers[0] || &a.Workers[0].Executors[0][0] == &first.Assignments[id].Workers[0].Executors[0][0] {
			t.Fatalf("%s: the result shares memory with the input", id)
		}
	}
}

// TestMalformedTopologyReasons: whichever way a round finds a topology malformed, its
// reason is what EffectiveExecutors says.
func TestMalformedTopologyReasons(t *testing.T) {
	const big = 1<<21 + 1 // above the ids a round indexes by array
	tests := []struct {
		name      string
		execs     map[string][][]int32
		overrides map[string]int
	}{
		{"a task in two components", map[string][][]int32{"x": {{1}, {2}}, "y": {{2}, {3}}}, nil},
		{"a task twice in one executor", map[string][][]int32{"x": {{1, 1}}}, nil},
		{"a task id of zero", map[string][][]int32{"x": {{0}, {1}}}, nil},
		{"a negative task id", map[string][][]int32{"x": {{-4}}}, nil},
		{"a large task id twice", map[string][][]int32{"x": {{big}}, "y": {{big}}}, nil},
		{"an executor without tasks", map[string][][]int32{"x": {{1}, {}}}, nil},
		{"a component without executors", map[string][][]int32{"x": {{1}}, "y": {}}, nil},
		{"a component without id", map[string][][]int32{"": {{1}}}, nil},
		{"no executors", map[string][][]int32{}, nil},
		{"an override of an unknown component", map[string][][]int32{"x": {{1}}}, map[string]int{"y": 1}},
		{"an override of zero", map[string][][]int32{"x": {{1}, {2}}}, map[string]int{"x": 0}},
		{"several problems", map[string][][]int32{"x": {{1}, {1}}, "y": {{}}}, map[string]int{"z": -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := scheduler.Topology{ID: "t", Workers: 2, Executors: tt.execs, ExecutorOverrides: tt.overrides}
			_, want := tp.EffectiveExecutors()
			if want == nil {
				t.Fatal("EffectiveExecutors finds nothing wrong")
			}
			res, err := scheduler.Schedule(scheduler.Cluster{Supervisors: sups(2, 2), Topologies: []scheduler.Topology{tp}})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Reasons["t"]; !strings.Contains(got, strings.ReplaceAll(want.Error(), "\n", "; ")) {
				t.Errorf("reason %q does not say %q", got, want)
			}
			if len(res.Assignments) != 0 {
				t.Errorf("a malformed topology was assigned: %+v", res.Assignments)
			}
		})
	}
}
