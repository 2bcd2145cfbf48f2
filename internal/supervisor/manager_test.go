package supervisor

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/pkg/topology"
)

// managerFixture runs Managers over one data directory, with short timings.
type managerFixture struct {
	t       *testing.T
	dataDir string
	emitDir string
	port    int
	want    Want
}

func newManagerFixture(t *testing.T) *managerFixture {
	needBinary(t)
	f := &managerFixture{t: t, dataDir: t.TempDir(), emitDir: t.TempDir(), port: freePort(t)}
	killWorkersAtEnd(t, f.dataDir)
	spec := topoSpec(t)
	addr := "127.0.0.1:" + strconv.Itoa(f.port)
	id := "s1:" + strconv.Itoa(f.port)
	f.want = Want{Port: f.port, TopologyID: "topo-1", WorkerID: id, Address: addr, Version: 1,
		Digest: "0000000000000000000000000000000000000000000000000000000000000001", Active: true,
		Assignment: soloAssignment(spec, "topo-1", id, addr, 1),
		Config:     topology.Config{"test.emit.dir": f.emitDir}}
	return f
}

// withVersion is the fixture's want at another assignment version.
func (f *managerFixture) withVersion(v int64) Want {
	w := f.want
	w.Version = v
	a := *w.Assignment
	a.Version = v
	w.Assignment = &a
	return w
}

type runningManager struct {
	*Manager
	cancel context.CancelFunc
	done   chan struct{}
}

func (f *managerFixture) start(mod func(*ManagerConfig)) *runningManager {
	c := ManagerConfig{
		SupervisorID: "s1", DataDir: f.dataDir, Artifacts: fixedArtifacts(topoBin),
		WorkerTimeout: 5 * time.Second, StopGrace: 3 * time.Second,
		BackoffMin: 300 * time.Millisecond, BackoffMax: 2 * time.Second, HealthyAfter: time.Minute,
		Tick:   50 * time.Millisecond,
		Logger: hclog.New(&hclog.LoggerOptions{Name: "supervisor", Level: hclog.Debug, Output: testutil.LogWriter(f.t)}),
	}
	if mod != nil {
		mod(&c)
	}
	m, err := NewManager(c)
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningManager{Manager: m, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := m.Run(ctx); err != nil {
			f.t.Errorf("Manager.Run: %v", err)
		}
	}()
	f.t.Cleanup(r.stop)
	return r
}

func (r *runningManager) stop() {
	r.cancel()
	<-r.done
}

// slot returns the status of the manager's one slot (zero if it has none).
func (r *runningManager) slot() SlotStatus {
	st := r.Status()
	if len(st) == 0 {
		return SlotStatus{}
	}
	return st[0]
}

// TestManagerLifecycle: a worker is started, activated and restarted with backoff after
// it dies; a new Manager over the same data directory (a restarted supervisor) adopts
// it; deactivation pauses its spouts; a new assignment version replaces it; and when it
// is no longer assigned it is stopped.
func TestManagerLifecycle(t *testing.T) {
	f := newManagerFixture(t)
	m1 := f.start(nil)
	m1.Update([]Want{f.want})
	testutil.Eventually(t, 20*time.Second, "the worker to run and be activated", func() bool {
		s := m1.slot()
		return s.Phase == Running && s.ActiveKnown && s.Active
	})
	if !emitting(f.emitDir, 10*time.Second) {
		t.Fatal("the activated worker's spout does not emit")
	}
	s := m1.slot()
	dir := workerDir(f.dataDir, "topo-1", f.port)
	for _, name := range []string{assignmentFile, configFile, heartbeatFile, logFile, pidFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("worker file %s: %v", name, err)
		}
	}
	pf, err := readPidFile(filepath.Join(dir, pidFile))
	if err != nil || pf.PID != s.PID || pf.Version != 1 || pf.Executable != topoBin {
		t.Fatalf("pid file %+v (%v), want pid %d running %s", pf, err, s.PID, topoBin)
	}

	// Crash it twice: each restart waits out a longer backoff.
	pid := s.PID
	var waits []time.Duration
	for i := 1; i <= 2; i++ {
		killed := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 20*time.Second, "the worker to be restarted", func() bool {
			s := m1.slot()
			return s.Phase == Running && s.PID != pid && s.PID != 0
		})
		waits = append(waits, time.Since(killed))
		s = m1.slot()
		if s.Restarts != i || s.Failures != i {
			t.Fatalf("after crash %d: restarts %d, failures %d", i, s.Restarts, s.Failures)
		}
		pid = s.PID
		testutil.Eventually(t, 20*time.Second, "the restarted worker to be activated", func() bool { return m1.slot().ActiveKnown })
	}
	if waits[0] < 300*time.Millisecond || waits[1] < 600*time.Millisecond {
		t.Errorf("restarts came after %v; want at least the backoffs 300ms and 600ms", waits)
	}

	// The supervisor goes away; the worker stays.
	m1.stop()
	time.Sleep(200 * time.Millisecond)
	if !pidAlive(pid) {
		t.Fatal("the worker died with its supervisor")
	}
	m2 := f.start(nil)
	testutil.Eventually(t, 5*time.Second, "the new manager to find the live worker", func() bool {
		s := m2.slot()
		return s.Phase == Found && s.PID == pid
	})
	m2.Update([]Want{f.want})
	testutil.Eventually(t, 10*time.Second, "the worker to be adopted and activated", func() bool {
		s := m2.slot()
		return s.Phase == Running && s.Adopted && s.PID == pid && s.ActiveKnown && s.Active
	})

	// Deactivate, then activate again.
	inactive := f.want
	inactive.Active = false
	m2.Update([]Want{inactive})
	testutil.Eventually(t, 10*time.Second, "the worker to be deactivated", func() bool { s := m2.slot(); return s.ActiveKnown && !s.Active })
	time.Sleep(200 * time.Millisecond) // NextTuple calls already under way finish
	if emitting(f.emitDir, 700*time.Millisecond) {
		t.Fatal("a deactivated worker's spout still emits")
	}
	m2.Update([]Want{f.want})
	if !emitting(f.emitDir, 10*time.Second) {
		t.Fatal("the reactivated worker's spout does not emit")
	}

	// A new assignment version replaces the adopted worker (which is not our child).
	m2.Update([]Want{f.withVersion(2)})
	testutil.Eventually(t, 20*time.Second, "the worker of version 2", func() bool {
		s := m2.slot()
		return s.Phase == Running && s.Identity.Version == 2 && s.PID != pid && !s.Adopted
	})
	if pidAlive(pid) {
		t.Error("the worker of version 1 still runs")
	}
	pid = m2.slot().PID
	a, err := os.ReadFile(filepath.Join(dir, assignmentFile))
	if err != nil || !strings.Contains(string(a), `"version": 2`) {
		t.Errorf("assignment.json after the new version: %s (%v)", a, err)
	}

	// Unassigned: stopped, its pid file gone, nothing restarted.
	m2.Update(nil)
	testutil.Eventually(t, 10*time.Second, "the unassigned worker to stop", func() bool { return len(m2.Status()) == 0 })
	if pidAlive(pid) {
		t.Error("the unassigned worker still runs")
	}
	if _, err := os.Stat(filepath.Join(dir, pidFile)); !os.IsNotExist(err) {
		t.Errorf("the stopped worker's pid file: %v", err)
	}
	time.Sleep(500 * time.Millisecond)
	if len(m2.Status()) != 0 {
		t.Errorf("a worker came back: %+v", m2.Status())
	}
}

// TestManagerReplacesStaleWorkers: a restarted supervisor removes the pid file of a dead
// worker and replaces a live worker of an older assignment version; with
// StopWorkersOnExit its workers stop with it.
func TestManagerReplacesStaleWorkers(t *testing.T) {
	f := newManagerFixture(t)
	m1 := f.start(nil)
	m1.Update([]Want{f.want})
	testutil.Eventually(t, 20*time.Second, "the worker to run", func() bool { return m1.slot().Phase == Running })
	old := m1.slot().PID
	m1.stop()

	// A pid file whose process is long gone, in another topology's directory.
	deadDir := workerDir(f.dataDir, "gone-1", f.port+1)
	if err := os.MkdirAll(deadDir, 0o755); err != nil {
		t.Fatal(err)
	}
	dead := exec0(t)
	if err := writeJSON(filepath.Join(deadDir, pidFile), PidFile{PID: dead, Port: f.port + 1, Executable: topoBin}); err != nil {
		t.Fatal(err)
	}

	m2 := f.start(func(c *ManagerConfig) { c.StopWorkersOnExit = true })
	m2.Update([]Want{f.withVersion(2)})
	testutil.Eventually(t, 20*time.Second, "the worker of version 2 to replace the old one", func() bool {
		s := m2.slot()
		return s.Phase == Running && s.Identity.Version == 2 && s.PID != old
	})
	if pidAlive(old) {
		t.Error("the worker of the old version still runs")
	}
	if _, err := os.Stat(filepath.Join(deadDir, pidFile)); !os.IsNotExist(err) {
		t.Errorf("the dead worker's pid file is still there: %v", err)
	}
	pid := m2.slot().PID
	m2.stop()
	if pidAlive(pid) {
		t.Error("StopWorkersOnExit: the worker outlived its supervisor")
	}
}

// TestManagerStartFailure: a worker that cannot start (here: its assignment does not fit
// its topology) is retried with backoff and never runs.
func TestManagerStartFailure(t *testing.T) {
	f := newManagerFixture(t)
	m := f.start(nil)
	bad := f.want
	bad.Problem = "assignment version 1 does not fit topology topo-1"
	m.Update([]Want{bad})
	testutil.Eventually(t, 10*time.Second, "two failed starts", func() bool { return m.slot().Failures >= 2 })
	if s := m.slot(); s.Phase == Running || s.PID != 0 {
		t.Fatalf("a worker that cannot start runs: %+v", s)
	}
	m.Update([]Want{f.want})
	testutil.Eventually(t, 20*time.Second, "the fixed worker to run", func() bool { return m.slot().Phase == Running })
}

// exec0 runs a process that exits at once and returns its (now free) pid.
func exec0(t *testing.T) int {
	t.Helper()
	p, err := os.StartProcess(topoBin, []string{topoBin, "--help"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	return p.Pid
}

// TestManagerRestartsHungWorker: a worker that stops touching its heartbeat file (here:
// frozen with SIGSTOP) is killed after the grace period and started again.
func TestManagerRestartsHungWorker(t *testing.T) {
	f := newManagerFixture(t)
	m := f.start(func(c *ManagerConfig) { c.WorkerTimeout, c.StopGrace = 1500*time.Millisecond, 500*time.Millisecond })
	m.Update([]Want{f.want})
	testutil.Eventually(t, 20*time.Second, "the worker to run and register", func() bool { s := m.slot(); return s.Phase == Running && s.Registered })
	pid := m.slot().PID
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, "the hung worker to be replaced", func() bool {
		s := m.slot()
		return s.Phase == Running && s.PID != pid && s.PID != 0
	})
	if pidAlive(pid) {
		t.Error("the hung worker still exists")
	}
	if s := m.slot(); s.Restarts != 1 {
		t.Errorf("restarts = %d, want 1", s.Restarts)
	}
}
