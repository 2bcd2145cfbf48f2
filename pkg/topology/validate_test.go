package topology_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sparsestream/sparse/pkg/grouping"
	"github.com/sparsestream/sparse/pkg/topology"
)

// base declares spout "words" (default stream [word]) and returns the builder; cases add
// the bolts and settings that break it.
func base(name string) *topology.Builder {
	b := topology.NewBuilder(name)
	b.Spout("words", newSpout, 1).Output("word")
	return b
}

// mustValidationError fails unless err is a *ValidationError.
func mustValidationError(t *testing.T, err error) *topology.ValidationError {
	t.Helper()
	if err == nil {
		t.Fatal("Build() succeeded, want a validation error")
	}
	var ve *topology.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error is %T (%v), want *topology.ValidationError", err, err)
	}
	return ve
}

func TestBuildInvalid(t *testing.T) {
	tests := []struct {
		name      string
		build     func() *topology.Builder
		component string // the component the problem must name ("" for topology-wide)
		fragment  string // a fragment of its message
		problems  int    // exact number of problems expected
	}{
		{
			name: "unknown component",
			build: func() *topology.Builder {
				b := base("t")
				b.Bolt("count", newBolt, 1).Shuffle("nope")
				return b
			},
			component: "count", fragment: `subscribes to unknown component "nope"`, problems: 1,
		},
		{
			name: "unknown stream",
			build: func() *topology.Builder {
				b := base("t")
				b.Bolt("count", newBolt, 1).InputStream("words", "missing", grouping.Spec{Type: grouping.Shuffle})
				return b
			},
			component: "count", fragment: `subscribes to stream "missing" of "words", which "words" does not declare`, problems: 1,
		},
		{
			name: "stream of a spout with no streams",
			build: func() *topology.Builder {
				b := topology.NewBuilder("t")
				b.Spout("silent", newSpout, 1)
				b.Bolt("count", newBolt, 1).Shuffle("silent")
				return b
			},
			component: "count", fragment: "(it declares: no streams)", problems: 1,
		},
		{
			name: "fields grouping on undeclared field",
			build: func() *topology.Builder {
				b := base("t")
				b.Bolt("count", newBolt, 1).Fields("words", "word", "nope")
				return b
			},
			component: "count", fragment: `fields grouping selects field "nope", which the stream does not declare`, problems: 1,
		},
		{
			name: "partial key grouping on undeclared field",
			build: func() *topology.Builder {
				b := base("t")
				b.Bolt("count", newBolt, 1).PartialKey("words", "nope")
				return b
			},
			component: "count", fragment: `partial_key grouping selects field "nope"`, problems: 1,
		},
		{
			name: "fields grouping with no fields",
			build: func() *topology.Builder {
				b := base("t")
				b.Bolt("count", newBolt, 1).Fields("words")
				return b
			},
			component: "count", fragment: "selects no fields", problems: 1,
		},
		{
			name: "custom grouping without constructor",
			build: func() *topology.Builder {
				b := base("t")
				b.Bolt("count", newBolt, 1).Custom("words", "default", "mine", nil)
				return b
			},
			component: "count", fragment: `custom grouping "mine" has no NewCustom`, problems: 1,
		},
		{
			name: "unknown grouping type",
			build: func() *topology.Builder {
				b := base("t")
				b.Bolt("count", newBolt, 1).Input("words", grouping.Spec{Type: "bogus"})
				return b
			},
			component: "count", fragment: `unknown grouping type "bogus"`, problems: 1,
		},
		{
			name: "duplicate component ids",
			build: func() *topology.Builder {
				b := base("t")
				b.Bolt("count", newBolt, 1).Shuffle("words")
				b.Bolt("count", newBolt, 1).Shuffle("words")
				return b
			},
			component: "count", fragment: "the id is used by more than one component", problems: 1,
		},
		{
			name: "spout and bolt with the same id",
			build: func() *topology.Builder {
				b := base("t")
				b.Bolt("words", newBolt, 1).Shuffle("words")
				return b
			},
			component: "words", fragment: "the id is used by more than one component", problems: 1,
		},
		{
			name: "parallelism 0",
			build: func() *topology.Builder {
				b := base("t")
				b.Bolt("count", newBolt, 0).Tasks(1).Shuffle("words")
				return b
			},
			component: "count", fragment: "parallelism is 0; it must be at least 1", problems: 1,
		},
		{
			name: "negative parallelism also makes the default tasks negative",
			build: func() *topology.Builder {
				b := base("t")
				b.Spout("more", newSpout, -2)
				return b
			},
			component: "more", fragment: "parallelism is -2", problems: 2,
		},
		{
			name: "tasks 0",
			build: func() *topology.Builder {
				b := base("t")
				b.Bolt("count", newBolt, 1).Tasks(0).Shuffle("words")
				return b
			},
			component: "count", fragment: "number of tasks is 0; it must be at least 1", problems: 1,
		},
		{
			name: "spout tasks 0",
			build: func() *topology.Builder {
				b := topology.NewBuilder("t")
				b.Spout("words", newSpout, 1).Tasks(0)
				return b
			},
			component: "words", fragment: "number of tasks is 0", problems: 1,
		},
		{
			name: "direct grouping on a non-direct stream",
			build: func() *topology.Builder {
				b := base("t")
				b.Bolt("count", newBolt, 1).Direct("words", "default")
				return b
			},
			component: "count", fragment: `uses a direct grouping on stream "default" of "words", which is not a direct stream`, problems: 1,
		},
		{
			name: "shuffle grouping on a direct stream",
			build: func() *topology.Builder {
				b := base("t")
				b.Spout("emitter", newSpout, 1).DirectStream("d", "x")
				b.Bolt("count", newBolt, 1).InputStream("emitter", "d", grouping.Spec{Type: grouping.Shuffle})
				return b
			},
			component: "count", fragment: `uses a shuffle grouping on direct stream stream "d" of "emitter"`, problems: 1,
		},
		{
			name: "component id starting with __",
			build: func() *topology.Builder {
				b := base("t")
				b.Bolt("__mine", newBolt, 1).Shuffle("words")
				return b
			},
			component: "__mine", fragment: `ids starting with "__" are reserved`, problems: 1,
		},
		{
			name: "component id __acker",
			build: func() *topology.Builder {
				b := base("t")
				b.Bolt("__acker", newBolt, 1).Shuffle("words")
				return b
			},
			component: "__acker", fragment: `ids starting with "__" are reserved`, problems: 1,
		},
		{
			name: "empty component id",
			build: func() *topology.Builder {
				b := base("t")
				b.Bolt("", newBolt, 1).Shuffle("words")
				return b
			},
			component: "", fragment: "a component has an empty id", problems: 1,
		},
		{
			name: "stream name starting with __",
			build: func() *topology.Builder {
				b := base("t")
				b.Bolt("count", newBolt, 1).Shuffle("words").OutputStream("__tick", "x")
				return b
			},
			component: "count", fragment: `stream "__tick": names starting with "__" are reserved`, problems: 1,
		},
		{
			name: "empty stream name",
			build: func() *topology.Builder {
				b := topology.NewBuilder("t")
				b.Spout("words", newSpout, 1).OutputStream("", "x")
				return b
			},
			component: "words", fragment: "declares a stream with an empty name", problems: 1,
		},
		{
			name: "stream declared twice",
			build: func() *topology.Builder {
				b := base("t")
				b.Bolt("count", newBolt, 1).Shuffle("words").Output("a").Output("b")
				return b
			},
			component: "count", fragment: `declares stream "default" twice`, problems: 1,
		},
		{
			name: "field name starting with __",
			build: func() *topology.Builder {
				b := topology.NewBuilder("t")
				b.Spout("words", newSpout, 1).Output("word", "__id")
				return b
			},
			component: "words", fragment: `stream "default" field "__id": names starting with "__" are reserved`, problems: 1,
		},
		{
			name: "duplicate field",
			build: func() *topology.Builder {
				b := topology.NewBuilder("t")
				b.Spout("words", newSpout, 1).OutputStream("s", "a", "b", "a")
				return b
			},
			component: "words", fragment: `stream "s" declares field "a" twice`, problems: 1,
		},
		{
			name: "empty field name",
			build: func() *topology.Builder {
				b := topology.NewBuilder("t")
				b.Spout("words", newSpout, 1).Output("word", "")
				return b
			},
			component: "words", fragment: `stream "default" has an empty field name`, problems: 1,
		},
		{
			name: "no spout",
			build: func() *topology.Builder {
				b := topology.NewBuilder("t")
				b.Bolt("count", newBolt, 1).Output("x")
				return b
			},
			component: "", fragment: "the topology has no spout", problems: 1,
		},
		{
			name:      "empty topology",
			build:     func() *topology.Builder { return topology.NewBuilder("t") },
			component: "", fragment: "the topology has no spout", problems: 1,
		},
		{
			name: "nil spout factory",
			build: func() *topology.Builder {
				b := topology.NewBuilder("t")
				b.Spout("words", nil, 1).Output("word")
				return b
			},
			component: "words", fragment: "the spout factory is nil", problems: 1,
		},
		{
			name: "nil bolt factory",
			build: func() *topology.Builder {
				b := base("t")
				b.Bolt("count", nil, 1).Shuffle("words")
				return b
			},
			component: "count", fragment: "the bolt factory is nil", problems: 1,
		},
		{
			name: "subscribing twice to the same stream",
			build: func() *topology.Builder {
				b := base("t")
				b.Bolt("count", newBolt, 1).Shuffle("words").Fields("words", "word")
				return b
			},
			component: "count", fragment: `subscribes to stream "default" of "words" twice`, problems: 1,
		},
		{
			name: "message timeout not a number",
			build: func() *topology.Builder {
				return base("t").Config(topology.ConfMessageTimeoutSecs, "abc")
			},
			component: "", fragment: `config topology.message.timeout.secs: "abc" is not an integer`, problems: 1,
		},
		{
			name: "message timeout 0",
			build: func() *topology.Builder {
				return base("t").Config(topology.ConfMessageTimeoutSecs, 0)
			},
			component: "", fragment: "config topology.message.timeout.secs is 0; it must be at least 1", problems: 1,
		},
		{
			name: "message timeout fractional",
			build: func() *topology.Builder {
				return base("t").Config(topology.ConfMessageTimeoutSecs, 2.5)
			},
			component: "", fragment: "config topology.message.timeout.secs: 2.5 is not a whole number", problems: 1,
		},
		{
			name: "acker executors negative",
			build: func() *topology.Builder {
				return base("t").Config(topology.ConfAckerExecutors, -1)
			},
			component: "", fragment: "config topology.acker.executors is -1; it must be at least 0", problems: 1,
		},
		{
			name: "workers a bool",
			build: func() *topology.Builder {
				return base("t").Config(topology.ConfWorkers, true)
			},
			component: "", fragment: "config topology.workers: true (bool) is not an integer", problems: 1,
		},
		{
			name: "debug not a bool",
			build: func() *topology.Builder {
				return base("t").Config(topology.ConfDebug, "yes")
			},
			component: "", fragment: `config topology.debug: "yes" is not true or false`, problems: 1,
		},
		{
			name: "debug a number",
			build: func() *topology.Builder {
				return base("t").Config(topology.ConfDebug, 1)
			},
			component: "", fragment: "config topology.debug: 1 (int) is not a boolean", problems: 1,
		},
		{
			name: "bad component config is reported against the component",
			build: func() *topology.Builder {
				b := base("t")
				b.Bolt("count", newBolt, 1).Shuffle("words").Config(topology.ConfMaxSpoutPending, 0)
				return b
			},
			component: "count", fragment: "config topology.max.spout.pending is 0; it must be at least 1", problems: 1,
		},
		{
			name: "bad spout config",
			build: func() *topology.Builder {
				b := topology.NewBuilder("t")
				b.Spout("words", newSpout, 1).Config(topology.ConfTickTupleFreqSecs, "-5")
				return b
			},
			component: "words", fragment: "config topology.tick.tuple.freq.secs is -5; it must be at least 0", problems: 1,
		},
		{
			name: "every int setting is checked",
			build: func() *topology.Builder {
				return base("t").
					Config(topology.ConfReceiveBufferSize, 0).
					Config(topology.ConfProducerBatchSize, 0).
					Config(topology.ConfFlushIntervalMillis, -1).
					Config(topology.ConfSpoutWaitMaxMillis, -1)
			},
			component: "", fragment: "config topology.spout.wait.max.millis is -1", problems: 4,
		},
		{
			name:      "topology name with a space",
			build:     func() *topology.Builder { return base("word count") },
			component: "", fragment: `topology name "word count" may only use letters, digits`, problems: 1,
		},
		{
			name:      "topology name starting with a dash",
			build:     func() *topology.Builder { return base("-wc") },
			component: "", fragment: `topology name "-wc" may only use`, problems: 1,
		},
		{
			name:      "topology name starting with an underscore",
			build:     func() *topology.Builder { return base("_wc") },
			component: "", fragment: `topology name "_wc" may only use`, problems: 1,
		},
		{
			name:      "topology name with a slash",
			build:     func() *topology.Builder { return base("a/b") },
			component: "", fragment: `topology name "a/b" may only use`, problems: 1,
		},
		{
			name:      "empty topology name",
			build:     func() *topology.Builder { return base("") },
			component: "", fragment: "the topology has no name", problems: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.build()
			spec, err := b.Build()
			if spec != nil {
				t.Errorf("Build() returned a spec with an error")
			}
			ve := mustValidationError(t, err)
			found := false
			for _, p := range ve.Problems {
				if p.Component == tc.component && strings.Contains(p.Message, tc.fragment) {
					found = true
				}
			}
			if !found {
				t.Errorf("no problem for component %q containing %q; got:\n%v", tc.component, tc.fragment, err)
			}
			if !strings.Contains(err.Error(), tc.fragment) {
				t.Errorf("Error() does not contain %q:\n%s", tc.fragment, err)
			}
			if len(ve.Problems) != tc.problems {
				t.Errorf("got %d problems, want %d:\n%v", len(ve.Problems), tc.problems, err)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	b := topology.NewBuilder("bad name").
		Config(topology.ConfMessageTimeoutSecs, "abc") // 1, 2
	b.Spout("words", newSpout, 1).Output("word", "word") // 3
	b.Bolt("count", newBolt, 1).Shuffle("nope")          // 4
	b.Bolt("sum", newBolt, 1).Tasks(0).Shuffle("words")  // 5

	_, err := b.Build()
	ve := mustValidationError(t, err)
	if ve.Topology != "bad name" {
		t.Errorf("Topology = %q, want %q", ve.Topology, "bad name")
	}
	want := []struct{ component, fragment string }{
		{"", `topology name "bad name"`},
		{"", "config topology.message.timeout.secs"},
		{"words", `declares field "word" twice`},
		{"count", `unknown component "nope"`},
		{"sum", "number of tasks is 0"},
	}
	if len(ve.Problems) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ve.Problems), len(want), err)
	}
	for _, w := range want {
		n := 0
		for _, p := range ve.Problems {
			if p.Component == w.component && strings.Contains(p.Message, w.fragment) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d problems for %q containing %q, want 1", n, w.component, w.fragment)
		}
	}

	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 1+len(ve.Problems) {
		t.Fatalf("Error() has %d lines, want a header and one line per problem (%d):\n%s", len(lines), 1+len(ve.Problems), err)
	}
	if want := `topology "bad name" is invalid (5 problems):`; lines[0] != want {
		t.Errorf("header = %q, want %q", lines[0], want)
	}
	for i, p := range ve.Problems {
		if want := "  - " + p.String(); lines[i+1] != want {
			t.Errorf("line %d = %q, want %q", i+1, lines[i+1], want)
		}
	}
}

func TestValidationErrorSingular(t *testing.T) {
	e := &topology.ValidationError{Topology: "t", Problems: []topology.Problem{{Component: "c", Message: "broken"}}}
	want := "topology \"t\" is invalid (1 problem):\n  - component \"c\": broken"
	if e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    topology.Problem
		want string
	}{
		{topology.Problem{Message: "no spout"}, "no spout"},
		{topology.Problem{Component: "count", Message: "bad"}, `component "count": bad`},
		{topology.Problem{Component: "a b", Message: "x"}, `component "a b": x`},
	}
	for _, tc := range tests {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.p, got, tc.want)
		}
	}
}

func TestValidateErrorIsNilInterfaceWhenValid(t *testing.T) {
	// A valid spec must give a nil error interface, not a typed nil *ValidationError.
	b := base("t")
	s, err := b.Build()
	if err != nil || s == nil {
		t.Fatalf("Build() = %v, %v", s, err)
	}
	if err := topology.Validate(s); err != nil {
		t.Errorf("Validate = %#v, want nil", err)
	}
}

func TestValidateListsComponentsForUnknownSubscription(t *testing.T) {
	b := base("t")
	b.Bolt("count", newBolt, 1).Shuffle("word")
	_, err := b.Build()
	ve := mustValidationError(t, err)
	msg := ve.Problems[0].Message
	if !strings.Contains(msg, "(components: words, count)") {
		t.Errorf("message %q should list the declared components", msg)
	}
}

func TestValidateManyBolts(t *testing.T) {
	// Problems in many components are all kept, in declaration order for the same check.
	b := base("t")
	for i := range 10 {
		b.Bolt(fmt.Sprintf("b%d", i), newBolt, 1).Shuffle("missing")
	}
	_, err := b.Build()
	ve := mustValidationError(t, err)
	if len(ve.Problems) != 10 {
		t.Fatalf("got %d problems, want 10", len(ve.Problems))
	}
	for i, p := range ve.Problems {
		if want := fmt.Sprintf("b%d", i); p.Component != want {
			t.Errorf("problem %d names %q, want %q", i, p.Component, want)
		}
	}
}

// TestValidateShape: a spec decoded from JSON has no factories; ValidateShape accepts it
// and still finds every other problem.
func TestValidateShape(t *testing.T) {
	s, err := validBuilder().Build()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var decoded topology.Spec
	if err := json.Unmarshal(b, &decoded); err != nil {
		t.Fatal(err)
	}
	if err := topology.ValidateShape(&decoded); err != nil {
		t.Fatalf("ValidateShape of a decoded valid spec: %v", err)
	}
	if err := topology.Validate(&decoded); err == nil || !strings.Contains(err.Error(), "factory is nil") {
		t.Fatalf("Validate of a spec without factories = %v", err)
	}
	decoded.Components[0].Kind = "gadget"
	decoded.Components[1].Inputs[0].Component = "nowhere"
	err = topology.ValidateShape(&decoded)
	var ve *topology.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 3 {
		t.Fatalf("ValidateShape = %v, want the bad kind, the missing spout and the unknown input", err)
	}
}
