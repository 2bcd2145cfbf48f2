package supervisor

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/internal/worker"
	"github.com/sparsestream/sparse/pkg/topology"
)

// procRef names one process for the life of the machine: a pid and its start time.
type procRef struct {
	pid   int
	start uint64
}

func (r procRef) alive() bool { return sameStart(r.pid, r.start) }

// descendantsRunning lists the live descendants of root whose command line contains
// word.
func descendantsRunning(root int, word string) []procRef {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	children := map[int][]int{}
	starts := map[int]uint64{}
	for _, path := range stats {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(path)))
		if err != nil {
			continue
		}
		if st, err := readProcStat(pid); err == nil && st.State != 'Z' {
			children[st.PPID] = append(children[st.PPID], pid)
			starts[pid] = st.StartTime
		}
	}
	var out []procRef
	queue := append([]int(nil), children[root]...)
	for len(queue) > 0 {
		pid := queue[0]
		queue = append(queue[1:], children[pid]...)
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if bytes.Contains(cmdline, []byte(word)) {
			out = append(out, procRef{pid, starts[pid]})
		}
	}
	return out
}

func needPython(t *testing.T) {
	t.Helper()
	needBinary(t)
	if !procfs() {
		t.Skip("needs /proc to find a worker's subprocesses")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not on PATH")
	}
}

// waitSubprocesses waits for the worker's three multi-lang processes, the python3 of
// bolt "py" and the shell and python3 of bolt "wrapped", and for both bolts to hang in a
// tuple (each writes hung-<pid> in dir, the worker's directory, then).
func waitSubprocesses(t *testing.T, worker int, dir string) []procRef {
	t.Helper()
	var subs []procRef
	testutil.Eventually(t, 30*time.Second, "the worker's Python bolts to hang in a tuple", func() bool {
		hung, _ := filepath.Glob(filepath.Join(dir, "hung-*"))
		subs = descendantsRunning(worker, "bolt.py")
		return len(hung) == 2 && len(subs) >= 3
	})
	return subs
}

// directChildren keeps the processes whose parent is pid.
func directChildren(subs []procRef, pid int) []procRef {
	var out []procRef
	for _, s := range subs {
		if st, err := readProcStat(s.pid); err == nil && st.PPID == pid {
			out = append(out, s)
		}
	}
	return out
}

func waitGone(t *testing.T, subs []procRef, within time.Duration) {
	t.Helper()
	testutil.Eventually(t, within, "no subprocess of the killed worker to remain", func() bool {
		for _, s := range subs {
			if s.alive() {
				return false
			}
		}
		return true
	})
}

// TestMultilangSubprocessesDieWithWorker: a worker SIGKILLed while it runs Python bolts
// (one started directly, one under a shell wrapper), each hung in a tuple so that the
// end of its stdin does not stop it, leaves no Python process behind: its supervisor
// kills its process group, where the subprocesses and theirs stay. With nobody to kill
// the group (a worker run by hand), its own subprocesses still die with it on Linux
// (the parent-death signal).
func TestMultilangSubprocessesDieWithWorker(t *testing.T) {
	needPython(t)
	spec := binSpec(t, pyTopoBin)

	t.Run("supervised", func(t *testing.T) {
		f := newManagerFixture(t)
		f.want.Assignment = soloAssignment(spec, "topo-1", f.want.WorkerID, f.want.Address, 1)
		m := f.start(func(c *ManagerConfig) { c.Artifacts = fixedArtifacts(pyTopoBin) })
		m.Update([]Want{f.want})
		testutil.Eventually(t, 20*time.Second, "the worker to run", func() bool { return m.slot().Phase == Running })
		pid := m.slot().PID
		subs := waitSubprocesses(t, pid, workerDir(f.dataDir, "topo-1", f.port))
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitGone(t, subs, 10*time.Second)
	})

	t.Run("unsupervised", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("only Linux has a parent-death signal")
		}
		dir := t.TempDir()
		port := freePort(t)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		if err := writeJSON(filepath.Join(dir, assignmentFile), soloAssignment(spec, "topo-1", "w1", addr, 1)); err != nil {
			t.Fatal(err)
		}
		if err := writeJSON(filepath.Join(dir, configFile), topology.Config{}); err != nil {
			t.Fatal(err)
		}
		// Active from the start: a bolt hangs only once a tuple reaches it.
		flags := worker.Flags{Assignment: filepath.Join(dir, assignmentFile), ID: "w1", ConfigFile: filepath.Join(dir, configFile)}
		cmd := exec.Command(pyTopoBin, flags.Args()...)
		cmd.Dir = dir
		// A group of its own, as a supervisor gives it, but nobody kills that group.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		log, err := os.Create(filepath.Join(dir, logFile))
		if err != nil {
			t.Fatal(err)
		}
		defer log.Close()
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pid := cmd.Process.Pid
		t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
		subs := directChildren(waitSubprocesses(t, pid, dir), pid)
		if len(subs) != 2 {
			t.Fatalf("the worker has %d subprocesses of its own, want 2 (python3, and sh)", len(subs))
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		waitGone(t, subs, 10*time.Second)
	})
}
