package spec

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sparsestream/sparse/pkg/grouping"
	"github.com/sparsestream/sparse/pkg/multilang"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// testRegistry has one Go spout with default outputs and one Go bolt.
func testRegistry() *Registry {
	r := NewRegistry()
	r.Register("numbers", Registered{
		Kind:    topology.KindSpout,
		Spout:   func() topology.Spout { return nil },
		Outputs: []topology.StreamSpec{{ID: tuple.DefaultStream, Fields: []string{"n"}}},
		Config:  topology.Config{"numbers.limit": int64(10)},
	})
	r.Register("log", Registered{Kind: topology.KindBolt, Bolt: func() topology.Bolt { return nil }})
	return r
}

// resources makes a resources folder with the named (empty) scripts.
func resources(t *testing.T, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("# script\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const goodSpec = `name: wc
config:
  topology.max.spout.pending: 500
  app.ratio: 0.5
  app.tags: [a, 1, true]
  app.nested: {k: [1, 2]}
spouts:
  - id: sentences
    shell: {command: python3, script: spout.py, args: [--fast], env: {MODE: test}}
    outputs:
      - fields: [sentence]
  - id: numbers
    go: numbers
    tasks: 2
bolts:
  - id: split
    parallelism: 2
    tasks: 4
    shell:
      command: python3
      script: lib/split.py
    config:
      split.lower: true
    outputs:
      - fields: [word]
      - stream: picked
        fields: [word]
        direct: true
  - id: count
    shell: {command: python3, script: count.py}
    config:
      topology.tick.tuple.freq.secs: 5
    outputs:
      - fields: [word, count]
  - id: log
    go: log
streams:
  - name: sentences to split
    from: sentences
    to: split
  - from: split
    to: count
    grouping: {type: FIELDS, fields: [word]}
  - from: split
    to: count
    stream: picked
    grouping: {type: direct}
  - from: numbers
    to: log
    grouping: {type: partial_key, fields: [n]}
  - from: count
    to: log
    grouping: {type: global}
`

func TestLoadBuildsTheTopology(t *testing.T) {
	dir := resources(t, "spout.py", "lib/split.py", "count.py")
	b, err := LoadBytes("topology.yaml", []byte(goodSpec), Options{Resources: dir, Registry: testRegistry(), Env: []string{"PYTHONPATH=/x"}})
	if err != nil {
		t.Fatalf("LoadBytes: %v", err)
	}
	s, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if s.Name != "wc" {
		t.Errorf("name = %q", s.Name)
	}
	wantConf := topology.Config{
		"topology.max.spout.pending": int64(500), "app.ratio": 0.5, "app.tags": []any{"a", int64(1), true},
		"app.nested": map[string]any{"k": []any{int64(1), int64(2)}},
	}
	if !reflect.DeepEqual(s.Config, wantConf) {
		t.Errorf("config = %#v, want %#v", s.Config, wantConf)
	}
	var ids []string
	for _, c := range s.Components {
		ids = append(ids, c.ID)
	}
	if want := []string{"sentences", "numbers", "split", "count", "log"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("components = %v, want %v", ids, want)
	}
	num := s.Component("numbers")
	if num.Parallelism != 1 || num.Tasks != 2 || num.Spout == nil || num.Config["numbers.limit"] != int64(10) ||
		!reflect.DeepEqual(num.Streams, []topology.StreamSpec{{ID: "default", Fields: []string{"n"}}}) {
		t.Errorf("numbers = %+v", num)
	}
	split := s.Component("split")
	if split.Parallelism != 2 || split.Tasks != 4 || split.Config["split.lower"] != true {
		t.Errorf("split = %+v", split)
	}
	if want := []topology.StreamSpec{{ID: "default", Fields: []string{"word"}}, {ID: "picked", Fields: []string{"word"}, Direct: true}}; !reflect.DeepEqual(split.Streams, want) {
		t.Errorf("split streams = %+v, want %+v", split.Streams, want)
	}
	if c := s.Component("count"); c.Config[topology.ConfTickTupleFreqSecs] != int64(5) {
		t.Errorf("count's tick frequency = %v, want the spec's 5", c.Config[topology.ConfTickTupleFreqSecs])
	}
	if _, ok := s.Component("sentences").Config[topology.ConfTickTupleFreqSecs]; ok {
		t.Error("a shell spout got a tick frequency")
	}
	wantInputs := map[string][]topology.Input{
		"split": {{Component: "sentences", Stream: "default", Grouping: grouping.Spec{Type: grouping.Shuffle}}},
		"count": {
			{Component: "split", Stream: "default", Grouping: grouping.Spec{Type: grouping.Fields, Fields: []string{"word"}}},
			{Component: "split", Stream: "picked", Grouping: grouping.Spec{Type: grouping.Direct}},
		},
		"log": {
			{Component: "numbers", Stream: "default", Grouping: grouping.Spec{Type: grouping.PartialKey, Fields: []string{"n"}}},
			{Component: "count", Stream: "default", Grouping: grouping.Spec{Type: grouping.Global}},
		},
	}
	for id, want := range wantInputs {
		if got := s.Component(id).Inputs; !reflect.DeepEqual(got, want) {
			t.Errorf("%s inputs = %+v, want %+v", id, got, want)
		}
	}
	// The shell command: in the resources folder, with the environment asked for.
	f, err := Parse("topology.yaml", []byte(goodSpec))
	if err != nil {
		t.Fatal(err)
	}
	bb := &builder{f: f, o: Options{Env: []string{"PYTHONPATH=/x"}}, dir: dir}
	cmd, ok := bb.shellCommand(f.Spouts[0])
	want := multilang.ShellCommand{Command: "python3", Args: []string{"spout.py", "--fast"}, Dir: dir, Env: []string{"PYTHONPATH=/x", "MODE=test"}}
	if !ok || !reflect.DeepEqual(cmd, want) || len(bb.probs) > 0 {
		t.Errorf("shell command = %+v (%v, %v), want %+v", cmd, ok, bb.probs, want)
	}
}

// TestProblems: each broken spec reports its problem at the right line and column, with
// a fix.
func TestProblems(t *testing.T) {
	const base = `name: wc
spouts:
  - id: sentences
    shell: {command: python3, script: spout.py}
    outputs:
      - fields: [sentence]
bolts:
  - id: split
    shell: {command: python3, script: split.py}
    outputs:
      - fields: [word]
`
	tests := []struct {
		name string
		spec string
		want []string // each must be one of the problems, in order
	}{
		{"field not declared", base + `  - id: count
    go: log
streams:
  - from: sentences
    to: split
  - from: split
    to: count
    grouping:
      type: fields
      fields: [wrd]
`, []string{`t.yaml:21:16: bolt "count": fields grouping on field "wrd", which stream "default" of "split" does not declare (it declares: word); fix the field name (did you mean "word"?)`}},
		{"unknown key", strings.Replace(base, "  - id: split\n", "  - id: split\n    paralelism: 2\n", 1),
			[]string{`t.yaml:9:5: bolt "split": unknown key "paralelism" in a bolt (did you mean "parallelism"?)`}},
		{"flux key", strings.Replace(base, "  - id: split\n", "  - id: split\n    className: org.example.Split\n", 1),
			[]string{`t.yaml:9:5: bolt "split": unknown key "className" in a bolt; sparse specs name no classes`}},
		{"missing script", strings.Replace(base, "split.py", "splt.py", 1),
			[]string{`t.yaml:9:39: bolt "split": script "splt.py" is not in the resources folder`, `(did you mean "split.py"?)`}},
		{"script outside", strings.Replace(base, "split.py", "../split.py", 1),
			[]string{`t.yaml:9:39: bolt "split": script "../split.py" must be a path inside the resources folder`}},
		{"unknown go component", base + "  - id: sink\n    go: lgo\n",
			[]string{`t.yaml:13:9: bolt "sink": no Go bolt is registered as "lgo" (did you mean "log"?); the registered bolts are: "log"`}},
		{"go spout as bolt", base + "  - id: sink\n    go: numbers\n",
			[]string{`t.yaml:13:9: bolt "sink": the Go component "numbers" is a spout, not a bolt; declare it under spouts`}},
		{"both shell and go", strings.Replace(base, "  - id: split\n", "  - id: split\n    go: log\n", 1),
			[]string{`t.yaml:9:9: bolt "split": give either shell or go, not both`}},
		{"neither shell nor go", base + "  - id: sink\n",
			[]string{`t.yaml:12:5: bolt "sink": say how the bolt runs`}},
		{"duplicate id", base + "  - id: sentences\n    go: log\n",
			[]string{`t.yaml:12:9: bolt "sentences": the id is also used by the spout on line 3`}},
		{"no name", strings.Replace(base, "name: wc\n", "", 1),
			[]string{`t.yaml:1:1: topology: the spec has no name; add a line such as name: wordcount`}},
		{"bad name", strings.Replace(base, "name: wc", "name: word count", 1),
			[]string{`t.yaml:1:7: topology: topology name "word count" may only use letters`}},
		{"no spout", "name: x\nbolts:\n  - id: b\n    go: log\n",
			[]string{`t.yaml:1:1: topology: the topology has no spout; declare one under spouts:`}},
		{"bad parallelism", strings.Replace(base, "  - id: split\n", "  - id: split\n    parallelism: 0\n", 1),
			[]string{`t.yaml:9:18: bolt "split": parallelism is 0; it must be between 1 and 100000`}},
		{"parallelism not a number", strings.Replace(base, "  - id: split\n", "  - id: split\n    parallelism: two\n", 1),
			[]string{`t.yaml:9:18: bolt "split": parallelism must be a whole number such as 2, not "two"`}},
		{"bad config value", strings.Replace(base, "name: wc\n", "name: wc\nconfig:\n  topology.max.spout.pending: -1\n", 1),
			[]string{`t.yaml:3:3: topology: config topology.max.spout.pending is -1; it must be at least 1`}},
		{"bad component config", strings.Replace(base, "  - id: split\n", "  - id: split\n    config:\n      topology.debug: maybe\n", 1),
			[]string{`t.yaml:10:7: bolt "split": config topology.debug: "maybe" is not true or false`}},
		{"reserved stream", strings.Replace(base, "      - fields: [word]\n", "      - fields: [word]\n      - stream: __x\n        fields: [y]\n", 1),
			[]string{`t.yaml:11:7: bolt "split": stream "__x": names starting with "__" are reserved`}},
		{"unknown from", base + "streams:\n  - from: sentence\n    to: split\n",
			[]string{`t.yaml:13:11: bolt "split": from: "sentence" is not a component of this spec (did you mean "sentences"?)`}},
		{"to a spout", base + "streams:\n  - from: split\n    to: sentences\n",
			[]string{`t.yaml:14:9: stream "split" -> "sentences": to: "sentences" is a spout, and spouts receive no streams`}},
		{"undeclared stream", base + "streams:\n  - from: sentences\n    to: split\n    stream: words\n",
			[]string{`t.yaml:15:13: bolt "split": "sentences" declares no stream "words" (it declares: "default")`}},
		{"unknown grouping", base + "streams:\n  - from: sentences\n    to: split\n    grouping: {type: shufle}\n",
			[]string{`t.yaml:15:22: bolt "split": unknown grouping type "shufle" (did you mean "shuffle"?)`}},
		{"custom grouping", base + "streams:\n  - from: sentences\n    to: split\n    grouping: {type: custom}\n",
			[]string{`t.yaml:15:22: bolt "split": custom groupings need Go code`}},
		{"fields grouping without fields", base + "streams:\n  - from: sentences\n    to: split\n    grouping: {type: fields}\n",
			[]string{`t.yaml:15:22: bolt "split": a fields grouping needs fields`}},
		{"shuffle with fields", base + "streams:\n  - from: sentences\n    to: split\n    grouping: {type: shuffle, fields: [sentence]}\n",
			[]string{`t.yaml:15:39: bolt "split": a shuffle grouping takes no fields`}},
		{"direct on a plain stream", base + "streams:\n  - from: sentences\n    to: split\n    grouping: {type: direct}\n",
			[]string{`t.yaml:15:22: bolt "split": a direct grouping needs a direct stream`}},
		{"twice", base + "streams:\n  - from: sentences\n    to: split\n  - from: sentences\n    to: split\n",
			[]string{`t.yaml:15:5: bolt "split": subscribes to stream "default" of "sentences" a second time (first on line 13)`}},
		{"no to", base + "streams:\n  - from: sentences\n",
			[]string{`t.yaml:13:5: stream 1: the stream has no to`}},
		{"grouping without type", base + "streams:\n  - from: sentences\n    to: split\n    grouping: {fields: [x]}\n",
			[]string{`t.yaml:15:15: bolt "split": the grouping has no type`}},
		{"repeated key", strings.Replace(base, "name: wc\n", "name: wc\nname: wc2\n", 1),
			[]string{`t.yaml:2:1: key "name" is given twice in the spec (first on line 1); keep one`}},
		{"merge key", "name: x\ndefaults: &d {parallelism: 2}\n",
			[]string{`t.yaml:2:1: unknown key "defaults" in the spec`}},
		{"not a mapping", "- a\n- b\n", []string{`t.yaml:1:1: the spec must be a mapping of key: value lines, not a list`}},
		{"spouts not a list", "name: x\nspouts: {id: a}\n", []string{`t.yaml:2:9: spouts must be a list`}},
		{"empty", "", []string{`t.yaml: the file is empty`}},
		{"syntax error", "name: x\nspouts:\n  - id: a\n   go: b\n", []string{`t.yaml:2: YAML syntax error at or after this line: did not find expected '-' indicator`}},
		{"tab indentation", "name: x\n\tspouts: []\n", []string{`t.yaml:2: YAML syntax error`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := resources(t, "spout.py", "split.py")
			_, err := LoadBytes("t.yaml", []byte(tc.spec), Options{Resources: dir, Registry: testRegistry()})
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error = %v, want an *Error", err)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("the problems do not include %q:\n%s", w, msg)
				}
			}
		})
	}
}

// TestAllProblemsAtOnce: a spec with many problems reports every one, sorted by line,
// each with its line.
func TestAllProblemsAtOnce(t *testing.T) {
	const spec = `name: wc
config:
  topology.max.spout.pending: 0
spouts:
  - id: sentences
    shell: {command: python3, script: nope.py}
    outputs:
      - fields: [sentence]
bolts:
  - id: split
    paralelism: 2
    shell: {command: python3, script: split.py}
    outputs:
      - fields: [word]
  - id: count
    go: counter
streams:
  - from: sentences
    to: split
  - from: split
    to: count
    grouping: {type: fields, fields: [wrd]}
  - from: split
    to: nowhere
`
	dir := resources(t, "split.py")
	_, err := LoadBytes("topology.yaml", []byte(spec), Options{Resources: dir, Registry: testRegistry()})
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("error = %v, want an *Error", err)
	}
	wantLines := []int{3, 6, 11, 16, 22, 24}
	var got []int
	for _, p := range se.Problems {
		got = append(got, p.Pos.Line)
	}
	if !reflect.DeepEqual(got, wantLines) {
		t.Errorf("problems on lines %v, want %v:\n%v", got, wantLines, err)
	}
	lines := strings.Split(err.Error(), "\n")
	if lines[0] != "spec topology.yaml has 6 problems:" {
		t.Errorf("first line = %q", lines[0])
	}
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, "topology.yaml:") {
			t.Errorf("problem line %q does not start with the file and line", l)
		}
	}
}

func TestAliasesAndLimits(t *testing.T) {
	dir := resources(t, "s.py")
	spec := `name: x
config:
  shared: &shared [1, 2]
  again: *shared
spouts:
  - &s {id: a, shell: {command: python3, script: s.py}, outputs: [{fields: [f]}]}
`
	b, err := LoadBytes("t.yaml", []byte(spec), Options{Resources: dir})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := b.Build()
	if !reflect.DeepEqual(s.Config["again"], []any{int64(1), int64(2)}) {
		t.Errorf("aliased config = %#v", s.Config["again"])
	}
	// A billion laughs stops at the node budget.
	var laughs strings.Builder
	laughs.WriteString("name: x\nconfig:\n  l0: &l0 [a, a, a, a, a, a, a, a, a, a]\n")
	for i := 1; i < 9; i++ {
		laughs.WriteString("  l" + string(rune('0'+i)) + ": &l" + string(rune('0'+i)) + " [")
		for j := range 10 {
			if j > 0 {
				laughs.WriteString(", ")
			}
			laughs.WriteString("*l" + string(rune('0'+i-1)))
		}
		laughs.WriteString("]\n")
	}
	_, err = LoadBytes("t.yaml", []byte(laughs.String()), Options{Resources: dir})
	if err == nil || !strings.Contains(err.Error(), "YAML nodes") {
		t.Errorf("a billion laughs: error = %v, want the node budget", err)
	}
}

func TestFindAndIsSpecPath(t *testing.T) {
	dir := resources(t, "topology.yaml")
	other := t.TempDir()
	for _, tc := range []struct {
		arg  string
		want bool
	}{{"x.yaml", true}, {"x.YML", true}, {dir, true}, {other, false}, {"./examples/wordcount", false}} {
		if got := IsSpecPath(tc.arg); got != tc.want {
			t.Errorf("IsSpecPath(%q) = %v, want %v", tc.arg, got, tc.want)
		}
	}
	if p, err := Find(dir); err != nil || p != filepath.Join(dir, "topology.yaml") {
		t.Errorf("Find(dir) = %q, %v", p, err)
	}
	if _, err := Find(other); err == nil || !strings.Contains(err.Error(), "holds no topology.yaml") {
		t.Errorf("Find(other) error = %v", err)
	}
	if _, err := Load(filepath.Join(other, "missing.yaml"), Options{}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Load(missing) error = %v", err)
	}
}

// TestExample: the example spec in the repository loads with the generic worker's
// component names.
func TestExample(t *testing.T) {
	r := NewRegistry()
	r.Register("log", Registered{Kind: topology.KindBolt, Bolt: func() topology.Bolt { return nil }})
	b, err := Load(filepath.Join("..", "..", "examples", "wordcount-yaml", "topology.yaml"), Options{Registry: r})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Build(); err != nil {
		t.Fatal(err)
	}
}
