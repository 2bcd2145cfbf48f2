package topology_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// call is one method call recorded by recordingCollector.
type call struct {
	method  string // emit, emitStream, emitDirect, ack, fail, resetTimeout, reportError
	stream  string
	task    int32
	anchors []*tuple.Tuple
	values  []any
	input   *tuple.Tuple
	err     error
}

// recordingCollector is a BoltCollector that records every call. It copies the anchors it
// is given, because a caller may reuse the slice after the call returns.
type recordingCollector struct {
	calls  []call
	tasks  []int32 // what EmitStream returns
	logger hclog.Logger
}

var _ topology.BoltCollector = (*recordingCollector)(nil)

func (r *recordingCollector) Emit(in *tuple.Tuple, values []any) {
	var anchors []*tuple.Tuple
	if in != nil {
		anchors = []*tuple.Tuple{in}
	}
	r.calls = append(r.calls, call{method: "emit", stream: tuple.DefaultStream, anchors: anchors, values: values})
}

func (r *recordingCollector) EmitStream(stream string, anchors []*tuple.Tuple, values []any) []int32 {
	r.calls = append(r.calls, call{method: "emitStream", stream: stream, anchors: slices.Clone(anchors), values: values})
	return r.tasks
}

func (r *recordingCollector) EmitDirect(task int32, stream string, anchors []*tuple.Tuple, values []any) {
	r.calls = append(r.calls, call{method: "emitDirect", stream: stream, task: task, anchors: slices.Clone(anchors), values: values})
}

func (r *recordingCollector) Ack(in *tuple.Tuple) {
	r.calls = append(r.calls, call{method: "ack", input: in})
}

func (r *recordingCollector) Fail(in *tuple.Tuple) {
	r.calls = append(r.calls, call{method: "fail", input: in})
}

func (r *recordingCollector) ResetTimeout(in *tuple.Tuple) {
	r.calls = append(r.calls, call{method: "resetTimeout", input: in})
}

func (r *recordingCollector) ReportError(err error) {
	r.calls = append(r.calls, call{method: "reportError", err: err})
}

func (r *recordingCollector) Logger() hclog.Logger { return r.logger }

// funcBasic is a BasicBolt whose methods are given as functions.
type funcBasic struct {
	prepare  func(*topology.Context) error
	execute  func(*tuple.Tuple, topology.BasicCollector) error
	cleanups *int
}

func (f *funcBasic) Prepare(ctx *topology.Context) error {
	if f.prepare == nil {
		return nil
	}
	return f.prepare(ctx)
}

func (f *funcBasic) Execute(in *tuple.Tuple, out topology.BasicCollector) error {
	return f.execute(in, out)
}

func (f *funcBasic) Cleanup() {
	if f.cleanups != nil {
		*f.cleanups++
	}
}

func prepareBasic(t *testing.T, bb *funcBasic, out topology.BoltCollector) topology.Bolt {
	t.Helper()
	bolt := topology.Basic(func() topology.BasicBolt { return bb })()
	if err := bolt.Prepare(nil, out); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	return bolt
}

func TestBasicExecute(t *testing.T) {
	errBoom := errors.New("boom")
	errSide := errors.New("side note")
	in := tuple.New(&tuple.Source{Component: "spout", Stream: tuple.DefaultStream, Task: 3, Fields: tuple.NewFields("sentence")}, "the cow")
	in.Anchors = []tuple.Anchor{{Root: 1, Edge: 2}}

	tests := []struct {
		name    string
		execute func(*tuple.Tuple, topology.BasicCollector) error
		want    []call
	}{
		{
			name:    "nil acks",
			execute: func(*tuple.Tuple, topology.BasicCollector) error { return nil },
			want:    []call{{method: "ack", input: in}},
		},
		{
			name: "emits are anchored to the input, then it is acked",
			execute: func(_ *tuple.Tuple, out topology.BasicCollector) error {
				out.Emit("the", int64(1))
				out.Emit("cow", int64(1))
				return nil
			},
			want: []call{
				{method: "emit", stream: "default", anchors: []*tuple.Tuple{in}, values: []any{"the", int64(1)}},
				{method: "emit", stream: "default", anchors: []*tuple.Tuple{in}, values: []any{"cow", int64(1)}},
				{method: "ack", input: in},
			},
		},
		{
			name: "error is reported and the input failed",
			execute: func(_ *tuple.Tuple, out topology.BasicCollector) error {
				out.Emit("partial")
				return errBoom
			},
			want: []call{
				{method: "emit", stream: "default", anchors: []*tuple.Tuple{in}, values: []any{"partial"}},
				{method: "reportError", err: errBoom},
				{method: "fail", input: in},
			},
		},
		{
			name:    "error without emits",
			execute: func(*tuple.Tuple, topology.BasicCollector) error { return errBoom },
			want: []call{
				{method: "reportError", err: errBoom},
				{method: "fail", input: in},
			},
		},
		{
			name: "EmitStream passes the input as the single anchor",
			execute: func(_ *tuple.Tuple, out topology.BasicCollector) error {
				out.EmitStream("words", []any{"cow"})
				return nil
			},
			want: []call{
				{method: "emitStream", stream: "words", anchors: []*tuple.Tuple{in}, values: []any{"cow"}},
				{method: "ack", input: in},
			},
		},
		{
			name: "EmitDirect passes the input as the single anchor",
			execute: func(_ *tuple.Tuple, out topology.BasicCollector) error {
				out.EmitDirect(7, "direct", []any{"x"})
				return nil
			},
			want: []call{
				{method: "emitDirect", stream: "direct", task: 7, anchors: []*tuple.Tuple{in}, values: []any{"x"}},
				{method: "ack", input: in},
			},
		},
		{
			name: "ReportError from Execute does not fail the input",
			execute: func(_ *tuple.Tuple, out topology.BasicCollector) error {
				out.ReportError(errSide)
				return nil
			},
			want: []call{
				{method: "reportError", err: errSide},
				{method: "ack", input: in},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recordingCollector{}
			bolt := prepareBasic(t, &funcBasic{execute: tc.execute}, rec)
			bolt.Execute(in)
			if !reflect.DeepEqual(rec.calls, tc.want) {
				t.Errorf("calls:\n got %+v\nwant %+v", rec.calls, tc.want)
			}
			for _, c := range rec.calls {
				for _, a := range c.anchors {
					if a != in {
						t.Errorf("%s anchored to %p, want the input %p", c.method, a, in)
					}
				}
				if c.input != nil && c.input != in {
					t.Errorf("%s of %p, want the input %p", c.method, c.input, in)
				}
			}
		})
	}
}

func TestBasicAnchorsFollowTheCurrentInput(t *testing.T) {
	rec := &recordingCollector{}
	bolt := prepareBasic(t, &funcBasic{execute: func(in *tuple.Tuple, out topology.BasicCollector) error {
		out.Emit(in.Values...)
		out.EmitStream("s", in.Values)
		return nil
	}}, rec)
	first := &tuple.Tuple{Values: []any{"1"}}
	second := &tuple.Tuple{Values: []any{"2"}}
	bolt.Execute(first)
	bolt.Execute(second)
	want := []call{
		{method: "emit", stream: "default", anchors: []*tuple.Tuple{first}, values: []any{"1"}},
		{method: "emitStream", stream: "s", anchors: []*tuple.Tuple{first}, values: []any{"1"}},
		{method: "ack", input: first},
		{method: "emit", stream: "default", anchors: []*tuple.Tuple{second}, values: []any{"2"}},
		{method: "emitStream", stream: "s", anchors: []*tuple.Tuple{second}, values: []any{"2"}},
		{method: "ack", input: second},
	}
	if !reflect.DeepEqual(rec.calls, want) {
		t.Errorf("calls:\n got %+v\nwant %+v", rec.calls, want)
	}
	if rec.calls[1].anchors[0] != first || rec.calls[4].anchors[0] != second {
		t.Error("EmitStream anchored to the wrong input")
	}
}

func TestBasicEmitStreamReturnsTasks(t *testing.T) {
	rec := &recordingCollector{tasks: []int32{4, 9}}
	var got []int32
	bolt := prepareBasic(t, &funcBasic{execute: func(_ *tuple.Tuple, out topology.BasicCollector) error {
		got = out.EmitStream("default", []any{"x"})
		return nil
	}}, rec)
	bolt.Execute(&tuple.Tuple{})
	if !reflect.DeepEqual(got, []int32{4, 9}) {
		t.Errorf("EmitStream returned %v, want the collector's [4 9]", got)
	}
}

func TestBasicLogger(t *testing.T) {
	log := hclog.NewNullLogger()
	rec := &recordingCollector{logger: log}
	var got hclog.Logger
	bolt := prepareBasic(t, &funcBasic{execute: func(_ *tuple.Tuple, out topology.BasicCollector) error {
		got = out.Logger()
		return nil
	}}, rec)
	bolt.Execute(&tuple.Tuple{})
	if got != log {
		t.Error("BasicCollector.Logger() is not the bolt collector's logger")
	}
}

func TestBasicPrepareAndCleanup(t *testing.T) {
	errPrep := errors.New("no db")
	l := topology.NewLayout(&topology.Spec{}, 0)
	ctx := topology.NewContext("t", l, "c", 1, nil, nil)

	var gotCtx *topology.Context
	bb := &funcBasic{prepare: func(c *topology.Context) error { gotCtx = c; return errPrep }, cleanups: new(int)}
	bolt := topology.Basic(func() topology.BasicBolt { return bb })()
	if err := bolt.Prepare(ctx, &recordingCollector{}); !errors.Is(err, errPrep) {
		t.Errorf("Prepare = %v, want the BasicBolt's error", err)
	}
	if gotCtx != ctx {
		t.Error("BasicBolt.Prepare did not get the context")
	}
	bolt.Cleanup()
	if *bb.cleanups != 1 {
		t.Errorf("Cleanup called the BasicBolt %d times, want 1", *bb.cleanups)
	}
}

func TestBasicFactoryMakesOneInstancePerBolt(t *testing.T) {
	made := 0
	f := topology.Basic(func() topology.BasicBolt {
		made++
		return &funcBasic{execute: func(*tuple.Tuple, topology.BasicCollector) error { return nil }}
	})
	if made != 0 {
		t.Errorf("Basic called the factory %d times before any bolt was made", made)
	}
	a, b := f(), f()
	if made != 2 || a == b {
		t.Errorf("two bolts from the factory: made %d, same instance %v", made, a == b)
	}
}
