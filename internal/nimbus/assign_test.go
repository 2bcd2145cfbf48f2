package nimbus

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/pkg/scheduler"
)

func TestAssignmentRecordConversion(t *testing.T) {
	execs := map[string][][]int32{
		"a": {{1, 3}, {2, 4}},
		"b": {{5}},
	}
	// worker is a worker of a record from before records kept executors: its tasks only.
	worker := func(sup string, port int, tasks ...int32) string {
		b, _ := json.Marshal(map[string]any{"id": sup + ":" + itoa(port), "address": "h" + sup + ":" + itoa(port), "tasks": tasks, "supervisor": sup, "port": port})
		return string(b)
	}
	record := func(head string, workers ...string) *scheduler.Assignment {
		var a scheduler.Assignment
		if err := json.Unmarshal([]byte(`{"topology_id":"t",`+head+`"workers":[`+strings.Join(workers, ",")+`]}`), &a); err != nil {
			t.Fatal(err)
		}
		return &a
	}
	slot := func(sup string, port int, execs ...[]int32) scheduler.WorkerSlot {
		return scheduler.WorkerSlot{Supervisor: sup, Host: "h" + sup, Port: port, Executors: execs}
	}
	tests := []struct {
		name    string
		workers []string
		execs   map[string][][]int32
		want    []scheduler.WorkerSlot
	}{
		{"whole executors", []string{worker("s1", 1, 1, 3, 5), worker("s2", 1, 2, 4)}, execs,
			[]scheduler.WorkerSlot{slot("s1", 1, []int32{1, 3}, []int32{5}), slot("s2", 1, []int32{2, 4})}},
		{"an executor split between workers", []string{worker("s1", 1, 1, 2, 5), worker("s2", 1, 3, 4)}, execs,
			[]scheduler.WorkerSlot{slot("s1", 1, []int32{1}, []int32{2}, []int32{5}), slot("s2", 1, []int32{3}, []int32{4})}},
		{"unknown and repeated tasks stand alone", []string{worker("s1", 1, 1, 3, 5, 9), worker("s2", 1, 2, 4, 5)}, execs,
			[]scheduler.WorkerSlot{slot("s1", 1, []int32{1, 3}, []int32{5}, []int32{9}), slot("s2", 1, []int32{2, 4}, []int32{5})}},
		{"unknown topology: every task alone", []string{worker("s1", 1, 3, 1)}, nil,
			[]scheduler.WorkerSlot{slot("s1", 1, []int32{1}, []int32{3})}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := record(`"version":4,"requested_workers":3,"generation":7,`, tc.workers...)
			a := asPlaced(rec, tc.execs, 2)
			if a.TopologyID != "t" || a.Version != 4 || a.RequestedWorkers != 3 || a.Generation != 7 {
				t.Errorf("assignment header = %+v", a)
			}
			if !reflect.DeepEqual(a.Workers, tc.want) {
				t.Errorf("workers\n got %+v\nwant %+v", a.Workers, tc.want)
			}
		})
	}

	// A record written before records kept the request: the workers asked for come from
	// the topology (the caller), the generation is 0.
	old := record(`"version":4,`, worker("s1", 1, 1, 3, 5))
	if a := asPlaced(old, execs, 2); a.RequestedWorkers != 2 || a.Generation != 0 {
		t.Errorf("an old record reads as requested %d, generation %d; want 2, 0", a.RequestedWorkers, a.Generation)
	}

	// What the scheduler places comes back unchanged through a record, with what it was
	// placed for.
	a := scheduler.Assignment{TopologyID: "t", Version: 3, RequestedWorkers: 2, Generation: 5, Workers: []scheduler.WorkerSlot{
		slot("s1", 6700, []int32{1, 3}, []int32{5}), slot("s2", 6701, []int32{2, 4}),
	}}
	now := time.Now()
	overrides := map[string]int{"a": 2}
	rec := stamped(a, overrides, now)
	if err := rec.Validate(); err != nil {
		t.Fatal(err)
	}
	if rec.RequestedWorkers != 2 || rec.Generation != 5 || !reflect.DeepEqual(rec.Parallelism, overrides) || !rec.KeepsRequest() {
		t.Errorf("the record keeps requested %d, generation %d, parallelism %v", rec.RequestedWorkers, rec.Generation, rec.Parallelism)
	}
	overrides["a"] = 9
	if rec.Parallelism["a"] != 2 {
		t.Error("the record shares its parallelism map with the topology's overrides")
	}
	if r := stamped(a, map[string]int{}, now); r.Parallelism != nil {
		t.Errorf("no overrides give parallelism %v, want none", r.Parallelism)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var stored scheduler.Assignment
	if err := json.Unmarshal(b, &stored); err != nil {
		t.Fatal(err)
	}
	back := asPlaced(&stored, execs, 1)
	back.Parallelism, back.UpdatedAt = nil, time.Time{}
	if !reflect.DeepEqual(back, a) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, a)
	}
}

// TestNewLeaderSeesRebalanceGenerations: scheduling depends only on the records, so a
// leader with no memory of earlier rounds re-places a topology whose rebalance is not
// placed yet (the topology's generation is ahead of its assignment's), once; a
// placement made for the current generation stays as it is; and a record written before
// records kept the request does not make it move either.
func TestNewLeaderSeesRebalanceGenerations(t *testing.T) {
	spec := wordcount("gen")
	topo := &cluster.TopologyRecord{ID: "gen-1", Name: "gen", Status: cluster.StatusActive, Spec: spec, Config: spec.Config, Workers: 2}
	// Both workers on s1; s2 joined later. A rebalance spreads them.
	sups := []*cluster.SupervisorRecord{{ID: "s1", Host: "h1", Slots: []int{6700, 6701}}, {ID: "s2", Host: "h2", Slots: []int{6700, 6701}}}
	first, err := scheduler.Schedule(func() scheduler.Cluster {
		c, _ := buildCluster(&snapshot{sups: sups[:1], topos: []*cluster.TopologyRecord{topo}}, nil)
		return c
	}())
	if err != nil || len(first.Assignments["gen-1"].Workers) != 2 {
		t.Fatalf("first placement: %+v, %v", first, err)
	}
	placed := stamped(first.Assignments["gen-1"], nil, time.Now())

	round := func(topo *cluster.TopologyRecord, rec *cluster.AssignmentRecord) (scheduler.Result, bool) {
		t.Helper()
		c, _ := buildCluster(&snapshot{sups: sups, topos: []*cluster.TopologyRecord{topo}, assigns: map[string]*cluster.AssignmentRecord{"gen-1": rec}}, nil)
		res, err := scheduler.Schedule(c)
		if err != nil {
			t.Fatal(err)
		}
		return res, len(res.Changed) == 1
	}
	if _, changed := round(topo, placed); changed {
		t.Fatal("an unchanged topology was placed again")
	}
	legacy := placed.Clone()
	legacy.RequestedWorkers, legacy.Generation = 0, 0
	if _, changed := round(topo, &legacy); changed {
		t.Error("a record from before records kept the request was placed again")
	}

	rebalanced := *topo
	rebalanced.Generation = 1
	res, changed := round(&rebalanced, placed)
	a := res.Assignments["gen-1"]
	if !changed || a.Version != placed.Version+1 || a.Generation != 1 || a.Workers[0].Supervisor == a.Workers[1].Supervisor {
		t.Fatalf("a pending rebalance: changed %v, assignment %+v; want version %d, generation 1, on two supervisors", changed, a, placed.Version+1)
	}
	again := stamped(a, rebalanced.ExecutorOverrides, time.Now())
	if _, changed := round(&rebalanced, again); changed {
		t.Error("a placed rebalance was placed again")
	}

	// A rebalance of executors alone leaves each worker its tasks here (count: 2 executors
	// of 2 tasks become 4 of 1), but the workers must restart to run the new executors: the
	// record is read with the executors it was placed with, so the version moves.
	regrouped := rebalanced
	regrouped.Generation, regrouped.ExecutorOverrides = 2, map[string]int{"count": 4}
	res, changed = round(&regrouped, again)
	a = res.Assignments["gen-1"]
	if !changed || a.Version != again.Version+1 || a.Generation != 2 {
		t.Fatalf("an executor rebalance: changed %v, assignment %+v; want version %d", changed, a, again.Version+1)
	}
	final := stamped(a, regrouped.ExecutorOverrides, time.Now())
	if _, changed := round(&regrouped, final); changed {
		t.Error("a placed executor rebalance was placed again")
	}
}
