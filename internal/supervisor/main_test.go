package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/worker"
	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
)

// topoBin is the test topology binary (testdata/topo), and pyTopoBin the one with
// Python bolts (testdata/pytopo), built once by TestMain.
var topoBin, pyTopoBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// The pure tests run; the ones that start workers skip themselves.
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "sparse-supervisor-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	topoBin = filepath.Join(dir, "topo")
	pyTopoBin = filepath.Join(dir, "pytopo")
	script, err := filepath.Abs(filepath.Join("testdata", "pytopo", "bolt.py"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, args := range [][]string{
		{"build", "-o", topoBin, "./testdata/topo"},
		{"build", "-ldflags", "-X main.script=" + script, "-o", pyTopoBin, "./testdata/pytopo"},
	} {
		build := exec.Command("go", args...)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building a test topology failed:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needBinary(t *testing.T) {
	t.Helper()
	if topoBin == "" {
		t.Skip("starts worker processes; skipped in -short mode")
	}
}

// topoSpec is the test topology's spec, as its describe prints it.
func topoSpec(t *testing.T) *topology.Spec {
	t.Helper()
	return binSpec(t, topoBin)
}

// binSpec is a topology binary's spec, as its describe prints it.
func binSpec(t *testing.T, bin string) *topology.Spec {
	t.Helper()
	out, err := exec.Command(bin, "describe").Output()
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	var spec topology.Spec
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&spec); err != nil {
		t.Fatal(err)
	}
	return &spec
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// soloAssignment puts every task of spec on one worker.
func soloAssignment(spec *topology.Spec, topologyID, workerID, addr string, version int64) *worker.Assignment {
	return worker.Spread(topologyID, version, topology.NewLayout(spec, 1), []scheduler.WorkerSlot{worker.Static(workerID, addr)})
}

// emitted reads the count the test topology's spout last wrote under dir.
func emitted(dir string) int64 {
	paths, _ := filepath.Glob(filepath.Join(dir, "emits-*"))
	var n int64
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		v, _ := strconv.ParseInt(string(b), 10, 64)
		n += v
	}
	return n
}

// emitting reports whether the spouts under dir emit (the count grows within a while).
func emitting(dir string, within time.Duration) bool {
	before := emitted(dir)
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		if emitted(dir) > before {
			return true
		}
	}
	return false
}

// killWorkersAtEnd kills every worker whose pid file is under dataDir when the test
// ends, so a failed test leaves no process behind.
func killWorkersAtEnd(t *testing.T, dataDir string) {
	t.Cleanup(func() {
		paths, _ := scanPidFiles(dataDir)
		for _, p := range paths {
			if pf, err := readPidFile(p); err == nil {
				if ok, _ := sameProcess(pf, filepath.Dir(p)); ok {
					_ = syscall.Kill(-pf.PID, syscall.SIGKILL)
				}
			}
		}
	})
}

// fixedArtifacts serves one executable for every digest.
type fixedArtifacts string

func (f fixedArtifacts) Path(context.Context, string, int64) (string, error) { return string(f), nil }

func pidAlive(pid int) bool { return processAlive(pid) }
