// The tests of the shared server and of sparse's exposition as a whole: every
// owner's metrics, registered side by side as the processes register them, lint
// clean and keep distinct names. They import the owners; the package does not.

package metrics_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/internal/executor/execmetrics"
	"github.com/sparsestream/sparse/internal/metrics"
	"github.com/sparsestream/sparse/internal/nimbus"
	"github.com/sparsestream/sparse/internal/supervisor"
	"github.com/sparsestream/sparse/pkg/transport"
)

const testTopology = "metrics-test"

// executorStats are a worker's executors after some traffic: a spout, a bolt and an
// acker, with latencies observed, so that every family of the runtime collector has
// series.
func executorStats() []*executor.Stats {
	spout := &executor.Stats{Component: "spout", Kind: "spout", Tasks: []int32{1, 2}}
	spout.Emitted.Add(20)
	spout.Transferred.Add(20)
	spout.Acked.Add(20)
	spout.CompleteLatency.Observe(3 * time.Millisecond)
	bolt := &executor.Stats{Component: "sink", Kind: "bolt", Tasks: []int32{3}}
	bolt.Executed.Add(20)
	bolt.Acked.Add(20)
	bolt.ExecuteLatency.Observe(200 * time.Microsecond)
	bolt.ProcessLatency.Observe(300 * time.Microsecond)
	acker := &executor.Stats{Component: "__acker", Kind: "acker", Tasks: []int32{4}}
	acker.Executed.Add(60)
	return []*executor.Stats{spout, bolt, acker}
}

// TestLint runs promlint over every metric sparse defines, as a worker, nimbusd
// and supervisord expose them, plus the Go and process collectors of NewRegistry.
func TestLint(t *testing.T) {
	reg := metrics.NewRegistry()
	reg.MustRegister(execmetrics.NewRuntimeCollector(testTopology, executorStats))
	reg.MustRegister(transport.NewCollector(testTopology, "sup:6700", func() transport.Totals { return transport.Totals{TuplesSent: 1} }))
	nimbus.NewMetrics(reg)
	supervisor.NewMetrics(reg)
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
	if ours != 12+11+13+9 {
		t.Errorf("gathered %d sparse_ families, want %d", ours, 12+11+13+9)
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
	reg := metrics.NewRegistry()
	reg.MustRegister(execmetrics.NewRuntimeCollector(testTopology, executorStats))
	nimbus.NewMetrics(reg).IsLeader.Set(1)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := metrics.Serve(ctx, "127.0.0.1:0", reg, hclog.NewNullLogger())
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
	if _, err := metrics.Serve(ctx, addr.String(), reg, nil); err == nil || !strings.Contains(err.Error(), addr.String()) {
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
	if _, err := metrics.Serve(context.Background(), "127.0.0.1:0", nil, nil); err == nil {
		t.Error("Serve without a registry did not fail")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := metrics.Serve(ctx, "127.0.0.1:0", metrics.NewRegistry(), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Serve with an ended context: error %v, want context.Canceled", err)
	}
}

// serveGoroutinesGone reports whether no goroutine of Serve or of its HTTP server runs.
func serveGoroutinesGone() bool {
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	return !strings.Contains(stacks, "internal/metrics.Serve.func") && !strings.Contains(stacks, "net/http.(*conn).serve")
}
