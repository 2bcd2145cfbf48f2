package supervisor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/pkg/topology"
)

func TestWorkerEnv(t *testing.T) {
	environ := []string{"PATH=/bin", "HOME=/home/s", "LC_ALL=C", "TZ=UTC", "ETCD_PASSWORD=hunter2",
		"AWS_SECRET_ACCESS_KEY=x", "HTTPS_PROXY=http://proxy", "GOMAXPROCS=2", "LD_PRELOAD=/evil.so"}
	for _, tc := range []struct {
		name  string
		extra []string
		conf  topology.Config
		want  []string
		err   string
	}{
		{name: "base only", want: []string{"GOMAXPROCS=2", "HOME=/home/s", "LC_ALL=C", "PATH=/bin", "TZ=UTC"}},
		{name: "operator adds a name", extra: []string{"HTTPS_PROXY"},
			want: []string{"GOMAXPROCS=2", "HOME=/home/s", "HTTPS_PROXY=http://proxy", "LC_ALL=C", "PATH=/bin", "TZ=UTC"}},
		{name: "topology map wins", conf: topology.Config{ConfWorkerEnv: map[string]any{"TZ": "Europe/Paris", "N": 3}},
			want: []string{"GOMAXPROCS=2", "HOME=/home/s", "LC_ALL=C", "N=3", "PATH=/bin", "TZ=Europe/Paris"}},
		{name: "topology string", conf: topology.Config{ConfWorkerEnv: "A=1, B=x=y"},
			want: []string{"A=1", "B=x=y", "GOMAXPROCS=2", "HOME=/home/s", "LC_ALL=C", "PATH=/bin", "TZ=UTC"}},
		{name: "topology list", conf: topology.Config{ConfWorkerEnv: []any{"A=1"}},
			want: []string{"A=1", "GOMAXPROCS=2", "HOME=/home/s", "LC_ALL=C", "PATH=/bin", "TZ=UTC"}},
		{name: "no equals sign", conf: topology.Config{ConfWorkerEnv: "A"}, err: `"A" has no '='`},
		{name: "bad name", conf: topology.Config{ConfWorkerEnv: map[string]any{"A B": "1"}}, err: "not a variable name"},
		{name: "bad type", conf: topology.Config{ConfWorkerEnv: 7}, err: "neither a map nor a list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := workerEnv(environ, tc.extra, tc.conf)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), ConfWorkerEnv) {
					t.Fatalf("error %v, want one naming %s and containing %q", err, ConfWorkerEnv, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := ParseWorkerEnvNames("A,B=1"); err == nil || !strings.Contains(err.Error(), "--worker-env") {
		t.Errorf("a bad --worker-env name: %v", err)
	}
	if n, err := ParseWorkerEnvNames(" A, B ,"); err != nil || !slices.Equal(n, []string{"A", "B"}) {
		t.Errorf("--worker-env A,B: %q, %v", n, err)
	}
}

// TestWorkerProcessHygiene: a started worker sees only the allowed environment and the
// topology's own variables, and its files are 0600 in 0700 directories.
func TestWorkerProcessHygiene(t *testing.T) {
	f := newManagerFixture(t)
	orig := supervisorEnviron
	supervisorEnviron = func() []string { return append(os.Environ(), "SPARSE_TEST_SECRET=hunter2", "SPARSE_TEST_PROXY=p") }
	t.Cleanup(func() { supervisorEnviron = orig })
	f.want.Config[ConfWorkerEnv] = map[string]any{"SPARSE_TEST_OWN": "mine"}
	// An older supervisor's wide modes are tightened.
	dir := workerDir(f.dataDir, "topo-1", f.port)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, logFile), []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := f.start(func(c *ManagerConfig) { c.WorkerEnv = []string{"SPARSE_TEST_PROXY"} })
	m.Update([]Want{f.want})
	testutil.Eventually(t, 20*time.Second, "the worker to run", func() bool { return m.slot().Phase == Running })
	env, err := os.ReadFile("/proc/" + strconv.Itoa(m.slot().PID) + "/environ")
	if err != nil {
		t.Skip("no /proc to read the worker's environment")
	}
	vars := strings.Split(string(env), "\x00")
	for _, want := range []string{"SPARSE_TEST_OWN=mine", "SPARSE_TEST_PROXY=p"} {
		if !slices.Contains(vars, want) {
			t.Errorf("the worker's environment lacks %s: %q", want, vars)
		}
	}
	if bytes.Contains(env, []byte("SPARSE_TEST_SECRET")) {
		t.Errorf("a variable of the supervisor that is not allowed reached the worker: %q", vars)
	}
	for _, d := range []string{filepath.Join(f.dataDir, "workers"), filepath.Dir(dir), dir} {
		if st, err := os.Stat(d); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("directory %s: %v, %v; want mode 0700", d, st.Mode().Perm(), err)
		}
	}
	testutil.Eventually(t, 5*time.Second, "the supervised file", func() bool {
		_, err := os.Stat(filepath.Join(dir, supervisedFile))
		return err == nil
	})
	for _, name := range []string{assignmentFile, configFile, logFile, pidFile, supervisedFile} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 0600", name, st.Mode().Perm(), err)
		}
	}
}

// TestArtifactCacheReverifies: a cached artifact changed on disk after it was verified
// (same size, other bytes) is checked again before its next use and fetched again; a
// download that goes beyond the declared size is cut there and refused.
func TestArtifactCacheReverifies(t *testing.T) {
	good := []byte("#!/bin/sh\necho the real artifact\n")
	sum := sha256.Sum256(good)
	digest := hex.EncodeToString(sum[:])
	fetches := 0
	var served []byte
	var logs bytes.Buffer
	c := NewArtifactCache(t.TempDir(), fetcherFunc(func(context.Context, string) ([]Source, error) {
		return []Source{{Name: "nimbus", Fetch: func(_ context.Context, w io.Writer) error {
			fetches++
			_, err := w.Write(served)
			return err
		}}}, nil
	}), hclog.New(&hclog.LoggerOptions{Output: &logs}))
	served = good
	path, err := c.Path(context.Background(), digest, int64(len(good)))
	if err != nil || fetches != 1 {
		t.Fatalf("first Path: %v after %d fetches", err, fetches)
	}
	if _, err := c.Path(context.Background(), digest, int64(len(good))); err != nil || fetches != 1 || strings.Contains(logs.String(), "changed on disk") {
		t.Fatalf("an unchanged artifact: %v after %d fetches; log:\n%s", err, fetches, logs.String())
	}
	evil := bytes.Replace(good, []byte("real"), []byte("evil"), 1)
	if err := os.WriteFile(path, evil, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Path(context.Background(), digest, int64(len(good))); err != nil || fetches != 2 {
		t.Fatalf("Path after tampering: %v after %d fetches; want the artifact fetched again", err, fetches)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, good) {
		t.Fatalf("the cache holds %q", b)
	}
	if !strings.Contains(logs.String(), "changed on disk") {
		t.Errorf("the re-verification was not logged:\n%s", logs.String())
	}
	if _, err := c.Path(context.Background(), digest, int64(len(good))); err != nil || fetches != 2 {
		t.Fatalf("an unchanged artifact: %v after %d fetches; want no fetch", err, fetches)
	}

	// Too many bytes: refused at the declared size.
	big := bytes.Repeat([]byte("x"), 1000)
	bs := sha256.Sum256(big)
	w := &countWriter{limit: 100}
	if _, err := w.Write(big[:60]); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(big[60:120]); err == nil || !strings.Contains(err.Error(), "more than the 100 bytes") {
		t.Errorf("writing past the declared size: %v", err)
	}
	served = big
	if _, err := c.Path(context.Background(), hex.EncodeToString(bs[:]), 100); err == nil || !strings.Contains(err.Error(), "more than the 100 bytes") {
		t.Errorf("a download beyond its declared size: %v", err)
	}
}
