package e2e

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/streamparse/sptest"
)

// ctlIn runs sparsectl against the cluster in folder dir (a streamparse project), with
// its own cache of local virtualenvs.
func (c *testCluster) ctlIn(dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.sparsectl, append(append([]string{"--nimbus", c.nimbusList()}, c.tls.ctlArgs()...), args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+c.dir, "XDG_CACHE_HOME="+filepath.Join(c.dir, "cache"))
	if c.token != "" {
		cmd.Env = append(cmd.Env, "SPARSE_TOKEN="+c.token)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestClusterStreamparseProject: a streamparse project in the quickstart layout (word
// spout, count bolt with Grouping.fields("word"), par=2), whose virtualenvs/NAME.txt
// lists streamparse and a package shipped as a wheel (sparsectl submit --wheelhouse), is
// submitted from its folder with `sparsectl submit -n wordcount`; the supervisor
// installs the package into a virtualenv with no index, and the two count tasks reach
// the exact counts through it.
func TestClusterStreamparseProject(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 is not on PATH; the streamparse components are Python")
	}
	c := newTestCluster(t, []string{"n1"}, map[string]int{"s1": 2})
	project, out, wheels := filepath.Join(c.dir, "project"), filepath.Join(c.dir, "out"), filepath.Join(c.dir, "wheels")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	sptest.WriteWheel(t, wheels, "sparsetestpkg", "w-")
	p := sptest.Project{OutDir: out, Requirements: []string{"streamparse", "sparsetestpkg"}, Import: "sparsetestpkg"}
	sptest.WriteWordCount(t, project, p)
	c.waitFor("the supervisor registered", time.Minute, func() bool {
		o, err := c.ctl("supervisors")
		return err == nil && strings.Contains(o, "s1")
	})
	if o, err := c.ctlIn(project, "submit", "-n", "wordcount", "--workers", "2", "--wheelhouse", wheels); err != nil {
		t.Fatalf("submit: %v\n%s", err, o)
	}
	want := map[string]int{}
	for w, n := range p.Expected() {
		want["w-"+w] = n
	}
	var got map[string]int
	c.waitFor("the count bolt counted every word", 3*time.Minute, func() bool {
		var err error
		got, err = sptest.ReadCounts(out)
		if err != nil {
			t.Fatal(err)
		}
		return maps.Equal(got, want)
	})
	ws, err := c.workers("wordcount")
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 {
		t.Errorf("describe shows workers %+v; want 2", ws)
	}
	venvs, _ := filepath.Glob(filepath.Join(c.supDir["s1"], "venvs", "*", "bin", "python3"))
	if len(venvs) != 1 {
		t.Errorf("the supervisor made %d virtualenvs, want 1 shared by both workers", len(venvs))
	}

	// update-virtualenv: the supervisor builds the virtualenv again and restarts both
	// workers with it, which count every word again from the start.
	before := map[string]bool{}
	for _, v := range venvs {
		before[v] = true
	}
	oldPIDs := c.workerPIDs("s1")
	if o, err := c.ctlIn(project, "update-virtualenv"); err != nil || !strings.Contains(o, "generation 1") {
		t.Fatalf("update-virtualenv: %v\n%s", err, o)
	}
	c.waitFor("a new virtualenv and both workers restarted with it", 2*time.Minute, func() bool {
		now, _ := filepath.Glob(filepath.Join(c.supDir["s1"], "venvs", "*", "bin", "python3"))
		fresh := slices.ContainsFunc(now, func(v string) bool { return !before[v] })
		pids := c.workerPIDs("s1")
		return fresh && len(pids) == 2 && !slices.ContainsFunc(pids, func(p int) bool { return slices.Contains(oldPIDs, p) })
	})
	c.waitFor("the restarted workers counted every word again", 3*time.Minute, func() bool {
		var err error
		got, err = sptest.ReadCounts(out)
		if err != nil {
			t.Fatal(err)
		}
		return maps.Equal(got, want)
	})
	c.mustCtl("kill", "wordcount", "--wait=1s")
	c.waitFor("the topology is gone", time.Minute, func() bool {
		o, err := c.ctl("list")
		return err == nil && !strings.Contains(o, "wordcount")
	})
	time.Sleep(time.Second) // no count moves after the kill
	if after, _ := sptest.ReadCounts(out); !maps.Equal(after, want) {
		t.Errorf("counts after the kill = %v, want %v", after, want)
	}
}

// TestClusterStreamparseBadRequirement: a topology whose requirement pip cannot install
// starts no worker process; `sparsectl describe` shows, for each worker, the failing
// requirement and pip's own error.
func TestClusterStreamparseBadRequirement(t *testing.T) {
	c := newTestClusterWith(t, []string{"n1"}, map[string]int{"s1": 1}, clusterInsecure)
	project, wheels := filepath.Join(c.dir, "project"), filepath.Join(c.dir, "wheels")
	sptest.WriteWheel(t, wheels, "sparsetestpkg", "w-")
	sptest.WriteWordCount(t, project, sptest.Project{OutDir: filepath.Join(c.dir, "out"), Requirements: []string{"streamparse", "nosuchpkg-sparse==9.9"}})
	c.waitFor("the supervisor registered", time.Minute, func() bool {
		o, err := c.ctl("supervisors")
		return err == nil && strings.Contains(o, "s1")
	})
	// --no-venv: the local evaluation needs nothing installed.
	if o, err := c.ctlIn(project, "submit", "--no-venv", "--wheelhouse", wheels); err != nil {
		t.Fatalf("submit: %v\n%s", err, o)
	}
	var out string
	c.waitFor("describe to show pip's error", 2*time.Minute, func() bool {
		out, _ = c.ctl("describe", "wordcount")
		return strings.Contains(out, "No matching distribution found for nosuchpkg-sparse==9.9")
	})
	for _, w := range []string{"cannot start on supervisor s1", `pip could not install requirement "nosuchpkg-sparse==9.9"`} {
		if !strings.Contains(out, w) {
			t.Errorf("describe lacks %q:\n%s", w, out)
		}
	}
	if logs, _ := filepath.Glob(filepath.Join(c.supDir["s1"], "workers", "*", "*", "worker.log")); len(logs) != 0 {
		t.Errorf("a worker process was started: %v", logs)
	}
	c.mustCtl("kill", "wordcount", "--wait=1s")
}
