//go:build unix

package main

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDevKafka: `sparsectl dev kafka` serves at the address it prints; produce writes
// stdin's lines to a topic and consume prints them back; SIGTERM ends it with status 0.
func TestDevKafka(t *testing.T) {
	ctl := sparsectl(t)
	cmd := exec.Command(ctl, "dev", "kafka", "--listen", "127.0.0.1:0", "--topic", "lines", "--partitions", "3")
	stdout := &watchWriter{want: "kafka is serving at", seen: make(chan struct{})}
	stderr := &watchWriter{want: "\x00", seen: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	reaped := false
	defer func() {
		if !reaped {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	select {
	case <-stdout.seen:
	case err := <-exited:
		reaped = true
		t.Fatalf("sparsectl dev kafka exited (%v) without serving\nstderr:\n%s", err, stderr)
	case <-time.After(time.Minute):
		t.Fatalf("no address within a minute\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	re := regexp.MustCompile(`kafka is serving at (127\.0\.0\.1:\d+) \(3 partitions per topic`)
	var m []string
	for deadline := time.Now().Add(5 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		m = re.FindStringSubmatch(stdout.String())
	}
	if m == nil {
		t.Fatalf("stdout does not show the address:\n%s", stdout)
	}
	addr := m[1]

	r := sparsectlStdin(t, "the cow\njumped over\nthe moon\n", "dev", "kafka", "produce", "--brokers", addr, "--topic", "lines")
	if r.err != nil || !strings.Contains(r.stderr, "produced 3 records to lines") {
		t.Fatalf("produce: %v\nstdout: %s\nstderr: %s", r.err, r.stdout, r.stderr)
	}
	r = sparsectlStdin(t, "", "dev", "kafka", "consume", "--brokers", addr, "--topic", "lines", "--from-beginning", "--max", "3")
	if r.err != nil {
		t.Fatalf("consume: %v\nstderr: %s", r.err, r.stderr)
	}
	got := strings.Fields(strings.ReplaceAll(r.stdout, "\n", " | "))
	for _, w := range []string{"cow", "jumped", "moon"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("consume printed %v, want every line produced", got)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		reaped = true
		if err != nil {
			t.Fatalf("exited with %v after SIGTERM, want status 0\nstderr:\n%s", err, stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("still running 20s after SIGTERM")
	}
}

// TestDevKafkaRefusesOpenListen: a non-loopback address needs --insecure.
func TestDevKafkaRefusesOpenListen(t *testing.T) {
	r := sparsectlIn(t, "dev", "kafka", "--listen", "0.0.0.0:0")
	if r.err == nil || !strings.Contains(r.err.Error(), "--insecure") {
		t.Errorf("dev kafka --listen 0.0.0.0:0 = %v, want a refusal naming --insecure", r.err)
	}
}

// sparsectlStdin runs sparsectl in this process with stdin.
func sparsectlStdin(t *testing.T, stdin string, args ...string) ctlResult {
	t.Helper()
	root := rootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return ctlResult{stdout: out.String(), stderr: errOut.String(), err: err}
}
