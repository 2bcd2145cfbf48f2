package supervisor

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
)

var t0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

func want(port int, topo string, version int64) Want {
	return Want{Port: port, TopologyID: topo, WorkerID: "s1:" + itoa(port), Address: "127.0.0.1:" + itoa(port),
		Version: version, Digest: "d1", Active: true}
}

func itoa(i int) string { return strconv.Itoa(i) }

// running is a healthy running worker of w that confirmed active and is registered.
func running(w Want) Have {
	return Have{Port: w.Port, Phase: Running, Identity: w.Identity(), StartedAt: t0.Add(-time.Minute),
		HeartbeatAt: t0.Add(-time.Second), ActiveKnown: true, Active: w.Active, Registered: true}
}

func with(h Have, f func(*Have)) Have {
	f(&h)
	return h
}

func TestPlan(t *testing.T) {
	p := PlanParams{WorkerTimeout: 10 * time.Second}
	w1, w2 := want(6700, "a", 1), want(6701, "b", 3)
	inactive := w1
	inactive.Active = false
	v2 := want(6700, "a", 2)
	other := want(6700, "c", 1)
	newDigest := w1
	newDigest.Digest = "d2"
	type step struct {
		kind   ActionKind
		port   int
		active bool
	}
	cases := []struct {
		name  string
		wants []Want
		haves []Have
		want  []step
		// reason, when set, must appear in the first action's reason.
		reason string
	}{
		{name: "nothing", want: nil},
		{name: "start new workers", wants: []Want{w2, w1}, want: []step{{Start, 6700, false}, {Start, 6701, false}}},
		{name: "steady", wants: []Want{w1, w2}, haves: []Have{running(w1), running(w2)}, want: nil},
		{name: "stop unassigned", haves: []Have{running(w1)}, want: []step{{Stop, 6700, false}}, reason: "no longer assigned"},
		{name: "new version stops the old one first", wants: []Want{v2}, haves: []Have{running(w1)},
			want: []step{{Stop, 6700, false}}, reason: "assignment version 2 replaces 1"},
		{name: "slot given to another topology", wants: []Want{other}, haves: []Have{running(w1)},
			want: []step{{Stop, 6700, false}}, reason: "now assigned to c/"},
		{name: "new artifact", wants: []Want{newDigest}, haves: []Have{running(w1)},
			want: []step{{Stop, 6700, false}}, reason: "artifact is now d2"},
		{name: "stopping waits", wants: []Want{v2}, haves: []Have{with(running(w1), func(h *Have) { h.Phase = Stopping })}, want: nil},
		{name: "starting waits", wants: []Want{w1}, haves: []Have{with(running(w1), func(h *Have) { h.Phase = Starting })}, want: nil},
		{name: "starting cancelled when unassigned", haves: []Have{with(running(w1), func(h *Have) { h.Phase = Starting })},
			want: []step{{Stop, 6700, false}}},
		{name: "found worker of the current version is adopted", wants: []Want{w1},
			haves: []Have{with(running(w1), func(h *Have) { h.Phase = Found })}, want: []step{{Adopt, 6700, false}}},
		{name: "found worker of an old version is stopped", wants: []Want{v2},
			haves: []Have{with(running(w1), func(h *Have) { h.Phase = Found })}, want: []step{{Stop, 6700, false}}, reason: "left from before"},
		{name: "found worker not assigned is stopped",
			haves: []Have{with(running(w1), func(h *Have) { h.Phase = Found })}, want: []step{{Stop, 6700, false}}},
		{name: "exited waits for its backoff", wants: []Want{w1},
			haves: []Have{with(running(w1), func(h *Have) { h.Phase = Exited; h.RetryAt = t0.Add(time.Second) })}, want: nil},
		{name: "exited restarts after its backoff", wants: []Want{w1},
			haves: []Have{with(running(w1), func(h *Have) { h.Phase = Exited; h.RetryAt = t0 })}, want: []step{{Start, 6700, false}}},
		{name: "exited and reassigned starts at once", wants: []Want{v2},
			haves: []Have{with(running(w1), func(h *Have) { h.Phase = Exited; h.RetryAt = t0.Add(time.Hour) })}, want: []step{{Start, 6700, false}}},
		{name: "exited and unassigned is forgotten",
			haves: []Have{with(running(w1), func(h *Have) { h.Phase = Exited; h.RetryAt = t0.Add(time.Hour) })}, want: []step{{Forget, 6700, false}}},
		{name: "stale heartbeat restarts", wants: []Want{w1},
			haves: []Have{with(running(w1), func(h *Have) { h.HeartbeatAt = t0.Add(-11 * time.Second) })}, want: []step{{Restart, 6700, false}}, reason: "heartbeat file is 11s old"},
		{name: "no heartbeat long after the start restarts", wants: []Want{w1},
			haves: []Have{with(running(w1), func(h *Have) { h.HeartbeatAt = time.Time{}; h.StartedAt = t0.Add(-time.Minute) })},
			want:  []step{{Restart, 6700, false}}, reason: "wrote no heartbeat"},
		{name: "fresh start without heartbeat yet: only activate", wants: []Want{w1},
			haves: []Have{with(running(w1), func(h *Have) {
				h.HeartbeatAt, h.StartedAt, h.ActiveKnown, h.Registered = time.Time{}, t0.Add(-time.Second), false, false
			})},
			want: []step{{SetActive, 6700, true}}},
		{name: "first heartbeat registers", wants: []Want{w1},
			haves: []Have{with(running(w1), func(h *Have) { h.Registered = false })}, want: []step{{Register, 6700, false}}},
		{name: "deactivate", wants: []Want{inactive}, haves: []Have{running(w1)}, want: []step{{SetActive, 6700, false}}},
		{name: "activate after a restart", wants: []Want{w1},
			haves: []Have{with(running(w1), func(h *Have) { h.ActiveKnown = false })}, want: []step{{SetActive, 6700, true}}},
		{name: "one SetActive at a time", wants: []Want{w1},
			haves: []Have{with(running(w1), func(h *Have) { h.ActiveKnown, h.AdminPending = false, true })}, want: nil},
		{name: "SetActive retry waits", wants: []Want{w1},
			haves: []Have{with(running(w1), func(h *Have) { h.ActiveKnown, h.AdminRetryAt = false, t0.Add(time.Second) })}, want: nil},
		{name: "mixed", wants: []Want{v2, w2}, haves: []Have{running(w1), with(running(w2), func(h *Have) { h.Phase = Exited })},
			want: []step{{Stop, 6700, false}, {Start, 6701, false}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Plan(tc.wants, tc.haves, t0, p)
			var steps []step
			for _, a := range got {
				steps = append(steps, step{a.Kind, a.Port, a.Kind == SetActive && a.Active})
				if (a.Kind == Start || a.Kind == Adopt || a.Kind == SetActive || a.Kind == Register) && (a.Want == nil || a.Want.Port != a.Port) {
					t.Errorf("%v action without its want: %+v", a.Kind, a)
				}
			}
			if !reflect.DeepEqual(steps, tc.want) {
				t.Fatalf("Plan = %+v\nwant %+v", got, tc.want)
			}
			if tc.reason != "" && !strings.Contains(got[0].Reason, tc.reason) {
				t.Errorf("reason %q does not say %q", got[0].Reason, tc.reason)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := time.Second, 30*time.Second
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {5, 16 * time.Second}, {6, 30 * time.Second}, {100, 30 * time.Second}} {
		if got := Backoff(tc.failures, lo, hi); got != tc.want {
			t.Errorf("Backoff(%d) = %v, want %v", tc.failures, got, tc.want)
		}
	}
	if got := NextFailures(4, 59*time.Second, time.Minute); got != 5 {
		t.Errorf("a worker that ran 59s: failures %d, want 5", got)
	}
	if got := NextFailures(4, time.Minute, time.Minute); got != 1 {
		t.Errorf("a worker that ran a minute: failures %d, want 1 (a new count)", got)
	}
}

func TestParseSlots(t *testing.T) {
	for _, tc := range []struct {
		list        string
		count, base int
		want        []int
		err         string
	}{
		{list: "6700, 6701,6702", want: []int{6700, 6701, 6702}},
		{count: 3, base: 6700, want: []int{6700, 6701, 6702}},
		{list: "6700", count: 2, err: "not both"},
		{list: "x", err: `"x" is not a port`},
		{list: "70000", err: "is not a port"},
		{list: ",", err: "lists no port"},
		{count: 2, base: 65535, err: "does not give valid ports"},
		{err: "no slots"},
	} {
		got, err := ParseSlots(tc.list, tc.count, tc.base)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSlots(%q, %d, %d) = %v, %v; want error %q", tc.list, tc.count, tc.base, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseSlots(%q, %d, %d) = %v, %v; want %v", tc.list, tc.count, tc.base, got, err, tc.want)
		}
	}
}

// fixtureSpec is a topology of a spout (1 task) and a bolt (4 tasks in 2 executors).
func fixtureSpec() *topology.Spec {
	return &topology.Spec{Name: "fx", Config: topology.Config{},
		Components: []*topology.ComponentSpec{
			{ID: "bolt", Kind: topology.KindBolt, Parallelism: 2, Tasks: 4},
			{ID: "spout", Kind: topology.KindSpout, Parallelism: 1, Tasks: 1},
		}}
}

func TestDesired(t *testing.T) {
	spec := fixtureSpec()
	// Tasks: __acker 1, bolt 2..5 (executors [2 4] [3 5]), spout 6.
	conf := topology.Config{topology.ConfAckerExecutors: int64(1), "x": "y"}
	topos := map[string]*cluster.TopologyRecord{
		"t1": {ID: "t1", Name: "t1", Status: cluster.StatusActive, Spec: spec, Config: conf, ArtifactDigest: "d1", ArtifactSize: 10},
		"t2": {ID: "t2", Name: "t2", Status: cluster.StatusInactive, Spec: spec, Config: conf, ArtifactDigest: "d2"},
		"t3": {ID: "t3", Name: "t3", Status: cluster.StatusActive, Spec: spec, Config: conf, ArtifactDigest: "d3",
			ExecutorOverrides: map[string]int{"bolt": 4}},
	}
	// Records as an earlier release wrote them: each worker's tasks, not its executors.
	aw := func(sup string, port int, tasks ...int32) string {
		b, _ := json.Marshal(map[string]any{"id": sup + ":" + itoa(port), "address": sup + "-host:" + itoa(port), "supervisor": sup, "port": port, "tasks": tasks})
		return string(b)
	}
	rec := func(tid string, version int, workers ...string) *scheduler.Assignment {
		var a scheduler.Assignment
		if err := json.Unmarshal([]byte(fmt.Sprintf(`{"topology_id":%q,"version":%d,"workers":[%s]}`, tid, version, strings.Join(workers, ","))), &a); err != nil {
			t.Fatal(err)
		}
		return &a
	}
	assigns := map[string]*scheduler.Assignment{
		// t1: two workers, one here and one elsewhere.
		"t1": rec("t1", 4, aw("s1", 6700, 1, 2, 4, 6), aw("s2", 6700, 3, 5)),
		// t2 also claims port 6700 here: t1 keeps it; its other worker is on a port not offered.
		"t2": rec("t2", 1, aw("s1", 6700, 1, 2, 3), aw("s1", 9999, 4, 5, 6)),
		// t3 was rebalanced to 4 bolt executors, which split [2 4] [3 5] differently.
		"t3": rec("t3", 2, aw("s1", 6701, 1, 2, 3), aw("s2", 6701, 4, 5, 6)),
		// t4 has no topology record yet.
		"t4": rec("t4", 1, aw("s1", 6702, 1, 2, 3, 4, 5, 6)),
	}
	wants, notes := Desired("s1", []int{6700, 6701, 6702}, assigns, topos)
	if len(wants) != 2 {
		t.Fatalf("wants = %+v, want t1 on 6700 and t3 on 6701", wants)
	}
	w := wants[0]
	if w.Port != 6700 || w.TopologyID != "t1" || w.WorkerID != "s1:6700" || w.Version != 4 || w.Digest != "d1" ||
		w.ArtifactSize != 10 || !w.Active || w.Address != "s1-host:6700" || w.Problem != "" {
		t.Errorf("t1's want = %+v", w)
	}
	if len(w.Assignment.Workers) != 2 || w.Assignment.Version != 4 || w.Assignment.Parallelism != nil || w.Config["x"] != "y" {
		t.Errorf("t1's assignment = %+v, config %v", w.Assignment, w.Config)
	}
	w = wants[1]
	if w.Port != 6701 || w.TopologyID != "t3" || w.Assignment.Parallelism["bolt"] != 4 || w.Problem != "" {
		t.Errorf("t3's want = %+v (problem %q)", w, w.Problem)
	}
	joined := strings.Join(notes, "\n")
	for _, n := range []string{"port 6700 is assigned to both t1 and t2; keeping t1", "port 9999, which this supervisor does not offer",
		"topology t4 has workers on this supervisor but no topology record yet"} {
		if !strings.Contains(joined, n) {
			t.Errorf("notes lack %q:\n%s", n, joined)
		}
	}

	// The same t3 assignment without the override splits an executor: a problem, so the
	// worker is not started to crash. (t3's record is from before assignments kept their
	// parallelism: the topology record's overrides apply.)
	topos["t3"].ExecutorOverrides = nil
	wants, _ = Desired("s1", []int{6701}, map[string]*scheduler.Assignment{"t3": assigns["t3"]}, topos)
	if len(wants) != 1 || !strings.Contains(wants[0].Problem, "form one executor but are split") {
		t.Errorf("a stale topology record: want a problem, got %+v", wants)
	}
	// An assignment record that keeps its parallelism gives it to its workers, whatever the
	// topology record says by now: a rebalance that is not placed yet does not change the
	// version running.
	placed := assigns["t3"].Clone()
	placed.RequestedWorkers, placed.Generation, placed.Parallelism = 2, 1, map[string]int{"bolt": 4}
	wants, _ = Desired("s1", []int{6701}, map[string]*scheduler.Assignment{"t3": &placed}, topos)
	if len(wants) != 1 || wants[0].Problem != "" || !reflect.DeepEqual(wants[0].Assignment.Parallelism, map[string]int{"bolt": 4}) {
		t.Errorf("a rebalance placed, the topology record moved on: want parallelism bolt=4 and no problem, got %+v", wants)
	}
	topos["t3"].ExecutorOverrides = map[string]int{"bolt": 3}
	placed.Parallelism = nil // placed without overrides: the workers run the spec's parallelism, not bolt=3
	wants, _ = Desired("s1", []int{6701}, map[string]*scheduler.Assignment{"t3": &placed}, topos)
	if len(wants) != 1 || wants[0].Assignment.Parallelism != nil {
		t.Errorf("an assignment placed without overrides: want no parallelism, got %+v", wants)
	}

	// A killed topology's workers still run, inactive, until the assignment goes.
	topos["t1"].Status = cluster.StatusKilled
	wants, _ = Desired("s1", []int{6700}, map[string]*scheduler.Assignment{"t1": assigns["t1"]}, topos)
	if len(wants) != 1 || wants[0].Active {
		t.Errorf("a killed topology: %+v", wants)
	}
}
