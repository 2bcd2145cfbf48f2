package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/pkg/topology"
)

func TestTransportCollector(t *testing.T) {
	totals := TransportTotals{
		TuplesSent: 10, ControlsSent: 4, BytesSent: 1000, FramesSent: 2,
		TuplesRecv: 7, ControlsRecv: 3, BytesRecv: 700, FramesRecv: 1,
		Dropped: 1, Refused: 2, Reconnects: 5,
	}
	calls := 0
	c := NewTransportCollector("wc-1", "sup-a:6700", func() TransportTotals { calls++; return totals })
	want := `
# HELP sparse_transport_sent_tuples_total Tuples sent to other workers.
# TYPE sparse_transport_sent_tuples_total counter
sparse_transport_sent_tuples_total{topology="wc-1",worker="sup-a:6700"} 10
# HELP sparse_transport_sent_control_messages_total Acker messages sent to other workers.
# TYPE sparse_transport_sent_control_messages_total counter
sparse_transport_sent_control_messages_total{topology="wc-1",worker="sup-a:6700"} 4
# HELP sparse_transport_sent_bytes_total Encoded bytes sent to other workers.
# TYPE sparse_transport_sent_bytes_total counter
sparse_transport_sent_bytes_total{topology="wc-1",worker="sup-a:6700"} 1000
# HELP sparse_transport_sent_frames_total Frames (encoded batches) sent to other workers.
# TYPE sparse_transport_sent_frames_total counter
sparse_transport_sent_frames_total{topology="wc-1",worker="sup-a:6700"} 2
# HELP sparse_transport_received_tuples_total Tuples received from other workers.
# TYPE sparse_transport_received_tuples_total counter
sparse_transport_received_tuples_total{topology="wc-1",worker="sup-a:6700"} 7
# HELP sparse_transport_received_control_messages_total Acker messages received from other workers.
# TYPE sparse_transport_received_control_messages_total counter
sparse_transport_received_control_messages_total{topology="wc-1",worker="sup-a:6700"} 3
# HELP sparse_transport_received_bytes_total Encoded bytes received from other workers.
# TYPE sparse_transport_received_bytes_total counter
sparse_transport_received_bytes_total{topology="wc-1",worker="sup-a:6700"} 700
# HELP sparse_transport_received_frames_total Frames (encoded batches) received from other workers.
# TYPE sparse_transport_received_frames_total counter
sparse_transport_received_frames_total{topology="wc-1",worker="sup-a:6700"} 1
# HELP sparse_transport_dropped_messages_total Tuples and acker messages lost with a broken stream; their spout tuples time out and are replayed.
# TYPE sparse_transport_dropped_messages_total counter
sparse_transport_dropped_messages_total{topology="wc-1",worker="sup-a:6700"} 1
# HELP sparse_transport_refusals_total Handshakes and batches refused, by this worker or by its peers.
# TYPE sparse_transport_refusals_total counter
sparse_transport_refusals_total{topology="wc-1",worker="sup-a:6700"} 2
# HELP sparse_transport_reconnects_total Reconnections to peer workers.
# TYPE sparse_transport_reconnects_total counter
sparse_transport_reconnects_total{topology="wc-1",worker="sup-a:6700"} 5
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if calls != 1 {
		t.Errorf("one scrape read the totals %d times, want once", calls)
	}
	// The totals are read at scrape time.
	totals.TuplesSent = 11
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP sparse_transport_sent_tuples_total Tuples sent to other workers.
# TYPE sparse_transport_sent_tuples_total counter
sparse_transport_sent_tuples_total{topology="wc-1",worker="sup-a:6700"} 11
`), "sparse_transport_sent_tuples_total"); err != nil {
		t.Error(err)
	}
}

func TestDaemonMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	n := NewNimbusMetrics(reg)
	s := NewSupervisorMetrics(reg)
	n.IsLeader.Set(1)
	n.LiveSupervisors.Set(2)
	n.SlotsTotal.Set(8)
	n.SlotsUsed.Set(3)
	n.Topologies.Set(1)
	n.Submits.Inc()
	n.SubmitRejects.Add(2)
	n.SchedulingRounds.Inc()
	n.SchedulingDuration.Observe(0.003)
	s.SlotsTotal.Set(4)
	s.SlotsUsed.Set(2)
	s.WorkersRunning.Set(2)
	s.WorkerRestarts.Inc()
	s.ArtifactDownloads.Inc()
	s.ArtifactDownloadBytes.Add(12345)
	s.EtcdErrors.Inc()

	want := `
# HELP sparse_nimbus_is_leader 1 while this nimbus is the leader, else 0.
# TYPE sparse_nimbus_is_leader gauge
sparse_nimbus_is_leader 1
# HELP sparse_nimbus_live_supervisors Supervisors registered under a live lease.
# TYPE sparse_nimbus_live_supervisors gauge
sparse_nimbus_live_supervisors 2
# HELP sparse_nimbus_slots Worker slots of the live supervisors.
# TYPE sparse_nimbus_slots gauge
sparse_nimbus_slots 8
# HELP sparse_nimbus_used_slots Worker slots assigned a worker.
# TYPE sparse_nimbus_used_slots gauge
sparse_nimbus_used_slots 3
# HELP sparse_nimbus_rejected_submits_total Topology submissions refused.
# TYPE sparse_nimbus_rejected_submits_total counter
sparse_nimbus_rejected_submits_total 2
# HELP sparse_supervisor_running_workers Worker processes alive.
# TYPE sparse_supervisor_running_workers gauge
sparse_supervisor_running_workers 2
# HELP sparse_supervisor_worker_restarts_total Workers started again after they exited or stopped heartbeating.
# TYPE sparse_supervisor_worker_restarts_total counter
sparse_supervisor_worker_restarts_total 1
# HELP sparse_supervisor_artifact_downloaded_bytes_total Bytes of topology artifacts fetched.
# TYPE sparse_supervisor_artifact_downloaded_bytes_total counter
sparse_supervisor_artifact_downloaded_bytes_total 12345
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"sparse_nimbus_is_leader", "sparse_nimbus_live_supervisors", "sparse_nimbus_slots", "sparse_nimbus_used_slots",
		"sparse_nimbus_rejected_submits_total", "sparse_supervisor_running_workers",
		"sparse_supervisor_worker_restarts_total", "sparse_supervisor_artifact_downloaded_bytes_total"); err != nil {
		t.Error(err)
	}
	if got, err := testutil.GatherAndCount(reg); err != nil || got != 19 {
		t.Errorf("gathered %d series (error %v), want 11 nimbus and 8 supervisor metrics", got, err)
	}

	// A registry refuses a second set: one daemon, one set of metrics.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("registering nimbus metrics twice on one registry did not panic")
			}
		}()
		NewNimbusMetrics(reg)
	}()
	// nil: unregistered, usable.
	NewSupervisorMetrics(nil).WorkerRestarts.Inc()
}

// TestLint runs promlint over every metric this package defines, as a worker, nimbusd
// and supervisord expose them, plus the Go and process collectors of NewRegistry.
func TestLint(t *testing.T) {
	rt := runTopology(t, 50, nil)
	reg := NewRegistry()
	reg.MustRegister(NewRuntimeCollector(testTopology, rt.Stats))
	reg.MustRegister(NewTransportCollector(testTopology, "sup:6700", func() TransportTotals { return TransportTotals{TuplesSent: 1} }))
	NewNimbusMetrics(reg)
	NewSupervisorMetrics(reg)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	var ours int
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "sparse_") {
			ours++
		}
	}
	if ours != 12+11+11+8 {
		t.Errorf("gathered %d sparse_ families, want %d", ours, 12+11+11+8)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatalf("Lint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func TestServe(t *testing.T) {
	rt := runTopology(t, 20, nil)
	reg := NewRegistry()
	reg.MustRegister(NewRuntimeCollector(testTopology, rt.Stats))
	NewNimbusMetrics(reg).IsLeader.Set(1)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := Serve(ctx, "127.0.0.1:0", reg, hclog.NewNullLogger())
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if tcp, ok := addr.(*net.TCPAddr); !ok || tcp.Port == 0 {
		t.Fatalf("Serve returned %v, want the bound TCP address", addr)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get("http://" + addr.String() + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: reading the body: %v", path, err)
		}
		return resp.StatusCode, string(body)
	}

	code, body := get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d\n%s", code, body)
	}
	for _, want := range []string{
		`sparse_executor_emitted_tuples_total{component="spout",executor="`,
		`sparse_executor_complete_latency_seconds_bucket{component="spout",executor="`,
		`sparse_executor_complete_latency_seconds_count{component="spout"`,
		`topology="` + testTopology + `"`,
		"sparse_executor_backpressure_waits_total",
		"sparse_executor_pending_tuples",
		"sparse_nimbus_is_leader 1",
		"go_goroutines",
		"process_start_time_seconds",
		"go_build_info",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /metrics does not contain %q", want)
		}
	}
	if code, body := get("/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz: %d %q, want 200 \"ok\\n\"", code, body)
	}
	if code, _ := get("/nothing"); code != http.StatusNotFound {
		t.Errorf("GET /nothing: %d, want 404", code)
	}

	// A second server cannot take the same address, and says which.
	if _, err := Serve(ctx, addr.String(), reg, nil); err == nil || !strings.Contains(err.Error(), addr.String()) {
		t.Errorf("Serve on a taken address: error %v, want one naming %s", err, addr)
	}

	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr.String(), time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("the metrics server still accepts connections 10s after its context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for !serveGoroutinesGone() {
		if time.Now().After(deadline) {
			t.Fatal("goroutines of Serve are still running 10s after its context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServeNeedsRegistry(t *testing.T) {
	if _, err := Serve(context.Background(), "127.0.0.1:0", nil, nil); err == nil {
		t.Error("Serve without a registry did not fail")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Serve(ctx, "127.0.0.1:0", NewRegistry(), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Serve with an ended context: error %v, want context.Canceled", err)
	}
}

// serveGoroutinesGone reports whether no goroutine of Serve or of its HTTP server runs.
func serveGoroutinesGone() bool {
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	return !strings.Contains(stacks, "internal/metrics.Serve.func") && !strings.Contains(stacks, "net/http.(*conn).serve")
}

// countingSpout emits unreliable tuples as long as it is asked.
type countingSpout struct {
	topology.BaseSpout
	out topology.SpoutCollector
	i   int64
}

func (s *countingSpout) Open(_ *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	return nil
}

func (s *countingSpout) NextTuple() {
	s.out.Emit([]any{s.i}, nil)
	s.i++
}

// TestTransferQueueCollector: a spout whose bolt runs on a peer that never drains its
// queue fills the transfer queue, and the collector sees it full.
func TestTransferQueueCollector(t *testing.T) {
	b := topology.NewBuilder("queues")
	b.Config(topology.ConfAckerExecutors, 0)
	b.Spout("spout", func() topology.Spout { return &countingSpout{} }, 1).Output("i")
	b.Bolt("sink", func() topology.Bolt { return &passBolt{} }, 1).Shuffle("spout")
	spec, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	layout := topology.NewLayout(spec, 0)
	rt, err := executor.New(executor.Options{
		TopologyID: "queues-1", Spec: spec,
		LocalTasks: layout.Tasks["spout"], PeerOf: func(int32) string { return "sup-b:6700" },
	})
	if err != nil {
		t.Fatalf("executor.New: %v", err)
	}
	if len(rt.Outbound()) != 1 {
		t.Fatalf("%d outbound queues, want 1 (towards the sink's worker)", len(rt.Outbound()))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	c := NewTransferQueueCollector("queues-1", "sup-a:6700", rt.Outbound)
	data := rt.Outbound()[0].Data()
	deadline := time.Now().Add(10 * time.Second)
	for len(data) < cap(data) {
		if time.Now().After(deadline) {
			t.Fatalf("the transfer queue holds %d of %d batches after 10s", len(data), cap(data))
		}
		time.Sleep(time.Millisecond)
	}
	want := fmt.Sprintf(`
# HELP sparse_worker_transfer_queue_batches Batches waiting in the queue towards a peer worker.
# TYPE sparse_worker_transfer_queue_batches gauge
sparse_worker_transfer_queue_batches{peer="sup-b:6700",queue="control",topology="queues-1",worker="sup-a:6700"} 0
sparse_worker_transfer_queue_batches{peer="sup-b:6700",queue="data",topology="queues-1",worker="sup-a:6700"} %[1]d
# HELP sparse_worker_transfer_queue_capacity_batches Batches the queue towards a peer worker holds when full.
# TYPE sparse_worker_transfer_queue_capacity_batches gauge
sparse_worker_transfer_queue_capacity_batches{peer="sup-b:6700",queue="control",topology="queues-1",worker="sup-a:6700"} %[1]d
sparse_worker_transfer_queue_capacity_batches{peer="sup-b:6700",queue="data",topology="queues-1",worker="sup-a:6700"} %[1]d
`, cap(data))
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: error %v, problems %v", err, problems)
	}
}

func TestReceiveQueueCollector(t *testing.T) {
	depths := []executor.QueueDepth{
		{Component: "split", Executor: 3, Data: 5, Control: 0, Capacity: 256},
		{Component: "__acker", Executor: 1, Data: 0, Control: 7, Capacity: 256},
	}
	c := NewReceiveQueueCollector("t1", func() []executor.QueueDepth { return depths })
	want := `
# HELP sparse_executor_receive_queue_batches Batches waiting in an executor's receive queue (data: tuples; control: acker traffic).
# TYPE sparse_executor_receive_queue_batches gauge
sparse_executor_receive_queue_batches{component="__acker",executor="1",queue="control",topology="t1"} 7
sparse_executor_receive_queue_batches{component="__acker",executor="1",queue="data",topology="t1"} 0
sparse_executor_receive_queue_batches{component="split",executor="3",queue="control",topology="t1"} 0
sparse_executor_receive_queue_batches{component="split",executor="3",queue="data",topology="t1"} 5
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "sparse_executor_receive_queue_batches"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c); n != 8 {
		t.Errorf("%d metrics, want 8", n)
	}
}
