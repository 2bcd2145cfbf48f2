package cluster_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/worker"
	"github.com/sparsestream/sparse/pkg/scheduler"
)

// TestAssignmentRecordIsAWorkerAssignment: the JSON of an assignment record is read by
// worker.Load as the same assignment, so a supervisor can hand it to a worker as is; a
// record written by an earlier release (tasks, no executors) reads both ways alike; and a
// worker file made by a topology binary's assign command (ids that are not slots) reads as
// a record.
func TestAssignmentRecordIsAWorkerAssignment(t *testing.T) {
	rec := &cluster.AssignmentRecord{TopologyID: "wc", Version: 7, RequestedWorkers: 3, Generation: 4, Parallelism: map[string]int{"count": 2}, Workers: []scheduler.WorkerSlot{
		{Name: "w0", Host: "127.0.0.1", Port: 6700, Executors: [][]int32{{1, 2}}, Supervisor: "s1"},
		{Name: "w1", Host: "127.0.0.1", Port: 6701, Executors: [][]int32{{3}}, Supervisor: "s2"},
	}}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	old := `{"topology_id":"wc","version":7,"requested_workers":3,"generation":4,"parallelism":{"count":2},"workers":[` +
		`{"id":"w0","address":"127.0.0.1:6700","tasks":[1,2],"supervisor":"s1","port":6700},` +
		`{"id":"w1","address":"127.0.0.1:6701","tasks":[3],"supervisor":"s2","port":6701}]}`
	for _, tc := range []struct {
		name      string
		json      []byte
		executors bool
	}{{"this release", b, true}, {"an earlier release", []byte(old), true}} {
		path := filepath.Join(t.TempDir(), "assignment.json")
		if err := os.WriteFile(path, tc.json, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := worker.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		want := []wantWorker{{"w0", "127.0.0.1:6700", []int32{1, 2}}, {"w1", "127.0.0.1:6701", []int32{3}}}
		if got.TopologyID != "wc" || got.Version != 7 || !reflect.DeepEqual(got.Parallelism, map[string]int{"count": 2}) || !reflect.DeepEqual(workersOf(got), want) {
			t.Fatalf("%s: worker read %+v, want workers %+v", tc.name, got, want)
		}
		back, err := cluster.Keys{}.DecodeAssignment(cluster.Keys{}.Assignment("wc"), tc.json)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(workersOf(back), want) || back.Workers[1].Supervisor != "s2" || back.Workers[1].Port != 6701 {
			t.Fatalf("%s: record read %+v", tc.name, back)
		}
	}

	static := `{"topology_id":"wc","version":7,"workers":[{"id":"w0","address":"127.0.0.1:6700","tasks":[1,2]},{"id":"w1","address":"127.0.0.1:6701","tasks":[3]}]}`
	back, err := cluster.Keys{}.DecodeAssignment(cluster.Keys{}.Assignment("wc"), []byte(static))
	if err != nil {
		t.Fatal(err)
	}
	if back.Version != 7 || len(back.Workers) != 2 || back.Workers[1].Address() != "127.0.0.1:6701" || back.Workers[1].ID() != "w1" {
		t.Fatalf("record read %+v", back)
	}
}

type wantWorker struct {
	ID, Address string
	Tasks       []int32
}

func workersOf(a *scheduler.Assignment) []wantWorker {
	var out []wantWorker
	for _, w := range a.Workers {
		out = append(out, wantWorker{w.ID(), w.Address(), w.Tasks()})
	}
	return out
}

// TestAssignmentRecordRequestRoundTrip: what a placement was made for (requested
// workers, generation, parallelism) survives the record's JSON; a record written before
// those fields existed still reads, and says it does not keep them.
func TestAssignmentRecordRequestRoundTrip(t *testing.T) {
	k := cluster.NewKeys("/rt")
	rec := &cluster.AssignmentRecord{TopologyID: "wc", Version: 3, RequestedWorkers: 2, Generation: 5,
		Parallelism: map[string]int{"count": 4, "words": 1},
		Workers:     []scheduler.WorkerSlot{{Supervisor: "s1", Host: "h", Port: 6700, Executors: [][]int32{{1, 2}}}}}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	back, err := k.DecodeAssignment(k.Assignment("wc"), b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, rec) || !back.KeepsRequest() {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, rec)
	}

	old := `{"topology_id":"wc","version":3,"workers":[{"id":"s1:6700","address":"h:6700","tasks":[1,2],"supervisor":"s1","port":6700}]}`
	back, err = k.DecodeAssignment(k.Assignment("wc"), []byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if back.KeepsRequest() || back.RequestedWorkers != 0 || back.Generation != 0 || back.Parallelism != nil {
		t.Errorf("a record from before the request fields reads as %+v", back)
	}
	if back.KeepsExecutors() || back.Workers[0].ID() != "s1:6700" || !reflect.DeepEqual(back.Workers[0].Executors, [][]int32{{1}, {2}}) {
		t.Errorf("a record from before the executors reads as %+v", back)
	}
	back.GroupTasks(map[string][][]int32{"a": {{1, 2}}})
	if !back.KeepsExecutors() || !reflect.DeepEqual(back.Workers[0].Executors, [][]int32{{1, 2}}) {
		t.Errorf("grouped by the topology's executors: %+v", back)
	}

	topo := &cluster.TopologyRecord{ID: "wc", Name: "wc", Status: cluster.StatusActive, Workers: 2, Generation: 7}
	tb, err := json.Marshal(topo)
	if err != nil {
		t.Fatal(err)
	}
	tback, err := k.DecodeTopology(k.Topology("wc"), tb)
	if err != nil || tback.Generation != 7 {
		t.Errorf("topology generation after a round trip: %+v, %v", tback, err)
	}
	if !strings.Contains(string(tb), `"generation":7`) {
		t.Errorf("topology JSON %s has no generation", tb)
	}

	for _, bad := range []string{
		`{"topology_id":"wc","version":3,"requested_workers":-1,"workers":[]}`,
		`{"topology_id":"wc","version":3,"generation":-1,"workers":[]}`,
		`{"topology_id":"wc","version":3,"parallelism":{"count":0},"workers":[]}`,
	} {
		if _, err := k.DecodeAssignment(k.Assignment("wc"), []byte(bad)); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}

// TestAssignmentRecordCoversWorkerFields: every JSON field a worker of an earlier
// release reads from its assignment file (the worker.Assignment and worker.Endpoint of
// that release, written out here) is in the record, with the same type, so a supervisor
// of this release can start the workers of a topology built with the earlier one.
func TestAssignmentRecordCoversWorkerFields(t *testing.T) {
	type endpointV1 struct {
		ID      string  `json:"id"`
		Address string  `json:"address"`
		Tasks   []int32 `json:"tasks"`
	}
	type assignmentV1 struct {
		TopologyID  string         `json:"topology_id"`
		Version     int64          `json:"version"`
		Workers     []endpointV1   `json:"workers"`
		Parallelism map[string]int `json:"parallelism,omitempty"`
	}
	rec := &cluster.AssignmentRecord{TopologyID: "wc", Version: 7, Parallelism: map[string]int{"count": 2}, Workers: []scheduler.WorkerSlot{
		{Supervisor: "s1", Host: "h", Port: 6700, Executors: [][]int32{{3, 1}, {2}}},
	}}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var got assignmentV1
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := assignmentV1{TopologyID: "wc", Version: 7, Parallelism: map[string]int{"count": 2},
		Workers: []endpointV1{{ID: "s1:6700", Address: "h:6700", Tasks: []int32{1, 2, 3}}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("an earlier worker reads %+v\nwant %+v", got, want)
	}
	for _, f := range []reflect.Type{reflect.TypeFor[assignmentV1](), reflect.TypeFor[endpointV1]()} {
		for name := range jsonFields(f) {
			if !strings.Contains(string(b), `"`+name+`":`) {
				t.Errorf("the record's JSON %s has no field %q", b, name)
			}
		}
	}
}

func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
