package cluster

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/internal/testutil"
)

// testLogger sends what the package logs to the test's log.
func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "cluster", Level: hclog.Info, Output: testutil.LogWriter(t)})
}

// startEtcd runs a single-member etcd on loopback with its own data directory; port 0
// lets the kernel pick free ports. It is etcdtest.Start, which this package's tests
// cannot import: etcdtest imports this package.
func startEtcd(t testing.TB) *Embedded {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := StartEmbedded(ctx, EmbedConfig{
		DataDir:   filepath.Join(t.TempDir(), "etcd"),
		Name:      "test",
		ClientURL: "http://127.0.0.1:0",
		PeerURL:   "http://127.0.0.1:0",
	})
	if err != nil {
		t.Fatalf("starting etcd: %v", err)
	}
	t.Cleanup(e.Close)
	return e
}

// newStore connects a store to e under a root of its own.
func newStore(t testing.TB, e *Embedded, opts Options) *Store {
	t.Helper()
	if opts.Root == "" {
		opts.Root = "/test/" + strings.ReplaceAll(t.Name(), "/", "_")
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := e.Connect(ctx, opts)
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// freePorts returns n distinct free loopback ports.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// recv reads one event or fails after a generous deadline.
func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return v
	case <-time.After(15 * time.Second):
		t.Fatal("no event within 15s")
	}
	panic("unreachable")
}

// closed waits for a channel to close, skipping what is still in it.
func closed[T any](t testing.TB, ch <-chan T) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("channel not closed within 15s")
		}
	}
}

const digestA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
const digestB = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
