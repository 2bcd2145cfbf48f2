package nimbus

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/internal/wire"
)

// restCall makes one request and decodes the JSON answer.
func restCall(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: the answer is not JSON: %v\n%s", method, url, err, b)
		}
	} else {
		m = map[string]any{"body": string(b)}
	}
	return resp.StatusCode, m
}

// TestRESTAPI: the REST API answers Storm's shapes, by name or id, with the gRPC API's
// roles and audit lines, and JSON errors with the right status.
func TestRESTAPI(t *testing.T) {
	cfg := fast(t, testRoot(t))
	cfg.ACL, cfg.HTTP = true, "127.0.0.1:0"
	sink := &logSink{}
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "nimbus", Level: hclog.Info, JSONFormat: true, Output: io.MultiWriter(testutil.LogWriter(t), sink)})
	s := startNimbus(t, cfg)
	waitLeader(t, s)
	ctx := testutil.Context(t, 60*time.Second)
	boot, err := dialToken(t, s.Addr(), "").ACLBootstrap(ctx, &sparsev1.ACLBootstrapRequest{})
	if err != nil {
		t.Fatal(err)
	}
	admin := dialToken(t, s.Addr(), boot.GetSecret())
	token := func(name, role string) string {
		ts, err := admin.CreateToken(ctx, &sparsev1.CreateTokenRequest{Name: name, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		return ts.GetSecret()
	}
	viewer, deployer := token("ops-viewer", "viewer"), token("ci", "deployer")
	data := artifact(100)
	id, err := submit(ctx, dialToken(t, s.Addr(), deployer), header(t, wordcount("wc"), data, nil), data)
	if err != nil {
		t.Fatal(err)
	}
	report := &sparsev1.WorkerStats{TopologyId: id, WorkerId: "w1", Incarnation: "i1", StartedUnixNanos: time.Now().UnixNano(), WireProtocol: wire.ProtocolVersion,
		Executors: []*sparsev1.ExecutorStats{{Component: "words", Kind: "spout", FirstTask: 1, LastTask: 1, Emitted: 7, Acked: 7, LastError: "boom", LastErrorUnixNanos: time.Now().UnixNano()}}}
	if _, err := admin.ReportStats(ctx, report); err != nil {
		t.Fatal(err)
	}
	base := s.HTTP().URL() + "/api/v1"

	tests := []struct {
		name, method, path, token, body string
		code                            int
		check                           func(m map[string]any) bool
	}{
		{"no token", "GET", "/cluster/summary", "", "", 401, hasMessage("needs a token with role viewer")},
		{"a bad token", "GET", "/cluster/summary", "nope", "", 401, hasMessage("not known to this cluster")},
		{"cluster summary", "GET", "/cluster/summary", viewer, "", 200, func(m map[string]any) bool { return m["topologies"] == 1.0 && m["leader"] == s.ID() }},
		{"nimbus summary", "GET", "/nimbus/summary", viewer, "", 200, func(m map[string]any) bool {
			ns := m["nimbuses"].([]any)
			return len(ns) == 1 && ns[0].(map[string]any)["status"] == "Leader" && ns[0].(map[string]any)["httpAddress"] != ""
		}},
		{"supervisor summary", "GET", "/supervisor/summary", viewer, "", 200, func(m map[string]any) bool { return len(m["supervisors"].([]any)) == 0 }},
		{"topology summary", "GET", "/topology/summary", viewer, "", 200, func(m map[string]any) bool {
			ts := m["topologies"].([]any)
			row := ts[0].(map[string]any)
			st, _ := row["stats"].(map[string]any)
			return len(ts) == 1 && row["id"] == id && row["status"] == "ACTIVE" && st != nil && st["acked"] == 7.0
		}},
		{"topology by name", "GET", "/topology/wc", viewer, "", 200, func(m map[string]any) bool {
			spout := m["spouts"].([]any)[0].(map[string]any)
			return m["id"] == id && spout["spoutId"] == "words" && spout["acked"] == 7.0 && spout["lastError"] == "boom" &&
				len(m["bolts"].([]any)) == 2 && len(m["topologyStats"].([]any)) == 4 && m["statsAvailable"] == true
		}},
		{"topology by id, all time", "GET", "/topology/" + id + "?window=:all-time", viewer, "", 200, func(m map[string]any) bool { return m["window"] == ":all-time" }},
		{"a bad window", "GET", "/topology/wc?window=5m", viewer, "", 400, hasMessage("unknown window")},
		{"an unknown topology", "GET", "/topology/nope", viewer, "", 404, hasMessage(`no topology is named "nope"`)},
		{"component", "GET", "/topology/wc/component/words", viewer, "", 200, func(m map[string]any) bool {
			ex := m["executorStats"].([]any)
			return m["componentType"] == "spout" && len(ex) == 1 && ex[0].(map[string]any)["id"] == "[1-1]" && len(m["componentErrors"].([]any)) == 1
		}},
		{"an unknown component", "GET", "/topology/wc/component/nope", viewer, "", 404, hasMessage("components: ")},
		{"visualization", "GET", "/topology/wc/visualization", viewer, "", 200, func(m map[string]any) bool {
			return len(m["nodes"].([]any)) == 3 && len(m["edges"].([]any)) == 2
		}},
		{"visualization as SVG", "GET", "/topology/wc/visualization?format=svg", viewer, "", 200, func(m map[string]any) bool {
			return strings.HasPrefix(m["body"].(string), "<svg")
		}},
		{"a viewer may not deactivate", "POST", "/topology/wc/deactivate", viewer, "", 403, hasMessage("deactivate needs role deployer")},
		{"the owner deactivates", "POST", "/topology/wc/deactivate", deployer, "", 200, func(m map[string]any) bool {
			return m["topologyOperation"] == "deactivate" && m["topologyId"] == id && m["status"] == "success"
		}},
		{"a bad wait", "POST", "/topology/wc/kill/soon", deployer, "", 400, hasMessage("not a number of seconds")},
		{"a bad rebalance body", "POST", "/topology/wc/rebalance/0", deployer, `{"workers": 2}`, 400, hasMessage("rebalanceOptions")},
		{"a rebalance of an unknown component", "POST", "/topology/wc/rebalance/0", deployer, `{"rebalanceOptions": {"executors": {"nope": 2}}}`, 400, hasMessage(`component "nope" does not exist`)},
		{"rebalance", "POST", "/topology/wc/rebalance/0", deployer, `{"rebalanceOptions": {"numWorkers": 2}}`, 200, hasField("topologyOperation", "rebalance")},
		{"whoami", "GET", "/whoami", viewer, "", 200, func(m map[string]any) bool {
			return m["acl"] == true && m["name"] == "ops-viewer" && m["role"] == "viewer"
		}},
		{"whoami without a token", "GET", "/whoami", "", "", 401, hasMessage("needs a token with role viewer")},
		{"the log of an unknown worker", "GET", "/topology/wc/worker/nope/log", viewer, "", 404, hasMessage(`has no worker "nope"`)},
		{"a bad log tail", "GET", "/topology/wc/worker/nope/log?tail=0", viewer, "", 400, hasMessage("not a number of lines")},
		{"the log of an unknown topology", "GET", "/topology/nope/worker/w/log", viewer, "", 404, hasMessage(`no topology "nope"`)},
		{"an unknown endpoint", "GET", "/nothing", viewer, "", 404, hasMessage("no such endpoint")},
		{"kill", "POST", "/topology/wc/kill/0", deployer, "", 200, hasField("topologyOperation", "kill")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, m := restCall(t, tt.method, base+tt.path, tt.token, tt.body)
			if code != tt.code || !tt.check(m) {
				b, _ := json.MarshalIndent(m, "", "  ")
				t.Errorf("%s %s: %d, want %d; body:\n%s", tt.method, tt.path, code, tt.code, b)
			}
		})
	}
	if code, m := restCall(t, "GET", s.HTTP().URL()+"/", "", ""); code != 200 || !strings.Contains(m["body"].(string), `<main id="main">`) {
		t.Errorf("GET / does not lead to the web UI: %d %v", code, m)
	}
	if !sink.hasAudit(t, map[string]string{"action": "deactivate", "identity": "ops-viewer", "outcome": "refused", "topology": "wc"}) {
		t.Error("no audit line for the viewer's refused deactivate")
	}
	if !sink.hasAudit(t, map[string]string{"action": "deactivate", "identity": "ci", "outcome": "accepted"}) {
		t.Error("no audit line for the owner's deactivate")
	}
}

func hasMessage(want string) func(map[string]any) bool {
	return func(m map[string]any) bool {
		msg, _ := m["errorMessage"].(string)
		return strings.Contains(msg, want) && m["error"] != ""
	}
}

func hasField(k, v string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m[k] == v }
}

// TestRESTStandbySendsToTheLeader: a standby keeps no figures and changes nothing; it
// sends such requests to the leader's REST API, and answers the others itself.
func TestRESTStandbySendsToTheLeader(t *testing.T) {
	root := testRoot(t)
	cfg := fast(t, root)
	cfg.ID, cfg.HTTP = "n1", "127.0.0.1:0"
	leader := startNimbus(t, cfg)
	waitLeader(t, leader)
	cfg2 := fast(t, root)
	cfg2.ID, cfg2.HTTP = "n2", "127.0.0.1:0"
	standby := startNimbus(t, cfg2)
	ctx := testutil.Context(t, 30*time.Second)
	data := artifact(100)
	if _, err := submit(ctx, dial(t, leader.Addr()), header(t, wordcount("wc"), data, nil), data); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/api/v1/topology/wc?window=3h", http.StatusTemporaryRedirect},
		{"POST", "/api/v1/topology/wc/deactivate", http.StatusTemporaryRedirect},
		{"GET", "/api/v1/topology/summary", http.StatusOK},
	} {
		req, _ := http.NewRequestWithContext(ctx, tc.method, standby.HTTP().URL()+tc.path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s %s on the standby: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.code)
		}
		if want := leader.HTTP().URL() + tc.path; tc.code == http.StatusTemporaryRedirect && resp.Header.Get("Location") != want {
			t.Errorf("%s %s on the standby sends to %q, want %q", tc.method, tc.path, resp.Header.Get("Location"), want)
		}
	}
}

// FuzzRebalanceBody: whatever a client posts as a rebalance's body, it is read into a
// request or refused as a bad request; never a panic, never a number out of range.
func FuzzRebalanceBody(f *testing.F) {
	for _, s := range []string{``, `{"rebalanceOptions": {"numWorkers": 3, "executors": {"count": 4}}}`, `{"rebalanceOptions": {"numWorkers": -99999999999}}`, `[]`, `{"x": 1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := rebalanceRequest("t-1", 5, b)
		if err != nil {
			var re *restError
			if !errors.As(err, &re) || re.code != http.StatusBadRequest {
				t.Fatalf("a bad body gave %v, not a bad request", err)
			}
			return
		}
		if req.GetWorkers() < -1 || req.GetWaitSecs() != 5 {
			t.Fatalf("body %q gave %+v", b, req)
		}
	})
}
