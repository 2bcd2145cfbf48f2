package worker_test

import (
	"context"
	"maps"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/internal/worker"
	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// countingSpout counts its NextTuple calls and emits an unanchored tuple on each.
type countingSpout struct {
	topology.BaseSpout
	out   topology.SpoutCollector
	calls *atomic.Int64
}

func (s *countingSpout) Open(_ *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	return nil
}

func (s *countingSpout) NextTuple() {
	s.calls.Add(1)
	s.out.Emit([]any{int64(1)}, nil)
	time.Sleep(time.Millisecond)
}

type dropBolt struct{ topology.BaseBolt }

func (dropBolt) Prepare(*topology.Context) error                     { return nil }
func (dropBolt) Execute(*tuple.Tuple, topology.BasicCollector) error { return nil }

func countingSpec(t *testing.T, calls *atomic.Int64) *topology.Spec {
	t.Helper()
	b := topology.NewBuilder("admin")
	b.Spout("spout", func() topology.Spout { return &countingSpout{calls: calls} }, 1).Output("n")
	b.Bolt("sink", topology.Basic(func() topology.BasicBolt { return dropBolt{} }), 4).Tasks(6).Shuffle("spout")
	spec, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// still reports whether a counter stays put for a while (after a moment to settle).
func still(c *atomic.Int64) bool {
	time.Sleep(100 * time.Millisecond)
	before := c.Load()
	time.Sleep(300 * time.Millisecond)
	return c.Load() == before
}

// TestSetActiveOverGRPC: a supervised worker (StartInactive) calls no NextTuple until
// WorkerAdmin.SetActive(true) arrives over real gRPC; SetActive(false) pauses the spouts
// and SetActive(true) resumes them. The heartbeat file lives exactly as long as Run.
func TestSetActiveOverGRPC(t *testing.T) {
	var calls atomic.Int64
	spec := countingSpec(t, &calls)
	l := listenTCP(t)
	a := worker.Spread("admin-1", 1, topology.NewLayout(spec, spec.Config.AckerTasks()),
		[]scheduler.WorkerSlot{worker.Static("w1", l.Addr().String())})
	hb := filepath.Join(t.TempDir(), "heartbeat")
	w, err := worker.New(worker.Options{Spec: spec, Assignment: a, WorkerID: "w1", Listener: l,
		StartInactive: true, HeartbeatFile: hb})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var runErr error
	wg.Go(func() { runErr = w.Run(ctx) })

	testutil.Eventually(t, 5*time.Second, "the heartbeat file", func() bool { _, err := os.Stat(hb); return err == nil })
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	admin := sparsev1.NewWorkerAdminClient(conn)
	setActive := func(on bool) {
		t.Helper()
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		defer rcancel()
		if _, err := admin.SetActive(rctx, &sparsev1.SetActiveRequest{Active: on}); err != nil {
			t.Fatalf("SetActive(%v): %v", on, err)
		}
	}

	time.Sleep(300 * time.Millisecond)
	if n := calls.Load(); n != 0 || w.Active() {
		t.Fatalf("an inactive worker called NextTuple %d times (active %v)", n, w.Active())
	}
	setActive(true)
	testutil.Eventually(t, 10*time.Second, "NextTuple after SetActive(true)", func() bool { return calls.Load() > 10 })
	setActive(false)
	if !still(&calls) {
		t.Fatal("NextTuple is still called after SetActive(false)")
	}
	paused := calls.Load()
	setActive(true)
	testutil.Eventually(t, 10*time.Second, "NextTuple after SetActive(true) again", func() bool { return calls.Load() > paused+10 })

	st, err := os.Stat(hb)
	if err != nil {
		t.Fatal(err)
	}
	first := st.ModTime()
	testutil.Eventually(t, 5*time.Second, "the heartbeat file to be touched", func() bool {
		st, err := os.Stat(hb)
		return err == nil && st.ModTime().After(first)
	})

	cancel()
	wg.Wait()
	if runErr != nil {
		t.Fatalf("Run: %v", runErr)
	}
	if _, err := os.Stat(hb); !os.IsNotExist(err) {
		t.Errorf("the heartbeat file is still there after Run returned: %v", err)
	}
}

// TestStaticWorkerActivatesItself: without StartInactive (a static assignment, no
// supervisor) the spouts run as soon as the peers are connected.
func TestStaticWorkerActivatesItself(t *testing.T) {
	var calls atomic.Int64
	spec := countingSpec(t, &calls)
	l := listenTCP(t)
	a := worker.Spread("admin-1", 1, topology.NewLayout(spec, spec.Config.AckerTasks()),
		[]scheduler.WorkerSlot{worker.Static("w1", l.Addr().String())})
	w, err := worker.New(worker.Options{Spec: spec, Assignment: a, WorkerID: "w1", Listener: l})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = w.Run(ctx) })
	testutil.Eventually(t, 10*time.Second, "NextTuple", func() bool { return calls.Load() > 10 })
	if !w.Active() {
		t.Error("Active() is false while the spouts run")
	}
	cancel()
	wg.Wait()
}

// TestParallelismMatchesScheduler: the executors a worker derives from an assignment's
// parallelism are the ones the scheduler placed for the same executor overrides, so the
// workers of a rebalanced topology accept their assignment.
func TestParallelismMatchesScheduler(t *testing.T) {
	var calls atomic.Int64
	spec := countingSpec(t, &calls) // sink: 6 tasks in 4 executors
	spec.Config = topology.Config{topology.ConfWorkers: int64(2), topology.ConfAckerExecutors: int64(2)}
	layout := topology.NewLayout(spec, spec.Config.AckerTasks())
	overrides := map[string]int{"sink": 3, "spout": 1}
	top := scheduler.Topology{ID: "admin-1", Workers: 2, Executors: layout.Executors, ExecutorOverrides: overrides}
	want, err := top.EffectiveExecutors()
	if err != nil {
		t.Fatal(err)
	}
	res, err := scheduler.Schedule(scheduler.Cluster{
		Supervisors: []scheduler.Supervisor{{ID: "s1", Host: "127.0.0.1", Slots: []int{7001, 7002}, Alive: true}},
		Topologies:  []scheduler.Topology{top},
	})
	if err != nil {
		t.Fatal(err)
	}
	placed := res.Assignments["admin-1"]
	a := &placed
	a.Parallelism = maps.Clone(overrides)
	if len(a.Workers) != 2 {
		t.Fatalf("the scheduler placed %d workers, want 2", len(a.Workers))
	}
	for _, ep := range a.Workers {
		w, err := worker.New(worker.Options{Spec: spec, Assignment: a, WorkerID: ep.ID()})
		if err != nil {
			t.Fatalf("worker %s refuses the scheduler's assignment: %v", ep.ID(), err)
		}
		if got := w.Runtime().Layout().Executors; !reflect.DeepEqual(got, want) {
			t.Fatalf("worker executors\n%v\nwant the scheduler's\n%v", got, want)
		}
	}
	if spec.Component("sink").Parallelism != 4 {
		t.Error("ApplyParallelism changed the caller's spec")
	}
	// Regroup is what the worker's round robin must equal for every count.
	for n := 1; n <= 7; n++ {
		s, err := worker.ApplyParallelism(spec, map[string]int{"sink": n})
		if err != nil {
			t.Fatal(err)
		}
		got := topology.NewLayout(s, 2).Executors["sink"]
		if exp := scheduler.Regroup(layout.Tasks["sink"], n); !reflect.DeepEqual(got, exp) {
			t.Errorf("parallelism %d: executors %v, scheduler.Regroup %v", n, got, exp)
		}
	}
}

func TestParallelismErrors(t *testing.T) {
	var calls atomic.Int64
	spec := countingSpec(t, &calls)
	for _, tc := range []struct {
		p    map[string]int
		want string
	}{
		{map[string]int{"nope": 2}, `"nope": the topology has no such component`},
		{map[string]int{"sink": 0}, `"sink" is 0; it must be at least 1`},
		{map[string]int{tuple.AckerID: 2}, "cannot be overridden"},
	} {
		if _, err := worker.ApplyParallelism(spec, tc.p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ApplyParallelism(%v) = %v, want an error containing %q", tc.p, err, tc.want)
		}
	}
	s, err := worker.ApplyParallelism(spec, nil)
	if err != nil || s != spec {
		t.Errorf("an empty parallelism should return the spec as is: %v", err)
	}
}

func listenTCP(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}
