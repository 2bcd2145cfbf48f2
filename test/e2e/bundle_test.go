package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestClusterSpecBundle: `sparsectl submit topology.yaml` uploads the Python wordcount
// as a spec bundle; the supervisor unpacks it and runs it on two generic workers
// (sparse-worker, found beside supervisord); every sentence is acked and the log bolt
// logs exact counts.
func TestClusterSpecBundle(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not on PATH; the example runs Python subprocesses")
	}
	const n = 200
	example, err := filepath.Abs("../../examples/wordcount-yaml/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := newTestClusterWith(t, []string{"n1"}, map[string]int{"s1": 2}, clusterInsecure) // the loopback mode of make demo
	c.waitFor("the supervisor registered", time.Minute, func() bool {
		out, err := c.ctl("supervisors")
		return err == nil && strings.Contains(out, "s1")
	})
	out := c.mustCtl("submit", example, "--name", "wcy", "--workers", "2",
		"-o", "wordcount.sentences="+strconv.Itoa(n), "-o", "log.every=1", "-o", "topology.message.timeout.secs=10")
	t.Logf("submit: %s", strings.TrimSpace(out))

	countRE := regexp.MustCompile(`\.log: tuple: .*source=count stream=default word=(\S+) count=(\d+)`)
	counts := func() map[string]int64 {
		got := map[string]int64{}
		logs, _ := filepath.Glob(filepath.Join(c.supDir["s1"], "workers", "*", "*", "worker.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			for _, m := range countRE.FindAllStringSubmatch(string(b), -1) {
				k, _ := strconv.ParseInt(m[2], 10, 64)
				got[m[1]] = max(got[m[1]], k)
			}
		}
		return got
	}
	want := expectedCounts(n)
	c.waitFor("the log bolt logged every count", 3*time.Minute, func() bool {
		got := counts()
		for w, k := range want {
			if got[w] != k {
				return false
			}
		}
		return len(got) == len(want)
	})
	ws, err := c.workers("wcy")
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 {
		t.Errorf("describe shows workers %+v; want 2", ws)
	}
	bundles, _ := filepath.Glob(filepath.Join(c.supDir["s1"], "bundles", "*", "split.py"))
	if len(bundles) != 1 {
		t.Errorf("the supervisor unpacked %d bundles, want 1", len(bundles))
	}
	c.mustCtl("kill", "wcy", "--wait=1s")
	c.waitFor("the topology is gone", time.Minute, func() bool {
		out, err := c.ctl("list")
		return err == nil && !strings.Contains(out, "wcy")
	})
}
