package worker_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/internal/nimbus"
	"github.com/sparsestream/sparse/internal/stats"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/internal/testutil/etcdtest"
	"github.com/sparsestream/sparse/internal/worker"
	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
)

// TestReportsFollowTheLeader: a worker given a standby's address first reports to the
// leader it names; when the leader stops, its reports reach the new leader, whose
// windows start at its election and count from then on.
func TestReportsFollowTheLeader(t *testing.T) {
	etcd := etcdtest.Start(t)
	start := func(id string) *nimbus.Server {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := nimbus.Start(ctx, nimbus.Config{ID: id, Listen: "127.0.0.1:0", DataDir: t.TempDir(), EtcdEndpoints: etcd.Endpoints(),
			EtcdRoot: "/reports", LeaderTTL: 2 * time.Second, ReplicateEvery: 200 * time.Millisecond,
			Logger: hclog.New(&hclog.LoggerOptions{Name: id, Level: hclog.Warn, Output: testutil.LogWriter(t)})})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	n1 := start("n1")
	testutil.Eventually(t, 20*time.Second, "n1 leads", n1.IsLeader)
	n2 := start("n2")

	var calls atomic.Int64
	spec := countingSpec(t, &calls)
	l := listenTCP(t)
	a := worker.Spread("report-1", 1, topology.NewLayout(spec, spec.Config.AckerTasks()),
		[]scheduler.WorkerSlot{worker.Static("w1", l.Addr().String())})
	w, err := worker.New(worker.Options{Spec: spec, Assignment: a, WorkerID: "w1", Listener: l,
		Nimbus: []string{n2.Addr(), n1.Addr()}, ReportEvery: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = w.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()

	emitted := func(s *nimbus.Server) int64 {
		ts, _ := s.TopologyStats("report-1", stats.WindowAllTime)
		c, _, _ := ts.Component("spout")
		return c.Emitted
	}
	testutil.Eventually(t, 10*time.Second, "the leader has the worker's figures", func() bool { return emitted(n1) > 0 })

	n1.Close()
	testutil.Eventually(t, 20*time.Second, "n2 leads", n2.IsLeader)
	elected := time.Now()
	testutil.Eventually(t, 10*time.Second, "the new leader has the worker's figures", func() bool { return emitted(n2) > 0 })
	ts, _ := n2.TopologyStats("report-1", stats.WindowAllTime)
	if ts.Since.After(elected) || elected.Sub(ts.Since) > 10*time.Second {
		t.Errorf("the new leader counts since %v; it was elected about %v", ts.Since, elected)
	}
	if c, _, _ := ts.Component("spout"); c.Emitted >= calls.Load() {
		t.Errorf("the new leader counts %d emitted of the worker's %d: what happened before it led must not be in its windows", c.Emitted, calls.Load())
	}
}
