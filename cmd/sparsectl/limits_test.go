//go:build unix

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/internal/nimbus"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/internal/testutil/etcdtest"
)

// TestSubmitOverLimits: the submission that used to take nimbusd down with an
// out-of-memory crash (a trillion workers) is refused by a real nimbus from its header,
// with an error naming the key and the limit, and the nimbus still leads.
func TestSubmitOverLimits(t *testing.T) {
	isolate(t)
	etcd := etcdtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := nimbus.Start(ctx, nimbus.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), EtcdEndpoints: etcd.Endpoints(), LeaderTTL: 2 * time.Second,
		Logger: hclog.New(&hclog.LoggerOptions{Name: "nimbus", Level: hclog.Warn, Output: testutil.LogWriter(t)}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	testutil.Eventually(t, 20*time.Second, "the nimbus leads", n.IsLeader)

	mustFail(t, []string{"config topology.workers is 1000000000000; the limit is 10000 (a cluster limit: nimbusd --max-workers)"},
		"submit", fakeTopology(t, specJSON, 0), "--name", "big", "-o", "topology.workers=1000000000000", "--nimbus", n.Addr())
	if !n.IsLeader() {
		t.Error("the nimbus no longer leads")
	}
	if out := mustRun(t, "list", "--nimbus", n.Addr()); strings.Contains(out, "big") {
		t.Errorf("the refused topology is listed:\n%s", out)
	}
}

// TestSubmitDescribeHangs: a binary whose describe never ends is stopped at --timeout,
// with what it started, and submit says so.
func TestSubmitDescribeHangs(t *testing.T) {
	isolate(t)
	leader, _ := cluster(t)
	// The shell waits for sleep, which holds the output open: killing the shell alone
	// would leave submit waiting for the output to close.
	script := "#!/bin/sh\nsleep 987\n"
	bin := filepath.Join(t.TempDir(), "hangs")
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	mustFail(t, []string{"`" + bin + " describe` did not finish within 1s and was stopped", "--timeout"},
		"submit", bin, "--nimbus", leader.addr, "--timeout", "1s")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("submit returned after %s", d)
	}
	testutil.Eventually(t, 5*time.Second, "no sleep of the script left", func() bool { return !sleepRuns() })
	if u := leader.snapshot().uploads; len(u) != 0 {
		t.Errorf("nimbus received %d uploads", len(u))
	}
}

// sleepRuns reports whether a `sleep 987` runs (on a system with /proc; elsewhere it
// cannot tell and says no).
func sleepRuns() bool {
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range cmdlines {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Equal(b, []byte("sleep\x00987\x00")) {
			return true
		}
	}
	return false
}
