package nimbus

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
)

// wantStatus fails unless err has code and its message says every fragment.
func wantStatus(t *testing.T, err error, code codes.Code, fragments ...string) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("error %v, want %s", err, code)
	}
	for _, f := range fragments {
		if !strings.Contains(status.Convert(err).Message(), f) {
			t.Errorf("the error does not say %q:\n%s", f, status.Convert(err).Message())
		}
	}
}

// noTopologies fails if anything of a topology was stored.
func noTopologies(t *testing.T, n *Server, dataDir string) {
	t.Helper()
	if fs := blobFiles(t, dataDir); len(fs) != 0 {
		t.Errorf("the blob store holds %v", fs)
	}
	keys := n.Store().Keys()
	for _, p := range []string{keys.TopologiesPrefix(), keys.ArtifactsPrefix(), keys.AssignmentsPrefix()} {
		if k := countKeys(t, n.Store(), p); k != 0 {
			t.Errorf("%d keys under %s", k, p)
		}
	}
}

// TestSubmitOverLimitsRefused: a submission beyond a limit is refused from its header,
// before any byte of the artifact is stored, with an error naming the key and the limit.
// The first case is the one that used to take nimbus down with an out-of-memory crash.
func TestSubmitOverLimitsRefused(t *testing.T) {
	cfg := fast(t, testRoot(t))
	cfg.MaxArtifactSize = 5000
	n := startNimbus(t, cfg)
	waitLeader(t, n)
	c := dial(t, n.Addr())
	ctx := testutil.Context(t, 30*time.Second)
	data := artifact(1000)

	long := wordcount(strings.Repeat("n", 129))
	many := wordcount("many")
	many.Components[1].Tasks = 10_001
	tests := []struct {
		name   string
		header *sparsev1.SubmitHeader
		want   []string
	}{
		{"a trillion workers", header(t, wordcount("big"), data, topology.Config{topology.ConfWorkers: int64(1_000_000_000_000)}),
			[]string{"config topology.workers is 1000000000000; the limit is 10000", "nimbusd --max-workers"}},
		{"tasks per component", header(t, many, data, nil),
			[]string{`component "count": number of tasks is 10001; the limit per component is 10000`, "--max-tasks-per-component"}},
		{"ackers", header(t, wordcount("ack"), data, topology.Config{topology.ConfAckerExecutors: int64(10_001)}),
			[]string{"config topology.acker.executors is 10001; the limit is 10000", "--max-ackers"}},
		{"config size", header(t, wordcount("conf"), data, topology.Config{"blob": strings.Repeat("x", 300_000)}),
			[]string{"bytes as JSON", "the limit is 262144", "--max-config-bytes"}},
		{"name length", header(t, long, data, nil), []string{"the topology name is 129 bytes long; the limit is 128"}},
		{"artifact size", func() *sparsev1.SubmitHeader {
			h := header(t, wordcount("huge"), data, nil)
			h.ArtifactSize = 5001
			return h
		}(), []string{"artifact_size is 5001 bytes; this nimbus accepts at most 5000"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := submit(ctx, c, tc.header, data)
			wantStatus(t, err, codes.InvalidArgument, tc.want...)
			noTopologies(t, n, cfg.DataDir)
		})
	}
	if !n.IsLeader() {
		t.Error("the nimbus no longer leads")
	}
}

// TestRaisedLimits: a nimbus given higher limits accepts what they allow.
func TestRaisedLimits(t *testing.T) {
	cfg := fast(t, testRoot(t))
	cfg.Limits = topology.Limits{Workers: 20_000, Ackers: 20_000}
	n := startNimbus(t, cfg)
	waitLeader(t, n)
	c := dial(t, n.Addr())
	ctx := testutil.Context(t, 30*time.Second)
	data := artifact(1000)
	if _, err := submit(ctx, c, header(t, wordcount("wide"), data, topology.Config{topology.ConfWorkers: int64(15_000)}), data); err != nil {
		t.Fatalf("submit within raised limits: %v", err)
	}
	if _, err := submit(ctx, c, header(t, wordcount("wider"), data, topology.Config{topology.ConfWorkers: int64(20_001)}), data); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("submit above the raised limit: %v, want InvalidArgument", err)
	}
}

func TestLimitsAboveTheCeilingRefused(t *testing.T) {
	cfg := fast(t, testRoot(t))
	cfg.Limits.Workers = topology.MaxLimits.Workers + 1
	_, err := Start(testutil.Context(t, 10*time.Second), cfg)
	if err == nil || !strings.Contains(err.Error(), "--max-workers is 100001; it can be raised to 100000 at most") {
		t.Fatalf("Start = %v, want the --max-workers ceiling", err)
	}
}

// TestStoredRecordOverLimitsIsSkipped: a topology record an older release stored with
// absurd values is neither laid out nor scheduled; describe says why, and the others
// are scheduled as usual.
func TestStoredRecordOverLimitsIsSkipped(t *testing.T) {
	cfg := fast(t, testRoot(t))
	n := startNimbus(t, cfg)
	waitLeader(t, n)
	c := dial(t, n.Addr())
	ctx := testutil.Context(t, 30*time.Second)
	st := n.Store()
	supervisor(t, st, "sup-a", 6700, 6701)

	now := time.Now().UTC()
	for _, r := range []*cluster.TopologyRecord{
		{ID: "old-ackers-1", Name: "old-ackers", Spec: wordcount("old-ackers"), Workers: 1,
			Config: topology.Config{topology.ConfAckerExecutors: int64(1_000_000_000_000)}},
		{ID: "old-workers-1", Name: "old-workers", Spec: wordcount("old-workers"), Workers: 1_000_000_000_000,
			Config: topology.Config{topology.ConfAckerExecutors: int64(1)}},
	} {
		r.Status, r.SubmittedAt, r.StatusChangedAt = cluster.StatusActive, now, now
		if err := st.PutTopology(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	data := artifact(1000)
	good, err := submit(ctx, c, header(t, wordcount("good"), data, nil), data)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the good topology assigned", func() bool {
		_, err := st.GetAssignment(ctx, good)
		return err == nil
	})
	for id, want := range map[string]string{
		"old-ackers-1":  "config topology.acker.executors is 1000000000000; the limit is 10000",
		"old-workers-1": "it asks for 1000000000000 workers; the limit is 10000 (--max-workers)",
	} {
		d, err := c.Describe(ctx, &sparsev1.TopologyRef{Name: id})
		if err != nil {
			t.Fatalf("describe %s: %v", id, err)
		}
		if !strings.Contains(strings.Join(d.GetErrors(), "\n"), want) {
			t.Errorf("describe %s errors %q, want %q", id, d.GetErrors(), want)
		}
		if _, err := st.GetAssignment(ctx, id); !errors.Is(err, cluster.ErrNotFound) {
			t.Errorf("%s was assigned: %v", id, err)
		}
	}
	if l, err := c.List(ctx, &sparsev1.ListRequest{}); err != nil || len(l.GetTopologies()) != 3 {
		t.Errorf("List = %v, %v", l, err)
	}
	if !n.IsLeader() {
		t.Error("the nimbus no longer leads")
	}
}

// TestPanicsAreRecovered: a panic in a scheduling round, while reading one topology or
// inside the scheduler, is recovered; that topology is marked in describe with the
// panic, the others are scheduled and the leader keeps leading.
func TestPanicsAreRecovered(t *testing.T) {
	inspectHook = func(r *cluster.TopologyRecord) {
		if r.Name == "bad-record" {
			panic("injected: a record that breaks inspect")
		}
	}
	scheduleFunc = func(c scheduler.Cluster) (scheduler.Result, error) {
		for _, tp := range c.Topologies {
			if strings.HasPrefix(tp.ID, "bad-schedule") {
				panic("injected: a topology that breaks the scheduler")
			}
		}
		return scheduler.Schedule(c)
	}
	t.Cleanup(func() { inspectHook, scheduleFunc = nil, scheduler.Schedule }) // after the nimbus closes
	cfg := fast(t, testRoot(t))
	n := startNimbus(t, cfg)
	waitLeader(t, n)
	c := dial(t, n.Addr())
	ctx := testutil.Context(t, 30*time.Second)
	st := n.Store()
	supervisor(t, st, "sup-a", 6700, 6701, 6702)

	data := artifact(1000)
	ids := map[string]string{}
	for _, name := range []string{"bad-record", "bad-schedule", "good"} {
		id, err := submit(ctx, c, header(t, wordcount(name), data, nil), data)
		if err != nil {
			t.Fatalf("submit %s: %v", name, err)
		}
		ids[name] = id
	}
	testutil.Eventually(t, 10*time.Second, "the good topology assigned", func() bool {
		_, err := st.GetAssignment(ctx, ids["good"])
		return err == nil
	})
	for name, want := range map[string]string{
		"bad-record":   "reading the topology panicked: injected: a record that breaks inspect",
		"bad-schedule": "the scheduler panicked on it (injected: a topology that breaks the scheduler)",
	} {
		testutil.Eventually(t, 10*time.Second, name+" marked in describe", func() bool {
			d, err := c.Describe(ctx, &sparsev1.TopologyRef{Name: name})
			return err == nil && strings.Contains(strings.Join(d.GetErrors(), "\n"), want)
		})
		if _, err := st.GetAssignment(ctx, ids[name]); !errors.Is(err, cluster.ErrNotFound) {
			t.Errorf("%s was assigned: %v", name, err)
		}
	}
	l, err := c.List(ctx, &sparsev1.ListRequest{})
	if err != nil || len(l.GetTopologies()) != 3 {
		t.Fatalf("List = %v, %v", l, err)
	}
	time.Sleep(3 * cfg.ScheduleEvery) // more rounds, each recovering
	if !n.IsLeader() {
		t.Error("the nimbus stopped leading")
	}
}

// TestAPICallPanicIsRecovered: a panic in a call is an Internal error, not a crash.
func TestAPICallPanicIsRecovered(t *testing.T) {
	s := &Server{id: "n1", log: fast(t, "/x").Logger, metrics: NewMetrics(nil)}
	_, err := s.recoverUnary(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/sparse.v1.Nimbus/Describe"},
		func(context.Context, any) (any, error) { panic("injected") })
	wantStatus(t, err, codes.Internal, "a bug, logged on the nimbus", "injected")
	err = s.recoverStream(nil, nil, &grpc.StreamServerInfo{FullMethod: "/sparse.v1.Nimbus/Submit"},
		func(any, grpc.ServerStream) error { panic("injected") })
	wantStatus(t, err, codes.Internal, "injected")
}

// openUpload starts a submission, sends its header and the first chunk, and waits for
// its temporary file; the caller sends the rest or stalls.
func openUpload(t *testing.T, ctx context.Context, c sparsev1.NimbusClient, name string, data []byte) sparsev1.Nimbus_SubmitClient {
	t.Helper()
	st, err := c.Submit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&sparsev1.SubmitRequest{Body: &sparsev1.SubmitRequest_Header{Header: header(t, wordcount(name), data, nil)}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&sparsev1.SubmitRequest{Body: &sparsev1.SubmitRequest_Chunk{Chunk: data[:10]}}); err != nil {
		t.Fatal(err)
	}
	return st
}

func incomingFiles(t *testing.T, dataDir string) []string {
	t.Helper()
	fs, err := filepath.Glob(filepath.Join(dataDir, "blobs", ".incoming-*"))
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// TestStalledUploadIsDropped: a client that stops sending mid-artifact is dropped after
// the progress timeout, and its temporary file removed.
func TestStalledUploadIsDropped(t *testing.T) {
	cfg := fast(t, testRoot(t))
	cfg.UploadProgressTimeout = 500 * time.Millisecond
	n := startNimbus(t, cfg)
	waitLeader(t, n)
	c := dial(t, n.Addr())
	ctx := testutil.Context(t, 30*time.Second)

	st := openUpload(t, ctx, c, "stall", artifact(1000))
	testutil.Eventually(t, 5*time.Second, "a temporary file", func() bool { return len(incomingFiles(t, cfg.DataDir)) == 1 })
	start := time.Now()
	err := st.RecvMsg(new(sparsev1.SubmitReply)) // the client sends nothing more
	wantStatus(t, err, codes.DeadlineExceeded, "sent nothing for 500ms and was dropped", "--upload-progress-timeout")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("dropped after %s", d)
	}
	testutil.Eventually(t, 5*time.Second, "the temporary file removed", func() bool { return len(incomingFiles(t, cfg.DataDir)) == 0 })
	noTopologies(t, n, cfg.DataDir)

	// A client that never sends its header is dropped too.
	st2, err := c.Submit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, st2.RecvMsg(new(sparsev1.SubmitReply)), codes.DeadlineExceeded, "--upload-progress-timeout")
}

// TestConcurrentUploadsLimited: beyond --max-concurrent-uploads, a submission is
// refused at once; a slot frees when an upload ends.
func TestConcurrentUploadsLimited(t *testing.T) {
	cfg := fast(t, testRoot(t))
	cfg.MaxConcurrentUploads = 1
	n := startNimbus(t, cfg)
	waitLeader(t, n)
	c := dial(t, n.Addr())
	ctx := testutil.Context(t, 30*time.Second)

	data := artifact(1000)
	first := openUpload(t, ctx, c, "first", data)
	testutil.Eventually(t, 5*time.Second, "the first upload under way", func() bool { return len(incomingFiles(t, cfg.DataDir)) == 1 })
	_, err := submit(ctx, c, header(t, wordcount("second"), data, nil), data)
	wantStatus(t, err, codes.ResourceExhausted, "receiving 1 artifacts already", "--max-concurrent-uploads")

	if err := first.Send(&sparsev1.SubmitRequest{Body: &sparsev1.SubmitRequest_Chunk{Chunk: data[10:]}}); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if _, err := first.CloseAndRecv(); err != nil {
		t.Fatalf("the first upload: %v", err)
	}
	if _, err := submit(ctx, c, header(t, wordcount("second"), data, nil), data); err != nil {
		t.Fatalf("a submission after the first ended: %v", err)
	}
}

// TestWaitsCapped: a kill or rebalance wait above --max-wait is refused, as is a
// rebalance to more workers than the limit.
func TestWaitsCapped(t *testing.T) {
	cfg := fast(t, testRoot(t))
	cfg.MaxWait = 20 * time.Second
	n := startNimbus(t, cfg)
	waitLeader(t, n)
	c := dial(t, n.Addr())
	ctx := testutil.Context(t, 30*time.Second)
	data := artifact(1000)
	if _, err := submit(ctx, c, header(t, wordcount("w"), data, nil), data); err != nil {
		t.Fatal(err)
	}
	_, err := c.Kill(ctx, &sparsev1.KillRequest{Name: "w", WaitSecs: 21})
	wantStatus(t, err, codes.InvalidArgument, "the kill wait is 21s; this nimbus waits 20s at most (nimbusd --max-wait 20s)")
	_, err = c.Rebalance(ctx, &sparsev1.RebalanceRequest{Name: "w", WaitSecs: 3600})
	wantStatus(t, err, codes.InvalidArgument, "the rebalance wait is 3600s")
	_, err = c.Rebalance(ctx, &sparsev1.RebalanceRequest{Name: "w", Workers: 10_001})
	wantStatus(t, err, codes.InvalidArgument, "workers is 10001; the limit of topology.workers is 10000 (nimbusd --max-workers)")
	rec, err := n.Store().GetTopology(ctx, topologyID(t, n, "w"))
	if err != nil || rec.Status != cluster.StatusActive || rec.Rebalance != nil || rec.Workers != 1 {
		t.Errorf("a refused call changed the topology: %+v, %v", rec, err)
	}
}

func topologyID(t *testing.T, n *Server, name string) string {
	t.Helper()
	topos, err := n.Store().ListTopologies(testutil.Context(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range topos {
		if r.Name == name {
			return r.ID
		}
	}
	t.Fatalf("no topology %q", name)
	return ""
}

// stallingSource is a nimbus that sends the first chunk of any artifact and then
// nothing, holding the stream open: a peer stuck mid-transfer.
type stallingSource struct {
	sparsev1.UnimplementedNimbusServer
}

func (stallingSource) FetchArtifact(_ *sparsev1.ArtifactRef, stream grpc.ServerStreamingServer[sparsev1.ArtifactChunk]) error {
	if err := stream.Send(&sparsev1.ArtifactChunk{Data: []byte("the first bytes")}); err != nil {
		return err
	}
	<-stream.Context().Done()
	return stream.Context().Err()
}

func startStallingSource(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	sparsev1.RegisterNimbusServer(g, stallingSource{})
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	return lis.Addr().String()
}

// TestStalledFetchIsDropped: a replication fetch from a peer that stops sending is
// dropped after the progress timeout, its temporary file removed, and the replication
// pass ends (reporting the artifact missing), so a standby is not held from leading.
func TestStalledFetchIsDropped(t *testing.T) {
	cfg := fast(t, testRoot(t))
	cfg.UploadProgressTimeout = 300 * time.Millisecond
	n := startNimbus(t, cfg)
	waitLeader(t, n)
	ctx := testutil.Context(t, 30*time.Second)
	src := startStallingSource(t)
	data := artifact(1000)
	digest := Digest(data)

	start := time.Now()
	err := n.fetchFrom(ctx, src, digest, int64(len(data)))
	if err == nil || !strings.Contains(err.Error(), "received nothing for 300ms and was dropped (nimbusd --upload-progress-timeout)") {
		t.Fatalf("fetchFrom = %v, want the progress timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("dropped after %s", d)
	}
	if fs := incomingFiles(t, cfg.DataDir); len(fs) != 0 {
		t.Errorf("temporary files left: %v", fs)
	}

	// Through a replication pass: a topology whose only holder is the stalling peer.
	st := n.Store()
	reg, err := st.RegisterNimbus(ctx, &cluster.NimbusRecord{ID: "stalling", Address: src}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close(context.Background()) })
	if err := st.PutArtifactHolder(ctx, &cluster.ArtifactHolder{Digest: digest, NimbusID: "stalling", Size: int64(len(data)), StoredAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := st.PutTopology(ctx, &cluster.TopologyRecord{ID: "stuck-1", Name: "stuck", Status: cluster.StatusInactive, Spec: wordcount("stuck"),
		ArtifactDigest: digest, ArtifactSize: int64(len(data)), SubmittedAt: now, StatusChangedAt: now}); err != nil {
		t.Fatal(err)
	}
	before, _ := n.replication()
	testutil.Eventually(t, 10*time.Second, "a replication pass that reports the artifact missing", func() bool {
		rs, _ := n.replication()
		return rs.passes > before.passes+1 && slices.Contains(rs.missing, digest)
	})
}
