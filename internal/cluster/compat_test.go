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
)

// TestAssignmentRecordIsAWorkerAssignment: the JSON of an AssignmentRecord is read by
// worker.Load as the same assignment, so a supervisor can hand it to a worker as is; and
// a worker.Assignment's JSON reads as a record.
func TestAssignmentRecordIsAWorkerAssignment(t *testing.T) {
	rec := &cluster.AssignmentRecord{TopologyID: "wc", Version: 7, RequestedWorkers: 3, Generation: 4, Parallelism: map[string]int{"count": 2}, Workers: []cluster.AssignedWorker{
		{ID: "w0", Address: "127.0.0.1:6700", Tasks: []int32{1, 2}, Supervisor: "s1", Port: 6700},
		{ID: "w1", Address: "127.0.0.1:6701", Tasks: []int32{3}, Supervisor: "s2", Port: 6701},
	}}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "assignment.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := worker.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &worker.Assignment{TopologyID: "wc", Version: 7, Parallelism: map[string]int{"count": 2}, Workers: []worker.Endpoint{
		{ID: "w0", Address: "127.0.0.1:6700", Tasks: []int32{1, 2}},
		{ID: "w1", Address: "127.0.0.1:6701", Tasks: []int32{3}},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("worker read %+v, want %+v", got, want)
	}

	wb, _ := json.Marshal(want)
	back, err := cluster.Keys{}.DecodeAssignment(cluster.Keys{}.Assignment("wc"), wb)
	if err != nil {
		t.Fatal(err)
	}
	if back.Version != 7 || len(back.Workers) != 2 || back.Workers[1].Address != "127.0.0.1:6701" {
		t.Fatalf("record read %+v", back)
	}
}

// TestAssignmentRecordRequestRoundTrip: what a placement was made for (requested
// workers, generation, parallelism) survives the record's JSON; a record written before
// those fields existed still reads, and says it does not keep them.
func TestAssignmentRecordRequestRoundTrip(t *testing.T) {
	k := cluster.NewKeys("/rt")
	rec := &cluster.AssignmentRecord{TopologyID: "wc", Version: 3, RequestedWorkers: 2, Generation: 5,
		Parallelism: map[string]int{"count": 4, "words": 1},
		Workers:     []cluster.AssignedWorker{{ID: "s1:6700", Address: "h:6700", Tasks: []int32{1, 2}, Supervisor: "s1", Port: 6700}}}
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

// TestAssignmentRecordCoversWorkerFields: every JSON field of worker.Assignment and
// worker.Endpoint has a field of the same name and type in the record, so nothing a
// worker reads is lost on the way through etcd.
func TestAssignmentRecordCoversWorkerFields(t *testing.T) {
	for _, p := range [][2]reflect.Type{
		{reflect.TypeFor[worker.Assignment](), reflect.TypeFor[cluster.AssignmentRecord]()},
		{reflect.TypeFor[worker.Endpoint](), reflect.TypeFor[cluster.AssignedWorker]()},
	} {
		have := jsonFields(p[1])
		for name, typ := range jsonFields(p[0]) {
			got, ok := have[name]
			switch {
			case !ok:
				t.Errorf("%s has JSON field %q, which %s lacks", p[0], name, p[1])
			case typ.Kind() != got.Kind() || (typ.Kind() != reflect.Slice && typ != got):
				t.Errorf("JSON field %q is %s in %s but %s in %s", name, typ, p[0], got, p[1])
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
