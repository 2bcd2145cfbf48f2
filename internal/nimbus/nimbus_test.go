package nimbus

import (
	"bytes"
	"context"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/internal/testutil/etcdtest"
	"github.com/sparsestream/sparse/pkg/topology"
)

func TestSubmitStoresListsDescribesAndServes(t *testing.T) {
	cfg := fast(t, testRoot(t))
	n := startNimbus(t, cfg)
	waitLeader(t, n)
	c := dial(t, n.Addr())
	ctx := testutil.Context(t, 30*time.Second)
	st := n.Store()

	data := artifact(2*ChunkSize + 12345)
	h := header(t, wordcount("wc"), data, topology.Config{topology.ConfWorkers: int64(2), "my.setting": "x"})
	id, err := submit(ctx, c, h, data)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	if !strings.HasPrefix(id, "wc-") {
		t.Errorf("topology id %q", id)
	}

	// The blob, the holder record and the topology record.
	digest := Digest(data)
	if got, err := os.ReadFile(n.Blobs().Path(digest)); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the stored blob differs from what was sent (%v)", err)
	}
	if fs := blobFiles(t, cfg.DataDir); !slices.Equal(fs, []string{digest}) {
		t.Errorf("blob directory holds %v", fs)
	}
	holders, err := st.ListArtifactHolders(ctx, digest)
	if err != nil || len(holders) != 1 || holders[0].NimbusID != n.ID() || holders[0].Size != int64(len(data)) {
		t.Fatalf("artifact holders = %+v, %v", holders, err)
	}
	rec, err := st.GetTopology(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Name != "wc" || rec.Status != cluster.StatusActive || rec.Workers != 2 || rec.ArtifactDigest != digest || rec.ArtifactSize != int64(len(data)) {
		t.Errorf("topology record = %+v", rec)
	}
	if n, _ := rec.Config.Int(topology.ConfAckerExecutors, -1); n != 2 {
		t.Errorf("%s = %v, want it fixed at 2 (one per worker)", topology.ConfAckerExecutors, rec.Config[topology.ConfAckerExecutors])
	}
	if rec.Config.String("my.setting", "") != "x" {
		t.Errorf("the override is missing from the config: %v", rec.Config)
	}
	if rec.Spec == nil || rec.Spec.Name != "wc" || len(rec.Spec.Components) != 3 {
		t.Errorf("stored spec = %+v", rec.Spec)
	}

	// The same name again is refused while the first runs.
	if _, err := submit(ctx, c, h, data); status.Code(err) != codes.AlreadyExists {
		t.Errorf("a second submit of the name: %v, want AlreadyExists", err)
	}

	list, err := c.List(ctx, &sparsev1.ListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetTopologies()) != 1 {
		t.Fatalf("List = %v", list)
	}
	sum := list.GetTopologies()[0]
	// 2 spout + 2 count + 1 print + 2 acker executors; 2 + 4 + 1 + 2 tasks.
	if sum.GetId() != id || sum.GetName() != "wc" || sum.GetStatus() != "active" || sum.GetRequestedWorkers() != 2 ||
		sum.GetExecutors() != 7 || sum.GetTasks() != 9 {
		t.Errorf("summary = %v", sum)
	}
	if !strings.Contains(sum.GetScheduling(), "waiting for a free slot") {
		t.Errorf("with no supervisor, scheduling says %q", sum.GetScheduling())
	}

	d, err := c.Describe(ctx, &sparsev1.TopologyRef{Name: "wc"})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, comp := range d.GetComponents() {
		kinds[comp.GetId()] = comp.GetKind()
	}
	if kinds["words"] != "spout" || kinds["count"] != "bolt" || kinds["__acker"] != "acker" || len(kinds) != 4 {
		t.Errorf("components = %v", d.GetComponents())
	}
	if d.GetArtifactSha256() != digest || d.GetConfig()["my.setting"].GetStringValue() != "x" ||
		d.GetConfig()[topology.ConfWorkers].GetIntValue() != 2 {
		t.Errorf("description = %v", d)
	}
	if len(d.GetErrors()) == 0 {
		t.Error("an unscheduled topology's description gives no reason")
	}
	if _, err := c.Describe(ctx, &sparsev1.TopologyRef{Name: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("Describe of an unknown topology: %v", err)
	}

	got, err := fetch(ctx, c, digest)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("FetchArtifact returned %d bytes (%v), want the %d submitted", len(got), err, len(data))
	}
	missing := Digest([]byte("never submitted"))
	if _, err := fetch(ctx, c, missing); status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), missing) {
		t.Errorf("fetching an unknown artifact: %v", err)
	}
	if _, err := fetch(ctx, c, "../etc/passwd"); status.Code(err) != codes.InvalidArgument {
		t.Errorf("fetching a bad digest: %v", err)
	}

	lr, err := c.Leader(ctx, &sparsev1.LeaderRequest{})
	if err != nil || !lr.GetIsLeader() || lr.GetLeaderId() != n.ID() || lr.GetLeaderAddress() != n.Addr() {
		t.Errorf("Leader = %v, %v", lr, err)
	}
}

func TestRefusedSubmitStoresNothing(t *testing.T) {
	cfg := fast(t, testRoot(t))
	n := startNimbus(t, cfg)
	waitLeader(t, n)
	c := dial(t, n.Addr())
	ctx := testutil.Context(t, 30*time.Second)
	data := artifact(ChunkSize + 100)

	bad := wordcount("bad")
	bad.Components[1].Parallelism = 0                              // problem 1
	bad.Components[1].Inputs[0].Grouping.Fields = []string{"nope"} // problem 2
	bad.Components[2].Inputs[0].Component = "ghost"                // problem 3

	tests := []struct {
		name   string
		header func() *sparsev1.SubmitHeader
		data   []byte
		code   codes.Code
		want   []string
	}{
		{"invalid spec lists every problem", func() *sparsev1.SubmitHeader { return header(t, bad, data, nil) }, data, codes.InvalidArgument,
			[]string{"(3 problems)", "parallelism is 0", `field "nope"`, `unknown component "ghost"`}},
		{"a bad override is refused", func() *sparsev1.SubmitHeader {
			return header(t, wordcount("o"), data, topology.Config{topology.ConfWorkers: int64(0), topology.ConfMaxSpoutPending: "lots"})
		}, data, codes.InvalidArgument, []string{"topology.workers is 0", topology.ConfMaxSpoutPending}},
		{"sha256 mismatch", func() *sparsev1.SubmitHeader {
			h := header(t, wordcount("sha"), data, nil)
			h.ArtifactSha256 = Digest([]byte("other"))
			return h
		}, data, codes.InvalidArgument, []string{"artifact is corrupt: expected sha256 " + Digest([]byte("other")) + ", got " + Digest(data), "re-run sparsectl submit"}},
		{"fewer bytes than announced", func() *sparsev1.SubmitHeader {
			h := header(t, wordcount("short"), data, nil)
			h.ArtifactSize++
			return h
		}, data, codes.InvalidArgument, []string{"artifact is corrupt", "(1048676 bytes)"}},
		{"more bytes than announced", func() *sparsev1.SubmitHeader {
			h := header(t, wordcount("long"), data[:100], nil)
			return h
		}, data, codes.InvalidArgument, []string{"artifact is corrupt", "got more than 100 bytes"}},
		{"no header", func() *sparsev1.SubmitHeader { return nil }, data, codes.InvalidArgument, []string{"SubmitHeader"}},
		{"bad digest, empty artifact and unsupported kind", func() *sparsev1.SubmitHeader {
			h := header(t, wordcount("hdr"), nil, nil)
			h.ArtifactSha256 = "xyz"
			h.Kind = sparsev1.ArtifactKind(99)
			return h
		}, nil, codes.InvalidArgument, []string{"artifact_sha256", "artifact_size is 0", "artifact kind 99 is unknown"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := submit(ctx, c, tc.header(), tc.data)
			if status.Code(err) != tc.code {
				t.Fatalf("submit: %v, want %s", err, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(status.Convert(err).Message(), w) {
					t.Errorf("the error does not say %q:\n%s", w, status.Convert(err).Message())
				}
			}
			if fs := blobFiles(t, cfg.DataDir); len(fs) != 0 {
				t.Errorf("a refused submit left files in the blob store: %v", fs)
			}
			keys := n.Store().Keys()
			for _, p := range []string{keys.TopologiesPrefix(), keys.ArtifactsPrefix(), keys.AssignmentsPrefix()} {
				if k := countKeys(t, n.Store(), p); k != 0 {
					t.Errorf("a refused submit left %d keys under %s", k, p)
				}
			}
		})
	}
}

func TestScheduleRebalanceKill(t *testing.T) {
	cfg := fast(t, testRoot(t))
	n := startNimbus(t, cfg)
	waitLeader(t, n)
	c := dial(t, n.Addr())
	ctx := testutil.Context(t, 40*time.Second)
	st := n.Store()
	supervisor(t, st, "sup-a", 6700, 6701)
	supervisor(t, st, "sup-b", 6700, 6701)

	data := artifact(1000)
	id, err := submit(ctx, c, header(t, wordcount("sched"), data, topology.Config{topology.ConfWorkers: int64(2)}), data)
	if err != nil {
		t.Fatal(err)
	}
	var rec *cluster.AssignmentRecord
	testutil.Eventually(t, 10*time.Second, "an assignment", func() bool {
		rec, err = st.GetAssignment(ctx, id)
		return err == nil
	})
	rec = checkAssignment(t, st, id)
	if len(rec.Workers) != 2 || rec.Workers[0].Supervisor == rec.Workers[1].Supervisor {
		t.Errorf("two workers should go to two supervisors: %+v", rec.Workers)
	}
	for _, w := range rec.Workers {
		if w.ID() != w.Supervisor+":"+itoa(w.Port) || w.Address() != "host-"+w.Supervisor+":"+itoa(w.Port) {
			t.Errorf("worker %+v", w)
		}
	}
	v1 := rec.Version

	// The assignment stays as it is while nothing changes.
	time.Sleep(3 * cfg.ScheduleEvery)
	if again, err := st.GetAssignment(ctx, id); err != nil || again.Version != v1 {
		t.Fatalf("the assignment changed without cause: %+v, %v", again, err)
	}
	d, err := c.Describe(ctx, &sparsev1.TopologyRef{Name: id})
	if err != nil || d.GetAssignmentVersion() != v1 || len(d.GetWorkers()) != 2 || d.GetSummary().GetScheduling() != "" {
		t.Errorf("Describe = %v, %v", d, err)
	}
	if d.GetWorkers()[0].GetAlive() {
		t.Error("a worker without heartbeat is shown alive")
	}
	sups, err := c.ListSupervisors(ctx, &sparsev1.ListSupervisorsRequest{})
	if err != nil || len(sups.GetSupervisors()) != 2 || len(sups.GetSupervisors()[0].GetUsedSlots()) != 1 {
		t.Errorf("ListSupervisors = %v, %v", sups, err)
	}

	// Rebalance: more workers, more executors of count.
	if _, err := c.Rebalance(ctx, &sparsev1.RebalanceRequest{Name: "sched", Workers: 3, Executors: map[string]int32{"count": 4}}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "a rebalanced assignment", func() bool {
		rec, err = st.GetAssignment(ctx, id)
		return err == nil && rec.Version > v1 && len(rec.Workers) == 3
	})
	rec = checkAssignment(t, st, id)
	topo, _ := st.GetTopology(ctx, id)
	if topo.Workers != 3 || topo.ExecutorOverrides["count"] != 4 || topo.Generation != 1 {
		t.Errorf("after rebalance, the record says workers %d, overrides %v, generation %d", topo.Workers, topo.ExecutorOverrides, topo.Generation)
	}
	if rec.RequestedWorkers != 3 || rec.Generation != 1 || len(rec.Parallelism) != 1 || rec.Parallelism["count"] != 4 {
		t.Errorf("the rebalanced assignment keeps requested %d, generation %d, parallelism %v; want 3, 1, count=4",
			rec.RequestedWorkers, rec.Generation, rec.Parallelism)
	}
	bad := []*sparsev1.RebalanceRequest{
		{Name: "sched", Executors: map[string]int32{"count": 5}},
		{Name: "sched", Executors: map[string]int32{"__acker": 1}},
		{Name: "sched", Executors: map[string]int32{"ghost": 1}},
		{Name: "sched", Workers: -1},
		{Name: "ghost"},
	}
	for _, r := range bad {
		if _, err := c.Rebalance(ctx, r); err == nil {
			t.Errorf("rebalance %v was accepted", r)
		}
	}

	// A rebalance with a wait deactivates the topology for the wait, then moves it and
	// activates it again.
	v2 := rec.Version
	start := time.Now()
	rebalanced := make(chan error, 1)
	go func() {
		_, err := c.Rebalance(ctx, &sparsev1.RebalanceRequest{Name: "sched", Workers: 2, WaitSecs: 1})
		rebalanced <- err
	}()
	testutil.Eventually(t, 5*time.Second, "deactivated for the rebalance", func() bool {
		topo, err := st.GetTopology(ctx, id)
		return err == nil && topo.Status == cluster.StatusInactive
	})
	if l, err := c.List(ctx, &sparsev1.ListRequest{}); err != nil || l.GetTopologies()[0].GetStatus() != "rebalancing" {
		t.Errorf("List during the rebalance wait = %v, %v", l, err)
	}
	if err := <-rebalanced; err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < time.Second {
		t.Errorf("the rebalance returned after %s, before its 1s wait", time.Since(start))
	}
	if topo, _ := st.GetTopology(ctx, id); topo.Status != cluster.StatusActive || topo.Workers != 2 {
		t.Errorf("after the rebalance: status %s, workers %d", topo.Status, topo.Workers)
	}
	testutil.Eventually(t, 10*time.Second, "two workers again", func() bool {
		rec, err = st.GetAssignment(ctx, id)
		return err == nil && rec.Version > v2 && len(rec.Workers) == 2
	})
	checkAssignment(t, st, id)

	// Deactivate and activate.
	if _, err := c.Deactivate(ctx, &sparsev1.TopologyRef{Name: "sched"}); err != nil {
		t.Fatal(err)
	}
	if topo, _ := st.GetTopology(ctx, id); topo.Status != cluster.StatusInactive {
		t.Errorf("status after deactivate: %s", topo.Status)
	}
	if _, err := c.Activate(ctx, &sparsev1.TopologyRef{Name: "sched"}); err != nil {
		t.Fatal(err)
	}
	if topo, _ := st.GetTopology(ctx, id); topo.Status != cluster.StatusActive {
		t.Errorf("status after activate: %s", topo.Status)
	}

	// Kill with a wait: the records stay for the wait, then go.
	start = time.Now()
	killed := make(chan error, 1)
	go func() {
		_, err := c.Kill(ctx, &sparsev1.KillRequest{Name: "sched", WaitSecs: 1})
		killed <- err
	}()
	testutil.Eventually(t, 5*time.Second, "status killed", func() bool {
		topo, err := st.GetTopology(ctx, id)
		return err == nil && topo.Status == cluster.StatusKilled
	})
	if _, err := st.GetAssignment(ctx, id); err != nil {
		t.Errorf("the assignment went before the kill wait ended: %v", err)
	}
	l, _ := c.List(ctx, &sparsev1.ListRequest{})
	if len(l.GetTopologies()) != 1 || l.GetTopologies()[0].GetStatus() != "killing" {
		t.Errorf("List while killing = %v", l)
	}
	if err := <-killed; err != nil {
		t.Fatalf("kill: %v", err)
	}
	if time.Since(start) < time.Second {
		t.Errorf("kill returned after %s, before its 1s wait", time.Since(start))
	}
	if _, err := st.GetTopology(ctx, id); !errors.Is(err, cluster.ErrNotFound) {
		t.Errorf("topology after kill: %v", err)
	}
	if _, err := st.GetAssignment(ctx, id); !errors.Is(err, cluster.ErrNotFound) {
		t.Errorf("assignment after kill: %v", err)
	}
	// The name is free again.
	if _, err := submit(ctx, c, header(t, wordcount("sched"), data, nil), data); err != nil {
		t.Errorf("submitting the killed topology's name again: %v", err)
	}
}

func TestFailureDetection(t *testing.T) {
	cfg := fast(t, testRoot(t))
	cfg.WorkerStartGrace = 500 * time.Millisecond
	cfg.WorkerTimeout = time.Second
	n := startNimbus(t, cfg)
	waitLeader(t, n)
	c := dial(t, n.Addr())
	ctx := testutil.Context(t, 40*time.Second)
	st := n.Store()
	supA := supervisor(t, st, "a", 6700)
	supervisor(t, st, "b", 6700)

	data := artifact(100)
	id, err := submit(ctx, c, header(t, wordcount("fd"), data, nil), data)
	if err != nil {
		t.Fatal(err)
	}
	var rec *cluster.AssignmentRecord
	testutil.Eventually(t, 10*time.Second, "an assignment", func() bool {
		rec, err = st.GetAssignment(ctx, id)
		return err == nil
	})
	if rec.Workers[0].Supervisor != "a" {
		t.Fatalf("the first worker should go to supervisor a: %+v", rec.Workers)
	}

	// A heartbeating worker stays where it is past grace and timeout.
	hbCtx, stopHB := context.WithCancel(ctx)
	hb, err := st.HeartbeatWorker(hbCtx, &cluster.WorkerHeartbeat{TopologyID: id, WorkerID: "a:6700", Supervisor: "a", Port: 6700, PID: 1, Version: rec.Version}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(cfg.WorkerStartGrace + cfg.WorkerTimeout + 500*time.Millisecond)
	if again, _ := st.GetAssignment(ctx, id); again.Version != rec.Version {
		t.Fatalf("a heartbeating worker was moved: %+v", again)
	}
	d, _ := c.Describe(ctx, &sparsev1.TopologyRef{Name: id})
	if !d.GetWorkers()[0].GetAlive() {
		t.Error("a heartbeating worker is shown dead")
	}

	// Its heartbeat stops: it moves to b.
	stopHB()
	hb.Close(ctx)
	testutil.Eventually(t, 10*time.Second, "the worker moved to b", func() bool {
		rec2, err := st.GetAssignment(ctx, id)
		return err == nil && rec2.Version > rec.Version && rec2.Workers[0].Supervisor == "b"
	})
	rec = checkAssignment(t, st, id)

	// Supervisor b dies (its record goes): the worker moves back to a once a's slot is
	// usable again.
	_, err = st.HeartbeatWorker(ctx, &cluster.WorkerHeartbeat{TopologyID: id, WorkerID: "b:6700", Supervisor: "b", Port: 6700, Version: rec.Version}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteSupervisor(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the worker moved back to a", func() bool {
		rec2, err := st.GetAssignment(ctx, id)
		return err == nil && rec2.Version > rec.Version && rec2.Workers[0].Supervisor == "a"
	})
	checkAssignment(t, st, id)

	// No supervisor at all: the topology waits, unassigned, with a reason.
	supA.Close(ctx)
	testutil.Eventually(t, 10*time.Second, "the assignment removed", func() bool {
		_, err := st.GetAssignment(ctx, id)
		return errors.Is(err, cluster.ErrNotFound)
	})
	l, err := c.List(ctx, &sparsev1.ListRequest{})
	if err != nil || !strings.Contains(l.GetTopologies()[0].GetScheduling(), "waiting for a free slot") {
		t.Errorf("List = %v, %v", l, err)
	}
}

func TestStandbyRedirectsReplicatesAndTakesOver(t *testing.T) {
	root := testRoot(t)
	cfg1 := fast(t, root)
	cfg1.ID = "n1"
	n1 := startNimbus(t, cfg1)
	waitLeader(t, n1)
	cfg2 := fast(t, root)
	cfg2.ID = "n2"
	n2 := startNimbus(t, cfg2)
	c1, c2 := dial(t, n1.Addr()), dial(t, n2.Addr())
	ctx := testutil.Context(t, 40*time.Second)

	data := artifact(ChunkSize + 3)
	h := header(t, wordcount("ha"), data, nil)
	_, err := submit(ctx, c2, h, data)
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("submit to the standby: %v, want FailedPrecondition", err)
	}
	want := "not the leader; the leader is nimbus n1 at " + n1.Addr()
	if status.Convert(err).Message() != want {
		t.Errorf("the standby says %q, want %q", status.Convert(err).Message(), want)
	}
	var info *errdetails.ErrorInfo
	for _, d := range status.Convert(err).Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			info = ei
		}
	}
	if info == nil || info.GetMetadata()["leader_address"] != n1.Addr() || info.GetMetadata()["leader_id"] != "n1" {
		t.Errorf("the error's details = %v", status.Convert(err).Details())
	}
	if fs := blobFiles(t, cfg2.DataDir); len(fs) != 0 {
		t.Errorf("the standby stored %v", fs)
	}
	for _, call := range []func() error{
		func() error { _, err := c2.Kill(ctx, &sparsev1.KillRequest{Name: "ha"}); return err },
		func() error { _, err := c2.Activate(ctx, &sparsev1.TopologyRef{Name: "ha"}); return err },
		func() error { _, err := c2.Deactivate(ctx, &sparsev1.TopologyRef{Name: "ha"}); return err },
		func() error { _, err := c2.Rebalance(ctx, &sparsev1.RebalanceRequest{Name: "ha"}); return err },
	} {
		if err := call(); status.Code(err) != codes.FailedPrecondition {
			t.Errorf("a state-changing call on the standby: %v", err)
		}
	}

	id, err := submit(ctx, c1, h, data)
	if err != nil {
		t.Fatal(err)
	}
	digest := Digest(data)
	testutil.Eventually(t, 10*time.Second, "the standby holds the artifact", func() bool {
		hs, err := n2.Store().ListArtifactHolders(ctx, digest)
		return err == nil && len(hs) == 2
	})
	if got, err := os.ReadFile(n2.Blobs().Path(digest)); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the standby's copy differs (%v)", err)
	}
	l, err := c2.List(ctx, &sparsev1.ListRequest{})
	if err != nil || len(l.GetTopologies()) != 1 || l.GetTopologies()[0].GetId() != id {
		t.Errorf("List on the standby = %v, %v", l, err)
	}
	if _, err := c2.Describe(ctx, &sparsev1.TopologyRef{Name: "ha"}); err != nil {
		t.Errorf("Describe on the standby: %v", err)
	}
	lr, err := c2.Leader(ctx, &sparsev1.LeaderRequest{})
	if err != nil || lr.GetIsLeader() || lr.GetLeaderId() != "n1" || lr.GetLeaderAddress() != n1.Addr() {
		t.Errorf("Leader on the standby = %v, %v", lr, err)
	}

	// The leader stops: the standby takes over at once (the leader resigns).
	n1.Close()
	waitLeader(t, n2)
	lr, err = c2.Leader(ctx, &sparsev1.LeaderRequest{})
	if err != nil || !lr.GetIsLeader() || lr.GetLeaderId() != "n2" {
		t.Errorf("Leader after takeover = %v, %v", lr, err)
	}
	if got, err := fetch(ctx, c2, digest); err != nil || !bytes.Equal(got, data) {
		t.Errorf("FetchArtifact from the new leader: %d bytes, %v", len(got), err)
	}
	if _, err := c2.Deactivate(ctx, &sparsev1.TopologyRef{Name: "ha"}); err != nil {
		t.Errorf("the new leader refuses a change: %v", err)
	}
	d2 := artifact(10)
	if _, err := submit(ctx, c2, header(t, wordcount("ha2"), d2, nil), d2); err != nil {
		t.Errorf("submit to the new leader: %v", err)
	}
}

func TestEmbeddedEtcd(t *testing.T) {
	cfg := fast(t, "")
	cfg.EtcdEndpoints = nil
	cfg.EtcdListen = "127.0.0.1:0"
	cfg.EtcdPeerListen = "127.0.0.1:0"
	n := startNimbus(t, cfg)
	waitLeader(t, n)
	data := artifact(10)
	ctx := testutil.Context(t, 20*time.Second)
	if _, err := submit(ctx, dial(t, n.Addr()), header(t, wordcount("emb"), data, nil), data); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cfg.DataDir + "/etcd"); err != nil {
		t.Errorf("the embedded etcd has no data under --data-dir: %v", err)
	}
	if n.Store().Keys().Root() != cluster.DefaultRoot {
		t.Errorf("root = %s", n.Store().Keys().Root())
	}
}

func TestStandbyCampaignsOnlyWithEveryArtifact(t *testing.T) {
	root := testRoot(t)
	cfg1 := fast(t, root)
	cfg1.ID = "n1"
	n1 := startNimbus(t, cfg1)
	waitLeader(t, n1)
	ctx := testutil.Context(t, 30*time.Second)
	data := artifact(3*ChunkSize + 1)
	if _, err := submit(ctx, dial(t, n1.Addr()), header(t, wordcount("pre"), data, nil), data); err != nil {
		t.Fatal(err)
	}

	cfg2 := fast(t, root)
	cfg2.ID = "n2"
	n2 := startNimbus(t, cfg2)
	cli := n2.Store().Client()
	keys := n2.Store().Keys()
	var electionRev int64
	testutil.Eventually(t, 10*time.Second, "n2 campaigns", func() bool {
		resp, err := cli.Get(ctx, keys.LeaderPrefix()+"/", clientv3.WithPrefix())
		if err != nil {
			return false
		}
		for _, kv := range resp.Kvs {
			if strings.Contains(string(kv.Value), `"n2"`) {
				electionRev = kv.CreateRevision
				return true
			}
		}
		return false
	})
	resp, err := cli.Get(ctx, keys.Artifact(Digest(data), "n2"))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("n2 campaigns but holds no copy of the artifact (%v)", err)
	}
	if held := resp.Kvs[0].CreateRevision; held > electionRev {
		t.Errorf("n2 campaigned (revision %d) before it held the artifact (revision %d)", electionRev, held)
	}
	if n2.IsLeader() {
		t.Error("the standby leads while the leader lives")
	}
}

// crash stops a nimbus as a killed process would: no resignation, no revoked lease; its
// election key and registration expire with their TTL.
func crash(s *Server) {
	s.grpc.Stop()
	_ = s.store.Client().Close()
	s.cancel()
	s.wg.Wait()
}

func TestStandbyTakesOverFromACrashedLeader(t *testing.T) {
	root := testRoot(t)
	cfg1, cfg2 := fast(t, root), fast(t, root)
	cfg1.ID, cfg2.ID = "n1", "n2"
	n1 := startNimbus(t, cfg1)
	waitLeader(t, n1)
	n2 := startNimbus(t, cfg2)
	ctx := testutil.Context(t, 30*time.Second)
	data := artifact(5*ChunkSize + 17)
	if _, err := submit(ctx, dial(t, n1.Addr()), header(t, wordcount("crash"), data, nil), data); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "n2 holds the artifact", func() bool {
		_, ok := n2.Blobs().Has(Digest(data))
		return ok
	})
	start := time.Now()
	crash(n1)
	waitLeader(t, n2)
	took := time.Since(start)
	t.Logf("n2 leads %s after n1 crashed (leader TTL %s)", took.Round(time.Millisecond), cfg1.LeaderTTL)
	if took > 3*cfg1.LeaderTTL+2*time.Second {
		t.Errorf("the takeover took %s", took)
	}
	lr, err := dial(t, n2.Addr()).Leader(ctx, &sparsev1.LeaderRequest{})
	if err != nil || lr.GetLeaderId() != "n2" || !lr.GetIsLeader() {
		t.Errorf("Leader = %v, %v", lr, err)
	}
}

// TestRebalanceSurvivesALeaderChange: the rebalance generation lives in the records, so
// a rebalance the old leader accepted but did not place is placed by the new leader,
// once; and a new leader neither repeats nor undoes a placed rebalance, and continues
// the generations.
func TestRebalanceSurvivesALeaderChange(t *testing.T) {
	root := testRoot(t)
	cfg1, cfg2, cfg3 := fast(t, root), fast(t, root), fast(t, root)
	cfg1.ID, cfg2.ID, cfg3.ID = "n1", "n2", "n3"
	n1 := startNimbus(t, cfg1)
	waitLeader(t, n1)
	n2 := startNimbus(t, cfg2)
	ctx := testutil.Context(t, 90*time.Second)
	st, err := etcdtest.Shared(t).Connect(ctx, cluster.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	supervisor(t, st, "sup-a", 6700, 6701)

	data := artifact(1000)
	id, err := submit(ctx, dial(t, n1.Addr()), header(t, wordcount("moves"), data, topology.Config{topology.ConfWorkers: int64(2)}), data)
	if err != nil {
		t.Fatal(err)
	}
	var rec *cluster.AssignmentRecord
	testutil.Eventually(t, 10*time.Second, "an assignment", func() bool {
		rec, err = st.GetAssignment(ctx, id)
		return err == nil
	})
	if len(rec.Workers) != 2 || rec.Workers[0].Supervisor != "sup-a" || rec.Workers[1].Supervisor != "sup-a" ||
		rec.RequestedWorkers != 2 || rec.Generation != 0 {
		t.Fatalf("first assignment %+v", rec)
	}
	v1 := rec.Version
	// A new supervisor does not move a healthy topology.
	supervisor(t, st, "sup-b", 6700, 6701)
	time.Sleep(3 * cfg1.ScheduleEvery)
	if rec, err = st.GetAssignment(ctx, id); err != nil || rec.Version != v1 {
		t.Fatalf("the assignment moved when a supervisor joined: %+v, %v", rec, err)
	}
	testutil.Eventually(t, 10*time.Second, "n2 holds the artifact", func() bool {
		_, ok := n2.Blobs().Has(Digest(data))
		return ok
	})

	// The leader accepts a rebalance (its record update, as Rebalance writes it) and
	// crashes before a scheduling round places it.
	crash(n1)
	topo, err := st.UpdateTopology(ctx, id, func(r *cluster.TopologyRecord) error { r.Generation++; return nil })
	if err != nil || topo.Generation != 1 {
		t.Fatalf("the rebalance's record: %+v, %v", topo, err)
	}
	waitLeader(t, n2)
	testutil.Eventually(t, 10*time.Second, "the new leader places the pending rebalance", func() bool {
		rec, err = st.GetAssignment(ctx, id)
		return err == nil && rec.Version > v1
	})
	if rec.Generation != 1 || rec.RequestedWorkers != 2 || len(rec.Workers) != 2 || rec.Workers[0].Supervisor == rec.Workers[1].Supervisor {
		t.Fatalf("the rebalance placed by the new leader: %+v; want generation 1 and the workers spread", rec)
	}
	v2 := rec.Version
	time.Sleep(3 * cfg2.ScheduleEvery)
	if rec, err = st.GetAssignment(ctx, id); err != nil || rec.Version != v2 {
		t.Fatalf("the rebalance was placed more than once: %+v, %v", rec, err)
	}

	// A rebalance through the new leader, then another leader change.
	c2 := dial(t, n2.Addr())
	if _, err := c2.Rebalance(ctx, &sparsev1.RebalanceRequest{Name: "moves", Executors: map[string]int32{"count": 4}}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the executors rebalanced", func() bool {
		rec, err = st.GetAssignment(ctx, id)
		return err == nil && rec.Version > v2
	})
	rec = checkAssignment(t, st, id)
	if rec.Generation != 2 || rec.Parallelism["count"] != 4 {
		t.Fatalf("the second rebalance: %+v; want generation 2 and parallelism count=4", rec)
	}
	v3, placed := rec.Version, rec.Workers
	n3 := startNimbus(t, cfg3)
	testutil.Eventually(t, 10*time.Second, "n3 holds the artifact", func() bool {
		_, ok := n3.Blobs().Has(Digest(data))
		return ok
	})
	n2.Close()
	waitLeader(t, n3)
	time.Sleep(3 * cfg3.ScheduleEvery)
	rec = checkAssignment(t, st, id)
	if rec.Version != v3 || rec.Generation != 2 || !reflect.DeepEqual(rec.Workers, placed) {
		t.Fatalf("after the leader change the assignment is %+v; want version %d as placed: %+v", rec, v3, placed)
	}

	// The new leader continues the generations. A rebalance that moves nothing only
	// records its generation: the version, and so every worker, stays.
	if _, err := dial(t, n3.Addr()).Rebalance(ctx, &sparsev1.RebalanceRequest{Name: "moves"}); err != nil {
		t.Fatal(err)
	}
	if topo, err := st.GetTopology(ctx, id); err != nil || topo.Generation != 3 {
		t.Fatalf("the generation after a rebalance by the third leader: %+v, %v; want 3", topo, err)
	}
	testutil.Eventually(t, 10*time.Second, "the generation recorded", func() bool {
		rec, err = st.GetAssignment(ctx, id)
		return err == nil && rec.Generation == 3
	})
	if rec.Version != v3 || !reflect.DeepEqual(rec.Workers, placed) || rec.Parallelism["count"] != 4 {
		t.Errorf("a rebalance that moves nothing changed the assignment: %+v", rec)
	}
}
