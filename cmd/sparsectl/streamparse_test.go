//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/spec"
	"github.com/sparsestream/sparse/internal/specpb"
	"github.com/sparsestream/sparse/internal/streamparse/sptest"
)

// TestRunStreamparseProject: in a streamparse project written in streamparse's
// quickstart layout, `sparsectl run -t 8` (no argument, no -n: there is one topology)
// evaluates topologies/wordcount.py and runs it; the two count tasks reach the exact
// counts, each word counted by one task (a fields grouping).
func TestRunStreamparseProject(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	p := sptest.Project{OutDir: out}
	sptest.WriteWordCount(t, dir, p)
	r := runSparsectlIn(t, dir, 2*time.Minute, "run", "-t", "6", "--no-venv", "--stats-every", "0")
	if r.code != 0 {
		t.Fatalf("sparsectl run exited %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	got, err := sptest.ReadCounts(out)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, p.Expected()) {
		t.Fatalf("counts = %v, want %v\nstderr:\n%s", got, p.Expected(), r.stderr)
	}
	if line := finalLine(t, r.stdout, "word_spout"); !strings.Contains(line, "acked=60") || !strings.Contains(line, "failed=0") {
		t.Errorf("spout: %s", line)
	}
}

// TestRunStreamparseProblems: a Python error in the topology file comes back with its
// traceback (file and line), -n names an unknown topology, and -n outside a project is
// refused; nothing runs.
func TestRunStreamparseProblems(t *testing.T) {
	dir := t.TempDir()
	sptest.WriteWordCount(t, dir, sptest.Project{OutDir: t.TempDir()})
	topo := filepath.Join(dir, "topologies", "wordcount.py")
	src, err := os.ReadFile(topo)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(topo, bytes.Replace(src, []byte(`Grouping.fields("word")`), []byte(`Grouping.fields("wrd")`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		dir  string
		args []string
		want []string
	}{
		{dir, []string{"run", "--no-venv"}, []string{"evaluating topologies/wordcount.py failed", "wordcount.py\", line 11, in <module>", "TopologyError", "field 'wrd'"}},
		{dir, []string{"run", "--no-venv", "-n", "nope"}, []string{`topology "nope" is not in topologies/ (it has: wordcount)`}},
		{t.TempDir(), []string{"run", "-n", "x", "../../examples/wordcount"}, []string{"-n/--name chooses a topology of a streamparse project"}},
	}
	for _, tc := range cases {
		r := runSparsectlIn(t, tc.dir, time.Minute, tc.args...)
		if r.code == 0 {
			t.Errorf("sparsectl %v exited 0", tc.args)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("sparsectl %v: stderr lacks %q:\n%s", tc.args, w, r.stderr)
			}
		}
		if strings.Contains(r.stdout, "final:") {
			t.Errorf("sparsectl %v ran a topology", tc.args)
		}
	}
}

// TestSubmitStreamparseProject: `sparsectl submit -n wordcount -e prod` in a project
// finds nimbus in config.json's envs and uploads a spec bundle of src/ with the topology
// file and the requirements under .sparse/; --verbose notes the ssh-only keys it ignores.
func TestSubmitStreamparseProject(t *testing.T) {
	isolate(t)
	n := &fakeNimbus{id: "nimbus-1"}
	startNimbus(t, n)
	dir, _ := os.Getwd()
	sptest.WriteWordCount(t, dir, sptest.Project{OutDir: "/out", Envs: map[string]any{
		"prod": map[string]any{"nimbus": n.addr, "user": "storm", "workers": []string{"w1"}},
		"beta": map[string]any{"nimbus": "192.0.2.1"},
	}})
	r := mustRunBoth(t, "submit", "-n", "wordcount", "-e", "prod", "--verbose", "--no-venv")
	for _, w := range []string{`ignoring "user": sparse uses no ssh`, `ignoring "workers"`} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("--verbose does not note %q:\n%s", w, r.stderr)
		}
	}
	ups := n.snapshot().uploads
	if len(ups) != 1 {
		t.Fatalf("nimbus received %d uploads, want 1", len(ups))
	}
	h := ups[0].header
	if h.GetKind() != sparsev1.ArtifactKind_ARTIFACT_KIND_SPEC_BUNDLE || h.GetName() != "wordcount" {
		t.Errorf("header: kind %v name %q", h.GetKind(), h.GetName())
	}
	s, err := specpb.SpecFromProto(h.GetSpec())
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Component("count_bolt"); c == nil || c.Parallelism != 2 || c.Inputs[0].Grouping.Type != "fields" {
		t.Errorf("count_bolt = %+v", c)
	}
	bundle := filepath.Join(t.TempDir(), "bundle")
	if err := spec.Unpack(bytes.NewReader(ups[0].data), bundle); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"topology.yaml", "bolts/wordcount.py", "spouts/words.py", ".sparse/topology.py"} {
		if _, err := os.Stat(filepath.Join(bundle, f)); err != nil {
			t.Errorf("the bundle lacks %s: %v", f, err)
		}
	}
	// Without -n and with one topology, the same; with an unknown -e, a clear error.
	mustRun(t, "submit", "-e", "prod", "--no-venv")
	mustFail(t, []string{`environment "nope" is not in config file`}, "submit", "-e", "nope", "--no-venv")
}

// TestRunStreamparseVirtualenv: a topology whose virtualenvs/NAME.txt lists a package
// found in a wheelhouse runs in a virtualenv built from it (the count bolt applies the
// package's transform), which the next run reuses and update-virtualenv builds again.
func TestRunStreamparseVirtualenv(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir, out, wheels := t.TempDir(), t.TempDir(), t.TempDir()
	sptest.WriteWheel(t, wheels, "sparsetestpkg", "w-")
	p := sptest.Project{OutDir: out, Requirements: []string{"streamparse", "sparsetestpkg"}, Import: "sparsetestpkg", Repeat: 1}
	sptest.WriteWordCount(t, dir, p)
	r := runSparsectlIn(t, dir, 2*time.Minute, "run", "-t", "5s", "--wheelhouse", wheels, "--stats-every", "0")
	if r.code != 0 {
		t.Fatalf("sparsectl run exited %d\nstderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "making virtualenv") {
		t.Errorf("no virtualenv was made:\n%s", r.stderr)
	}
	got, err := sptest.ReadCounts(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for w, n := range p.Expected() {
		want["w-"+w] = n
	}
	if !maps.Equal(got, want) {
		t.Fatalf("counts = %v, want %v", got, want)
	}
	// Without the package, --no-venv fails to import it, and says so.
	r = runSparsectlIn(t, dir, time.Minute, "run", "-t", "1", "--no-venv")
	if !strings.Contains(r.stderr, "No module named 'sparsetestpkg'") {
		t.Errorf("--no-venv: stderr lacks the import error:\n%s", r.stderr)
	}
	r = runSparsectlIn(t, dir, time.Minute, "update-virtualenv", "--local", "--wheelhouse", wheels)
	if r.code != 0 || !strings.Contains(r.stdout, "virtualenv of topology wordcount:") || !strings.Contains(r.stderr, "making virtualenv") {
		t.Errorf("update-virtualenv: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestQuickstartStreamparse: `sparsectl quickstart NAME --lang streamparse` makes a
// project in streamparse's layout that `sparsectl run -n wordcount -t 3` runs as it is.
func TestQuickstartStreamparse(t *testing.T) {
	parent := t.TempDir()
	r := runSparsectlIn(t, parent, time.Minute, "quickstart", "birds", "--lang", "streamparse")
	if r.code != 0 {
		t.Fatalf("quickstart: %d\n%s", r.code, r.stderr)
	}
	dir := filepath.Join(parent, "birds")
	for _, f := range []string{"config.json", "topologies/wordcount.py", "src/spouts/words.py", "src/bolts/wordcount.py", "virtualenvs/wordcount.txt", "README.md"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the project lacks %s", f)
		}
	}
	if !strings.Contains(r.stdout, "sparsectl run -n wordcount") {
		t.Errorf("next steps:\n%s", r.stdout)
	}
	r = runSparsectlIn(t, dir, 2*time.Minute, "run", "-n", "wordcount", "-t", "3", "--stats-every", "0")
	if r.code != 0 {
		t.Fatalf("run: %d\n%s", r.code, r.stderr)
	}
	line := finalLine(t, r.stdout, "count_bolt")
	if !strings.Contains(line, "failed=0") || strings.Contains(line, "acked=0 ") {
		t.Errorf("count_bolt: %s", line)
	}
}

// TestRunStreamparseMultiStream: a topology with named streams (a spout emitting on
// "even" and "odd", subscribed with two groupings) and a direct stream (a bolt that
// picks the receiving task of each tuple with direct_task, and gets it back from
// need_task_ids) delivers every number once, to the task it was sent to.
func TestRunStreamparseMultiStream(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	sptest.WriteWordCount(t, dir, sptest.Project{OutDir: out})
	files := map[string]string{
		"src/multi.py": `import json
import os

from streamparse import Bolt, Spout, Stream


class NumberSpout(Spout):
    outputs = [Stream(["n"], name="even"), Stream(["n"], name="odd")]

    def initialize(self, conf, ctx):
        self.n = 0

    def next_tuple(self):
        if self.n < 60:
            n, self.n = self.n, self.n + 1
            self.emit([n], tup_id=n, stream="even" if n % 2 == 0 else "odd")


class Router(Bolt):
    outputs = [Stream(["n", "origin"], name="routed", direct=True)]

    def initialize(self, conf, ctx):
        self.sinks = sorted(int(t) for t, c in ctx["task->component"].items() if c == "sink")

    def process(self, tup):
        n = tup.values[0]
        target = self.sinks[n % len(self.sinks)]
        got = self.emit([n, tup.stream], stream="routed", direct_task=target, need_task_ids=True)
        if got != [target]:
            raise RuntimeError("need_task_ids gave %r, not [%d]" % (got, target))


class Sink(Bolt):
    def initialize(self, conf, ctx):
        self.path = os.path.join(conf["multi.out"], "sink-%d.json" % ctx["taskid"])
        self.index = sorted(int(t) for t, c in ctx["task->component"].items() if c == "sink").index(ctx["taskid"])
        self.seen = []

    def process(self, tup):
        self.seen.append([tup["n"], tup["origin"], tup.stream, tup.component, self.index])
        with open(self.path + ".tmp", "w") as f:
            json.dump(self.seen, f)
        os.replace(self.path + ".tmp", self.path)
`,
		"topologies/multi.py": `from streamparse import Grouping, Topology

from multi import NumberSpout, Router, Sink


class Multi(Topology):
    config = {"multi.out": ` + "\"" + out + "\"" + `}
    numbers = NumberSpout.spec()
    router = Router.spec(inputs={numbers["even"]: Grouping.SHUFFLE, numbers["odd"]: Grouping.fields("n")}, par=2)
    sink = Sink.spec(inputs={router["routed"]: Grouping.DIRECT}, par=3)
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := runSparsectlIn(t, dir, 2*time.Minute, "run", "-n", "multi", "-t", "6", "--no-venv", "--stats-every", "0")
	if r.code != 0 {
		t.Fatalf("sparsectl run exited %d\nstderr:\n%s", r.code, r.stderr)
	}
	seen := map[int]bool{}
	paths, _ := filepath.Glob(filepath.Join(out, "sink-*.json"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var rows [][]any
		if err := json.Unmarshal(b, &rows); err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			n, origin, stream, comp, index := int(row[0].(float64)), row[1].(string), row[2].(string), row[3].(string), int(row[4].(float64))
			if seen[n] {
				t.Errorf("%d was delivered twice", n)
			}
			seen[n] = true
			wantOrigin := map[bool]string{true: "even", false: "odd"}[n%2 == 0]
			if origin != wantOrigin || stream != "routed" || comp != "router" || index != n%3 {
				t.Errorf("%d: origin %s, stream %s from %s at sink %d; want %s, routed from router at sink %d", n, origin, stream, comp, index, wantOrigin, n%3)
			}
		}
	}
	if len(seen) != 60 {
		t.Errorf("the sinks got %d numbers, want 60\nstderr:\n%s", len(seen), r.stderr)
	}
	if line := finalLine(t, r.stdout, "numbers"); !strings.Contains(line, "acked=60") {
		t.Errorf("spout: %s", line)
	}
}

// TestSubmitStreamparseDownloadWheels: --download-wheels builds the requirements'
// wheels at submit time from the index this machine has (here a local PEP 503 index)
// and ships them in the bundle; streamparse is not among them.
func TestSubmitStreamparseDownloadWheels(t *testing.T) {
	isolate(t)
	n := &fakeNimbus{id: "nimbus-1"}
	startNimbus(t, n)
	dir, _ := os.Getwd()
	sptest.WriteWordCount(t, dir, sptest.Project{OutDir: "/out", Requirements: []string{"streamparse", "sparsetestpkg"},
		Envs: map[string]any{"prod": map[string]any{"nimbus": n.addr}}})
	index := t.TempDir()
	wheel := sptest.WriteWheel(t, filepath.Join(index, "files"), "sparsetestpkg", "w-")
	page := `<html><body><a href="file://` + wheel + `">` + filepath.Base(wheel) + `</a></body></html>`
	if err := os.MkdirAll(filepath.Join(index, "simple", "sparsetestpkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(index, "simple", "sparsetestpkg", "index.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "submit", "--no-venv", "--download-wheels", "--pip-index", "file://"+filepath.Join(index, "simple"))
	ups := n.snapshot().uploads
	if len(ups) != 1 {
		t.Fatalf("nimbus received %d uploads, want 1", len(ups))
	}
	bundle := filepath.Join(t.TempDir(), "bundle")
	if err := spec.Unpack(bytes.NewReader(ups[0].data), bundle); err != nil {
		t.Fatal(err)
	}
	got, _ := filepath.Glob(filepath.Join(bundle, ".sparse", "wheelhouse", "*"))
	if len(got) != 1 || filepath.Base(got[0]) != filepath.Base(wheel) {
		t.Errorf("the bundle's wheelhouse holds %v, want %s", got, filepath.Base(wheel))
	}
	if _, err := os.Stat(filepath.Join(bundle, ".sparse", "requirements.txt")); err != nil {
		t.Errorf("the bundle has no requirements: %v", err)
	}
	mustFail(t, []string{"either --wheelhouse or --download-wheels"}, "submit", "--no-venv", "--download-wheels", "--wheelhouse", index)
}

func TestSecondsOrDuration(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"20", 20 * time.Second, false},
		{"1.5", 1500 * time.Millisecond, false},
		{"20s", 20 * time.Second, false},
		{"1m30s", 90 * time.Second, false},
		{"-3", 0, true},
		{"soon", 0, true},
	}
	for _, tc := range cases {
		var d time.Duration
		err := secondsOrDuration{&d}.Set(tc.in)
		if (err != nil) != tc.err || d != tc.want {
			t.Errorf("Set(%q) = %v, %v; want %v (error %v)", tc.in, d, err, tc.want, tc.err)
		}
	}
}
