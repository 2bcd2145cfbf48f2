package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/pkg/scheduler"
)

// placed is an assignment of topology tid at version v with one worker on each of sups.
func placed(tid string, v int64, sups ...string) *AssignmentRecord {
	a := &AssignmentRecord{TopologyID: tid, Version: v}
	for i, sup := range sups {
		a.Workers = append(a.Workers, scheduler.WorkerSlot{Supervisor: sup, Host: "10.0.0.1", Port: 6700 + i, Executors: [][]int32{{int32(i + 1)}}})
	}
	return a
}

// index reads the whole per-supervisor index: key (after the folder) -> version.
func index(t *testing.T, s *Store) map[string]int64 {
	t.Helper()
	resp, err := s.Client().Get(testutil.Context(t, 10*time.Second), s.Keys().PlacementsPrefix(), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, kv := range resp.Kvs {
		r, err := s.Keys().DecodePlacement(string(kv.Key), kv.Value)
		if err != nil {
			t.Fatal(err)
		}
		out[r.Supervisor+"/"+r.TopologyID] = r.Version
	}
	return out
}

func sameIndex(t *testing.T, what string, got, want map[string]int64) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("%s: the index is %v, want %v", what, got, want)
	}
}

// TestPlacementIndexFollowsAssignments: every assignment write and delete changes the
// per-supervisor index in step: a key per supervisor the assignment places workers on,
// with its version; none for supervisors it left; none once it is deleted. A topology
// spread over more supervisors than one transaction holds is indexed completely too.
func TestPlacementIndexFollowsAssignments(t *testing.T) {
	e := startEtcd(t)
	s := newStore(t, e, Options{})
	ctx := testutil.Context(t, 60*time.Second)

	if err := s.PutAssignment(ctx, placed("t1", 1, "s1", "s2", "s2"), 0); err != nil {
		t.Fatal(err)
	}
	sameIndex(t, "put", index(t, s), map[string]int64{"s1/t1": 1, "s2/t1": 1})
	// A move: s1 is left, s3 joins, s2 stays with the new version.
	if err := s.PutAssignment(ctx, placed("t1", 2, "s2", "s3"), 1); err != nil {
		t.Fatal(err)
	}
	sameIndex(t, "move", index(t, s), map[string]int64{"s2/t1": 2, "s3/t1": 2})
	// A lost race changes nothing, the index included.
	if err := s.PutAssignment(ctx, placed("t1", 3, "s9"), 1); !errors.Is(err, ErrConflict) {
		t.Fatalf("a stale update: %v", err)
	}
	if err := s.PutAssignment(ctx, placed("t2", 1, "s3"), 0); err != nil {
		t.Fatal(err)
	}
	sameIndex(t, "second topology", index(t, s), map[string]int64{"s2/t1": 2, "s3/t1": 2, "s3/t2": 1})
	if err := s.DeleteAssignment(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	sameIndex(t, "delete", index(t, s), map[string]int64{"s3/t2": 1})
	if err := s.DeleteAssignment(ctx, "t1"); err != nil {
		t.Fatalf("deleting again: %v", err)
	}

	// Wider than one transaction: 150 supervisors, then 150 others (300 index writes).
	sups := func(from int) []string {
		var out []string
		for i := from; i < from+150; i++ {
			out = append(out, fmt.Sprintf("w%03d", i))
		}
		return out
	}
	want := func(v int64, sups []string) map[string]int64 {
		m := map[string]int64{"s3/t2": 1}
		for _, sup := range sups {
			m[sup+"/wide"] = v
		}
		return m
	}
	if err := s.PutAssignment(ctx, placed("wide", 1, sups(0)...), 0); err != nil {
		t.Fatal(err)
	}
	sameIndex(t, "wide put", index(t, s), want(1, sups(0)))
	if err := s.PutAssignment(ctx, placed("wide", 2, sups(150)...), 1); err != nil {
		t.Fatal(err)
	}
	sameIndex(t, "wide move", index(t, s), want(2, sups(150)))
	if err := s.DeleteAssignment(ctx, "wide"); err != nil {
		t.Fatal(err)
	}
	sameIndex(t, "wide delete", index(t, s), map[string]int64{"s3/t2": 1})

	// An index key is a checked record like any other.
	if err := s.PutAssignment(ctx, &AssignmentRecord{TopologyID: "bad", Version: 1,
		Workers: []scheduler.WorkerSlot{{Name: "w", Supervisor: "a/b", Port: 1}}}, 0); err == nil || !strings.Contains(err.Error(), "supervisor id") {
		t.Fatalf("an assignment naming supervisor a/b: %v", err)
	}
}

// TestSyncPlacements: the repair writes missing keys, corrects stale versions, and
// removes keys whose assignment is gone or has left the supervisor; a second run
// changes nothing. A deposed leader cannot repair.
func TestSyncPlacements(t *testing.T) {
	e := startEtcd(t)
	s := newStore(t, e, Options{})
	ctx := testutil.Context(t, 30*time.Second)
	a1, a2 := placed("t1", 3, "s1", "s2"), placed("t2", 1, "s2")
	k := s.Keys()
	// An index as an older release, or a nimbus that stopped halfway, could leave it.
	raw := map[string]string{
		k.Placement("s1", "t1"):   `{"supervisor":"s1","topology_id":"t1","version":2}`, // stale version
		k.Placement("s3", "t1"):   `{"supervisor":"s3","topology_id":"t1","version":2}`, // left
		k.Placement("s2", "gone"): `{"supervisor":"s2","topology_id":"gone","version":1}`,
		k.Placement("s2", "junk"): `not json`,
	}
	for key, val := range raw {
		if _, err := s.Client().Put(ctx, key, val); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.SyncPlacements(ctx, []*AssignmentRecord{a1, a2})
	if err != nil || n != 7 {
		t.Fatalf("SyncPlacements = %d, %v; want 7 changes (2 puts, 1 correction, 3 deletes, the marker)", n, err)
	}
	if resp, err := s.Client().Get(ctx, k.PlacementsIndexed()); err != nil || len(resp.Kvs) != 1 || !strings.Contains(string(resp.Kvs[0].Value), "indexed_at") {
		t.Fatalf("the marker PlacementsIndexed: %v, %v", resp, err)
	}
	sameIndex(t, "repaired", index(t, s), map[string]int64{"s1/t1": 3, "s2/t1": 3, "s2/t2": 1})
	if n, err := s.SyncPlacements(ctx, []*AssignmentRecord{a1, a2}); err != nil || n != 0 {
		t.Fatalf("a second SyncPlacements = %d, %v; want no change", n, err)
	}

	l, err := s.Campaign(ctx, "n1", "a:1")
	if err != nil {
		t.Fatal(err)
	}
	fenced := s.Fenced(l)
	if err := l.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := fenced.SyncPlacements(ctx, nil); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("a repair by a deposed leader: %v", err)
	}
	sameIndex(t, "after the deposed leader", index(t, s), map[string]int64{"s1/t1": 3, "s2/t1": 3, "s2/t2": 1})
}

// TestWatchSupervisorAssignments: a supervisor's watch lists the assignments that place
// workers on it, then tells of each one written there (with the whole record), of each
// that leaves it or is deleted (with the last record), and of nothing else.
func TestWatchSupervisorAssignments(t *testing.T) {
	e := startEtcd(t)
	s := newStore(t, e, Options{})
	ctx := testutil.Context(t, 60*time.Second)
	// As a leader does at the start of its term.
	if _, err := s.SyncPlacements(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAssignment(ctx, placed("a", 1, "s1", "s2"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAssignment(ctx, placed("b", 1, "s2"), 0); err != nil {
		t.Fatal(err)
	}
	ch := s.WatchSupervisorAssignments(ctx, "s1")
	expect := func(what string, typ EventType, id string, version int64) Event[AssignmentRecord] {
		t.Helper()
		ev := recv(t, ch)
		if ev.Type != typ || ev.ID != id || ev.Err != nil {
			t.Fatalf("%s: got %v %q (err %v), want %v %q", what, ev.Type, ev.ID, ev.Err, typ, id)
		}
		if typ != EventSync && (ev.Record == nil || ev.Record.TopologyID != id || ev.Record.Version != version || ev.Key != s.Keys().Assignment(id)) {
			t.Fatalf("%s: record %+v under %q, want %s version %d", what, ev.Record, ev.Key, id, version)
		}
		return ev
	}
	expect("listing", EventPut, "a", 1)
	expect("listing", EventSync, "", 0)

	// b comes to s1; c stays on s2 and is not heard of; a leaves s1.
	if err := s.PutAssignment(ctx, placed("b", 2, "s2", "s1"), 1); err != nil {
		t.Fatal(err)
	}
	expect("b placed here", EventPut, "b", 2)
	if err := s.PutAssignment(ctx, placed("c", 1, "s2"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAssignment(ctx, placed("a", 2, "s2"), 1); err != nil {
		t.Fatal(err)
	}
	if ev := expect("a moved away", EventDelete, "a", 1); len(ev.Record.OnSupervisor("s1")) != 1 {
		t.Fatalf("the delete carries %+v, want the last record sent", ev.Record)
	}
	if err := s.DeleteAssignment(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	expect("b deleted", EventDelete, "b", 2)

	// An index key whose assignment is gone, as an older nimbus could leave: no event
	// for an assignment never sent; the repair removes the key quietly.
	if _, err := s.Client().Put(ctx, s.Keys().Placement("s1", "ghost"), `{"supervisor":"s1","topology_id":"ghost","version":4}`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SyncPlacements(ctx, []*AssignmentRecord{placed("a", 2, "s2"), placed("c", 1, "s2")}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAssignment(ctx, placed("d", 1, "s1"), 0); err != nil {
		t.Fatal(err)
	}
	expect("d after the ghost", EventPut, "d", 1)

	// An assignment deleted without its index (an older nimbus): the repair's delete
	// of the key tells the supervisor.
	if _, err := s.Client().Delete(ctx, s.Keys().Assignment("d")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SyncPlacements(ctx, []*AssignmentRecord{placed("a", 2, "s2"), placed("c", 1, "s2")}); err != nil {
		t.Fatal(err)
	}
	expect("d deleted behind the index", EventDelete, "d", 1)

	select {
	case ev := <-ch:
		t.Fatalf("an event about another supervisor's assignments: %v %q", ev.Type, ev.ID)
	case <-time.After(200 * time.Millisecond):
	}
	if ids := slices.Sorted(maps.Keys(index(t, s))); !slices.Equal(ids, []string{"s2/a", "s2/c"}) {
		t.Errorf("index %v", ids)
	}

	bad := s.WatchSupervisorAssignments(ctx, "a/b")
	if ev := recv(t, bad); ev.Err == nil || !strings.Contains(ev.Err.Error(), "supervisor id") {
		t.Fatalf("a watch of supervisor a/b: %+v", ev)
	}
	closed(t, bad)
}

// TestWatchSupervisorAssignmentsBeforeTheIndex: in a cluster whose nimbus has not written
// the index (an older release, or none has led yet), the watch passes on what concerns
// the supervisor from every assignment; once a leader has written the index it moves to
// it, and an assignment deleted meanwhile is reported gone.
func TestWatchSupervisorAssignmentsBeforeTheIndex(t *testing.T) {
	defer func(d time.Duration) { indexPollInterval = d }(indexPollInterval)
	indexPollInterval = 100 * time.Millisecond
	e := startEtcd(t)
	s := newStore(t, e, Options{})
	ctx := testutil.Context(t, 60*time.Second)
	// An older nimbus wrote these, without the index.
	for _, a := range []*AssignmentRecord{placed("a", 1, "s1"), placed("b", 1, "s2"), placed("c", 1, "s1")} {
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Client().Put(ctx, s.Keys().Assignment(a.TopologyID), string(b)); err != nil {
			t.Fatal(err)
		}
	}
	ch := s.WatchSupervisorAssignments(ctx, "s1")
	for _, want := range []string{"a", "c", ""} {
		if ev := recv(t, ch); ev.ID != want || (want == "") != (ev.Type == EventSync) {
			t.Fatalf("listing: got %v %q, want %q", ev.Type, ev.ID, want)
		}
	}
	// a leaves s1 in a write of the older nimbus: a delete.
	b, _ := json.Marshal(placed("a", 2, "s2"))
	if _, err := s.Client().Put(ctx, s.Keys().Assignment("a"), string(b)); err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, ch); ev.Type != EventDelete || ev.ID != "a" {
		t.Fatalf("a moved away: %v %q", ev.Type, ev.ID)
	}
	// c goes before the new leader indexes; then the new leader repairs the index.
	if _, err := s.Client().Delete(ctx, s.Keys().Assignment("c")); err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, ch); ev.Type != EventDelete || ev.ID != "c" {
		t.Fatalf("c deleted: %v %q", ev.Type, ev.ID)
	}
	if err := s.PutAssignment(ctx, placed("d", 1, "s1"), 0); err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, ch); ev.Type != EventPut || ev.ID != "d" {
		t.Fatalf("d placed: %v %q", ev.Type, ev.ID)
	}
	as, err := s.ListAssignments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SyncPlacements(ctx, as); err != nil {
		t.Fatal(err)
	}
	// On the index now: its listing (d again) and a sync, then only s1's changes.
	for _, want := range []string{"d", ""} {
		if ev := recv(t, ch); ev.ID != want || (want == "") != (ev.Type == EventSync) {
			t.Fatalf("the index's listing: got %v %q, want %q", ev.Type, ev.ID, want)
		}
	}
	if err := s.PutAssignment(ctx, placed("b", 2, "s2", "s2"), 1); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAssignment(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, ch); ev.Type != EventDelete || ev.ID != "d" || ev.Record == nil {
		t.Fatalf("d deleted on the index: %+v", ev)
	}
}

// TestWatchTopologySet: only the records of the topologies in the set are sent, each
// as its watch starts and on every change; a topology that leaves the set, or whose
// record is deleted, gives a delete; a sync follows each Set once every watch of the
// set has listed, and none comes before the first Set. A topology whose id extends
// another's ("t1" and "t10") is not confused with it.
func TestWatchTopologySet(t *testing.T) {
	e := startEtcd(t)
	s := newStore(t, e, Options{})
	ctx := testutil.Context(t, 60*time.Second)
	for _, id := range []string{"t1", "t10", "t2"} {
		if err := s.PutTopology(ctx, sampleTopology(id)); err != nil {
			t.Fatal(err)
		}
	}
	w := s.WatchTopologySet(ctx)
	ch := w.Events()
	select {
	case ev := <-ch:
		t.Fatalf("an event before the first Set: %v %q", ev.Type, ev.ID)
	case <-time.After(100 * time.Millisecond):
	}
	expect := func(what string, typ EventType, id string) Event[TopologyRecord] {
		t.Helper()
		ev := recv(t, ch)
		if ev.Type != typ || ev.ID != id || ev.Err != nil {
			t.Fatalf("%s: got %v %q (err %v), want %v %q", what, ev.Type, ev.ID, ev.Err, typ, id)
		}
		if typ != EventSync && (ev.Record == nil || ev.Record.ID != id) {
			t.Fatalf("%s: record %+v", what, ev.Record)
		}
		return ev
	}
	w.Set(nil)
	expect("the empty set", EventSync, "")
	w.Set([]string{"t1", "bad/id"})
	expect("t1 listed", EventPut, "t1")
	expect("t1 listed", EventSync, "")
	// Changes of t10 and t2, outside the set, are not heard of; t1's are.
	if _, err := s.UpdateTopology(ctx, "t10", func(r *TopologyRecord) error { r.Status = StatusInactive; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateTopology(ctx, "t1", func(r *TopologyRecord) error { r.Status = StatusInactive; return nil }); err != nil {
		t.Fatal(err)
	}
	if ev := expect("t1 deactivated", EventPut, "t1"); ev.Record.Status != StatusInactive {
		t.Fatalf("t1 is %s", ev.Record.Status)
	}
	// t2 joins, t1 leaves.
	w.Set([]string{"t2"})
	expect("t1 left the set", EventDelete, "t1")
	expect("t2 listed", EventPut, "t2")
	expect("t2 listed", EventSync, "")
	if err := s.DeleteTopology(ctx, "t2"); err != nil {
		t.Fatal(err)
	}
	expect("t2 deleted", EventDelete, "t2")
	// A topology not stored yet: a sync, and a put once it is.
	w.Set([]string{"t2", "t3"})
	expect("t3 not there yet", EventSync, "")
	if err := s.PutTopology(ctx, sampleTopology("t3")); err != nil {
		t.Fatal(err)
	}
	expect("t3 stored", EventPut, "t3")
	select {
	case ev := <-ch:
		t.Fatalf("an unexpected event: %v %q", ev.Type, ev.ID)
	case <-time.After(200 * time.Millisecond):
	}
}
