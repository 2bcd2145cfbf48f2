//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run sparsectl as a real OS process, the way an operator does. They build
// sparsectl (and the wordcount example) with the go tool, so they are skipped by -short.

var (
	binDir    string // removed by TestMain
	buildMu   sync.Mutex
	buildErrs = map[string]error{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sparsectl-test-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// goBuild builds a package into binDir once per test binary and returns the executable.
func goBuild(t *testing.T, pkg, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds binaries with the go tool; skipped with -short")
	}
	bin := filepath.Join(binDir, name)
	buildMu.Lock()
	defer buildMu.Unlock()
	err, done := buildErrs[bin]
	if !done {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, berr := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg).CombinedOutput()
		if berr != nil {
			err = errors.New("go build " + pkg + ": " + berr.Error() + "\n" + string(out))
		}
		buildErrs[bin] = err
	}
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func sparsectl(t *testing.T) string { return goBuild(t, ".", "sparsectl") }

// result is a finished sparsectl process.
type result struct {
	stdout, stderr string
	code           int
}

// runSparsectl runs sparsectl with args to completion, killing it after timeout.
func runSparsectl(t *testing.T, timeout time.Duration, args ...string) result {
	t.Helper()
	return runSparsectlIn(t, "", timeout, args...)
}

// runSparsectlIn is runSparsectl in the working directory dir ("": this one).
func runSparsectlIn(t *testing.T, dir string, timeout time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, sparsectl(t), args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("sparsectl %v did not finish within %v\nstdout:\n%s\nstderr:\n%s", args, timeout, r.stdout, r.stderr)
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("sparsectl %v: %v", args, err)
	}
	return r
}

// finalLine returns the line of a component in the summary printed after "final:".
func finalLine(t *testing.T, stdout, component string) string {
	t.Helper()
	_, final, ok := strings.Cut(stdout, "final:\n")
	if !ok {
		t.Fatalf("no final: summary in stdout:\n%s", stdout)
	}
	for _, l := range strings.Split(final, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == component {
			return l
		}
	}
	t.Fatalf("no %s line in the final summary:\n%s", component, final)
	return ""
}

// TestRunWordCountPackage: `sparsectl run <dir of examples/wordcount>` builds the example
// (with its own module, although sparsectl runs in a folder outside it), runs it for the
// given time with periodic stats, and exits 0 after printing the final summary, in which
// all 1000 sentences are acked; the count bolts log their final counts on stderr when
// they are cleaned up.
func TestRunWordCountPackage(t *testing.T) {
	pkg, err := filepath.Abs("../../examples/wordcount")
	if err != nil {
		t.Fatal(err)
	}
	r := runSparsectlIn(t, t.TempDir(), 3*time.Minute, "run", pkg,
		"--time", "3s", "--stats-every", "1s", "-o", "wordcount.sentences=1000")
	if r.code != 0 {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	spout := finalLine(t, r.stdout, "sentences")
	if !regexp.MustCompile(`^sentences\s+spout\s+emitted=1000 acked=1000 failed=0 pending=0 `).MatchString(spout) {
		t.Errorf("final spout line = %q, want emitted=1000 acked=1000 failed=0 pending=0", spout)
	}
	for _, c := range []string{"split", "count", "__acker"} {
		if l := finalLine(t, r.stdout, c); !strings.Contains(l, " failed=0") {
			t.Errorf("final %s line = %q, want failed=0", c, l)
		}
	}
	if before, _, _ := strings.Cut(r.stdout, "final:"); !strings.Contains(before, "sentences ") {
		t.Errorf("no periodic stats before the final summary with --stats-every 1s:\n%s", r.stdout)
	}
	// Every count task logs its top words once, from CountBolt.Cleanup.
	tasks := countTasks(t)
	logged := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)wordcount\.count: final counts.*task=(\d+)`).FindAllStringSubmatch(r.stderr, -1) {
		logged[m[1]]++
	}
	if len(logged) != tasks {
		t.Errorf("\"final counts\" logged by %d count tasks on stderr, want all %d:\n%s", len(logged), tasks, r.stderr)
	}
	for task, n := range logged {
		if n != 1 {
			t.Errorf("count task %s logged \"final counts\" %d times, want once", task, n)
		}
	}
}

// countTasks asks the wordcount binary (describe) how many tasks its count bolt has.
func countTasks(t *testing.T) int {
	t.Helper()
	out, err := exec.Command(goBuild(t, "../../examples/wordcount", "wordcount"), "describe").Output()
	if err != nil {
		t.Fatalf("wordcount describe: %v", err)
	}
	var spec struct {
		Components []struct {
			ID    string `json:"id"`
			Tasks int    `json:"tasks"`
		} `json:"components"`
	}
	if err := json.Unmarshal(out, &spec); err != nil {
		t.Fatalf("wordcount describe printed no JSON: %v\n%s", err, out)
	}
	for _, c := range spec.Components {
		if c.ID == "count" {
			return c.Tasks
		}
	}
	t.Fatalf("wordcount describe shows no count component:\n%s", out)
	return 0
}

// TestRunStopsOnInterrupt: sparsectl run on a built topology binary, without --time, runs
// until SIGINT, passes it on, and exits 0 within a few seconds after the topology printed
// its final summary. The signal is sent to sparsectl alone, and to its whole process
// group as a terminal's Ctrl-C does (then the topology gets it twice).
func TestRunStopsOnInterrupt(t *testing.T) {
	wordcount := goBuild(t, "../../examples/wordcount", "wordcount")
	ctl := sparsectl(t)
	for _, group := range []bool{false, true} {
		name := "sparsectl"
		if group {
			name = "process group"
		}
		t.Run(name, func(t *testing.T) { interrupt(t, ctl, wordcount, group) })
	}
}

func interrupt(t *testing.T, ctl, topologyBin string, group bool) {
	cmd := exec.Command(ctl, "run", topologyBin, "--stats-every", "500ms")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr := &watchWriter{want: "topology running", seen: make(chan struct{})}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}()

	// The topology logs "topology running" once its signal handler is in place.
	select {
	case <-stderr.seen:
	case err := <-exited:
		t.Fatalf("sparsectl exited before the topology ran: %v\nstderr:\n%s", err, stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("the topology did not start within 30s\nstderr:\n%s", stderr)
	}
	time.Sleep(1500 * time.Millisecond)
	pid := cmd.Process.Pid
	if group {
		pid = -pid
	}
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("sparsectl exited with %v after SIGINT, want status 0\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("sparsectl still running 10s after SIGINT\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr)
	}
	if d := time.Since(sent); d > 5*time.Second {
		t.Errorf("sparsectl took %v to stop after SIGINT", d)
	}
	if l := finalLine(t, stdout.String(), "sentences"); !strings.Contains(l, "acked=") || strings.Contains(l, " acked=0 ") {
		t.Errorf("final spout line = %q, want sentences acked", l)
	}
	if !strings.Contains(stderr.String(), "topology stopped") {
		t.Errorf("no \"topology stopped\" log line on stderr:\n%s", stderr)
	}
}

// TestRunRejectsBadArguments: sparsectl run exits non-zero, before running anything,
// when its argument is neither a topology binary nor a Go package, and says so.
func TestRunRejectsBadArguments(t *testing.T) {
	notExec := filepath.Join(t.TempDir(), "topology.txt")
	if err := os.WriteFile(notExec, []byte("not a program"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want []string // in stderr
	}{
		// A path that does not exist, with or without ./, says what to pass instead.
		{[]string{"run", "./does-not-exist"}, []string{"error: ./does-not-exist: no such file or directory", "pass a Go main package directory such as ./examples/wordcount, or a topology binary"}},
		{[]string{"run", "does-not-exist"}, []string{"error: does-not-exist: no such file or directory", "pass a Go main package directory such as ./examples/wordcount, or a topology binary"}},
		{[]string{"run", notExec}, []string{"is not executable", "pass a topology binary or a Go package directory"}},
		{[]string{"run"}, []string{"error: nothing to run", "run in a streamparse project folder"}},
	}
	for _, tc := range cases {
		r := runSparsectl(t, 2*time.Minute, tc.args...)
		if r.code == 0 {
			t.Errorf("sparsectl %v exited 0, want a failure\nstdout:\n%s\nstderr:\n%s", tc.args, r.stdout, r.stderr)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("sparsectl %v: stderr does not say %q:\n%s", tc.args, w, r.stderr)
			}
		}
		if strings.Contains(r.stdout, "final:") {
			t.Errorf("sparsectl %v ran a topology:\n%s", tc.args, r.stdout)
		}
	}
}

// watchWriter collects output and closes seen once want has been written.
type watchWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
