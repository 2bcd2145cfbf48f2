package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// component is what the stats documents say of a spout or bolt.
type component struct {
	SpoutID  string `json:"spoutId"`
	BoltID   string `json:"boltId"`
	Emitted  int64  `json:"emitted"`
	Acked    int64  `json:"acked"`
	Failed   int64  `json:"failed"`
	Executed int64  `json:"executed"`
}

type topologyPage struct {
	ID     string      `json:"id"`
	Status string      `json:"status"`
	Spouts []component `json:"spouts"`
	Bolts  []component `json:"bolts"`
}

func (p topologyPage) component(id string) component {
	for _, c := range append(p.Spouts, p.Bolts...) {
		if c.SpoutID == id || c.BoltID == id {
			return c
		}
	}
	return component{}
}

// rest calls the leader's REST API over HTTPS with the cluster's CA and a token.
func (c *testCluster) rest(method, path, token string) (int, []byte) {
	c.t.Helper()
	ca, err := os.ReadFile(c.tls.file("ca"))
	if err != nil {
		c.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}}
	req, err := http.NewRequestWithContext(c.t.Context(), method, "https://"+c.httpAt["n1"]+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestClusterStats: a bounded wordcount on a secure cluster; once every sentence is
// acked, the leader's all-time figures, read through `sparsectl stats --json` and the REST
// API alike, match the known number of sentences and words. A viewer's kill through the
// REST API is refused with 403 and changes nothing.
func TestClusterStats(t *testing.T) {
	const n = 2000
	c := newTestCluster(t, []string{"n1"}, map[string]int{"s1": 2})
	c.mustCtl(append([]string{"submit", bins.wordcount, "--name", "wc", "--workers", "2"}, wordcountOpts(n, c.state)...)...)
	c.waitFor("every sentence acked", 3*time.Minute, func() bool { return acked(t, c.state) >= n })

	words := int64(0)
	for _, k := range expectedCounts(n) {
		words += k
	}
	check := func(how string, p topologyPage) error {
		spout, split, count := p.component("sentences"), p.component("split"), p.component("count")
		if spout.Acked != n {
			return fmt.Errorf("%s: the spout acked %d, want %d", how, spout.Acked, n)
		}
		if spout.Failed == 0 && (spout.Emitted != n || split.Executed != n || split.Emitted != words || count.Executed != words || count.Acked != words) {
			return fmt.Errorf("%s: with no failures, want the spout to emit %d, split to execute %d and emit %d, count to execute and ack %d; got %+v, %+v, %+v",
				how, n, n, words, words, spout, split, count)
		}
		if split.Executed < n || count.Executed < words {
			return fmt.Errorf("%s: split executed %d (want at least %d), count %d (want at least %d)", how, split.Executed, n, count.Executed, words)
		}
		return nil
	}
	var last error
	c.waitFor("the workers' reports reach the last sentence", time.Minute, func() bool {
		out, err := c.ctl("stats", "wc", "--window", "all", "--json")
		if err != nil {
			t.Logf("sparsectl stats: %v: %s", err, out)
			return false
		}
		var p topologyPage
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatalf("sparsectl stats --json is not JSON: %v\n%s", err, out)
		}
		err = check("sparsectl stats --json", p)
		if err != nil && (last == nil || err.Error() != last.Error()) {
			t.Log(err)
		}
		last = err
		return last == nil
	})
	if last != nil {
		t.Fatal(last)
	}
	code, body := c.rest("GET", "/api/v1/topology/wc?window=:all-time", c.token)
	var p topologyPage
	if err := json.Unmarshal(body, &p); code != 200 || err != nil {
		t.Fatalf("GET /api/v1/topology/wc: %d %v\n%s", code, err, body)
	}
	if err := check("the REST API", p); err != nil {
		t.Error(err)
	}
	if out := c.mustCtl("stats", "wc"); !strings.Contains(out, "sentences") || !strings.Contains(out, "CAPACITY") {
		t.Errorf("sparsectl stats prints no table:\n%s", out)
	}
	if out := c.mustCtl("stats", "--window", "all"); !strings.Contains(out, "wc") || !strings.Contains(out, fmt.Sprint(n)) {
		t.Errorf("sparsectl stats without a topology does not show wc with %d acked:\n%s", n, out)
	}

	var tok struct {
		Secret string `json:"secret"`
	}
	out := c.mustCtl("token", "create", "--role", "viewer", "--name", "watcher", "--json")
	if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.Secret == "" {
		t.Fatalf("token create --json: %v\n%s", err, out)
	}
	code, body = c.rest("POST", "/api/v1/topology/wc/kill/0", tok.Secret)
	if code != http.StatusForbidden || !strings.Contains(string(body), "kill needs role deployer") {
		t.Errorf("a viewer's kill: %d %s, want 403 naming the role", code, body)
	}
	time.Sleep(time.Second)
	code, body = c.rest("GET", "/api/v1/topology/wc", tok.Secret)
	if err := json.Unmarshal(body, &p); code != 200 || err != nil || p.Status != "ACTIVE" {
		t.Errorf("after a refused kill, a viewer reads %d %s; want the topology ACTIVE", code, body)
	}
}
