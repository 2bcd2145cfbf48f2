package supervisor

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/internal/testutil/etcdtest"
	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
)

// TestSupervisorFencesItselfWithoutEtcd: a supervisor whose way to etcd is cut (a TCP
// proxy in front of etcd, which the rest of the cluster still reaches) loses its record
// in etcd after its lease TTL, when nimbus would start its worker elsewhere; it then
// stops vouching for the worker, which stops itself within the orphan timeout (or, if
// it cannot, here because it is frozen, is stopped by the supervisor, SIGKILL following
// after the stop grace). The supervisor starts nothing while cut off, and once it reaches
// etcd again it runs its assignment again.
func TestSupervisorFencesItselfWithoutEtcd(t *testing.T) {
	needBinary(t)
	e := etcdtest.Start(t)
	const ttl, orphan, grace = 2 * time.Second, 2 * time.Second, time.Second
	for _, tc := range []struct {
		name   string
		frozen bool
		// bound is how long after the cut the worker may still run: the lease TTL, the
		// orphan timeout and the worker's once-a-second check (plus, for a frozen worker,
		// the supervisor's 2s margin and the stop grace), with a second for a busy machine.
		bound time.Duration
	}{
		{"the worker stops itself", false, ttl + orphan + 2*time.Second},
		{"a frozen worker is killed", true, ttl + orphan + 2*time.Second + grace + time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := testutil.NewProxy(t, strings.TrimPrefix(e.Endpoints()[0], "http://"))
			root := "/fence-" + strconv.FormatBool(tc.frozen)
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
			if _, err := store.RegisterNimbus(ctx, &cluster.NimbusRecord{ID: nimbus.id, Address: nimbus.addr}, 30*time.Second); err != nil {
				t.Fatal(err)
			}
			dataDir := t.TempDir()
			killWorkersAtEnd(t, dataDir)
			port := freePort(t)
			const sup, tid = "s1", "topo-1"
			s, err := New(Config{
				ID: sup, Host: "127.0.0.1", Slots: []int{port}, DataDir: dataDir,
				EtcdEndpoints: []string{proxy.Addr()}, EtcdRoot: root, LeaseTTL: ttl, OrphanTimeout: orphan,
				WorkerTimeout: 30 * time.Second, StopGrace: grace, WorkerMetricsOffset: -1,
				BackoffMin: 200 * time.Millisecond, Tick: 50 * time.Millisecond,
				Logger: hclog.New(&hclog.LoggerOptions{Name: "supervisord", Level: hclog.Info, Output: testutil.LogWriter(t)}),
			})
			if err != nil {
				t.Fatal(err)
			}
			sctx, scancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- s.Run(sctx) }()
			t.Cleanup(func() { scancel(); <-done })

			spec := topoSpec(t)
			topo := &cluster.TopologyRecord{ID: tid, Name: tid, Status: cluster.StatusActive, Spec: spec,
				Config:         topology.Config{"test.emit.dir": t.TempDir(), topology.ConfWorkers: int64(1), topology.ConfAckerExecutors: int64(1)},
				ArtifactDigest: nimbus.digest, ArtifactSize: int64(len(bin)), SubmittedAt: time.Now().UTC(), Workers: 1}
			if err := store.PutTopology(ctx, topo); err != nil {
				t.Fatal(err)
			}
			wid, addr := sup+":"+strconv.Itoa(port), "127.0.0.1:"+strconv.Itoa(port)
			wa := soloAssignment(spec, tid, wid, addr, 1)
			if err := store.PutAssignment(ctx, &cluster.AssignmentRecord{TopologyID: tid, Version: 1, UpdatedAt: time.Now().UTC(),
				Workers: []scheduler.WorkerSlot{{Supervisor: sup, Host: "127.0.0.1", Port: port, Executors: wa.Workers[0].Executors}}}, 0); err != nil {
				t.Fatal(err)
			}
			running := func() (int, bool) {
				st := s.Status()
				if len(st) == 1 && st[0].Phase == Running && st[0].Registered {
					return st[0].PID, true
				}
				return 0, false
			}
			testutil.Eventually(t, 30*time.Second, "the worker to run", func() bool { _, ok := running(); return ok })
			pid, _ := running()
			if tc.frozen {
				if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
					t.Fatal(err)
				}
			}

			cut := time.Now()
			proxy.Cut()
			testutil.Eventually(t, tc.bound+5*time.Second, "the fenced supervisor's worker to stop", func() bool { return !pidAlive(pid) })
			took := time.Since(cut)
			t.Logf("the worker stopped %v after etcd was cut off", took.Round(time.Millisecond))
			if took > tc.bound {
				t.Errorf("the worker ran %v after etcd was cut off; the bound is %v", took, tc.bound)
			}
			if took < ttl {
				t.Errorf("the worker stopped %v after the cut, before its supervisor's lease could expire", took)
			}
			if _, err := store.GetSupervisor(ctx, sup); !errors.Is(err, cluster.ErrNotFound) {
				t.Errorf("the fenced supervisor's record: %v; want it expired", err)
			}
			time.Sleep(time.Second)
			if st := s.Status(); len(st) == 1 && (st[0].PID != 0 && pidAlive(st[0].PID)) {
				t.Errorf("a fenced supervisor started a worker: %+v", st)
			}

			proxy.Restore()
			testutil.Eventually(t, 30*time.Second, "the worker to run again once etcd answers", func() bool {
				p, ok := running()
				return ok && p != pid
			})
		})
	}
}
