package generic

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/internal/spec"
	"github.com/sparsestream/sparse/pkg/local"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// run runs a spec in local mode until its spout has acked n tuples, then stops it and
// returns the spout's acked and failed counts.
func run(t *testing.T, s *topology.Spec, conf topology.Config, spout string, n int64) (acked, failed int64) {
	t.Helper()
	rt, err := executor.New(executor.Options{Spec: s, Config: conf})
	if err != nil {
		t.Fatalf("executor.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- local.RunRuntime(ctx, rt, local.Options{}) }()
	counts := func() (int64, int64) {
		for _, c := range executor.Summarize(rt.Stats()) {
			if c.Component == spout {
				return c.Acked, c.Failed
			}
		}
		return 0, 0
	}
	deadline := time.Now().Add(60 * time.Second)
	for a, _ := counts(); a < n; a, _ = counts() {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("after 60s the spout %s was acked for %d of %d tuples", spout, a, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // nothing more should come
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunRuntime: %v", err)
	}
	return counts()
}

func writeSpec(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "topology.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBuiltins: a spec of built-in Go components only (no scripts) runs: the sequence
// spout's numbers are all acked, through log and discard.
func TestBuiltins(t *testing.T) {
	w := New(nil)
	defer w.Close()
	b, err := w.Load(writeSpec(t, `name: builtins
config:
  sequence.limit: 300
spouts:
  - id: numbers
    go: sequence
    parallelism: 2
bolts:
  - id: log
    go: log
    config: {log.every: 100}
  - id: sink
    go: discard
    parallelism: 2
streams:
  - {from: numbers, to: log}
  - {from: numbers, to: sink, grouping: {type: fields, fields: [n]}}
`), "")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if acked, failed := run(t, s, nil, "numbers", 300); acked != 300 || failed != 0 {
		t.Errorf("acked %d and failed %d, want 300 and 0", acked, failed)
	}
}

func TestPythonClientOnPath(t *testing.T) {
	w := New(nil)
	env, err := w.env()
	if err != nil {
		t.Fatal(err)
	}
	dir := w.clientDir
	if len(env) != 1 || !strings.HasPrefix(env[0], "PYTHONPATH=") || !strings.HasSuffix(env[0], dir) {
		t.Errorf("env = %v, want PYTHONPATH ending in %s", env, dir)
	}
	for _, f := range []string{"__init__.py", "_msgpack.py", "bolt.py", "spout.py", "serializers.py", "component.py"} {
		if _, err := os.Stat(filepath.Join(dir, "sparse_multilang", f)); err != nil {
			t.Errorf("the bundled client lacks %s: %v", f, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Close left %s behind (%v)", dir, err)
	}
}

// collector is a Go bolt that keeps the highest count seen per word.
type collector struct {
	mu     *sync.Mutex
	counts map[string]int64
	out    topology.BoltCollector
}

func (c *collector) Prepare(_ *topology.Context, out topology.BoltCollector) error {
	c.out = out
	return nil
}

func (c *collector) Execute(in *tuple.Tuple) {
	if !in.IsTick() {
		c.mu.Lock()
		word, n := in.StringByField("word"), in.IntByField("count")
		c.counts[word] = max(c.counts[word], n)
		c.mu.Unlock()
	}
	c.out.Ack(in)
}

func (c *collector) Cleanup() {}

// TestWordCountYAMLExactCounts runs the example spec (Python spout, split and count)
// with 100 sentences: every sentence is acked, none failed, and the counts are exact.
func TestWordCountYAMLExactCounts(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not on PATH; the example runs Python subprocesses")
	}
	var mu sync.Mutex
	counts := map[string]int64{}
	reg := spec.NewRegistry()
	reg.Register("log", spec.Registered{Kind: topology.KindBolt, Bolt: func() topology.Bolt {
		return &collector{mu: &mu, counts: counts}
	}})
	w := New(reg)
	defer w.Close()
	b, err := w.Load(filepath.Join("..", "..", "examples", "wordcount-yaml"), "")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	if acked, failed := run(t, s, topology.Config{"wordcount.sentences": n}, "sentences", n); acked != n || failed != 0 {
		t.Errorf("acked %d and failed %d, want %d and 0", acked, failed, n)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := expectedCounts(n); !equalCounts(counts, want) {
		t.Errorf("counts = %v, want %v", counts, want)
	}
}

// expectedCounts are the word counts of n sentences of the example's spout.
func expectedCounts(n int) map[string]int64 {
	sentences := []string{
		"the cow jumped over the moon",
		"an apple a day keeps the doctor away",
		"four score and seven years ago",
		"snow white and the seven dwarfs",
		"i am at two with nature",
	}
	out := map[string]int64{}
	for i := range n {
		for _, w := range strings.Fields(sentences[i%len(sentences)]) {
			out[w]++
		}
	}
	return out
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestCommand: the worker's command line describes a spec, lists its components and
// reports a missing --spec or a broken spec with its lines.
func TestCommand(t *testing.T) {
	exec := func(args ...string) (string, error) {
		w := New(nil)
		defer w.Close()
		cmd := w.Command()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(args)
		err := cmd.Execute()
		return out.String(), err
	}
	out, err := exec("describe", "--spec", filepath.Join("..", "..", "examples", "wordcount-yaml"))
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	var s topology.Spec
	if err := json.Unmarshal([]byte(out), &s); err != nil || s.Name != "wordcount-yaml" || len(s.Components) != 4 {
		t.Errorf("describe printed %q (%v)", out, err)
	}
	if out, err := exec("components"); err != nil || !strings.Contains(out, "sequence") || !strings.Contains(out, "discard") {
		t.Errorf("components: %q, %v", out, err)
	}
	if _, err := exec("describe"); err == nil || !strings.Contains(err.Error(), "--spec") {
		t.Errorf("describe without --spec: %v", err)
	}
	bad := writeSpec(t, "name: x\nspouts:\n  - id: a\n    go: nope\n")
	if _, err := exec("run", "--spec", bad); err == nil || !strings.Contains(err.Error(), `topology.yaml:4:9: spout "a": no Go spout is registered as "nope"`) {
		t.Errorf("run of a broken spec: %v", err)
	}
}
