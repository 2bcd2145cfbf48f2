//go:build unix

package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestDevEtcd: `sparsectl dev etcd` runs an etcd that serves clients at the URL it
// prints, and exits 0 on SIGTERM.
func TestDevEtcd(t *testing.T) {
	ctl := sparsectl(t)
	dataDir := filepath.Join(t.TempDir(), "etcd")
	cmd := exec.Command(ctl, "dev", "etcd", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--peer-listen", "127.0.0.1:0", "--name", "dev-test")
	stdout := &watchWriter{want: "serving clients at", seen: make(chan struct{})}
	stderr := &watchWriter{want: "\x00", seen: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	reaped := false // set once this goroutine has received from exited
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
		t.Fatalf("sparsectl dev etcd exited (%v) without serving\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	case <-time.After(time.Minute):
		t.Fatalf("no client URL within a minute\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	urlRE := regexp.MustCompile(`(?m)^etcd "dev-test" is serving clients at (http://127\.0\.0\.1:\d+) \(data dir ` + regexp.QuoteMeta(dataDir) + `\)$`)
	var m []string
	for deadline := time.Now().Add(5 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		m = urlRE.FindStringSubmatch(stdout.String()) // the line may still be arriving
	}
	if m == nil {
		t.Fatalf("stdout does not show the client URL:\n%s", stdout)
	}
	url := m[1]

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "/sparse-test/key", "value"); err != nil {
		t.Fatalf("put to %s: %v", url, err)
	}
	resp, err := cli.Get(ctx, "/sparse-test/key")
	if err != nil {
		t.Fatalf("get from %s: %v", url, err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "value" {
		t.Errorf("get = %v, want value", resp.Kvs)
	}
	cli.Close()

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		reaped = true
		if err != nil {
			t.Fatalf("sparsectl dev etcd exited with %v after SIGTERM, want status 0\nstderr:\n%s", err, stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("sparsectl dev etcd still running 20s after SIGTERM\nstderr:\n%s", stderr)
	}
	if !strings.Contains(stdout.String(), `etcd "dev-test" stopped`) {
		t.Errorf("no stop message on stdout:\n%s", stdout)
	}
}

// TestDevEtcdNeedsDataDir: without --data-dir it says what to pass.
func TestDevEtcdNeedsDataDir(t *testing.T) {
	r := sparsectlIn(t, "dev", "etcd")
	if r.err == nil || !strings.Contains(r.err.Error(), "--data-dir is required") {
		t.Errorf("dev etcd without --data-dir = %v", r.err)
	}
}
