package scheduler_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
)

func TestFreshScheduleSpreadsEvenly(t *testing.T) {
	uneven := []scheduler.Supervisor{
		{ID: "big", Host: "h1", Alive: true, Slots: []int{1, 2, 3, 4, 5, 6, 7, 8}},
		{ID: "small", Host: "h2", Alive: true, Slots: []int{1, 2}},
	}
	tests := []struct {
		name     string
		sups     []scheduler.Supervisor
		workers  int
		layout   *topology.Layout
		perSup   map[string]int
		nWorkers int
	}{
		{"3 workers on 3 supervisors", sups(3, 4), 3, wordcount(), map[string]int{"s1": 1, "s2": 1, "s3": 1}, 3},
		{"4 workers on 2 supervisors", sups(2, 4), 4, wordcount(), map[string]int{"s1": 2, "s2": 2}, 4},
		{"5 workers on 3 supervisors", sups(3, 4), 5, wordcount(), map[string]int{"s1": 2, "s2": 2, "s3": 1}, 5},
		{"a big and a small supervisor", uneven, 4, wordcount(), map[string]int{"big": 2, "small": 2}, 4},
		{"one worker", sups(3, 4), 1, wordcount(), map[string]int{"s1": 1}, 1},
		{"more workers than executors", sups(3, 4), 5, layoutOf(0, comp{"a", 1, 1}, comp{"b", 1, 3}), map[string]int{"s1": 1, "s2": 1}, 2},
		{"no acker", sups(2, 2), 2, layoutOf(0, comp{"a", 3, 3}), map[string]int{"s1": 1, "s2": 1}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(tc.sups).add("t1", tc.workers, tc.layout)
			res := f.schedule(t)
			a, ok := res.Assignments["t1"]
			if !ok {
				t.Fatalf("no assignment; reasons %v", res.Reasons)
			}
			if len(a.Workers) != tc.nWorkers {
				t.Errorf("%d workers, want %d", len(a.Workers), tc.nWorkers)
			}
			if got := perSupervisor(a); !maps.Equal(got, tc.perSup) {
				t.Errorf("workers per supervisor %v, want %v", got, tc.perSup)
			}
			checkEven(t, a, tc.layout)
			if a.Version != 1 || a.RequestedWorkers != tc.workers {
				t.Errorf("version %d requested %d, want 1 and %d", a.Version, a.RequestedWorkers, tc.workers)
			}
			if !slices.Equal(res.Changed, []string{"t1"}) || len(res.Removed) != 0 || len(res.Reasons) != 0 {
				t.Errorf("changed %v removed %v reasons %v", res.Changed, res.Removed, res.Reasons)
			}
		})
	}
}

func TestIdempotent(t *testing.T) {
	f := newFixture(sups(4, 3)).add("a", 3, wordcount()).add("b", 5, wordcount()).add("c", 2, layoutOf(1, comp{"x", 2, 2}))
	first := f.schedule(t)
	for round := range 3 {
		res := f.schedule(t)
		if len(res.Changed) != 0 || len(res.Removed) != 0 {
			t.Fatalf("round %d changed %v removed %v", round, res.Changed, res.Removed)
		}
		if !reflect.DeepEqual(res.Assignments, first.Assignments) {
			t.Fatalf("round %d: assignments differ:\n%+v\n%+v", round, res.Assignments, first.Assignments)
		}
	}
}

func TestSupervisorDeathMovesOnlyItsWorkers(t *testing.T) {
	f := newFixture(sups(4, 2)).add("t1", 3, wordcount())
	before := f.schedule(t).Assignments["t1"]
	if got := perSupervisor(before); !maps.Equal(got, map[string]int{"s1": 1, "s2": 1, "s3": 1}) {
		t.Fatalf("placed %v", got)
	}
	lost, _ := workerAt(before, "s2:6700")

	f.supervisor("s2").Alive = false
	res := f.schedule(t)
	after := res.Assignments["t1"]
	if after.Version != before.Version+1 || !slices.Equal(res.Changed, []string{"t1"}) {
		t.Errorf("version %d -> %d, changed %v", before.Version, after.Version, res.Changed)
	}
	for _, id := range []string{"s1:6700", "s3:6700"} {
		b, _ := workerAt(before, id)
		a, ok := workerAt(after, id)
		if !ok || !reflect.DeepEqual(a, b) {
			t.Errorf("worker %s moved or changed: %+v -> %+v", id, b, a)
		}
	}
	moved, ok := workerAt(after, "s4:6700")
	if !ok || !reflect.DeepEqual(moved.Executors, lost.Executors) {
		t.Errorf("s2's worker should move whole to s4:6700; got %+v", after.Workers)
	}
	if len(res.Reasons) != 0 {
		t.Errorf("reasons %v", res.Reasons)
	}

	// The supervisor coming back changes nothing.
	f.supervisor("s2").Alive = true
	if res := f.schedule(t); len(res.Changed) != 0 {
		t.Errorf("revived supervisor changed %v", res.Changed)
	}
}

func TestSupervisorDeathMovesEachWorkerWhole(t *testing.T) {
	f := newFixture(sups(3, 2)).add("t1", 4, wordcount())
	before := f.schedule(t).Assignments["t1"]
	if got := perSupervisor(before); !maps.Equal(got, map[string]int{"s1": 2, "s2": 1, "s3": 1}) {
		t.Fatalf("placed %v", got)
	}
	f.supervisor("s1").Alive = false
	after := f.schedule(t).Assignments["t1"]
	if got := perSupervisor(after); !maps.Equal(got, map[string]int{"s2": 2, "s3": 2}) {
		t.Fatalf("placed %v", got)
	}
	var lost, moved [][][]int32
	for _, w := range before.Workers {
		if w.Supervisor == "s1" {
			lost = append(lost, w.Executors)
		}
	}
	for _, w := range after.Workers {
		if _, ok := workerAt(before, w.ID()); !ok {
			moved = append(moved, w.Executors)
		}
	}
	if !reflect.DeepEqual(lost, moved) {
		t.Errorf("lost workers %v, moved workers %v", lost, moved)
	}
}

func TestUnhealthySlotMovesOnlyThatWorker(t *testing.T) {
	f := newFixture(sups(2, 3)).add("t1", 2, wordcount()).add("t2", 2, wordcount())
	before := f.schedule(t).Assignments
	bad, ok := workerAt(before["t1"], "s1:6700")
	if !ok {
		t.Fatalf("t1 is not on s1:6700: %+v", before["t1"])
	}
	f.supervisor("s1").Unhealthy = []int{6700}
	res := f.schedule(t)
	if !slices.Equal(res.Changed, []string{"t1"}) {
		t.Errorf("changed %v, want [t1]", res.Changed)
	}
	if !reflect.DeepEqual(res.Assignments["t2"], before["t2"]) {
		t.Errorf("t2 changed: %+v -> %+v", before["t2"], res.Assignments["t2"])
	}
	after := res.Assignments["t1"]
	if _, still := workerAt(after, "s1:6700"); still {
		t.Errorf("t1 still uses the unhealthy slot")
	}
	var moved []scheduler.WorkerSlot
	for _, w := range after.Workers {
		if b, ok := workerAt(before["t1"], w.ID()); ok {
			if !reflect.DeepEqual(b, w) {
				t.Errorf("worker %s changed: %+v -> %+v", w.ID(), b, w)
			}
		} else {
			moved = append(moved, w)
		}
	}
	if len(moved) != 1 || !reflect.DeepEqual(moved[0].Executors, bad.Executors) {
		t.Errorf("want exactly one moved worker with %v; got %+v", bad.Executors, moved)
	}
}

func TestNotEnoughSlotsRunsDegraded(t *testing.T) {
	t.Run("fresh", func(t *testing.T) {
		f := newFixture(sups(1, 2)).add("t1", 4, wordcount())
		res := f.schedule(t)
		a := res.Assignments["t1"]
		if len(a.Workers) != 2 {
			t.Fatalf("%d workers, want the 2 slots there are", len(a.Workers))
		}
		checkEven(t, a, wordcount())
		want := "needs 4 worker slots, got 2 (the cluster has 2 usable slots on 1 live supervisor, all in use); running degraded on 2 workers; add supervisors or slots, or lower topology.workers"
		if res.Reasons["t1"] != want {
			t.Errorf("reason %q\nwant   %q", res.Reasons["t1"], want)
		}
	})
	t.Run("supervisor lost and no free slot", func(t *testing.T) {
		f := newFixture(sups(3, 1)).add("t1", 3, wordcount())
		before := f.schedule(t).Assignments["t1"]
		f.supervisor("s3").Alive = false
		res := f.schedule(t)
		after := res.Assignments["t1"]
		if len(after.Workers) != 2 {
			t.Fatalf("%d workers, want 2", len(after.Workers))
		}
		for _, w := range after.Workers {
			b, _ := workerAt(before, w.ID())
			for _, e := range b.Executors {
				if !slices.ContainsFunc(w.Executors, func(x []int32) bool { return slices.Equal(x, e) }) {
					t.Errorf("worker %s lost its executor %v", w.ID(), e)
				}
			}
		}
		checkEven(t, after, wordcount())
		if r := res.Reasons["t1"]; !strings.Contains(r, "needs 3 worker slots, got 2") || !strings.Contains(r, "1 supervisor down") {
			t.Errorf("reason %q", r)
		}
		// A slot appearing lets it grow back to 3 workers, evenly.
		f.cluster.Supervisors = append(f.cluster.Supervisors, sups(4, 1)[3])
		res = f.schedule(t)
		if a := res.Assignments["t1"]; len(a.Workers) != 3 || len(res.Reasons) != 0 {
			t.Errorf("did not grow back: %+v, reasons %v", a, res.Reasons)
		} else {
			checkEven(t, a, wordcount())
		}
	})
}

func TestZeroSlotsWaits(t *testing.T) {
	t.Run("no supervisor", func(t *testing.T) {
		f := newFixture(nil).add("t1", 2, wordcount())
		res := f.schedule(t)
		if _, ok := res.Assignments["t1"]; ok || len(res.Changed) != 0 {
			t.Errorf("assigned with no slots: %+v", res)
		}
		want := "needs 2 worker slots, got none (the cluster has no usable slot; 0 supervisors live); waiting for a free slot; add supervisors or slots, or kill a topology to free its slots"
		if res.Reasons["t1"] != want {
			t.Errorf("reason %q\nwant   %q", res.Reasons["t1"], want)
		}
	})
	t.Run("all slots taken", func(t *testing.T) {
		f := newFixture(sups(2, 1)).add("a", 2, wordcount())
		f.schedule(t)
		f.add("b", 1, wordcount())
		res := f.schedule(t)
		if _, ok := res.Assignments["b"]; ok || len(res.Changed) != 0 {
			t.Errorf("b assigned or a changed: %+v", res)
		}
		if r := res.Reasons["b"]; !strings.Contains(r, "needs 1 worker slot, got none (the cluster has 2 usable slots on 2 live supervisors, all in use)") {
			t.Errorf("reason %q", r)
		}
	})
	t.Run("every worker lost", func(t *testing.T) {
		f := newFixture(sups(1, 2)).add("t1", 2, wordcount())
		f.schedule(t)
		f.supervisor("s1").Alive = false
		res := f.schedule(t)
		if !slices.Equal(res.Removed, []string{"t1"}) || len(res.Assignments) != 0 {
			t.Errorf("removed %v assignments %v", res.Removed, res.Assignments)
		}
		if !strings.Contains(res.Reasons["t1"], "waiting") {
			t.Errorf("reason %q", res.Reasons["t1"])
		}
	})
}

func TestKilledTopologyFreesItsSlots(t *testing.T) {
	f := newFixture(sups(2, 2)).add("a", 4, wordcount()).add("b", 2, wordcount())
	// a was there first and holds every slot.
	f.cluster.Topologies = f.cluster.Topologies[:1]
	f.schedule(t)
	f.add("b", 2, wordcount())
	res := f.schedule(t)
	if _, ok := res.Assignments["b"]; ok || res.Reasons["b"] == "" {
		t.Fatalf("b should wait: %+v", res)
	}
	f.topology("a").Status = scheduler.Killed
	res = f.schedule(t)
	if !slices.Equal(res.Removed, []string{"a"}) || !slices.Equal(res.Changed, []string{"b"}) {
		t.Errorf("removed %v changed %v", res.Removed, res.Changed)
	}
	if _, ok := res.Assignments["a"]; ok {
		t.Errorf("killed topology still assigned")
	}
	if b := res.Assignments["b"]; !maps.Equal(perSupervisor(b), map[string]int{"s1": 1, "s2": 1}) || len(res.Reasons) != 0 {
		t.Errorf("b: %+v, reasons %v", b, res.Reasons)
	}
	// An assignment whose topology is gone altogether is removed too.
	f.cluster.Assignments["ghost"] = scheduler.Assignment{TopologyID: "ghost", Version: 3}
	if res := f.schedule(t); !slices.Equal(res.Removed, []string{"ghost"}) {
		t.Errorf("removed %v", res.Removed)
	}
}

func TestRebalanceWorkers(t *testing.T) {
	f := newFixture(sups(3, 4)).add("t1", 2, wordcount())
	before := f.schedule(t).Assignments["t1"]
	f.topology("t1").Workers = 3
	res := f.schedule(t)
	after := res.Assignments["t1"]
	if after.Version != before.Version+1 || after.RequestedWorkers != 3 || !slices.Equal(res.Changed, []string{"t1"}) {
		t.Errorf("version %d -> %d, requested %d, changed %v", before.Version, after.Version, after.RequestedWorkers, res.Changed)
	}
	if got := perSupervisor(after); !maps.Equal(got, map[string]int{"s1": 1, "s2": 1, "s3": 1}) {
		t.Errorf("per supervisor %v", got)
	}
	for _, w := range before.Workers {
		if _, ok := workerAt(after, w.ID()); !ok {
			t.Errorf("old slot %s not reused", w.ID())
		}
	}
	checkEven(t, after, wordcount())

	// And back to 2.
	f.topology("t1").Workers = 2
	res = f.schedule(t)
	if a := res.Assignments["t1"]; len(a.Workers) != 2 || a.Version != after.Version+1 {
		t.Errorf("shrink: %+v", a)
	}

	// Asking for more workers than there are executors changes the request, not the placement.
	f = newFixture(sups(3, 4)).add("t1", 2, layoutOf(0, comp{"a", 2, 2}))
	before = f.schedule(t).Assignments["t1"]
	f.topology("t1").Workers = 5
	res = f.schedule(t)
	if a := res.Assignments["t1"]; a.Version != before.Version || a.RequestedWorkers != 5 || !slices.Equal(res.Changed, []string{"t1"}) {
		t.Errorf("more workers than executors: %+v, changed %v", a, res.Changed)
	}
}

func TestExecutorOverrideRegroupsTasks(t *testing.T) {
	tests := []struct {
		name      string
		override  int
		parallel  int // the layout NewLayout would give for split
		executors int
	}{
		{"fewer", 2, 2, 2},
		{"more", 8, 8, 8},
		{"capped at the tasks", 20, 8, 8},
		{"one", 1, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(sups(3, 2)).add("t1", 3, wordcount())
			before := f.schedule(t).Assignments["t1"]
			f.topology("t1").ExecutorOverrides = map[string]int{"split": tc.override}
			res := f.schedule(t)
			after := res.Assignments["t1"]
			if after.Version != before.Version+1 {
				t.Errorf("version %d -> %d", before.Version, after.Version)
			}
			want := layoutOf(3, comp{"words", 4, 4}, comp{"split", tc.parallel, 8}, comp{"count", 2, 2})
			execs, err := f.topology("t1").EffectiveExecutors()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(execs, want.Executors) || len(execs["split"]) != tc.executors {
				t.Errorf("effective executors %v\nwant %v", execs, want.Executors)
			}
			if err := after.CheckLayout(want); err != nil {
				t.Errorf("does not fit the regrouped layout: %v", err)
			}
			checkEven(t, after, want)
		})
	}
}

func TestTwoTopologiesShareSupervisorsFairly(t *testing.T) {
	t.Run("enough slots", func(t *testing.T) {
		f := newFixture(sups(2, 3)).add("a", 3, wordcount()).add("b", 3, wordcount())
		res := f.schedule(t)
		a, b := res.Assignments["a"], res.Assignments["b"]
		if len(a.Workers) != 3 || len(b.Workers) != 3 {
			t.Fatalf("a %d workers, b %d", len(a.Workers), len(b.Workers))
		}
		if got := perSupervisor(a, b); !maps.Equal(got, map[string]int{"s1": 3, "s2": 3}) {
			t.Errorf("per supervisor %v", got)
		}
		for _, x := range []scheduler.Assignment{a, b} {
			if got := perSupervisor(x); len(got) != 2 {
				t.Errorf("%s is not spread: %v", x.TopologyID, got)
			}
		}
	})
	t.Run("short of slots", func(t *testing.T) {
		f := newFixture(sups(2, 2)).add("a", 4, wordcount()).add("b", 4, wordcount())
		res := f.schedule(t)
		a, b := res.Assignments["a"], res.Assignments["b"]
		if len(a.Workers) != 2 || len(b.Workers) != 2 {
			t.Errorf("a %d workers, b %d; want 2 each", len(a.Workers), len(b.Workers))
		}
		if got := perSupervisor(a); len(got) != 2 {
			t.Errorf("a is not spread: %v", got)
		}
		if len(res.Reasons) != 2 {
			t.Errorf("reasons %v", res.Reasons)
		}
	})
	t.Run("a new topology gets a slot before a degraded one grows", func(t *testing.T) {
		f := newFixture(sups(1, 2)).add("a", 4, wordcount())
		f.schedule(t)
		f.cluster.Supervisors = sups(2, 2)
		f.add("b", 1, wordcount())
		res := f.schedule(t)
		if len(res.Assignments["a"].Workers) != 3 || len(res.Assignments["b"].Workers) != 1 {
			t.Errorf("a %d workers, b %d; want 3 and 1", len(res.Assignments["a"].Workers), len(res.Assignments["b"].Workers))
		}
	})
}

func TestGenerationRespreads(t *testing.T) {
	f := newFixture(sups(2, 4)).add("t1", 4, wordcount())
	before := f.schedule(t).Assignments["t1"]
	f.cluster.Supervisors = sups(4, 4)
	if res := f.schedule(t); len(res.Changed) != 0 {
		t.Fatalf("new supervisors alone moved %v", res.Changed)
	}
	f.topology("t1").Generation = 1
	res := f.schedule(t)
	after := res.Assignments["t1"]
	if got := perSupervisor(after); !maps.Equal(got, map[string]int{"s1": 1, "s2": 1, "s3": 1, "s4": 1}) {
		t.Errorf("per supervisor %v", got)
	}
	if after.Version != before.Version+1 || after.Generation != 1 {
		t.Errorf("version %d generation %d", after.Version, after.Generation)
	}
}

func TestHostChangeBumpsVersion(t *testing.T) {
	f := newFixture(sups(2, 1)).add("t1", 2, wordcount())
	before := f.schedule(t).Assignments["t1"]
	f.supervisor("s2").Host = "10.9.9.9"
	res := f.schedule(t)
	after := res.Assignments["t1"]
	w, _ := workerAt(after, "s2:6700")
	if after.Version != before.Version+1 || w.Host != "10.9.9.9" {
		t.Errorf("version %d -> %d, worker %+v", before.Version, after.Version, w)
	}
}

func TestMalformedInput(t *testing.T) {
	errCases := []struct {
		name string
		c    scheduler.Cluster
		want string
	}{
		{"duplicate supervisor", scheduler.Cluster{Supervisors: append(sups(1, 1), sups(1, 1)...)}, `supervisor id "s1" is used twice`},
		{"supervisor without id", scheduler.Cluster{Supervisors: []scheduler.Supervisor{{Host: "h"}}}, "has no id"},
		{"duplicate topology", scheduler.Cluster{Topologies: []scheduler.Topology{topo("a", 1, wordcount()), topo("a", 1, wordcount())}}, `topology id "a" is used twice`},
		{"misfiled assignment", scheduler.Cluster{Assignments: map[string]scheduler.Assignment{"a": {TopologyID: "b"}}}, `filed under "a" is for topology "b"`},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scheduler.Schedule(tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}

	topoCases := []struct {
		name   string
		mutate func(*scheduler.Topology)
		want   string
	}{
		{"unknown override", func(tp *scheduler.Topology) { tp.ExecutorOverrides = map[string]int{"nope": 2} }, `names component "nope"`},
		{"zero override", func(tp *scheduler.Topology) { tp.ExecutorOverrides = map[string]int{"split": 0} }, "at least 1"},
		{"task twice", func(tp *scheduler.Topology) { tp.Executors["count"] = [][]int32{{4}, {4}} }, "task 4 belongs to both"},
		{"empty executor", func(tp *scheduler.Topology) { tp.Executors["count"] = [][]int32{{}} }, "executor without tasks"},
		{"bad status", func(tp *scheduler.Topology) { tp.Status = "paused" }, `status "paused"`},
	}
	for _, tc := range topoCases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(sups(1, 2)).add("a", 2, wordcount())
			before := f.schedule(t).Assignments["a"]
			f.add("b", 1, wordcount())
			tc.mutate(f.topology("a"))
			res := f.schedule(t)
			if r := res.Reasons["a"]; !strings.Contains(r, tc.want) || !strings.Contains(r, "left as it is") {
				t.Errorf("reason %q, want it to contain %q", r, tc.want)
			}
			if !reflect.DeepEqual(res.Assignments["a"], before) || slices.Contains(res.Changed, "a") {
				t.Errorf("a's assignment was touched")
			}
			if _, ok := res.Assignments["b"]; ok {
				t.Errorf("b took a's slots")
			}
		})
	}

	t.Run("malformed without assignment", func(t *testing.T) {
		tp := topo("a", 1, wordcount())
		tp.Executors = nil
		res, err := scheduler.Schedule(scheduler.Cluster{Supervisors: sups(1, 1), Topologies: []scheduler.Topology{tp}})
		if err != nil || !strings.Contains(res.Reasons["a"], "no executors; it is not scheduled") || len(res.Assignments) != 0 {
			t.Errorf("err %v, result %+v", err, res)
		}
	})
}

func TestUnusableSlotsAreSkipped(t *testing.T) {
	s := []scheduler.Supervisor{
		{ID: "a", Host: "h", Alive: true, Slots: []int{6700, 6700, 0, 70000}},
		{ID: "b", Host: "h", Alive: true, Slots: []int{6700, 6701}}, // h:6700 is a's
		{ID: "c", Host: "", Alive: true, Slots: []int{6700}},
	}
	f := newFixture(s).add("t1", 5, wordcount())
	res := f.schedule(t)
	a := res.Assignments["t1"]
	var ids []string
	for _, w := range a.Workers {
		ids = append(ids, w.ID())
	}
	if !slices.Equal(ids, []string{"a:6700", "b:6701"}) {
		t.Errorf("workers %v, want [a:6700 b:6701]", ids)
	}
}

func TestDeterministic(t *testing.T) {
	f := newFixture(sups(5, 3)).add("a", 3, wordcount()).add("b", 4, wordcount()).add("c", 9, wordcount())
	want, err := scheduler.Schedule(f.cluster)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		c := f.cluster
		c.Supervisors = slices.Clone(c.Supervisors)
		c.Topologies = slices.Clone(c.Topologies)
		slices.Reverse(c.Supervisors)
		if i%2 == 0 {
			slices.Reverse(c.Topologies)
		}
		got, err := scheduler.Schedule(c)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("run %d differs: %v\n%+v\n%+v", i, err, got, want)
		}
	}
}

// TestAssignmentJSONIsAWorkerFile: the stored form of an assignment gives each worker
// the id, address and tasks a worker reads, and reads back as the same assignment.
func TestAssignmentJSONIsAWorkerFile(t *testing.T) {
	a := scheduler.Assignment{TopologyID: "t", Version: 7, Workers: []scheduler.WorkerSlot{
		{Supervisor: "s1", Host: "10.0.0.1", Port: 6700, Executors: [][]int32{{5, 3}, {1}}},
		{Supervisor: "s2", Host: "::1", Port: 6701, Executors: [][]int32{{2}, {4}}},
	}}
	type endpoint struct {
		ID      string  `json:"id"`
		Address string  `json:"address"`
		Tasks   []int32 `json:"tasks"`
	}
	type file struct {
		TopologyID string     `json:"topology_id"`
		Version    int64      `json:"version"`
		Workers    []endpoint `json:"workers"`
	}
	want := file{TopologyID: "t", Version: 7, Workers: []endpoint{
		{ID: "s1:6700", Address: "10.0.0.1:6700", Tasks: []int32{1, 3, 5}},
		{ID: "s2:6701", Address: "[::1]:6701", Tasks: []int32{2, 4}},
	}}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var got file
	if err := json.Unmarshal(b, &got); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("worker file = %+v (%v)\nwant %+v", got, err, want)
	}
	var back scheduler.Assignment
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, a) || !back.KeepsExecutors() {
		t.Errorf("read back %+v (%v)\nwant %+v", back, err, a)
	}
}

func TestRegroupMatchesLayout(t *testing.T) {
	for _, p := range []int{1, 2, 3, 5, 8, 12} {
		l := layoutOf(0, comp{"c", p, 8})
		if got := scheduler.Regroup(l.Tasks["c"], p); !reflect.DeepEqual(got, l.Executors["c"]) {
			t.Errorf("Regroup(%d) = %v, NewLayout gives %v", p, got, l.Executors["c"])
		}
	}
	if got := scheduler.Regroup(nil, 3); got != nil {
		t.Errorf("Regroup(nil) = %v", got)
	}
}

func TestDoesNotMutateInput(t *testing.T) {
	f := newFixture(sups(3, 2)).add("a", 3, wordcount()).add("b", 2, wordcount())
	f.schedule(t)
	f.supervisor("s1").Alive = false
	f.topology("b").ExecutorOverrides = map[string]int{"split": 3}
	snapshot := func() string { return fmt.Sprintf("%#v", f.cluster) }
	want := snapshot()
	res, err := scheduler.Schedule(f.cluster)
	if err != nil {
		t.Fatal(err)
	}
	if got := snapshot(); got != want {
		t.Errorf("Schedule changed its input:\n%s\n%s", want, got)
	}
	// Nor does the result share memory with it.
	for _, a := range res.Assignments {
		for _, w := range a.Workers {
			for _, e := range w.Executors {
				e[0] = -1
			}
		}
	}
	if got := snapshot(); got != want {
		t.Errorf("the result shares memory with the input")
	}
}

func TestConflictingAssignments(t *testing.T) {
	f := newFixture(sups(2, 2)).add("a", 1, wordcount()).add("b", 1, wordcount())
	f.schedule(t)
	// Corrupt b's assignment to name a's slot: a, first by id, keeps it; b's worker moves.
	b := f.cluster.Assignments["b"].Clone()
	b.Workers[0].Supervisor, b.Workers[0].Port, b.Workers[0].Host = "s1", 6700, "10.0.0.1"
	f.cluster.Assignments["b"] = b
	res := f.schedule(t)
	if w, _ := workerAt(res.Assignments["a"], "s1:6700"); len(w.Executors) == 0 || slices.Contains(res.Changed, "a") {
		t.Errorf("a lost its slot: %+v", res.Assignments["a"])
	}
	if got := res.Assignments["b"]; len(got.Workers) != 1 || got.Workers[0].ID() == "s1:6700" || got.Version != b.Version+1 {
		t.Errorf("b: %+v", got)
	}

	// An empty worker is dropped.
	b = res.Assignments["b"].Clone()
	b.Workers = append(b.Workers, scheduler.WorkerSlot{Supervisor: "s2", Host: "10.0.0.2", Port: 6701})
	f.topology("b").Workers = 2
	b.RequestedWorkers = 2
	f.cluster.Assignments["b"] = b
	res = f.schedule(t)
	if got := res.Assignments["b"]; len(got.Workers) != 2 || got.Version != b.Version+1 {
		t.Errorf("b: %+v", got)
	}
}
