package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/pkg/grouping"
	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
)

func sampleTopology(id string) *TopologyRecord {
	return &TopologyRecord{
		ID:     id,
		Name:   "wordcount",
		Status: StatusActive,
		Spec: &topology.Spec{Name: "wordcount", Components: []*topology.ComponentSpec{
			{ID: "words", Kind: topology.KindSpout, Parallelism: 2, Tasks: 4,
				Streams: []topology.StreamSpec{{ID: "default", Fields: []string{"word"}}}},
			{ID: "count", Kind: topology.KindBolt, Parallelism: 3, Tasks: 3,
				Inputs: []topology.Input{{Component: "words", Stream: "default",
					Grouping: grouping.Spec{Type: grouping.Fields, Fields: []string{"word"}}}},
				Config: topology.Config{"x": "y"}},
		}},
		Config:            topology.Config{topology.ConfWorkers: int64(2), topology.ConfDebug: true},
		ArtifactDigest:    digestA,
		ArtifactSize:      12345,
		SubmittedAt:       time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		Workers:           2,
		ExecutorOverrides: map[string]int{"count": 5},
		Generation:        3,
		KillWaitSecs:      30,
	}
}

func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func TestRecordRoundTrips(t *testing.T) {
	e := startEtcd(t)
	s := newStore(t, e, Options{})
	ctx := testutil.Context(t, 30*time.Second)

	// Topologies.
	t1, t2 := sampleTopology("wc-1"), sampleTopology("wc-2")
	t2.Status = StatusInactive
	for _, r := range []*TopologyRecord{t2, t1} {
		if err := s.PutTopology(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetTopology(ctx, "wc-1")
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "topology", got, t1)
	if n, _ := got.Config.Int(topology.ConfWorkers, 0); n != 2 {
		t.Errorf("config workers = %d after the round trip", n)
	}
	if got.Spec.Component("count").Inputs[0].Grouping.Type != grouping.Fields {
		t.Errorf("grouping lost: %+v", got.Spec.Component("count").Inputs[0])
	}
	all, err := s.ListTopologies(ctx)
	if err != nil || len(all) != 2 || all[0].ID != "wc-1" || all[1].ID != "wc-2" {
		t.Fatalf("list = %v, %v", all, err)
	}
	upd, err := s.UpdateTopology(ctx, "wc-2", func(r *TopologyRecord) error { r.Status = StatusKilled; return nil })
	if err != nil || upd.Status != StatusKilled {
		t.Fatalf("update = %+v, %v", upd, err)
	}
	if err := s.DeleteTopology(ctx, "wc-2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTopology(ctx, "wc-2"); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
	if _, err := s.GetTopology(ctx, "wc-2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if _, err := s.UpdateTopology(ctx, "wc-2", func(*TopologyRecord) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of a missing topology: %v", err)
	}

	// Assignments.
	a := &AssignmentRecord{TopologyID: "wc-1", Version: 1, UpdatedAt: time.Now().UTC(), Workers: []scheduler.WorkerSlot{
		{Name: "w0", Supervisor: "s1", Host: "127.0.0.1", Port: 6700, Executors: [][]int32{{1, 2, 3}}},
		{Name: "w1", Supervisor: "s1", Host: "127.0.0.1", Port: 6701, Executors: [][]int32{{4, 5}}},
	}, RequestedWorkers: 3, Generation: 2, Parallelism: map[string]int{"count": 2}}
	if err := s.PutAssignment(ctx, a, 0); err != nil {
		t.Fatal(err)
	}
	ga, err := s.GetAssignment(ctx, "wc-1")
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "assignment", ga, a)
	if !ga.KeepsRequest() || ga.RequestedWorkers != 3 || ga.Generation != 2 || ga.Parallelism["count"] != 2 {
		t.Errorf("what the placement was made for is lost: %+v", ga)
	}
	if ws := ga.OnSupervisor("s1"); len(ws) != 2 {
		t.Errorf("on s1: %v", ws)
	}
	if as, err := s.ListAssignments(ctx); err != nil || len(as) != 1 {
		t.Errorf("list assignments = %v, %v", as, err)
	}
	if err := s.DeleteAssignment(ctx, "wc-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAssignment(ctx, "wc-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}

	// Artifact holders.
	for _, h := range []*ArtifactHolder{
		{Digest: digestA, NimbusID: "n1", Size: 10, StoredAt: time.Now().UTC()},
		{Digest: digestA, NimbusID: "n2", Size: 10, StoredAt: time.Now().UTC()},
		{Digest: digestB, NimbusID: "n1", Size: 20, StoredAt: time.Now().UTC()},
	} {
		if err := s.PutArtifactHolder(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	if hs, err := s.ListArtifactHolders(ctx, digestA); err != nil || len(hs) != 2 || hs[0].NimbusID != "n1" || hs[1].NimbusID != "n2" {
		t.Fatalf("holders of A = %v, %v", hs, err)
	}
	if hs, err := s.ListArtifactHolders(ctx, ""); err != nil || len(hs) != 3 {
		t.Fatalf("all holders = %v, %v", hs, err)
	}
	if err := s.DeleteArtifactHolder(ctx, digestA, "n2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteArtifactHolder(ctx, digestB, ""); err != nil {
		t.Fatal(err)
	}
	if hs, err := s.ListArtifactHolders(ctx, ""); err != nil || len(hs) != 1 || hs[0].NimbusID != "n1" || hs[0].Digest != digestA {
		t.Fatalf("holders left = %v, %v", hs, err)
	}

	// Leased records.
	sup := &SupervisorRecord{ID: "s1", Host: "node-a", Address: "127.0.0.1:7000", Slots: []int{6700, 6701}, Version: "v0"}
	reg, err := s.RegisterSupervisor(ctx, sup, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	gs, err := s.GetSupervisor(ctx, "s1")
	if err != nil || gs.Host != "node-a" || len(gs.Slots) != 2 || gs.StartedAt.IsZero() {
		t.Fatalf("supervisor = %+v, %v", gs, err)
	}
	nim, err := s.RegisterNimbus(ctx, &NimbusRecord{ID: "n1", Address: "127.0.0.1:6627"}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ns, err := s.ListNimbus(ctx); err != nil || len(ns) != 1 || ns[0].Address != "127.0.0.1:6627" {
		t.Fatalf("nimbus = %v, %v", ns, err)
	}
	if gn, err := s.GetNimbus(ctx, "n1"); err != nil || gn.ID != "n1" {
		t.Fatalf("nimbus n1 = %v, %v", gn, err)
	}
	hb := &WorkerHeartbeat{TopologyID: "t1", WorkerID: "w0", Supervisor: "s1", Port: 6700, PID: 4242, Version: 1}
	hr, err := s.HeartbeatWorker(ctx, hb, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.HeartbeatWorker(ctx, &WorkerHeartbeat{TopologyID: "t10", WorkerID: "w0", Supervisor: "s1", Port: 6701, PID: 4243, Version: 1}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ws, err := s.ListWorkers(ctx, "t1"); err != nil || len(ws) != 1 || ws[0].PID != 4242 || ws[0].Time.IsZero() {
		t.Fatalf("workers of t1 = %v, %v", ws, err)
	}
	if ws, err := s.ListWorkers(ctx, ""); err != nil || len(ws) != 2 {
		t.Fatalf("all workers = %v, %v", ws, err)
	}
	hb2 := *hb
	hb2.Version = 2
	if err := hr.Update(ctx, &hb2); err != nil {
		t.Fatal(err)
	}
	if gw, err := s.GetWorker(ctx, "t1", "w0"); err != nil || gw.Version != 2 {
		t.Fatalf("worker after update = %+v, %v", gw, err)
	}
	moved := hb2
	moved.WorkerID = "w9"
	if err := hr.Update(ctx, &moved); err == nil {
		t.Error("an update that changes the worker id was accepted")
	}
	if err := reg.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := reg.Close(ctx); err != nil {
		t.Fatalf("closing twice: %v", err)
	}
	if _, err := s.GetSupervisor(ctx, "s1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("supervisor after Close: %v", err)
	}
	for _, c := range []func() error{
		func() error { return nim.Close(ctx) },
		func() error { return hr.Close(ctx) },
		func() error { return other.Close(ctx) },
	} {
		if err := c(); err != nil {
			t.Fatal(err)
		}
	}
	if ws, err := s.ListWorkers(ctx, ""); err != nil || len(ws) != 0 {
		t.Fatalf("workers after Close = %v, %v", ws, err)
	}
}

func TestRefusesInvalidRecords(t *testing.T) {
	e := startEtcd(t)
	s := newStore(t, e, Options{})
	ctx := testutil.Context(t, 30*time.Second)

	bad := sampleTopology("wc")
	bad.Status = "paused"
	bad.ArtifactDigest = "abc"
	err := s.PutTopology(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), "paused") || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("put of an invalid topology: %v", err)
	}
	if _, err := s.RegisterSupervisor(ctx, &SupervisorRecord{ID: "a/b"}, time.Second); err == nil {
		t.Fatal("a supervisor id with a slash was accepted")
	}
	if _, err := s.RegisterSupervisor(ctx, &SupervisorRecord{ID: "s", Slots: []int{70000}}, time.Second); err == nil {
		t.Fatal("slot port 70000 was accepted")
	}
	if _, err := s.GetTopology(ctx, "../x"); err == nil {
		t.Fatal("a topology id with a slash was accepted")
	}
	if err := s.PutAssignment(ctx, &AssignmentRecord{TopologyID: "t", Version: 1, Workers: []scheduler.WorkerSlot{{Name: "w"}, {Name: "w"}}}, 0); err == nil {
		t.Fatal("an assignment with a duplicate worker was accepted")
	}
	err = s.PutAssignment(ctx, &AssignmentRecord{TopologyID: "t", Version: 1, RequestedWorkers: -1, Generation: -2, Parallelism: map[string]int{"c": 0}}, 0)
	for _, want := range []string{"requested workers -1", "generation -2", `parallelism of "c" is 0`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("put of an assignment with negative request fields: %v; want it to say %q", err, want)
		}
	}
	bad = sampleTopology("wc")
	bad.Generation = -1
	if err := s.PutTopology(ctx, bad); err == nil || !strings.Contains(err.Error(), "generation -1 is negative") {
		t.Errorf("put of a topology with a negative generation: %v", err)
	}
}

func TestGarbageUnderAKeyIsAnErrorNamingIt(t *testing.T) {
	e := startEtcd(t)
	s := newStore(t, e, Options{})
	ctx := testutil.Context(t, 30*time.Second)

	if err := s.PutTopology(ctx, sampleTopology("good")); err != nil {
		t.Fatal(err)
	}
	badKey := s.Keys().Topology("bad")
	if _, err := s.Client().Put(ctx, badKey, "{not json"); err != nil {
		t.Fatal(err)
	}
	misfiled := s.Keys().Topology("misfiled")
	b, _ := json.Marshal(sampleTopology("other"))
	if _, err := s.Client().Put(ctx, misfiled, string(b)); err != nil {
		t.Fatal(err)
	}

	_, err := s.GetTopology(ctx, "bad")
	var ire *InvalidRecordError
	if !errors.As(err, &ire) || ire.Key != badKey || !strings.Contains(err.Error(), badKey) {
		t.Fatalf("get of garbage: %v", err)
	}
	if _, err := s.GetTopology(ctx, "misfiled"); err == nil || !strings.Contains(err.Error(), `"other"`) {
		t.Fatalf("a record under another id's key: %v", err)
	}
	list, err := s.ListTopologies(ctx)
	if len(list) != 1 || list[0].ID != "good" {
		t.Fatalf("list kept %v", list)
	}
	if err == nil || !strings.Contains(err.Error(), badKey) || !strings.Contains(err.Error(), misfiled) {
		t.Fatalf("list error: %v", err)
	}
	// PutAssignment refuses to compare against a value it cannot read.
	if _, err := s.Client().Put(ctx, s.Keys().Assignment("t"), "null"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAssignment(ctx, &AssignmentRecord{TopologyID: "t", Version: 1}, 0); !errors.As(err, &ire) {
		t.Fatalf("CAS over garbage: %v", err)
	}
}

func TestPutAssignmentCompareAndSwap(t *testing.T) {
	e := startEtcd(t)
	s := newStore(t, e, Options{})
	ctx := testutil.Context(t, 30*time.Second)

	a := func(v int64) *AssignmentRecord {
		return &AssignmentRecord{TopologyID: "wc", Version: v, Workers: []scheduler.WorkerSlot{{Name: "w0", Host: "127.0.0.1", Port: 1, Executors: [][]int32{{1}}}}}
	}
	if err := s.PutAssignment(ctx, a(1), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAssignment(ctx, a(2), 0); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "re-read") {
		t.Fatalf("a second create: %v", err)
	}
	if err := s.PutAssignment(ctx, a(2), 1); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAssignment(ctx, a(3), 1); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "expected version 1 but found 2") {
		t.Fatalf("a stale update: %v", err)
	}
	if err := s.PutAssignment(ctx, a(1), 2); err == nil || errors.Is(err, ErrConflict) {
		t.Fatalf("a version that moves back: %v", err)
	}
	// The same version rewrites what an unchanged placement was made for.
	same := a(2)
	same.RequestedWorkers, same.Generation = 2, 1
	if err := s.PutAssignment(ctx, same, 1); !errors.Is(err, ErrConflict) {
		t.Fatalf("a same-version rewrite over a stale version: %v", err)
	}
	if err := s.PutAssignment(ctx, same, 2); err != nil {
		t.Fatalf("a same-version rewrite: %v", err)
	}
	if got, err := s.GetAssignment(ctx, "wc"); err != nil || got.Version != 2 || got.Generation != 1 || got.RequestedWorkers != 2 {
		t.Fatalf("after the same-version rewrite: %+v, %v", got, err)
	}

	// Racing schedulers: exactly one of them wins.
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			err := s.PutAssignment(ctx, a(int64(3+i)), 2)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, ErrConflict):
				conflicts.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != 7 {
		t.Fatalf("%d wins and %d conflicts; want 1 and 7", wins.Load(), conflicts.Load())
	}

	if err := s.DeleteAssignment(ctx, "wc"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAssignment(ctx, a(9), 3); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "deleted") {
		t.Fatalf("an update of a deleted assignment: %v", err)
	}
}

func TestUpdateTopologyRetriesRaces(t *testing.T) {
	e := startEtcd(t)
	s := newStore(t, e, Options{})
	ctx := testutil.Context(t, 30*time.Second)
	r := sampleTopology("wc")
	r.Workers = 0
	if err := s.PutTopology(ctx, r); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				if _, err := s.UpdateTopology(ctx, "wc", func(r *TopologyRecord) error { r.Workers++; return nil }); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got, err := s.GetTopology(ctx, "wc")
	if err != nil || got.Workers != 20 {
		t.Fatalf("workers = %v, %v; want 20", got, err)
	}
	stop := errors.New("no")
	if _, err := s.UpdateTopology(ctx, "wc", func(*TopologyRecord) error { return stop }); err != stop {
		t.Fatalf("the change's error: %v", err)
	}
	if _, err := s.UpdateTopology(ctx, "wc", func(r *TopologyRecord) error { r.ID = "x"; return nil }); err == nil {
		t.Fatal("a rename was accepted")
	}
}

// TestNextAssignmentVersion: versions rise with every call, start above what the caller
// knows of, survive a new Store (a new leader), and never repeat under concurrency.
func TestNextAssignmentVersion(t *testing.T) {
	e := startEtcd(t)
	s := newStore(t, e, Options{})
	ctx := testutil.Context(t, 30*time.Second)
	steps := []struct {
		atLeast, want int64
	}{{0, 1}, {0, 2}, {5, 5}, {1, 6}, {0, 7}}
	for _, st := range steps {
		if got, err := s.NextAssignmentVersion(ctx, "wc", st.atLeast); err != nil || got != st.want {
			t.Fatalf("NextAssignmentVersion(%d) = %d, %v; want %d", st.atLeast, got, err, st.want)
		}
	}
	other := newStore(t, e, Options{Root: s.Keys().Root()})
	if got, err := other.NextAssignmentVersion(ctx, "wc", 0); err != nil || got != 8 {
		t.Fatalf("from another store: %d, %v; want 8", got, err)
	}
	seen := make(chan int64, 20)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			v, err := s.NextAssignmentVersion(ctx, "wc", 0)
			if err != nil {
				t.Error(err)
			}
			seen <- v
		})
	}
	wg.Wait()
	close(seen)
	got := map[int64]bool{}
	for v := range seen {
		if got[v] || v <= 8 {
			t.Errorf("version %d handed out twice or below 9", v)
		}
		got[v] = true
	}
	if _, err := s.NextAssignmentVersion(ctx, "../x", 0); err == nil {
		t.Error("a topology id with a slash was accepted")
	}
}
