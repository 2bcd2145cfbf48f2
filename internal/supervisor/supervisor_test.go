package supervisor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/internal/testutil/etcdtest"
	"github.com/sparsestream/sparse/internal/worker"
	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
)

// fixtureNimbus serves Leader and FetchArtifact from a byte slice: a stand-in for
// nimbusd, which the e2e tests use for real.
type fixtureNimbus struct {
	sparsev1.UnimplementedNimbusServer
	id, addr string
	digest   string
	data     []byte
	fetches  atomic.Int64
	more     sync.Map // more artifacts: digest → []byte
}

// serve adds an artifact and returns its digest.
func (n *fixtureNimbus) serve(data []byte) string {
	sum := sha256.Sum256(data)
	d := hex.EncodeToString(sum[:])
	n.more.Store(d, data)
	return d
}

func (n *fixtureNimbus) Leader(context.Context, *sparsev1.LeaderRequest) (*sparsev1.LeaderReply, error) {
	return &sparsev1.LeaderReply{LeaderId: n.id, LeaderAddress: n.addr, IsLeader: true}, nil
}

func (n *fixtureNimbus) FetchArtifact(ref *sparsev1.ArtifactRef, stream grpc.ServerStreamingServer[sparsev1.ArtifactChunk]) error {
	data := n.data
	if ref.GetSha256() != n.digest {
		more, ok := n.more.Load(ref.GetSha256())
		if !ok {
			return status.Errorf(codes.NotFound, "no artifact %s", ref.GetSha256())
		}
		data = more.([]byte)
	}
	n.fetches.Add(1)
	for off := 0; off < len(data); off += 256 << 10 {
		if err := stream.Send(&sparsev1.ArtifactChunk{Data: data[off:min(off+256<<10, len(data))]}); err != nil {
			return err
		}
	}
	return nil
}

func startFixtureNimbus(t *testing.T, data []byte) *fixtureNimbus {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	n := &fixtureNimbus{id: "n1", addr: l.Addr().String(), digest: hex.EncodeToString(sum[:]), data: data}
	g := grpc.NewServer()
	sparsev1.RegisterNimbusServer(g, n)
	go func() { _ = g.Serve(l) }()
	t.Cleanup(g.Stop)
	return n
}

// TestSupervisorWithEtcd runs a Supervisor against an embedded etcd and a fixture nimbus:
// the test writes a topology and an assignment for the supervisor's slot, and the
// supervisor registers itself, fetches and verifies the artifact, starts the worker,
// keeps its heartbeat in etcd and activates its spouts; deactivating the topology pauses
// them; a new assignment version restarts the worker; moving it to another supervisor
// stops it, moving it back starts it; removing the assignment stops it.
func TestSupervisorWithEtcd(t *testing.T) {
	needBinary(t)
	e := etcdtest.Start(t)
	const root = "/supervisor-test"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	store, err := e.Connect(ctx, cluster.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	bin, err := os.ReadFile(topoBin)
	if err != nil {
		t.Fatal(err)
	}
	nimbus := startFixtureNimbus(t, bin)
	if _, err := store.RegisterNimbus(ctx, &cluster.NimbusRecord{ID: nimbus.id, Address: nimbus.addr}, 10*time.Second); err != nil {
		t.Fatal(err)
	}

	dataDir, emitDir := t.TempDir(), t.TempDir()
	killWorkersAtEnd(t, dataDir)
	// A slot port whose worker metrics port (port+1000) is free too.
	var port int
	for port == 0 || port+DefaultWorkerMetricsOffset > 65535 || !portFree(port+DefaultWorkerMetricsOffset) {
		port = freePort(t)
	}
	supMetrics := "127.0.0.1:" + strconv.Itoa(freePort(t))
	const sup, tid = "s1", "topo-1"
	wid, addr := sup+":"+strconv.Itoa(port), "127.0.0.1:"+strconv.Itoa(port)
	spec := topoSpec(t)
	topo := &cluster.TopologyRecord{ID: tid, Name: "topo", Status: cluster.StatusActive, Spec: spec,
		Config:         topology.Config{"test.emit.dir": emitDir, topology.ConfWorkers: int64(1), topology.ConfAckerExecutors: int64(1)},
		ArtifactDigest: nimbus.digest, ArtifactSize: int64(len(bin)), SubmittedAt: time.Now().UTC(), Workers: 1}
	if err := store.PutTopology(ctx, topo); err != nil {
		t.Fatal(err)
	}
	wa := soloAssignment(spec, tid, wid, addr, 1)
	assignment := func(version int64) *cluster.AssignmentRecord {
		return &cluster.AssignmentRecord{TopologyID: tid, Version: version, UpdatedAt: time.Now().UTC(),
			Workers: []scheduler.WorkerSlot{{Supervisor: sup, Host: "127.0.0.1", Port: port, Executors: wa.Workers[0].Executors}}}
	}
	// As a leader does at the start of its term: the supervisor follows the index of
	// its assignments from the start.
	if _, err := store.SyncPlacements(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := store.PutAssignment(ctx, assignment(1), 0); err != nil {
		t.Fatal(err)
	}

	newSupervisor := func(metricsAddr string) (*Supervisor, func()) {
		s, err := New(Config{
			ID: sup, Host: "127.0.0.1", Slots: []int{port}, DataDir: dataDir,
			EtcdEndpoints: e.Endpoints(), EtcdRoot: root, LeaseTTL: 2 * time.Second,
			WorkerTimeout: 5 * time.Second, StopGrace: 3 * time.Second, MetricsAddr: metricsAddr,
			BackoffMin: 200 * time.Millisecond, Tick: 50 * time.Millisecond,
			Logger: hclog.New(&hclog.LoggerOptions{Name: "supervisord", Level: hclog.Debug, Output: testutil.LogWriter(t)}),
		})
		if err != nil {
			t.Fatal(err)
		}
		sctx, scancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- s.Run(sctx) }()
		var once sync.Once
		stop := func() {
			once.Do(func() {
				scancel()
				if err := <-done; err != nil {
					t.Errorf("Supervisor.Run: %v", err)
				}
			})
		}
		t.Cleanup(stop)
		return s, stop
	}
	s, stop := newSupervisor(supMetrics)

	testutil.Eventually(t, 20*time.Second, "the supervisor's record", func() bool {
		r, err := store.GetSupervisor(ctx, sup)
		return err == nil && r.Host == "127.0.0.1" && len(r.Slots) == 1 && r.Slots[0] == port
	})
	var hb *cluster.WorkerHeartbeat
	testutil.Eventually(t, 30*time.Second, "the worker's heartbeat in etcd", func() bool {
		hb, err = store.GetWorker(ctx, tid, wid)
		return err == nil
	})
	if hb.Supervisor != sup || hb.Port != port || hb.Version != 1 || hb.PID == 0 || !pidAlive(hb.PID) {
		t.Fatalf("worker heartbeat %+v", hb)
	}
	if !emitting(emitDir, 20*time.Second) {
		t.Fatal("the worker's spouts do not emit: SetActive(true) did not reach it")
	}
	// Both the worker and the supervisor serve /metrics.
	workerMetrics := "127.0.0.1:" + strconv.Itoa(port+DefaultWorkerMetricsOffset)
	if body := scrape(t, workerMetrics); !strings.Contains(body, `sparse_executor_emitted_tuples_total{component="ticks"`) {
		t.Errorf("the worker's /metrics lacks the spout's emitted tuples:\n%.2000s", body)
	}
	if body := scrape(t, supMetrics); !strings.Contains(body, "sparse_supervisor_running_workers 1") ||
		!strings.Contains(body, "sparse_supervisor_artifact_downloads_total 1") {
		t.Errorf("the supervisor's /metrics lacks a running worker or the download:\n%.4000s", body)
	}
	cached := filepath.Join(dataDir, "artifacts", nimbus.digest)
	if st, err := os.Stat(cached); err != nil || st.Mode().Perm() != privateExecMode || st.Size() != int64(len(bin)) {
		t.Fatalf("cached artifact: %v, %v", st, err)
	}
	conf, err := os.ReadFile(filepath.Join(workerDir(dataDir, tid, port), configFile))
	if err != nil || !strings.Contains(string(conf), emitDir) {
		t.Errorf("config.json = %s (%v)", conf, err)
	}

	// Deactivate: the spouts pause; activate: they resume.
	if _, err := store.UpdateTopology(ctx, tid, func(r *cluster.TopologyRecord) error { r.Status = cluster.StatusInactive; return nil }); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the spouts to be deactivated", func() bool {
		st := s.Status()
		return len(st) == 1 && st[0].ActiveKnown && !st[0].Active
	})
	time.Sleep(200 * time.Millisecond)
	if emitting(emitDir, 700*time.Millisecond) {
		t.Fatal("the spouts of an inactive topology emit")
	}
	if _, err := store.UpdateTopology(ctx, tid, func(r *cluster.TopologyRecord) error { r.Status = cluster.StatusActive; return nil }); err != nil {
		t.Fatal(err)
	}
	if !emitting(emitDir, 10*time.Second) {
		t.Fatal("the spouts of a reactivated topology do not emit")
	}

	// The supervisor restarts: the new one adopts the live worker, keeps its heartbeat
	// and activates it again.
	stop()
	if !pidAlive(hb.PID) {
		t.Fatal("the worker died with its supervisor")
	}
	s, _ = newSupervisor("")
	testutil.Eventually(t, 20*time.Second, "the restarted supervisor to adopt the worker", func() bool {
		st := s.Status()
		return len(st) == 1 && st[0].Phase == Running && st[0].Adopted && st[0].PID == hb.PID && st[0].ActiveKnown && st[0].Registered
	})
	if got, err := store.GetWorker(ctx, tid, wid); err != nil || got.PID != hb.PID {
		t.Fatalf("heartbeat after the adoption: %+v, %v", got, err)
	}
	if !emitting(emitDir, 10*time.Second) {
		t.Fatal("the adopted worker's spouts do not emit")
	}

	// A new assignment version: a new worker process, whose heartbeat says version 2.
	// The version was placed for a rebalance of sink to one executor: the worker runs with
	// the parallelism of its assignment record, not the topology record's overrides (none
	// here, as when a later rebalance is not placed yet).
	a2 := assignment(2)
	a2.RequestedWorkers, a2.Generation, a2.Parallelism = 1, 1, map[string]int{"sink": 1}
	if err := store.PutAssignment(ctx, a2, 1); err != nil {
		t.Fatal(err)
	}
	old := hb.PID
	testutil.Eventually(t, 30*time.Second, "the heartbeat of the worker of version 2", func() bool {
		hb, err = store.GetWorker(ctx, tid, wid)
		return err == nil && hb.Version == 2 && hb.PID != old
	})
	if wa, err := worker.Load(filepath.Join(workerDir(dataDir, tid, port), assignmentFile)); err != nil ||
		wa.Version != 2 || len(wa.Parallelism) != 1 || wa.Parallelism["sink"] != 1 {
		t.Errorf("the worker of version 2 runs assignment %+v (%v), want parallelism sink=1", wa, err)
	}
	if pidAlive(old) {
		t.Error("the worker of version 1 still runs")
	}
	if n := nimbus.fetches.Load(); n != 1 {
		t.Errorf("the artifact was fetched %d times, want once (then cached)", n)
	}

	// The worker moves to another supervisor: this one hears of it through its index key
	// going away, and stops its worker; moved back, it starts one again.
	a3 := assignment(3)
	a3.Workers[0].Supervisor = "s2"
	if err := store.PutAssignment(ctx, a3, 2); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, "the worker moved away to stop", func() bool { return !pidAlive(hb.PID) })
	testutil.Eventually(t, 10*time.Second, "the heartbeat of the moved worker to leave etcd", func() bool {
		_, err := store.GetWorker(ctx, tid, wid)
		return errors.Is(err, cluster.ErrNotFound)
	})
	if err := store.PutAssignment(ctx, assignment(4), 3); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "the heartbeat of the worker of version 4", func() bool {
		hb, err = store.GetWorker(ctx, tid, wid)
		return err == nil && hb.Version == 4
	})

	// The assignment goes: the worker stops and its heartbeat leaves etcd.
	if err := store.DeleteAssignment(ctx, tid); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, "the worker to stop", func() bool { return !pidAlive(hb.PID) })
	testutil.Eventually(t, 10*time.Second, "the heartbeat to leave etcd", func() bool {
		_, err := store.GetWorker(ctx, tid, wid)
		return errors.Is(err, cluster.ErrNotFound)
	})
}

// TestArtifactCacheRefusesBadBytes: a source that serves bytes of another digest is
// refused and the next source is tried; nothing unverified is stored.
func TestArtifactCacheRefusesBadBytes(t *testing.T) {
	good := []byte("the real artifact")
	sum := sha256.Sum256(good)
	digest := hex.EncodeToString(sum[:])
	dir := t.TempDir()
	var tried []string
	src := func(name string, data []byte) Source {
		return Source{Name: name, Fetch: func(_ context.Context, w io.Writer) error {
			tried = append(tried, name)
			_, err := w.Write(data)
			return err
		}}
	}
	f := fetcherFunc(func(context.Context, string) ([]Source, error) {
		return []Source{src("liar", []byte("evil")), src("honest", good)}, nil
	})
	c := NewArtifactCache(dir, f, nil)
	path, err := c.Path(context.Background(), digest, int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != string(good) || len(tried) != 2 {
		t.Fatalf("cached %q after trying %v", b, tried)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o700 {
		t.Errorf("mode %v, want 0700 (executable by the supervisor's user only)", st.Mode().Perm())
	}
	// Cached: no source is asked again.
	if _, err := c.Path(context.Background(), digest, 0); err != nil || len(tried) != 2 {
		t.Errorf("second Path: %v, tried %v", err, tried)
	}
	// Only liars: an error, and nothing stored.
	other := sha256.Sum256([]byte("other"))
	od := hex.EncodeToString(other[:])
	if _, err := c.Path(context.Background(), od, 0); err == nil || !strings.Contains(err.Error(), "not the one asked for") {
		t.Errorf("a digest nobody serves right: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, od)); !os.IsNotExist(err) {
		t.Errorf("an unverified artifact was stored: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the cache holds %d files, want 1 (no temporary files left)", len(entries))
	}
}

type fetcherFunc func(ctx context.Context, digest string) ([]Source, error)

func (f fetcherFunc) Sources(ctx context.Context, digest string) ([]Source, error) {
	return f(ctx, digest)
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// scrape reads /metrics at addr, retrying while the server comes up.
func scrape(t *testing.T, addr string) string {
	t.Helper()
	var last error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			last = err
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode == http.StatusOK {
			return string(b)
		}
		last = fmt.Errorf("status %s, %v", resp.Status, err)
	}
	t.Fatalf("scraping %s: %v", addr, last)
	return ""
}

// TestSupervisorSurvivesEtcdOutage: etcd goes away for longer than the leases; the
// worker keeps running untouched, and once etcd is back the supervisor's record and
// the worker's heartbeat are there again and the watches follow new changes.
func TestSupervisorSurvivesEtcdOutage(t *testing.T) {
	needBinary(t)
	etcdDir := filepath.Join(t.TempDir(), "etcd")
	cfg := cluster.EmbedConfig{DataDir: etcdDir, Name: "test",
		ClientURL: "http://127.0.0.1:" + strconv.Itoa(freePort(t)), PeerURL: "http://127.0.0.1:" + strconv.Itoa(freePort(t))}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e, err := cluster.StartEmbedded(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { e.Close() }()
	const root = "/outage-test"
	store, err := e.Connect(ctx, cluster.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	bin, err := os.ReadFile(topoBin)
	if err != nil {
		t.Fatal(err)
	}
	nimbus := startFixtureNimbus(t, bin)
	if _, err := store.RegisterNimbus(ctx, &cluster.NimbusRecord{ID: nimbus.id, Address: nimbus.addr}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	dataDir, emitDir := t.TempDir(), t.TempDir()
	killWorkersAtEnd(t, dataDir)
	port := freePort(t)
	const sup, tid = "s1", "topo-1"
	wid, addr := sup+":"+strconv.Itoa(port), "127.0.0.1:"+strconv.Itoa(port)
	spec := topoSpec(t)
	if err := store.PutTopology(ctx, &cluster.TopologyRecord{ID: tid, Name: "topo", Status: cluster.StatusActive, Spec: spec,
		Config:         topology.Config{"test.emit.dir": emitDir, topology.ConfAckerExecutors: int64(1)},
		ArtifactDigest: nimbus.digest, SubmittedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	wa := soloAssignment(spec, tid, wid, addr, 1)
	if err := store.PutAssignment(ctx, &cluster.AssignmentRecord{TopologyID: tid, Version: 1,
		Workers: []scheduler.WorkerSlot{{Supervisor: sup, Host: "127.0.0.1", Port: port, Executors: wa.Workers[0].Executors}}}, 0); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{ID: sup, Slots: []int{port}, DataDir: dataDir, EtcdEndpoints: e.Endpoints(), EtcdRoot: root,
		LeaseTTL: 2 * time.Second, WorkerMetricsOffset: -1, Tick: 50 * time.Millisecond,
		Logger: hclog.New(&hclog.LoggerOptions{Name: "supervisord", Level: hclog.Info, Output: testutil.LogWriter(t)})})
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(sctx) }()
	defer func() {
		scancel()
		if err := <-done; err != nil {
			t.Errorf("Supervisor.Run: %v", err)
		}
	}()
	var hb *cluster.WorkerHeartbeat
	testutil.Eventually(t, 30*time.Second, "the worker's heartbeat", func() bool {
		hb, err = store.GetWorker(ctx, tid, wid)
		return err == nil
	})

	e.Close()
	time.Sleep(3 * time.Second) // longer than the 2s leases
	st := s.Status()
	if len(st) != 1 || st[0].Phase != Running || st[0].PID != hb.PID || st[0].Restarts != 0 || !pidAlive(hb.PID) {
		t.Fatalf("during the outage the worker should run untouched: %+v", st)
	}
	if !emitting(emitDir, 5*time.Second) {
		t.Fatal("the worker stopped emitting while etcd was down")
	}

	e, err = cluster.StartEmbedded(ctx, cfg)
	if err != nil {
		t.Fatalf("starting etcd again: %v", err)
	}
	testutil.Eventually(t, 30*time.Second, "the supervisor's record after the outage", func() bool {
		_, err := store.GetSupervisor(ctx, sup)
		return err == nil
	})
	testutil.Eventually(t, 30*time.Second, "the worker's heartbeat after the outage", func() bool {
		got, err := store.GetWorker(ctx, tid, wid)
		return err == nil && got.PID == hb.PID
	})
	if err := store.DeleteAssignment(ctx, tid); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "the unassigned worker to stop", func() bool { return !pidAlive(hb.PID) })
}
