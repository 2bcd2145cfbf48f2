package ctl

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
)

func TestFormatTasks(t *testing.T) {
	cases := []struct {
		in   []int32
		want string
	}{
		{nil, "-"},
		{[]int32{4}, "4"},
		{[]int32{1, 2, 3}, "1-3"},
		{[]int32{8, 1, 3, 2, 5, 7, 7}, "1-3,5,7-8"},
		{[]int32{10, 12}, "10,12"},
	}
	for _, tc := range cases {
		if got := FormatTasks(tc.in); got != tc.want {
			t.Errorf("FormatTasks(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFormatUptime(t *testing.T) {
	cases := map[int64]string{0: "-", 45: "45s", 60: "1m00s", 723: "12m03s", 3600 + 4*60 + 9: "1h04m", 2*86400 + 3*3600: "2d03h"}
	for in, want := range cases {
		if got := FormatUptime(in); got != want {
			t.Errorf("FormatUptime(%d) = %q, want %q", in, got, want)
		}
	}
}

// TestWriteList: a table sorted by name, with aligned columns and a dash for no
// scheduling problem; an empty cluster says so.
func TestWriteList(t *testing.T) {
	var b bytes.Buffer
	err := WriteList(&b, []*sparsev1.TopologySummary{
		{Id: "wordcount-1700000000", Name: "wordcount", Status: "active", Workers: 2, RequestedWorkers: 2, Executors: 11, Tasks: 11, UptimeSecs: 3725},
		{Id: "ab-1", Name: "ab", Status: "inactive", Workers: 1, RequestedWorkers: 3, Executors: 2, Tasks: 4, UptimeSecs: 5, Scheduling: "only 1 free slot"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `NAME       ID                    STATUS    WORKERS  EXECUTORS  TASKS  UPTIME  SCHEDULING
ab         ab-1                  inactive  1/3      2          4      5s      only 1 free slot
wordcount  wordcount-1700000000  active    2/2      11         11     1h02m   -
`
	if b.String() != want {
		t.Errorf("WriteList printed:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := WriteList(&b, nil); err != nil || b.String() != "no topologies are running\n" {
		t.Errorf("WriteList(nil) printed %q, %v", b.String(), err)
	}
}

func TestWriteSupervisors(t *testing.T) {
	var b bytes.Buffer
	err := WriteSupervisors(&b, []*sparsev1.SupervisorDescription{
		{Id: "node-b", Host: "10.0.0.4", Slots: []int32{6700, 6701}, UptimeSecs: 90},
		{Id: "node-a", Host: "10.0.0.3", Slots: []int32{6700, 6701, 6702}, UsedSlots: []int32{6700}, UptimeSecs: 7200},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `ID      HOST      SLOTS           USED  FREE  UPTIME
node-a  10.0.0.3  6700,6701,6702  6700  2     2h00m
node-b  10.0.0.4  6700,6701       -     2     1m30s
`
	if b.String() != want {
		t.Errorf("WriteSupervisors printed:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := WriteSupervisors(&b, nil); err != nil || !strings.Contains(b.String(), "no supervisors are registered") {
		t.Errorf("WriteSupervisors(nil) printed %q, %v", b.String(), err)
	}
}

func TestWriteLeader(t *testing.T) {
	cases := []struct {
		in   LeaderInfo
		want string
	}{
		{LeaderInfo{LeaderID: "n1", LeaderAddress: "10.0.0.1:6627", AnsweredBy: "10.0.0.1:6627", AnsweredByLeader: true},
			"leader: nimbus n1 at 10.0.0.1:6627 (answered by 10.0.0.1:6627, the leader itself)\n"},
		{LeaderInfo{LeaderID: "n1", LeaderAddress: "10.0.0.1:6627", AnsweredBy: "10.0.0.2:6627"},
			"leader: nimbus n1 at 10.0.0.1:6627 (answered by 10.0.0.2:6627, a standby)\n"},
		{LeaderInfo{AnsweredBy: "10.0.0.2:6627"}, "no nimbus leads right now (asked 10.0.0.2:6627); an election may be under way\n"},
	}
	for _, tc := range cases {
		var b bytes.Buffer
		if err := WriteLeader(&b, tc.in); err != nil || b.String() != tc.want {
			t.Errorf("WriteLeader(%+v) printed %q, %v; want %q", tc.in, b.String(), err, tc.want)
		}
	}
}

// description is a two-worker topology with an acker, a scheduling note and an error.
func description() *sparsev1.TopologyDescription {
	return &sparsev1.TopologyDescription{
		Summary: &sparsev1.TopologySummary{Id: "wc-1", Name: "wc", Status: "active", Workers: 2, RequestedWorkers: 3,
			Executors: 5, Tasks: 6, UptimeSecs: 125, Scheduling: "3 workers requested, 2 free slots"},
		Components: []*sparsev1.ComponentDescription{
			{Id: "sentences", Kind: "spout", Executors: 1, Tasks: []int32{1}},
			{Id: "split", Kind: "bolt", Executors: 2, Tasks: []int32{2, 3, 4}},
			{Id: "__acker", Kind: "acker", Executors: 2, Tasks: []int32{5, 6}},
		},
		Workers: []*sparsev1.WorkerDescription{
			{Id: "sup-a:6700", Supervisor: "sup-a", Host: "10.0.0.3", Port: 6700, Tasks: []int32{1, 2, 5}, Alive: true, UptimeSecs: 120},
			{Id: "sup-b:6700", Supervisor: "sup-b", Host: "10.0.0.4", Port: 6700, Tasks: []int32{3, 4, 6}, Alive: false},
		},
		Errors:            []string{"worker sup-b:6700 exited with status 2"},
		ArtifactSha256:    strings.Repeat("ab", 32),
		Config:            map[string]*sparsev1.Value{"topology.workers": {Kind: &sparsev1.Value_IntValue{IntValue: 3}}, "app.name": {Kind: &sparsev1.Value_StringValue{StringValue: "x"}}},
		AssignmentVersion: 7,
	}
}

// TestWriteDescribe: the summary, where each component runs, the workers with their
// components, the config and the errors.
func TestWriteDescribe(t *testing.T) {
	var b bytes.Buffer
	if err := WriteDescribe(&b, description()); err != nil {
		t.Fatal(err)
	}
	want := `Topology:    wc
ID:          wc-1
Status:      active
Uptime:      2m05s
Workers:     2 of 3 requested
Executors:   5
Tasks:       6
Artifact:    sha256 abababababababababababababababababababababababababababababababab
Assignment:  version 7
Scheduling:  3 workers requested, 2 free slots

COMPONENT  KIND   EXECUTORS  TASKS  WORKERS
sentences  spout  1          1      sup-a:6700
split      bolt   2          2-4    sup-a:6700 sup-b:6700
__acker    acker  2          5-6    sup-a:6700 sup-b:6700

WORKER      SUPERVISOR  ADDRESS        ALIVE  UPTIME  TASKS  COMPONENTS
sup-a:6700  sup-a       10.0.0.3:6700  yes    2m00s   1-2,5  sentences split __acker
sup-b:6700  sup-b       10.0.0.4:6700  no     -       3-4,6  split __acker

Config:
  app.name          "x"
  topology.workers  3

Errors:
  - worker sup-b:6700 exited with status 2
`
	if b.String() != want {
		t.Errorf("WriteDescribe printed:\n%s\nwant:\n%s", b.String(), want)
	}

	// Nothing scheduled yet, no errors.
	d := &sparsev1.TopologyDescription{Summary: &sparsev1.TopologySummary{Name: "x", Status: "active"},
		Components: []*sparsev1.ComponentDescription{{Id: "s", Kind: "spout", Executors: 1, Tasks: []int32{1}}}}
	b.Reset()
	if err := WriteDescribe(&b, d); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Scheduling:  fully scheduled", "s          spout  1          1      -", "No workers are assigned.", "Errors: none"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("WriteDescribe without workers does not print %q:\n%s", w, b.String())
		}
	}
}

// TestDescribeJSON: plain JSON values, the components' workers and the workers'
// components, and empty lists rather than null.
func TestDescribeJSON(t *testing.T) {
	j, err := ToDescribeJSON(description())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteJSON(&b, j); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if v := back["config"].(map[string]any)["topology.workers"]; v != 3.0 {
		t.Errorf("config topology.workers = %#v, want the JSON number 3", v)
	}
	if v := back["assignment_version"]; v != 7.0 {
		t.Errorf("assignment_version = %#v", v)
	}
	split := back["components"].([]any)[1].(map[string]any)
	if ws := split["workers"].([]any); len(ws) != 2 || ws[0] != "sup-a:6700" || ws[1] != "sup-b:6700" {
		t.Errorf("split's workers = %v", ws)
	}
	w0 := back["workers"].([]any)[0].(map[string]any)
	if cs := w0["components"].([]any); len(cs) != 3 || cs[0] != "sentences" {
		t.Errorf("worker 0's components = %v", cs)
	}

	empty, err := ToDescribeJSON(&sparsev1.TopologyDescription{})
	if err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if err := WriteJSON(&b, empty); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "null") {
		t.Errorf("an empty description has nulls in JSON:\n%s", b.String())
	}

	b.Reset()
	if err := WriteJSON(&b, ToListJSON(nil)); err != nil || strings.TrimSpace(b.String()) != "{\n  \"topologies\": []\n}" {
		t.Errorf("empty list JSON = %q, %v", b.String(), err)
	}
	b.Reset()
	if err := WriteJSON(&b, ToSupervisorsJSON([]*sparsev1.SupervisorDescription{{Id: "s", Slots: []int32{1}}})); err != nil ||
		!strings.Contains(b.String(), `"used_slots": []`) {
		t.Errorf("supervisors JSON = %s, %v", b.String(), err)
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 workers", 1: "1 worker", 2: "2 workers"} {
		if got := Count(n, "worker"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
