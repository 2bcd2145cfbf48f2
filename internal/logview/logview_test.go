package logview

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/cluster"
)

func TestParseLogName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want LogName
		ok   bool
	}{
		{"supervisor", LogName{}, true},
		{"workers/wc-1/6700/worker.log", LogName{Topology: "wc-1", Port: 6700}, true},
		{"workers/wc-1/6700/worker.log.3", LogName{Topology: "wc-1", Port: 6700, Backup: 3}, true},
		{"workers/../6700/worker.log", LogName{}, false},
		{"workers/./6700/worker.log", LogName{}, false},
		{"workers/wc/06700/worker.log", LogName{}, false},
		{"workers/wc/6700/../../../etc/passwd", LogName{}, false},
		{"workers/wc/6700/worker.log.0", LogName{}, false},
		{"workers/wc/6700/worker.log.01", LogName{}, false},
		{"workers/wc/6700/worker.log.100", LogName{}, false},
		{"workers/wc/6700/worker.pid", LogName{}, false},
		{"workers/wc/6700/config.json", LogName{}, false},
		{"/etc/passwd", LogName{}, false},
		{"workers/wc/70000/worker.log", LogName{}, false},
		{"workers/wc/6700/worker.log/", LogName{}, false},
		{"", LogName{}, false},
	} {
		got, err := ParseLogName(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseLogName(%q) = %+v, %v; want %+v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "name a log as the list gives it") {
			t.Errorf("ParseLogName(%q): error %q does not say how to name a log", tc.in, err)
		}
	}
}

// FuzzParseLogName: whatever a request names, a log it accepts prints back the same and
// stays under workers/ without "..".
func FuzzParseLogName(f *testing.F) {
	for _, s := range []string{"supervisor", "workers/wc/6700/worker.log", "workers/wc/6700/worker.log.2", "workers/../1/worker.log", "workers/a\x00b/1/worker.log"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseLogName(s)
		if err != nil {
			return
		}
		if n.String() != s {
			t.Fatalf("%q parsed as %+v, which prints as %q", s, n, n.String())
		}
		if n.Own() {
			return
		}
		p := filepath.Join("/data", filepath.FromSlash(s))
		if filepath.Dir(filepath.Dir(filepath.Dir(p))) != "/data/workers" {
			t.Fatalf("%q resolves to %s, not three levels under workers/", s, p)
		}
	})
}

// FuzzParseFilter: no query makes ParseFilter panic, and what it accepts filters lines.
func FuzzParseFilter(f *testing.F) {
	f.Add("grep=a.*b&component=split&task=3&since=2026-01-01T00:00:00Z")
	f.Add("grep=(&task=-1&since=x")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		flt, err := ParseFilter(q)
		if err != nil {
			return
		}
		lf := &lineFilter{f: flt}
		lf.take(`2026-12-07T03:26:51.123Z [INFO]  wc.split: hello: component=split task=3`)
		lf.take(`{"@timestamp":"2026-12-07T03:26:51.123456Z","component":"split","task":3}`)
	})
}

func TestLineTimeAndFields(t *testing.T) {
	text := `2026-12-07T03:26:51.123Z [INFO]  wc.split: sampled emit: topology=wc-1 worker=s1:6700 component=split task=3 values="[a b]"`
	js := `{"@level":"info","@message":"hello","@timestamp":"2026-12-07T03:26:51.123456Z","component":"split","task":3}`
	for _, line := range []string{text, js} {
		ts, ok := LineTime(line)
		if !ok || ts.Year() != 2026 || ts.Second() != 51 {
			t.Errorf("LineTime(%s) = %v, %v", line, ts, ok)
		}
		if c, _ := LineField(line, "component"); c != "split" {
			t.Errorf("component of %s: %q", line, c)
		}
		if c, _ := LineField(line, "task"); c != "3" {
			t.Errorf("task of %s: %q", line, c)
		}
	}
	if v, _ := LineField(text, "values"); v != "[a b]" {
		t.Errorf("a quoted value: %q", v)
	}
	if _, ok := LineTime("Traceback (most recent call last):"); ok {
		t.Error("a raw stderr line has a time")
	}
}

type fixture struct {
	dir string
	srv *httptest.Server
	log string // workers/wc/6700/worker.log
}

func newFixture(t *testing.T, c Config) *fixture {
	t.Helper()
	dir := t.TempDir()
	wdir := filepath.Join(dir, "workers", "wc", "6700")
	if err := os.MkdirAll(wdir, 0o700); err != nil {
		t.Fatal(err)
	}
	lines := []string{
		`2026-12-07T03:00:00.000Z [INFO]  wc: worker running`,
		`2026-12-07T03:00:01.000Z [INFO]  wc.split: split: component=split task=3`,
		`2026-12-07T03:00:02.000Z [DEBUG] wc.count: counted: component=count task=5 word=apple`,
		`a raw line of a subprocess`,
	}
	if err := os.WriteFile(filepath.Join(wdir, "worker.log"), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wdir, "worker.log.1"), []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(secret, []byte("do not serve\n"), 0o600))
	must(os.MkdirAll(filepath.Join(dir, "workers", "evil", "6700"), 0o700))
	must(os.Symlink(secret, filepath.Join(dir, "workers", "evil", "6700", "worker.log")))
	must(os.Symlink(filepath.Dir(secret), filepath.Join(dir, "workers", "linked")))
	c.DataDir = dir
	srv := httptest.NewServer(New(c))
	t.Cleanup(srv.Close)
	return &fixture{dir: dir, srv: srv, log: "workers/wc/6700/worker.log"}
}

func (f *fixture) get(t *testing.T, path string, q url.Values, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path+"?"+q.Encode(), nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServer(t *testing.T) {
	f := newFixture(t, Config{})
	code, body := f.get(t, "/logs", nil, "")
	var l List
	if code != 200 || json.Unmarshal([]byte(body), &l) != nil {
		t.Fatalf("list: %d %s", code, body)
	}
	var names []string
	for _, e := range l.Logs {
		names = append(names, e.Name)
	}
	if fmt.Sprint(names) != "[workers/wc/6700/worker.log.1 workers/wc/6700/worker.log]" {
		t.Errorf("list: %v (a symlinked log must not appear)", names)
	}
	for _, tc := range []struct {
		name, path string
		q          url.Values
		code       int
		want, not  []string
	}{
		{"tail", "/logs/lines", url.Values{"log": {f.log}, "tail": {"2"}}, 200, []string{"counted", "raw line"}, []string{"worker running"}},
		{"grep", "/logs/search", url.Values{"log": {f.log}, "grep": {"spl.t"}}, 200, []string{"split: component=split"}, []string{"counted"}},
		{"component", "/logs/lines", url.Values{"log": {f.log}, "component": {"count"}}, 200, []string{"counted"}, []string{"split:"}},
		{"task", "/logs/lines", url.Values{"log": {f.log}, "task": {"3"}}, 200, []string{"split:"}, []string{"counted"}},
		{"since", "/logs/lines", url.Values{"log": {f.log}, "since": {"2026-12-07T03:00:01.500Z"}}, 200, []string{"counted", "raw line"}, []string{"split:"}},
		{"range", "/logs/read", url.Values{"log": {f.log}, "offset": {"-27"}}, 200, []string{"a raw line of a subprocess"}, []string{"counted"}},
		{"backup", "/logs/read", url.Values{"log": {"workers/wc/6700/worker.log.1"}}, 200, []string{"old"}, nil},
		{"dotdot", "/logs/read", url.Values{"log": {"workers/../../etc/passwd"}}, 400, []string{"name a log as the list gives it"}, nil},
		{"symlinked file", "/logs/read", url.Values{"log": {"workers/evil/6700/worker.log"}}, 403, nil, []string{"do not serve"}},
		{"symlinked dir", "/logs/read", url.Values{"log": {"workers/linked/6700/worker.log"}}, 403, nil, []string{"do not serve"}},
		{"missing", "/logs/read", url.Values{"log": {"workers/wc/6701/worker.log"}}, 404, nil, nil},
		{"own without file", "/logs/read", url.Values{"log": {"supervisor"}}, 404, []string{"--log-file"}, nil},
		{"bad grep", "/logs/search", url.Values{"log": {f.log}, "grep": {"("}}, 400, []string{"not a regular expression"}, nil},
		{"search without grep", "/logs/search", url.Values{"log": {f.log}}, 400, nil, nil},
		{"bad tail", "/logs/lines", url.Values{"log": {f.log}, "tail": {"-1"}}, 400, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.get(t, tc.path, tc.q, "")
			if code != tc.code {
				t.Fatalf("status %d, want %d: %s", code, tc.code, body)
			}
			for _, s := range tc.want {
				if !strings.Contains(body, s) {
					t.Errorf("the reply lacks %q:\n%s", s, body)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(body, s) {
					t.Errorf("the reply has %q:\n%s", s, body)
				}
			}
		})
	}
}

// TestOwnLog: the supervisor's own log file is listed first and served as "supervisor".
func TestOwnLog(t *testing.T) {
	own := filepath.Join(t.TempDir(), "supervisord.log")
	if err := os.WriteFile(own, []byte("2026-12-07T03:00:00.000Z [INFO]  supervisord: registered\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, Config{OwnLogFile: own})
	if code, body := f.get(t, "/logs", nil, ""); code != 200 || !strings.Contains(body, `{"name":"supervisor"`) {
		t.Errorf("list: %d %s", code, body)
	}
	if code, body := f.get(t, "/logs/lines", url.Values{"log": {"supervisor"}}, ""); code != 200 || !strings.Contains(body, "registered") {
		t.Errorf("own log: %d %s", code, body)
	}
}

func TestFollow(t *testing.T) {
	old := FollowPoll
	FollowPoll = 10 * time.Millisecond
	t.Cleanup(func() { FollowPoll = old })
	f := newFixture(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+"/logs/follow?"+url.Values{"log": {f.log}, "tail": {"1"}, "grep": {"new|raw"}}.Encode(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	expect := func(want string) {
		t.Helper()
		line, err := br.ReadString('\n')
		if err != nil || !strings.Contains(line, want) {
			t.Fatalf("followed line %q (%v), want %q", line, err, want)
		}
	}
	expect("raw line")
	path := filepath.Join(f.dir, filepath.FromSlash(f.log))
	lf, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lf.WriteString("skipped\nnew one\n"); err != nil {
		t.Fatal(err)
	}
	expect("new one")
	// Rotation: copied and truncated; the follower reads the file again from its start.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := lf.WriteString("new after rotation\n"); err != nil {
		t.Fatal(err)
	}
	lf.Close()
	expect("new after rotation")
}

func TestAuthAndRemove(t *testing.T) {
	tokens := map[string]cluster.Role{"v": cluster.RoleViewer, "d": cluster.RoleDeployer}
	running := true
	f := newFixture(t, Config{
		Auth: func(_ context.Context, secret string) (string, cluster.Role, error) {
			r, ok := tokens[secret]
			if !ok {
				return "", "", cluster.ErrNotFound
			}
			return "tok-" + secret, r, nil
		},
		Running: func(context.Context, string) (bool, error) { return running, nil },
	})
	q := url.Values{"log": {f.log}}
	for _, tc := range []struct {
		token string
		code  int
		body  string // what the refusal says
	}{
		{"", 401, "carries none"},
		{"nope", 401, "not known to this cluster"},
		{"a b", 401, "a character no sparse token has"},
		{"v", 200, ""},
		{"d", 200, ""},
	} {
		if code, body := f.get(t, "/logs/lines", q, tc.token); code != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("token %q: status %d, want %d with %q: %s", tc.token, code, tc.code, tc.body, body)
		}
	}
	del := func(token string) (int, string) {
		req, _ := http.NewRequest(http.MethodDelete, f.srv.URL+"/logs?topology=wc", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := del("v"); code != 403 || !strings.Contains(body, "needs role deployer") {
		t.Errorf("a viewer removed logs: %d %s", code, body)
	}
	if code, body := del("d"); code != 409 || !strings.Contains(body, "kill it first") {
		t.Errorf("the logs of a running topology: %d %s", code, body)
	}
	running = false
	if code, body := del("d"); code != 204 {
		t.Errorf("remove: %d %s", code, body)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "workers", "wc")); !os.IsNotExist(err) {
		t.Errorf("the topology's logs are still there: %v", err)
	}
}

// FuzzLineParse: a log line is bytes a worker (or its subprocess) wrote; parsing its time
// and fields never panics, and a text line's field value never holds a space unless it
// was quoted.
func FuzzLineParse(f *testing.F) {
	f.Add(`2026-12-07T03:26:51.123Z [INFO]  wc.split: x: component=split task=3 values="[a b]"`)
	f.Add(`{"@timestamp":"2026-12-07T03:26:51.123456Z","component":"split","task":3}`)
	f.Add(`{"@timestamp":7,"component":{"a":1}}`)
	f.Add(` component="unterminated`)
	f.Fuzz(func(t *testing.T, line string) {
		LineTime(line)
		for _, k := range []string{"component", "task", "values"} {
			v, ok := LineField(line, k)
			if !ok && v != "" {
				t.Fatalf("LineField(%q, %q) = %q without the field", line, k, v)
			}
		}
	})
}
