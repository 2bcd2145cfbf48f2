package streamparse_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparsestream/sparse/internal/generic"
	"github.com/sparsestream/sparse/internal/spec"
	"github.com/sparsestream/sparse/internal/streamparse"
	"github.com/sparsestream/sparse/internal/streamparse/sptest"
	"github.com/sparsestream/sparse/pkg/topology"
)

func clientDir(t *testing.T) string {
	t.Helper()
	dir, err := generic.ExtractPythonClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestEvaluateQuickstartProject(t *testing.T) {
	dir := t.TempDir()
	sptest.WriteWordCount(t, dir, sptest.Project{OutDir: "/out"})
	if !streamparse.IsProject(dir) {
		t.Fatal("IsProject = false for a quickstart project")
	}
	p, err := streamparse.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	topo, err := p.Evaluate(context.Background(), "", streamparse.EvalOptions{ClientDir: clientDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	if topo.Name != "wordcount" || len(topo.Components) != 2 {
		t.Fatalf("topology = %+v", topo)
	}
	if got := topo.Config["topology.max.spout.pending"]; got != int64(50) {
		t.Errorf("config max.spout.pending = %#v, want int64(50)", got)
	}
	yml, err := topo.Spec(streamparse.SpecOptions{Serializer: "json", Overrides: topology.Config{"topology.debug": true}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := spec.LoadBytes("wordcount.yaml", yml, spec.Options{Resources: p.SrcDir()})
	if err != nil {
		t.Fatalf("the spec does not load: %v\n%s", err, yml)
	}
	sp, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	count := sp.Component("count_bolt")
	if count == nil || count.Parallelism != 2 {
		t.Fatalf("count_bolt = %+v", count)
	}
	if g := count.Inputs[0].Grouping; string(g.Type) != "fields" || len(g.Fields) != 1 || g.Fields[0] != "word" {
		t.Errorf("grouping = %+v", g)
	}
	if sp.Config["topology.multilang.serializer"] != "json" || sp.Config["topology.debug"] != true {
		t.Errorf("config = %v", sp.Config)
	}
	if !strings.Contains(string(yml), "streamparse.run") || !strings.Contains(string(yml), "bolts.wordcount.WordCountBolt") {
		t.Errorf("spec runs no streamparse component:\n%s", yml)
	}
}

func TestEvaluateErrors(t *testing.T) {
	cases := []struct {
		name, topology string
		want           []string
	}{
		{"syntax", "class X(:\n", []string{"evaluating topologies/wordcount.py failed", "wordcount.py\", line 1", "SyntaxError"}},
		{"undeclared field", `
from streamparse import Grouping, Topology
from bolts.wordcount import WordCountBolt
from spouts.words import WordSpout

class WordCount(Topology):
    word_spout = WordSpout.spec()
    count_bolt = WordCountBolt.spec(inputs={word_spout: Grouping.fields("wrd")}, par=2)
`, []string{"wordcount.py\", line 6", "TopologyError", "field 'wrd'"}},
		{"import", "import no_such_module\n", []string{"line 1", "No module named 'no_such_module'"}},
		{"java", "from streamparse import JavaBolt\nJavaBolt.spec(name='j')\n", []string{"line 2", "sparse runs no JVM"}},
	}
	client := clientDir(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sptest.WriteWordCount(t, dir, sptest.Project{OutDir: "/out"})
			if err := os.WriteFile(filepath.Join(dir, "topologies", "wordcount.py"), []byte(tc.topology), 0o644); err != nil {
				t.Fatal(err)
			}
			p, err := streamparse.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Evaluate(context.Background(), "wordcount", streamparse.EvalOptions{ClientDir: client})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	sptest.WriteWordCount(t, dir, sptest.Project{OutDir: "/out"})
	p, err := streamparse.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Resolve("nope"); err == nil || !strings.Contains(err.Error(), "it has: wordcount") {
		t.Errorf("unknown name: %v", err)
	}
	sptest.WriteWordCount(t, dir, sptest.Project{Name: "other", OutDir: "/out"})
	if _, _, err := p.Resolve(""); err == nil || !strings.Contains(err.Error(), "several topologies (other, wordcount)") {
		t.Errorf("two topologies and no name: %v", err)
	}
	if name, file, err := p.Resolve("other"); err != nil || name != "other" || filepath.Base(file) != "other.py" {
		t.Errorf("Resolve(other) = %q, %q, %v", name, file, err)
	}
	if got := p.Requirements("wordcount"); filepath.Base(got) != "wordcount.txt" {
		t.Errorf("Requirements = %q", got)
	}
	notes := strings.Join(p.EnvNotes("prod"), "\n")
	for _, w := range []string{`ignoring "user": sparse uses no ssh`, `ignoring "workers"`, `ignoring "log"`, `ignoring "virtualenv_root"`} {
		if !strings.Contains(notes, w) {
			t.Errorf("notes lack %q:\n%s", w, notes)
		}
	}
	if strings.Contains(notes, `"nimbus"`) {
		t.Errorf("nimbus is used, not ignored:\n%s", notes)
	}
	if streamparse.IsProject(t.TempDir()) {
		t.Error("an empty folder is a project")
	}
}

func TestDecode(t *testing.T) {
	good := `{"name": "t", "config": {"a": 1, "b": 1.5, "c": [1, {"d": 2}]}, "components": [
		{"name": "s", "kind": "spout", "par": 1, "config": {}, "outputs": [{"stream": "default", "fields": ["x"], "direct": false}], "inputs": [], "python": {"module": "spouts.s", "class": "S"}},
		{"name": "b", "kind": "bolt", "par": 2, "config": {}, "outputs": [], "inputs": [{"component": "s", "stream": "default", "grouping": {"type": "fields", "fields": ["x"]}}], "shell": {"command": "node", "script": "b.js", "args": []}}]}`
	topo, err := streamparse.Decode([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if topo.Config["a"] != int64(1) || topo.Config["b"] != 1.5 {
		t.Errorf("config = %#v", topo.Config)
	}
	bad := []struct{ name, json, want string }{
		{"not json", `{`, "not valid JSON"},
		{"unknown key", `{"name": "t", "x": 1}`, "unknown field"},
		{"trailing", `{"name": "t", "components": []} {}`, "data after"},
		{"no name", `{"components": []}`, "no name"},
		{"kind", `{"name": "t", "components": [{"name": "a", "kind": "x", "par": 1, "python": {"module": "m", "class": "C"}}]}`, "neither spout nor bolt"},
		{"par", `{"name": "t", "components": [{"name": "a", "kind": "spout", "par": 0, "python": {"module": "m", "class": "C"}}]}`, "par 0"},
		{"both", `{"name": "t", "components": [{"name": "a", "kind": "spout", "par": 1, "python": {"module": "m", "class": "C"}, "shell": {"command": "x"}}]}`, "either a Python class or a shell command"},
		{"module", `{"name": "t", "components": [{"name": "a", "kind": "spout", "par": 1, "python": {"module": "m; rm", "class": "C"}}]}`, "not a Python module"},
		{"grouping", `{"name": "t", "components": [{"name": "a", "kind": "bolt", "par": 1, "python": {"module": "m", "class": "C"}, "inputs": [{"component": "s", "stream": "default", "grouping": {"type": "custom"}}]}]}`, "grouping \"custom\""},
		{"spout inputs", `{"name": "t", "components": [{"name": "a", "kind": "spout", "par": 1, "python": {"module": "m", "class": "C"}, "inputs": [{"component": "s", "stream": "default", "grouping": {"type": "shuffle"}}]}]}`, "a spout has no inputs"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := streamparse.Decode([]byte(tc.json))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Decode = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestShellComponents: ShellBolt and ShellSpout specs become shell components whose
// script is looked for in src/, as Storm looks in the JAR's resources; a missing script
// is reported against the spec.
func TestShellComponents(t *testing.T) {
	dir := t.TempDir()
	sptest.WriteWordCount(t, dir, sptest.Project{OutDir: "/out"})
	topo := `
from streamparse import Grouping, ShellBolt, Topology
from spouts.words import WordSpout

class Shells(Topology):
    word_spout = WordSpout.spec()
    upper = ShellBolt.spec(command="python3", script="upper.py", inputs={word_spout: Grouping.fields("word")}, outputs=["word"], par=2)
`
	if err := os.WriteFile(filepath.Join(dir, "topologies", "wordcount.py"), []byte(topo), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := streamparse.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := p.Evaluate(context.Background(), "", streamparse.EvalOptions{ClientDir: clientDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	yml, err := tp.Spec(streamparse.SpecOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := spec.LoadBytes("wc.yaml", yml, spec.Options{Resources: p.SrcDir()}); err == nil || !strings.Contains(err.Error(), `script "upper.py" is not in the resources folder`) {
		t.Fatalf("a missing script: %v", err)
	}
	if err := os.WriteFile(filepath.Join(p.SrcDir(), "upper.py"), []byte("print('x')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := spec.LoadBytes("wc.yaml", yml, spec.Options{Resources: p.SrcDir()})
	if err != nil {
		t.Fatal(err)
	}
	sp, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if c := sp.Component("upper"); c == nil || c.Parallelism != 2 || len(c.Streams) != 1 || c.Streams[0].Fields[0] != "word" {
		t.Errorf("upper = %+v", c)
	}
}
