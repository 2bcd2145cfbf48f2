package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ctlAs runs sparsectl with token (empty: none) instead of the admin token.
func (c *testCluster) ctlAs(token string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.sparsectl, append(append([]string{"--nimbus", c.nimbusList()}, c.tls.ctlArgs()...), args...)...)
	cmd.Env = append(os.Environ(), "HOME="+c.dir, "SPARSE_TOKEN="+token)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestClusterLogs: on a secure cluster, sparsectl logs merges the lines of a running
// wordcount's two workers on two supervisors, each prefixed with its worker; --grep
// filters; a viewer token reads and no token is refused; set-log-level turns debug lines
// of one component on and they stop after --for; debug samples emits, seen by logs -f;
// remove-logs is refused while the topology runs and removes its logs once killed.
func TestClusterLogs(t *testing.T) {
	c := newTestCluster(t, []string{"n1"}, nil)
	// The janitor must not remove the killed topology's logs before remove-logs does.
	c.supExtra = []string{"--cleanup-grace", "10m"}
	c.startSupervisor("s1", 1)
	c.startSupervisor("s2", 1)
	opts := append(wordcountOpts(0, c.state), "-o", "wordcount.rate=50")
	c.mustCtl(append([]string{"submit", bins.wordcount, "--name", "wc", "--workers", "2"}, opts...)...)
	var ids []string
	c.waitFor("two live workers", 2*time.Minute, func() bool {
		out, err := c.ctl("describe", "wc", "--json")
		if err != nil {
			return false
		}
		var d struct {
			Workers []struct {
				ID    string `json:"id"`
				Alive bool   `json:"alive"`
			} `json:"workers"`
		}
		ids = ids[:0]
		if json.Unmarshal([]byte(out), &d) != nil {
			return false
		}
		for _, w := range d.Workers {
			if w.Alive {
				ids = append(ids, w.ID)
			}
		}
		return len(ids) == 2
	})

	var out string
	c.waitFor("lines of both workers", time.Minute, func() bool {
		var err error
		out, err = c.ctl("logs", "wc", "--lines", "500")
		return err == nil && strings.Contains(out, "["+ids[0]) && strings.Contains(out, "["+ids[1])
	})
	grep := c.mustCtl("logs", "wc", "--grep", "worker running", "--lines", "50")
	for _, l := range strings.Split(strings.TrimSpace(grep), "\n") {
		if !strings.Contains(l, "worker running") {
			t.Errorf("--grep 'worker running' let through %q", l)
		}
	}

	// Tokens: a viewer reads; without a token the supervisor refuses, and says why.
	var viewer struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal([]byte(c.mustCtl("token", "create", "--name", "reader", "--role", "viewer", "--json")), &viewer); err != nil {
		t.Fatal(err)
	}
	if out, err := c.ctlAs(viewer.Secret, "logs", "wc", "--lines", "5"); err != nil {
		t.Errorf("a viewer token cannot read the logs: %v\n%s", err, out)
	}
	if out, err := c.ctlAs(viewer.Secret, "set-log-level", "wc", "debug"); err == nil || !strings.Contains(out, "needs role deployer") {
		t.Errorf("a viewer set a log level: %v\n%s", err, out)
	}
	// The nimbus call needs a token too; ask a supervisor directly.
	if out, err := c.ctlAs("", "logs", "wc"); err == nil || !strings.Contains(out, "token") {
		t.Errorf("sparsectl logs without a token: %v\n%s", err, out)
	}
	if code := anonymousLogsStatus(t, c); code != 401 {
		t.Errorf("a log server answered a request without a token with status %d, want 401", code)
	}

	// set-log-level: the count bolt's debug lines appear, then stop after --for.
	if got := c.mustCtl("logs", "wc", "--grep", "counted", "--lines", "5"); strings.Contains(got, "counted") {
		t.Fatalf("debug lines before set-log-level:\n%s", got)
	}
	c.mustCtl("set-log-level", "wc", "--component", "count", "debug", "--for", "4s")
	set := time.Now()
	c.waitFor("debug lines of the count bolt", time.Minute, func() bool {
		out, err := c.ctl("logs", "wc", "--component", "count", "--grep", "counted", "--lines", "5")
		return err == nil && strings.Contains(out, "counted")
	})
	time.Sleep(time.Until(set.Add(6 * time.Second)))
	c.waitFor("the debug level lapsed", 30*time.Second, func() bool {
		out, err := c.ctl("logs", "wc", "--grep", "counted", "--since", "2s", "--lines", "5")
		return err == nil && !strings.Contains(out, "counted")
	})

	// -f follows; debug samples the split bolt's emits meanwhile.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	follow := exec.CommandContext(ctx, bins.sparsectl, append(append([]string{"--nimbus", c.nimbusList()}, c.tls.ctlArgs()...),
		"tail", "wc", "-f", "--lines", "0", "--grep", "sampled emit")...)
	follow.Env = append(os.Environ(), "HOME="+c.dir, "SPARSE_TOKEN="+c.token)
	stdout, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = follow.Wait() }()
	c.mustCtl("debug", "wc", "--component", "split", "--sample", "1", "--for", "5s")
	seen := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "sampled emit") {
				seen <- sc.Text()
				return
			}
		}
	}()
	select {
	case l := <-seen:
		if !strings.Contains(l, " split] ") {
			t.Errorf("a followed line is not prefixed with its worker and component: %s", l)
		}
	case <-time.After(time.Minute):
		t.Fatalf("logs -f showed no sampled emit%s", c.logs())
	}
	cancel()

	// remove-logs: refused while wc runs, then removes its worker directories.
	if out, err := c.ctl("remove-logs", "wc"); err == nil || !strings.Contains(out, "kill it first") {
		t.Errorf("remove-logs of a running topology: %v\n%s", err, out)
	}
	c.mustCtl("kill", "wc", "--wait=0")
	c.waitFor("the topology is gone", time.Minute, func() bool {
		out, err := c.ctl("list")
		return err == nil && !strings.Contains(out, "wc")
	})
	var removed string
	c.waitFor("remove-logs", time.Minute, func() bool {
		var err error
		removed, err = c.ctl("remove-logs", "wc")
		return err == nil && strings.Count(removed, "removed the logs of") == 2
	})
	for id, dir := range c.supDir {
		if left, _ := filepath.Glob(filepath.Join(dir, "workers", "wc-*")); len(left) != 0 {
			t.Errorf("supervisor %s still holds %v after remove-logs:\n%s", id, left, removed)
		}
	}
}

// anonymousLogsStatus is the status a supervisor's log server answers a request
// without a token with (over TLS, with the cluster's CA).
func anonymousLogsStatus(t *testing.T, c *testCluster) int {
	t.Helper()
	pem, err := os.ReadFile(c.tls.file("ca"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	// The supervisor's certificate names its role, not this address: check the chain only.
	tc := &tls.Config{RootCAs: pool, InsecureSkipVerify: true, VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
		cert, err := x509.ParseCertificate(raw[0])
		if err != nil {
			return err
		}
		_, err = cert.Verify(x509.VerifyOptions{Roots: pool})
		return err
	}}
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
	resp, err := cl.Get("https://" + c.logsAt["s1"] + "/logs")
	if err != nil {
		t.Fatalf("the log server of s1: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
