package app_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/pkg/app"
	"github.com/sparsestream/sparse/pkg/grouping"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// numbersSpout emits the ids 0..n-1 reliably, replaying failed ones.
type numbersSpout struct {
	topology.BaseSpout
	out     topology.SpoutCollector
	n, next int64
	replays []int64
}

func (s *numbersSpout) Open(_ *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	return nil
}

func (s *numbersSpout) NextTuple() {
	var id int64
	switch {
	case len(s.replays) > 0:
		id, s.replays = s.replays[0], s.replays[1:]
	case s.next < s.n:
		id = s.next
		s.next++
	default:
		return
	}
	s.out.Emit([]any{id}, id)
}

func (s *numbersSpout) Fail(id any) { s.replays = append(s.replays, id.(int64)) }

// sinkBolt acks every input.
type sinkBolt struct{ topology.BaseBolt }

func (sinkBolt) Prepare(*topology.Context) error                     { return nil }
func (sinkBolt) Execute(*tuple.Tuple, topology.BasicCollector) error { return nil }

// tiny is a spout of 100 numbers into a sink, plus a subscriber of a second stream.
func tiny() *topology.Builder {
	b := topology.NewBuilder("tiny")
	b.Spout("numbers", func() topology.Spout { return &numbersSpout{n: 100} }, 1).
		Output("n").OutputStream("odd", "n")
	b.Bolt("sink", topology.Basic(func() topology.BasicBolt { return sinkBolt{} }), 2).
		Shuffle("numbers")
	b.Bolt("odds", topology.Basic(func() topology.BasicBolt { return sinkBolt{} }), 1).
		InputStream("numbers", "odd", grouping.Spec{Type: grouping.Fields, Fields: []string{"n"}})
	return b
}

// groupingSpec is a grouping as describe prints it.
type groupingSpec struct {
	Type   string   `json:"type"`
	Fields []string `json:"fields"`
}

// execute runs the binary's command line in process and returns stdout, stderr and the
// error Execute returned.
func execute(t *testing.T, b *topology.Builder, args ...string) (string, string, error) {
	t.Helper()
	cmd := app.Command(b)
	var out, errOut testutil.SyncBuffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	done := make(chan error, 1)
	go func() { done <- cmd.Execute() }()
	select {
	case err := <-done:
		return out.String(), errOut.String(), err
	case <-time.After(20 * time.Second):
		t.Fatalf("%v did not return within 20s", args)
		return "", "", nil
	}
}

// TestDescribePrintsJSON: describe prints the spec as JSON, with every component, its
// streams and fields, and every subscription with its grouping.
func TestDescribePrintsJSON(t *testing.T) {
	stdout, _, err := execute(t, tiny(), "describe")
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	var got struct {
		Name       string `json:"name"`
		Components []struct {
			ID          string `json:"id"`
			Kind        string `json:"kind"`
			Parallelism int    `json:"parallelism"`
			Tasks       int    `json:"tasks"`
			Inputs      []struct {
				Component string       `json:"component"`
				Stream    string       `json:"stream"`
				Grouping  groupingSpec `json:"grouping"`
			} `json:"inputs"`
			Streams []struct {
				ID     string   `json:"id"`
				Fields []string `json:"fields"`
			} `json:"streams"`
		} `json:"components"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("describe output is not JSON: %v\n%s", err, stdout)
	}
	if got.Name != "tiny" || len(got.Components) != 3 {
		t.Fatalf("describe = %+v, want topology tiny with 3 components", got)
	}
	byID := map[string]int{}
	for i, c := range got.Components {
		byID[c.ID] = i
	}
	numbers := got.Components[byID["numbers"]]
	if numbers.Kind != "spout" || len(numbers.Streams) != 2 ||
		numbers.Streams[0].ID != tuple.DefaultStream || numbers.Streams[1].ID != "odd" ||
		strings.Join(numbers.Streams[1].Fields, ",") != "n" {
		t.Errorf("numbers = %+v, want a spout with streams default [n] and odd [n]", numbers)
	}
	sink := got.Components[byID["sink"]]
	if sink.Kind != "bolt" || sink.Parallelism != 2 || sink.Tasks != 2 || len(sink.Inputs) != 1 ||
		sink.Inputs[0].Component != "numbers" || sink.Inputs[0].Stream != tuple.DefaultStream ||
		sink.Inputs[0].Grouping.Type != "shuffle" {
		t.Errorf("sink = %+v, want a bolt of 2 tasks shuffle-grouped on numbers' default stream", sink)
	}
	odds := got.Components[byID["odds"]]
	if len(odds.Inputs) != 1 || odds.Inputs[0].Stream != "odd" || odds.Inputs[0].Grouping.Type != "fields" ||
		strings.Join(odds.Inputs[0].Grouping.Fields, ",") != "n" {
		t.Errorf("odds = %+v, want a fields [n] grouping on stream odd", odds)
	}
}

// TestRunPrintsFinalSummary: run --time stops on time, returns nil and prints the final
// summary, one line per component, with every tuple acked.
func TestRunPrintsFinalSummary(t *testing.T) {
	start := time.Now()
	stdout, stderr, err := execute(t, tiny(), "run", "--time", "1s", "--log-level", "warn")
	if err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("run --time 1s returned after %v", d)
	}
	_, final, ok := strings.Cut(stdout, "final:\n")
	if !ok {
		t.Fatalf("no final: summary in stdout:\n%s", stdout)
	}
	lines := componentLines(final)
	if l := lines["numbers"]; !strings.Contains(l, "emitted=100 acked=100 failed=0") || !strings.Contains(l, "complete_ms") {
		t.Errorf("numbers line = %q, want emitted=100 acked=100 failed=0 and complete_ms", l)
	}
	if l := lines["sink"]; !strings.Contains(l, "acked=100 failed=0") {
		t.Errorf("sink line = %q, want acked=100 failed=0", l)
	}
	if _, ok := lines["__acker"]; !ok {
		t.Errorf("no __acker line in the final summary:\n%s", final)
	}
}

// TestRunLogLevel: the log level filters the component logs written to stderr.
func TestRunLogLevel(t *testing.T) {
	_, stderr, err := execute(t, tiny(), "run", "--time", "200ms", "--stats-every", "0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "topology running") {
		t.Errorf("at the default level stderr lacks the info line \"topology running\":\n%s", stderr)
	}
	_, stderr, err = execute(t, tiny(), "run", "--time", "200ms", "--stats-every", "0", "--log-level", "error")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stderr, "topology running") {
		t.Errorf("--log-level error still logs info lines:\n%s", stderr)
	}
}

// TestRunRejectsBadFlags: a malformed -o, a bad -o value and an unknown --log-level are
// refused with an error that says what to write instead, before anything runs.
func TestRunRejectsBadFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"option without =", []string{"-o", "topology.workers"}, []string{`"topology.workers" is not key=value`, "-o topology.max.spout.pending=10"}},
		{"option with empty key", []string{"-o", "=3"}, []string{"is not key=value"}},
		{"option value of the wrong type", []string{"-o", "topology.max.spout.pending=lots"}, []string{topology.ConfMaxSpoutPending, `"lots" is not an integer`}},
		{"option value out of range", []string{"-o", "topology.message.timeout.secs=0"}, []string{topology.ConfMessageTimeoutSecs, "at least 1"}},
		{"log level", []string{"--log-level", "loud"}, []string{`--log-level "loud" is not a level`, "trace, debug, info, warn or error"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stdout, _, err := execute(t, tiny(), append([]string{"run", "--time", "5s"}, tc.args...)...)
			if err == nil {
				t.Fatalf("run %v returned nil", tc.args)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(stdout, "final:") {
				t.Errorf("the topology ran despite the bad flag:\n%s", stdout)
			}
		})
	}
}

// TestRunReturnsValidationError: a topology that does not validate is not run, and run
// returns the *topology.ValidationError listing its problems.
func TestRunReturnsValidationError(t *testing.T) {
	b := topology.NewBuilder("broken")
	b.Spout("numbers", func() topology.Spout { return &numbersSpout{n: 1} }, 1).Output("n")
	b.Bolt("sink", topology.Basic(func() topology.BasicBolt { return sinkBolt{} }), 1).Shuffle("nowhere")
	for _, args := range [][]string{{"run", "--time", "1s"}, {"describe"}} {
		stdout, _, err := execute(t, b, args...)
		var ve *topology.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("%v: error = %v (%T), want a *topology.ValidationError", args, err, err)
		}
		if ve.Topology != "broken" || len(ve.Problems) != 1 || !strings.Contains(ve.Problems[0].Message, `unknown component "nowhere"`) {
			t.Errorf("%v: validation error = %v", args, ve)
		}
		if stdout != "" {
			t.Errorf("%v printed %q for an invalid topology", args, stdout)
		}
	}
}

// TestUnknownArgumentsAreRefused: run and describe take no positional arguments.
func TestUnknownArgumentsAreRefused(t *testing.T) {
	for _, args := range [][]string{{"run", "extra"}, {"describe", "extra"}, {"bogus"}} {
		if _, _, err := execute(t, tiny(), args...); err == nil {
			t.Errorf("%v returned nil, want an error", args)
		}
	}
}

// componentLines maps the component (first word) of each summary line to the line.
func componentLines(summary string) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(summary, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			out[f[0]] = l
		}
	}
	return out
}
