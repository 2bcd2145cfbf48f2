// Package etcdtest starts embedded etcd servers for tests, plain or secured (a throw-away
// PKI, TLS with client certificates, users). Only tests import it. This package imports
// cluster, so the cluster package's internal tests keep their own helpers; its external
// tests (package cluster_test) use this one.
package etcdtest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/cluster"
)

// Start runs a single-member etcd on loopback with a data directory of its own, for one
// test; it stops when the test ends. Port 0 lets the kernel pick free ports.
func Start(t testing.TB) *cluster.Embedded {
	t.Helper()
	e, err := start(filepath.Join(t.TempDir(), "etcd"))
	if err != nil {
		t.Fatalf("starting etcd: %v", err)
	}
	t.Cleanup(e.Close)
	return e
}

func start(dir string) (*cluster.Embedded, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return cluster.StartEmbedded(ctx, cluster.EmbedConfig{
		DataDir: dir, Name: "test",
		ClientURL: "http://127.0.0.1:0", PeerURL: "http://127.0.0.1:0",
		BcryptCost: bcryptCost,
	})
}

// bcryptCost is the cheapest password hash etcd takes: tests that enable auth would
// otherwise spend seconds per user under the race detector.
const bcryptCost = 4

// One etcd shared by every test of a package that calls Shared: starting one costs
// about a second, and the tests keep apart under key roots of their own.
var shared struct {
	once sync.Once
	e    *cluster.Embedded
	dir  string
	err  error
}

// Shared returns the package's shared etcd, starting it on first use. The package's
// TestMain calls CloseShared after its tests have run.
func Shared(t testing.TB) *cluster.Embedded {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "sparse-test-etcd-")
		if shared.err != nil {
			return
		}
		shared.e, shared.err = start(filepath.Join(shared.dir, "etcd"))
	})
	if shared.err != nil {
		t.Fatalf("starting etcd: %v", shared.err)
	}
	return shared.e
}

// CloseShared stops the shared etcd, if one was started, and removes its data.
func CloseShared() {
	if shared.e != nil {
		shared.e.Close()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
}
