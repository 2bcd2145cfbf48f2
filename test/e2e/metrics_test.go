package e2e

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDeployMetricNamesExist: every metric that deploy/prometheus/alerts.yml and
// deploy/grafana/sparse.json use is served by a live nimbusd, supervisord and worker,
// all three over HTTPS (the worker with the certificate its supervisor handed it), and
// so is the wordcount's own metric. The targets are found through nimbus's Prometheus
// service discovery.
func TestDeployMetricNamesExist(t *testing.T) {
	nimbusMetrics, supMetrics := freeAddrs(t, 1)[0], freeAddrs(t, 1)[0]
	c := newTestClusterWith(t, []string{"n1"}, map[string]int{"s1": 1}, clusterSecure, func(c *testCluster) {
		c.nimbusArgs = func(string) []string {
			return append([]string{"--metrics-addr", nimbusMetrics}, c.tls.pair("metrics-tls", "server", "nimbus")...)
		}
		c.supArgs = func(string) []string {
			return append([]string{"--metrics-addr", supMetrics, "--worker-metrics-offset", "7"}, c.tls.pair("metrics-tls", "server", "nimbus")...)
		}
	})
	c.waitFor("supervisor s1 registered", time.Minute, func() bool {
		out, err := c.ctl("supervisors")
		return err == nil && strings.Contains(out, "s1")
	})
	c.mustCtl(append([]string{"submit", bins.wordcount, "--name", "metrics", "--workers", "1"}, wordcountOpts(1000, c.state)...)...)
	c.waitFor("sentences acked", 2*time.Minute, func() bool { return acked(t, c.state) >= 1000 })
	// The targets come from nimbus's Prometheus service discovery, as deploy/prometheus
	// finds them: every daemon and the worker, with their labels.
	var groups []struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	roles := map[string][]string{}
	c.waitFor("the SD endpoint lists nimbus, supervisor and worker", 30*time.Second, func() bool {
		code, body := c.rest("GET", "/api/v1/prometheus/sd", c.token)
		if code != 200 || json.Unmarshal(body, &groups) != nil {
			return false
		}
		clear(roles)
		for _, g := range groups {
			roles[g.Labels["role"]] = append(roles[g.Labels["role"]], g.Targets...)
		}
		return len(roles["nimbus"]) == 1 && len(roles["supervisor"]) == 1 && len(roles["worker"]) == 1
	})
	if roles["nimbus"][0] != nimbusMetrics || roles["supervisor"][0] != supMetrics {
		t.Errorf("SD lists nimbus %v and supervisor %v; want %s and %s", roles["nimbus"], roles["supervisor"], nimbusMetrics, supMetrics)
	}
	for _, g := range groups {
		if g.Labels["role"] == "worker" && (g.Labels["topology_name"] != "metrics" || g.Labels["supervisor"] != "s1" || g.Labels["__scheme__"] != "https") {
			t.Errorf("the worker's SD labels: %v", g.Labels)
		}
	}

	ca, err := os.ReadFile(c.tls.file("ca"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	served := map[string]bool{}
	for _, addr := range []string{roles["nimbus"][0], roles["supervisor"][0], roles["worker"][0]} {
		var names map[string]bool
		c.waitFor("metrics at "+addr, 30*time.Second, func() bool {
			names, err = scrape(client, "https://"+addr+"/metrics")
			return err == nil
		})
		if len(names) == 0 {
			t.Fatalf("https://%s/metrics: %v", addr, err)
		}
		for n := range names {
			served[n] = true
		}
	}

	used := map[string][]string{}
	for _, f := range []string{"prometheus/alerts.yml", "grafana/sparse.json"} {
		b, err := os.ReadFile(filepath.Join("../../deploy", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`sparse_[a-z_]+`).FindAllString(string(b), -1) {
			used[m] = append(used[m], f)
		}
	}
	// And a metric of the topology's own (examples/wordcount's count bolt registers it).
	used["sparse_user_distinct_words"] = append(used["sparse_user_distinct_words"], "examples/wordcount")
	if len(used) < 15 {
		t.Fatalf("found only %d metric names in deploy/", len(used))
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range used {
			if !yield(n) {
				return
			}
		}
	}) {
		if !served[name] {
			t.Errorf("%s (used in %s) is served by no live nimbusd, supervisord or worker", name, strings.Join(slices.Compact(used[name]), ", "))
		}
	}
}

// scrape reads the metric names a /metrics page serves: each family, and each sample
// name (histograms' _bucket, _sum and _count among them).
func scrape(client *http.Client, url string) (map[string]bool, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			names[strings.Fields(f)[0]] = true
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names, sc.Err()
}
