package nimbus

import (
	"reflect"
	"testing"
	"time"

	"github.com/sparsestream/sparse/pkg/cluster"
	"github.com/sparsestream/sparse/pkg/scheduler"
)

func TestAssignmentRecordConversion(t *testing.T) {
	execs := map[string][][]int32{
		"a": {{1, 3}, {2, 4}},
		"b": {{5}},
	}
	worker := func(sup string, port int, tasks ...int32) cluster.AssignedWorker {
		return cluster.AssignedWorker{ID: sup + ":" + itoa(port), Address: "h" + sup + ":" + itoa(port), Tasks: tasks, Supervisor: sup, Port: port}
	}
	slot := func(sup string, port int, execs ...[]int32) scheduler.WorkerSlot {
		return scheduler.WorkerSlot{Supervisor: sup, Host: "h" + sup, Port: port, Executors: execs}
	}
	tests := []struct {
		name    string
		workers []cluster.AssignedWorker
		execs   map[string][][]int32
		want    []scheduler.WorkerSlot
	}{
		{"whole executors", []cluster.AssignedWorker{worker("s1", 1, 1, 3, 5), worker("s2", 1, 2, 4)}, execs,
			[]scheduler.WorkerSlot{slot("s1", 1, []int32{1, 3}, []int32{5}), slot("s2", 1, []int32{2, 4})}},
		{"an executor split between workers", []cluster.AssignedWorker{worker("s1", 1, 1, 2, 5), worker("s2", 1, 3, 4)}, execs,
			[]scheduler.WorkerSlot{slot("s1", 1, []int32{1}, []int32{2}, []int32{5}), slot("s2", 1, []int32{3}, []int32{4})}},
		{"unknown and repeated tasks stand alone", []cluster.AssignedWorker{worker("s1", 1, 1, 3, 5, 9), worker("s2", 1, 2, 4, 5)}, execs,
			[]scheduler.WorkerSlot{slot("s1", 1, []int32{1, 3}, []int32{5}, []int32{9}), slot("s2", 1, []int32{2, 4}, []int32{5})}},
		{"unknown topology: every task alone", []cluster.AssignedWorker{worker("s1", 1, 3, 1)}, nil,
			[]scheduler.WorkerSlot{slot("s1", 1, []int32{1}, []int32{3})}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &cluster.AssignmentRecord{TopologyID: "t", Version: 4, Workers: tc.workers}
			a := assignmentFromRecord(rec, tc.execs, 2, 7)
			if a.TopologyID != "t" || a.Version != 4 || a.RequestedWorkers != 2 || a.Generation != 7 {
				t.Errorf("assignment header = %+v", a)
			}
			if !reflect.DeepEqual(a.Workers, tc.want) {
				t.Errorf("workers\n got %+v\nwant %+v", a.Workers, tc.want)
			}
		})
	}

	// What the scheduler places comes back unchanged through a record.
	a := scheduler.Assignment{TopologyID: "t", Version: 3, RequestedWorkers: 2, Workers: []scheduler.WorkerSlot{
		slot("s1", 6700, []int32{1, 3}, []int32{5}), slot("s2", 6701, []int32{2, 4}),
	}}
	now := time.Now()
	rec := recordFromAssignment(a, now)
	if err := rec.Validate(); err != nil {
		t.Fatal(err)
	}
	wa := a.Worker()
	for i, w := range rec.Workers {
		e := wa.Workers[i]
		if w.ID != e.ID || w.Address != e.Address || !reflect.DeepEqual(w.Tasks, e.Tasks) || w.Supervisor != a.Workers[i].Supervisor || w.Port != a.Workers[i].Port {
			t.Errorf("record worker %+v does not match the worker's endpoint %+v", w, e)
		}
	}
	if back := assignmentFromRecord(rec, execs, 2, 0); !reflect.DeepEqual(back, a) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, a)
	}
}

func TestSplitWorkerID(t *testing.T) {
	for id, want := range map[string]struct {
		sup  string
		port int
		ok   bool
	}{
		"sup-1:6700": {"sup-1", 6700, true},
		"a:b:6701":   {"a:b", 6701, true},
		"nope":       {"", 0, false},
		":6700":      {"", 0, false},
		"x:0":        {"", 0, false},
	} {
		sup, port, ok := splitWorkerID(id)
		if sup != want.sup || port != want.port || ok != want.ok {
			t.Errorf("splitWorkerID(%q) = %q, %d, %v", id, sup, port, ok)
		}
	}
}
