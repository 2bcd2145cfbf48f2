package batching

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// fakeCollector records what the bolt does through its collector.
type fakeCollector struct {
	emits  []emitted
	acked  []*tuple.Tuple
	failed []*tuple.Tuple
	errs   []error
}

type emitted struct {
	stream  string
	task    int32 // EmitDirect only
	anchors []*tuple.Tuple
	values  []any
}

func (c *fakeCollector) Emit(in *tuple.Tuple, values []any) {
	var anchors []*tuple.Tuple
	if in != nil {
		anchors = []*tuple.Tuple{in}
	}
	c.emits = append(c.emits, emitted{stream: tuple.DefaultStream, anchors: anchors, values: values})
}

func (c *fakeCollector) EmitStream(stream string, anchors []*tuple.Tuple, values []any) []int32 {
	c.emits = append(c.emits, emitted{stream: stream, anchors: slices.Clone(anchors), values: values})
	return nil
}

func (c *fakeCollector) EmitDirect(task int32, stream string, anchors []*tuple.Tuple, values []any) {
	c.emits = append(c.emits, emitted{stream: stream, task: task, anchors: slices.Clone(anchors), values: values})
}

func (c *fakeCollector) Ack(in *tuple.Tuple)       { c.acked = append(c.acked, in) }
func (c *fakeCollector) Fail(in *tuple.Tuple)      { c.failed = append(c.failed, in) }
func (c *fakeCollector) ResetTimeout(*tuple.Tuple) {}
func (c *fakeCollector) ReportError(err error)     { c.errs = append(c.errs, err) }
func (c *fakeCollector) Logger() hclog.Logger      { return hclog.NewNullLogger() }

// names renders inputs as "key/n" and ticks as "tick", for readable comparisons.
func names(ts []*tuple.Tuple) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		if t.IsTick() {
			out = append(out, "tick")
			continue
		}
		out = append(out, fmt.Sprintf("%s/%d", t.String(0), t.Int(1)))
	}
	return out
}

var (
	inSource   = &tuple.Source{Component: "src", Stream: tuple.DefaultStream, Task: 1, Fields: tuple.NewFields("key", "n")}
	tickSource = &tuple.Source{Component: tuple.SystemID, Stream: tuple.TickStream, Task: tuple.SystemTask, Fields: tuple.NewFields("freq_secs")}
)

func input(key string, n int64) *tuple.Tuple { return tuple.New(inSource, key, n) }

func tick() *tuple.Tuple { return tuple.New(tickSource, int64(1)) }

// recorder is a Processor that records its batches and fails, panics or emits on demand.
type recorder struct {
	out     Emitter
	batches []string // "key:[a/1 a/2]"
	fail    map[string]error
	panics  map[string]any
	onBatch func(out Emitter, key string, batch []*tuple.Tuple)
	prepErr error
	cleaned bool
}

func (r *recorder) Prepare(_ *topology.Context, out Emitter) error {
	r.out = out
	return r.prepErr
}

func (r *recorder) Key(in *tuple.Tuple) string {
	if in.IsTick() {
		panic("Key called on a tick tuple")
	}
	return in.String(0)
}

func (r *recorder) ProcessBatch(key string, batch []*tuple.Tuple) error {
	r.batches = append(r.batches, fmt.Sprintf("%s:%v", key, names(batch)))
	if r.onBatch != nil {
		r.onBatch(r.out, key, batch)
	}
	if p, ok := r.panics[key]; ok {
		panic(p)
	}
	return r.fail[key]
}

func (r *recorder) Cleanup() { r.cleaned = true }

// prepared returns a prepared batching bolt around p, with ticks every tickSecs.
func prepared(t *testing.T, p Processor, tickSecs int64, opts ...Option) (topology.Bolt, *fakeCollector) {
	t.Helper()
	b := Bolt(func() Processor { return p }, opts...)()
	c := &fakeCollector{}
	conf := topology.Config{topology.ConfTickTupleFreqSecs: tickSecs}
	if err := b.Prepare(topology.NewContext("test", nil, "batch", 1, conf, hclog.NewNullLogger()), c); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	return b, c
}

func execAll(b topology.Bolt, ins ...*tuple.Tuple) {
	for _, in := range ins {
		b.Execute(in)
	}
}

func TestFlushGroupsByKeySortedAndInOrder(t *testing.T) {
	r := &recorder{}
	b, c := prepared(t, r, 2)
	execAll(b, input("c", 1), input("a", 1), input("b", 1), input("a", 2), input("c", 2), input("a", 3))
	if len(r.batches) != 0 || len(c.acked) != 0 {
		t.Fatalf("before the tick: batches %v, acked %v; want none", r.batches, names(c.acked))
	}
	b.Execute(tick())
	wantBatches := []string{"a:[a/1 a/2 a/3]", "b:[b/1]", "c:[c/1 c/2]"}
	if !slices.Equal(r.batches, wantBatches) {
		t.Errorf("batches = %v, want %v", r.batches, wantBatches)
	}
	wantAcked := []string{"a/1", "a/2", "a/3", "b/1", "c/1", "c/2", "tick"}
	if got := names(c.acked); !slices.Equal(got, wantAcked) {
		t.Errorf("acked = %v, want %v (members after their batch, then the tick)", got, wantAcked)
	}
	if len(c.failed) != 0 || len(c.errs) != 0 {
		t.Errorf("failed %v, errors %v; want none", names(c.failed), c.errs)
	}

	// An empty interval processes nothing and still acks its tick.
	b.Execute(tick())
	if len(r.batches) != 3 {
		t.Errorf("an empty flush called ProcessBatch: %v", r.batches[3:])
	}
	if got := names(c.acked); len(got) != 8 || got[7] != "tick" {
		t.Errorf("acked = %v, want the second tick acked too", got)
	}
}

func TestFailedBatchFailsItsMembersOnly(t *testing.T) {
	errDown := errors.New("store is down")
	for _, tc := range []struct {
		name    string
		fail    map[string]error
		panics  map[string]any
		wantErr []string
	}{
		{name: "error", fail: map[string]error{"b": errDown}, wantErr: []string{`key "b"`, "2 inputs", "store is down"}},
		{name: "panic", panics: map[string]any{"b": "boom"}, wantErr: []string{"panicked", `key "b"`, "boom"}},
		{name: "panic with error", panics: map[string]any{"b": errDown}, wantErr: []string{"panicked", `key "b"`, "store is down"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{fail: tc.fail, panics: tc.panics}
			b, c := prepared(t, r, 2)
			execAll(b, input("a", 1), input("b", 1), input("b", 2), input("c", 1), tick())
			if want := []string{"a:[a/1]", "b:[b/1 b/2]", "c:[c/1]"}; !slices.Equal(r.batches, want) {
				t.Errorf("batches = %v, want %v (keys after the failed one still run)", r.batches, want)
			}
			if got, want := names(c.acked), []string{"a/1", "c/1", "tick"}; !slices.Equal(got, want) {
				t.Errorf("acked = %v, want %v", got, want)
			}
			if got, want := names(c.failed), []string{"b/1", "b/2"}; !slices.Equal(got, want) {
				t.Errorf("failed = %v, want %v", got, want)
			}
			if len(c.errs) != 1 {
				t.Fatalf("reported errors = %v, want one", c.errs)
			}
			for _, s := range tc.wantErr {
				if !strings.Contains(c.errs[0].Error(), s) {
					t.Errorf("reported error %q does not mention %q", c.errs[0], s)
				}
			}
			if errors.Is(tc.fail["b"], errDown) || errors.Is(asErr(tc.panics["b"]), errDown) {
				if !errors.Is(c.errs[0], errDown) {
					t.Errorf("reported error %q does not wrap the processor's error", c.errs[0])
				}
			}
		})
	}
}

func asErr(v any) error { e, _ := v.(error); return e }

func TestIntervalCountsTicks(t *testing.T) {
	for _, tc := range []struct {
		tickSecs  int64
		interval  time.Duration
		flushTick int // the tick that processes the batch
	}{
		{tickSecs: 2, interval: DefaultInterval, flushTick: 1},
		{tickSecs: 1, interval: DefaultInterval, flushTick: 2},
		{tickSecs: 1, interval: 3 * time.Second, flushTick: 3},
		{tickSecs: 5, interval: 10 * time.Second, flushTick: 2},
	} {
		t.Run(fmt.Sprintf("tick %ds interval %s", tc.tickSecs, tc.interval), func(t *testing.T) {
			r := &recorder{}
			b, c := prepared(t, r, tc.tickSecs, Interval(tc.interval))
			// Two intervals: the counter restarts after each flush.
			for round := range 2 {
				b.Execute(input("k", int64(round)))
				for i := 1; i <= tc.flushTick; i++ {
					if len(r.batches) != round {
						t.Fatalf("round %d: processed at tick %d, want at tick %d", round, i-1, tc.flushTick)
					}
					b.Execute(tick())
				}
				if len(r.batches) != round+1 {
					t.Fatalf("round %d: not processed after %d ticks", round, tc.flushTick)
				}
			}
			if want := 2 * (tc.flushTick + 1); len(c.acked) != want {
				t.Errorf("acked %d tuples, want %d (every input and every tick)", len(c.acked), want)
			}
		})
	}
}

func TestMaxBatchSizeProcessesFullKeyEarly(t *testing.T) {
	r := &recorder{}
	b, c := prepared(t, r, 2, MaxBatchSize(2))
	execAll(b, input("a", 1), input("b", 1), input("a", 2))
	if want := []string{"a:[a/1 a/2]"}; !slices.Equal(r.batches, want) {
		t.Fatalf("batches = %v, want %v before any tick", r.batches, want)
	}
	if got, want := names(c.acked), []string{"a/1", "a/2"}; !slices.Equal(got, want) {
		t.Errorf("acked = %v, want %v", got, want)
	}
	execAll(b, input("a", 3), tick())
	if want := []string{"a:[a/1 a/2]", "a:[a/3]", "b:[b/1]"}; !slices.Equal(r.batches, want) {
		t.Errorf("batches = %v, want %v", r.batches, want)
	}
}

func TestEmitAnchoring(t *testing.T) {
	ins := []*tuple.Tuple{input("a", 1), input("a", 2), input("a", 3)}
	for _, tc := range []struct {
		name        string
		opts        []Option
		emit        func(out Emitter, batch []*tuple.Tuple)
		stream      string
		task        int32
		wantAnchors []*tuple.Tuple
	}{
		{name: "Emit", emit: func(out Emitter, _ []*tuple.Tuple) { out.Emit("x") },
			stream: "default", wantAnchors: ins},
		{name: "EmitStream", emit: func(out Emitter, _ []*tuple.Tuple) { out.EmitStream("s", []any{"x"}) },
			stream: "s", wantAnchors: ins},
		{name: "EmitDirect", emit: func(out Emitter, _ []*tuple.Tuple) { out.EmitDirect(7, "d", []any{"x"}) },
			stream: "d", task: 7, wantAnchors: ins},
		{name: "Emit unanchored", opts: []Option{Unanchored()}, emit: func(out Emitter, _ []*tuple.Tuple) { out.Emit("x") },
			stream: "default"},
		{name: "EmitAnchored", emit: func(out Emitter, batch []*tuple.Tuple) { out.EmitAnchored("s", batch[1:2], []any{"x"}) },
			stream: "s", wantAnchors: ins[1:2]},
		{name: "EmitAnchored unanchored", opts: []Option{Unanchored()},
			emit:   func(out Emitter, batch []*tuple.Tuple) { out.EmitAnchored("s", batch[1:2], []any{"x"}) },
			stream: "s", wantAnchors: ins[1:2]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{onBatch: func(out Emitter, _ string, batch []*tuple.Tuple) { tc.emit(out, batch) }}
			b, c := prepared(t, r, 2, tc.opts...)
			execAll(b, ins...)
			b.Execute(tick())
			if len(c.emits) != 1 {
				t.Fatalf("emits = %d, want 1", len(c.emits))
			}
			got := c.emits[0]
			if got.stream != tc.stream || got.task != tc.task || !slices.Equal(got.anchors, tc.wantAnchors) {
				t.Errorf("emitted on %q task %d anchored to %v; want %q task %d anchored to %v",
					got.stream, got.task, names(got.anchors), tc.stream, tc.task, names(tc.wantAnchors))
			}
			if !slices.Equal(got.values, []any{"x"}) {
				t.Errorf("values = %v, want [x]", got.values)
			}
		})
	}
}

func TestEmitOutsideBatchIsUnanchored(t *testing.T) {
	r := &recorder{}
	b, c := prepared(t, r, 2)
	execAll(b, input("a", 1), tick())
	r.out.Emit("late")
	if len(c.emits) != 1 || c.emits[0].anchors != nil {
		t.Errorf("emit after the batch: %+v, want one unanchored emit", c.emits)
	}
}

func TestCleanupLeavesWaitingInputsUnacked(t *testing.T) {
	r := &recorder{}
	b, c := prepared(t, r, 2)
	execAll(b, input("a", 1), input("b", 1))
	b.Cleanup()
	if len(r.batches) != 0 || len(c.acked) != 0 || len(c.failed) != 0 {
		t.Errorf("Cleanup processed %v, acked %v, failed %v; want nothing (the inputs time out and replay)",
			r.batches, names(c.acked), names(c.failed))
	}
	if !r.cleaned {
		t.Error("the processor's Cleanup was not called")
	}
}

func TestPrepareErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		conf    topology.Config
		opts    []Option
		proc    Processor // nil: a recorder
		nilProc bool
		want    []string
	}{
		{name: "no ticks", conf: topology.Config{},
			want: []string{`"batch" gets no tick tuples`, "topology.tick.tuple.freq.secs to 2", "batching.Declare"}},
		{name: "interval not a multiple of the tick", conf: topology.Config{topology.ConfTickTupleFreqSecs: 2}, opts: []Option{Interval(3 * time.Second)},
			want: []string{"interval 3s", "tick period 2s", "topology.tick.tuple.freq.secs to 3"}},
		{name: "tick longer than the interval", conf: topology.Config{topology.ConfTickTupleFreqSecs: 5},
			want: []string{"interval 2s", "tick period 5s"}},
		{name: "bad tick config", conf: topology.Config{topology.ConfTickTupleFreqSecs: "often"},
			want: []string{"topology.tick.tuple.freq.secs", `"often" is not an integer`}},
		{name: "fractional interval", conf: topology.Config{topology.ConfTickTupleFreqSecs: 1}, opts: []Option{Interval(1500 * time.Millisecond)},
			want: []string{"interval 1.5s is not a whole number of seconds"}},
		{name: "zero interval and size", conf: topology.Config{topology.ConfTickTupleFreqSecs: 1}, opts: []Option{Interval(0), MaxBatchSize(0)},
			want: []string{"interval 0s", "max batch size 0 must be at least 1"}},
		{name: "processor error", conf: topology.Config{topology.ConfTickTupleFreqSecs: 2}, proc: &recorder{prepErr: errors.New("no database")},
			want: []string{"no database"}},
		{name: "nil processor", conf: topology.Config{topology.ConfTickTupleFreqSecs: 2}, nilProc: true,
			want: []string{"factory returned nil"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proc := tc.proc
			if proc == nil && !tc.nilProc {
				proc = &recorder{}
			}
			b := Bolt(func() Processor { return proc }, tc.opts...)()
			err := b.Prepare(topology.NewContext("test", nil, "batch", 1, tc.conf, hclog.NewNullLogger()), &fakeCollector{})
			if err == nil {
				t.Fatal("Prepare succeeded, want an error")
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestDeclareSetsTickFrequency(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want any // the component's tick frequency; nil: not set
	}{
		{name: "default", want: int64(2)},
		{name: "interval", opts: []Option{Interval(5 * time.Second)}, want: int64(5)},
		{name: "invalid interval", opts: []Option{Interval(time.Millisecond)}, want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := topology.NewBuilder("declare")
			b.Spout("src", func() topology.Spout { return nil }, 1).Output("key", "n")
			Declare(b, "batch", func() Processor { return &recorder{} }, 1, tc.opts...).Fields("src", "key")
			spec, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			if got := spec.Component("batch").Config[topology.ConfTickTupleFreqSecs]; got != tc.want {
				t.Errorf("tick frequency = %v (%T), want %v", got, got, tc.want)
			}
		})
	}
}
