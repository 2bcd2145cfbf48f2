// Package sptest writes streamparse projects for tests: the quickstart layout
// (config.json, topologies/, src/, virtualenvs/) with a word count whose results can be
// read back exactly, and tiny wheels for wheelhouse tests.
package sptest

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Words are what the word spout emits: Words[i] is emitted (i+1)*Repeat times.
var Words = []string{"apple", "banana", "cherry", "dates", "elder"}

// Project says what WriteWordCount writes.
type Project struct {
	// Name is the topology's name (topologies/NAME.py); default "wordcount".
	Name string
	// Repeat multiplies the emitted counts (default 4).
	Repeat int
	// OutDir receives the count bolt's results (counts-<task>.json).
	OutDir string
	// Requirements are virtualenvs/NAME.txt's lines (default: "streamparse", as
	// streamparse's quickstart has it).
	Requirements []string
	// Import is a module the count bolt imports and whose transform(word) it applies
	// before counting (a requirement installed in the topology's virtualenv).
	Import string
	// Envs is config.json's envs.
	Envs map[string]any
}

// Expected returns the counts the word count must reach.
func (p Project) Expected() map[string]int {
	out := map[string]int{}
	for i, w := range Words {
		out[w] = (i + 1) * p.repeat()
	}
	return out
}

func (p Project) repeat() int {
	if p.Repeat > 0 {
		return p.Repeat
	}
	return 4
}

// TopologyName returns the topology's name.
func (p Project) TopologyName() string {
	if p.Name != "" {
		return p.Name
	}
	return "wordcount"
}

// WriteWordCount writes a streamparse project into dir.
func WriteWordCount(t testing.TB, dir string, p Project) {
	t.Helper()
	name := p.TopologyName()
	reqs := p.Requirements
	if reqs == nil {
		reqs = []string{"streamparse"}
	}
	envs := p.Envs
	if envs == nil {
		envs = map[string]any{"prod": map[string]any{"user": "storm", "nimbus": "127.0.0.1", "workers": []string{"127.0.0.1"},
			"log": map[string]any{"path": "/var/log/storm/streamparse"}, "virtualenv_root": "/data/virtualenvs"}}
	}
	conf, err := json.MarshalIndent(map[string]any{
		"serializer": "json", "topology_specs": "topologies/", "virtualenv_specs": "virtualenvs/", "envs": envs,
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	transform := "def transform(word):\n    return word\n"
	importLine := "transform = __import__('bolts.identity', fromlist=['transform']).transform"
	if p.Import != "" {
		importLine = fmt.Sprintf("from %s import transform", p.Import)
	}
	files := map[string]string{
		"config.json":                  string(conf),
		"README.md":                    "A streamparse project, as streamparse's quickstart lays it out.\n",
		"virtualenvs/" + name + ".txt": strings.Join(reqs, "\n") + "\n",
		"src/spouts/__init__.py":       "",
		"src/bolts/__init__.py":        "",
		"src/bolts/identity.py":        transform,
		"src/spouts/words.py": fmt.Sprintf(`from streamparse import Spout

WORDS = %s
REPEAT = %d


class WordSpout(Spout):
    outputs = ["word"]

    def initialize(self, stormconf, context):
        # Task i of k emits every k-th word of the sequence.
        tasks = sorted(int(t) for t, c in context["task->component"].items() if c == self.component_id)
        self.index = tasks.index(context["taskid"])
        self.stride = len(tasks)
        self.sequence = [w for i, w in enumerate(WORDS) for _ in range((i + 1) * REPEAT)]
        self.pos = self.index
        self.pending = {}

    def next_tuple(self):
        if self.pos >= len(self.sequence):
            return
        tup_id = self.pos
        word = self.sequence[self.pos]
        self.pos += self.stride
        self.pending[tup_id] = word
        self.emit([word], tup_id=tup_id)

    def ack(self, tup_id):
        self.pending.pop(tup_id, None)

    def fail(self, tup_id):
        self.emit([self.pending[tup_id]], tup_id=tup_id)
`, pyList(Words), p.repeat()),
		"src/bolts/wordcount.py": fmt.Sprintf(`import json
import os
from collections import Counter

from streamparse import Bolt

%s


class WordCountBolt(Bolt):
    outputs = ["word", "count"]

    def initialize(self, conf, ctx):
        self.counts = Counter()
        self.out = conf["wordcount.out"]
        self.task = ctx["taskid"]

    def process(self, tup):
        word = transform(tup.values[0])
        self.counts[word] += 1
        self.emit([word, self.counts[word]])
        path = os.path.join(self.out, "counts-%%d.json" %% self.task)
        with open(path + ".tmp", "w") as f:
            json.dump(self.counts, f)
        os.replace(path + ".tmp", path)
        self.logger.info("counted %%s: %%d", word, self.counts[word])
`, importLine),
		"topologies/" + name + ".py": fmt.Sprintf(`"""
Word count topology
"""

from streamparse import Grouping, Topology

from bolts.wordcount import WordCountBolt
from spouts.words import WordSpout


class WordCount(Topology):
    config = {"wordcount.out": %q, "topology.max.spout.pending": 50}
    word_spout = WordSpout.spec()
    count_bolt = WordCountBolt.spec(inputs={word_spout: Grouping.fields("word")}, par=2)
`, p.OutDir),
	}
	for _, rel := range slices.Sorted(maps.Keys(files)) {
		path := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(files[rel]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func pyList(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = fmt.Sprintf("%q", w)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// ReadCounts sums the count bolt's result files in dir; it also reports whether a word
// was counted by two tasks (which a fields grouping must never do).
func ReadCounts(dir string) (map[string]int, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "counts-*.json"))
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var m map[string]int
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		for w, n := range m {
			if _, twice := out[w]; twice {
				return nil, fmt.Errorf("word %q was counted by two tasks", w)
			}
			out[w] = n
		}
	}
	return out, nil
}

// WriteWheel writes a pure-Python wheel of package name (version 1.0) into dir, whose
// module defines transform(word) returning prefix+word; it returns the wheel's path.
func WriteWheel(t testing.TB, dir, name, prefix string) string {
	t.Helper()
	dist := name + "-1.0"
	files := []struct{ name, body string }{
		{name + "/__init__.py", fmt.Sprintf("def transform(word):\n    return %q + word\n", prefix)},
		{dist + ".dist-info/METADATA", fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n", name)},
		{dist + ".dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: sptest\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	var record strings.Builder
	for _, f := range files {
		sum := sha256.Sum256([]byte(f.body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.body))
	}
	fmt.Fprintf(&record, "%s.dist-info/RECORD,,\n", dist)
	files = append(files, struct{ name, body string }{dist + ".dist-info/RECORD", record.String()})
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, dist+"-py3-none-any.whl")
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(fh)
	for _, f := range files {
		w, err := zw.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
