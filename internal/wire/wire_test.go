package wire_test

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/sparsestream/sparse/internal/wire"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// roundTripValues are values of every type, in the form Decode returns them.
func roundTripValues() map[string][]any {
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	return map[string][]any{
		"empty":        {},
		"string":       {"hello"},
		"empty string": {""},
		"unicode":      {"héllo wörld", "日本語", "🎉 emoji", "nul\x00byte", "\u2028"},
		"long string":  {strings.Repeat("x", 300)},
		"ints":         {int64(0), int64(1), int64(-1), int64(63), int64(-64), int64(64), int64(255), int64(256), int64(-12345), int64(math.MaxInt64), int64(math.MinInt64)},
		"floats": {0.0, math.Copysign(0, -1), 1.5, -2.25, math.NaN(), math.Inf(1), math.Inf(-1),
			math.SmallestNonzeroFloat64, math.MaxFloat64, math.Float64frombits(0x7ff8000000000123)},
		"bools":        {true, false},
		"bytes":        {[]byte{0, 1, 2, 0xff}, []byte{}},
		"large bytes":  {big},
		"null":         {nil, nil},
		"empty list":   {[]any{}},
		"list":         {[]any{"a", int64(2), 3.5, true, []byte("b"), nil, []any{"c"}, map[string]any{"d": int64(4)}}},
		"empty map":    {map[string]any{}},
		"map":          {map[string]any{"": "empty key", "ключ": []any{int64(1), int64(2)}, "n": nil, "m": map[string]any{"x": 1.0}}},
		"nested lists": {nested(wire.MaxDepth, "leaf")},
		"nested maps":  {nestedMaps(64, int64(7))},
		"mixed":        {"word", int64(42), 3.14, false, nil, []byte("raw"), []any{}, map[string]any{}},
		"many values":  manyValues(1000),
		"large list":   {manyValues(5000)},
	}
}

func manyValues(n int) []any {
	v := make([]any, n)
	for i := range v {
		v[i] = int64(i * 1000)
	}
	return v
}

func TestRoundTripValues(t *testing.T) {
	src := newSources(false)
	s := src.add(3, tuple.DefaultStream)
	for name, vals := range roundTripValues() {
		t.Run(name, func(t *testing.T) {
			want := []entry{{dest: 7, t: &tuple.Tuple{Source: s, Values: vals}}}
			b := encodeAll(t, want)
			got, err := decodeAll(b, src)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if d := sameEntries(got, want); d != "" {
				t.Fatal(d)
			}
		})
	}
}

func TestRoundTripAnchorsAndTasks(t *testing.T) {
	src := newSources(false)
	many := make([]tuple.Anchor, 100)
	for i := range many {
		many[i] = tuple.Anchor{Root: uint64(i) * 0x9e3779b97f4a7c15, Edge: ^uint64(i)}
	}
	var want []entry
	for _, tc := range []struct {
		dest, task int32
		stream     string
		anchors    []tuple.Anchor
	}{
		{0, 0, tuple.DefaultStream, nil},
		{1, 2, "default", []tuple.Anchor{{Root: 1, Edge: 2}}},
		{-1, -1, "", []tuple.Anchor{{}}},
		{math.MaxInt32, math.MinInt32, "événements", many},
		{5, 6, tuple.TickStream, []tuple.Anchor{{Root: math.MaxUint64, Edge: 0}, {Root: 0, Edge: math.MaxUint64}}},
	} {
		want = append(want, entry{dest: tc.dest, t: &tuple.Tuple{Source: src.add(tc.task, tc.stream), Values: []any{"v"}, Anchors: tc.anchors}})
	}
	// A spout tuple that carries its tree's init.
	want = append(want, entry{dest: 3, t: &tuple.Tuple{Source: src.add(9, tuple.DefaultStream), Values: []any{"v"},
		Anchors: []tuple.Anchor{{Root: 10, Edge: 11}}, InitTask: 9}})
	got, err := decodeAll(encodeAll(t, want), src)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if d := sameEntries(got, want); d != "" {
		t.Fatal(d)
	}
	for i, en := range got {
		if en.t.Source != want[i].t.Source {
			t.Errorf("entry %d: Source is not the receiver's shared one", i)
		}
	}
	// Every tuple owns its anchors: changing one tuple's must not change another's.
	got[3].t.Anchors[0].Edge = 12345
	if got[4].t.Anchors[0].Edge == 12345 || got[2].t.Anchors[0].Edge == 12345 {
		t.Error("decoded tuples share an Anchors array")
	}
	if got[0].t.Anchors != nil {
		t.Errorf("unanchored tuple decoded with anchors %v", got[0].t.Anchors)
	}
}

func TestRoundTripControls(t *testing.T) {
	var want []entry
	kinds := []uint8{wire.ControlInit, wire.ControlAck, wire.ControlFail, wire.ControlReset, wire.ControlComplete, wire.ControlFailed, 0, 255}
	for i, k := range kinds {
		c := wire.Control{Kind: k, Task: int32(i), Spout: int32(-i), Root: uint64(i) << 60, Val: math.MaxUint64 - uint64(i)}
		want = append(want, entry{control: &c})
	}
	extreme := wire.Control{Kind: wire.ControlAck, Task: math.MinInt32, Spout: math.MaxInt32, Root: math.MaxUint64, Val: 1}
	want = append(want, entry{control: &extreme}, entry{control: &wire.Control{}})
	got, err := decodeAll(encodeAll(t, want), newSources(false))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if d := sameEntries(got, want); d != "" {
		t.Fatal(d)
	}
}

func TestDecodeKeepsOrder(t *testing.T) {
	src := newSources(false)
	a, b := src.add(1, "default"), src.add(2, "other")
	var want []entry
	for i := range 50 {
		switch i % 3 {
		case 0:
			want = append(want, entry{dest: int32(i), t: tuple.New(a, int64(i))})
		case 1:
			want = append(want, entry{control: &wire.Control{Kind: wire.ControlAck, Task: int32(i), Root: uint64(i)}})
		default:
			want = append(want, entry{dest: int32(i), t: tuple.New(b, int64(i))})
		}
	}
	got, err := decodeAll(encodeAll(t, want), src)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if d := sameEntries(got, want); d != "" {
		t.Fatal(d)
	}
}

// Decode copies strings and bytes: the caller reuses its buffer.
func TestDecodeDoesNotAliasInput(t *testing.T) {
	src := newSources(false)
	s := src.add(1, "default")
	b := encodeAll(t, []entry{{dest: 1, t: tuple.New(s, "hello", []byte("world"), []any{"in list"}, map[string]any{"key": "in map"})}})
	got, err := decodeAll(b, src)
	if err != nil {
		t.Fatal(err)
	}
	clear(b)
	want := []any{"hello", []byte("world"), []any{"in list"}, map[string]any{"key": "in map"}}
	for i, v := range got[0].t.Values {
		if !sameValue(v, want[i]) {
			t.Errorf("value %d changed with the input buffer: %#v", i, v)
		}
	}
}

// Resolve is called once per run of tuples from one source, and only with sources that
// exist in the batch.
func TestDecodeResolvesOncePerSource(t *testing.T) {
	src := newSources(false)
	a, b := src.add(1, "default"), src.add(2, "default")
	var want []entry
	for i := range 100 {
		s := a
		if i%2 == 1 {
			s = b
		}
		want = append(want, entry{dest: 1, t: tuple.New(s, "x")})
	}
	buf := encodeAll(t, want)
	calls := 0
	err := wire.Decode(buf, func(task int32, stream string) *tuple.Source { calls++; return src.resolve(task, stream) },
		func(int32, *tuple.Tuple) {}, func(wire.Control) {})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Errorf("resolve called %d times for 2 sources", calls)
	}
}

func TestEncoderNormalizesOtherKinds(t *testing.T) {
	src := newSources(false)
	s := src.add(1, "default")
	in := []any{int(-5), int32(6), int16(-7), int8(8), uint8(9), uint16(10), uint32(11), uint(12), uint64(13), float32(1.5), []string{"a", "b"},
		[]any{int(1), map[string]any{"f": float32(2)}}}
	want := []any{int64(-5), int64(6), int64(-7), int64(8), int64(9), int64(10), int64(11), int64(12), int64(13), 1.5, []any{"a", "b"},
		[]any{int64(1), map[string]any{"f": 2.0}}}
	got, err := decodeAll(encodeAll(t, []entry{{dest: 1, t: tuple.New(s, in...)}}), src)
	if err != nil {
		t.Fatal(err)
	}
	if d := sameTuple(got[0].t, tuple.New(s, want...)); d != "" {
		t.Fatal(d)
	}
}

func TestEncoderErrors(t *testing.T) {
	s := &tuple.Source{Component: "c", Stream: "default", Task: 1}
	cyclic := []any{nil}
	cyclic[0] = cyclic
	for _, tc := range []struct {
		name string
		t    *tuple.Tuple
		want string
	}{
		{"nil tuple", nil, "nil tuple"},
		{"no source", &tuple.Tuple{Values: []any{"x"}}, "no source"},
		{"unsupported type", tuple.New(s, "ok", struct{}{}), "value 1: type struct {} is not a tuple value"},
		{"channel in list", tuple.New(s, []any{"a", make(chan int)}), "value 0: list element 1: type chan int"},
		{"func in map", tuple.New(s, map[string]any{"f": func() {}}), `map key "f": type func()`},
		{"uint64 overflow", tuple.New(s, uint64(math.MaxUint64)), "does not fit in int64"},
		{"uint overflow", tuple.New(s, uint(math.MaxUint64)), "does not fit in int64"},
		{"invalid utf-8 string", tuple.New(s, "ok", "bad\xff"), `value 1: string "bad\xff" is not valid UTF-8`},
		{"invalid utf-8 key", tuple.New(s, map[string]any{"\xc0": 1}), "not valid UTF-8"},
		{"invalid utf-8 stream", tuple.New(&tuple.Source{Stream: "s\xfe", Task: 1}, "x"), "stream name"},
		{"too deep", tuple.New(s, nested(65, "x")), "nested deeper than 64 levels"},
		{"too deep maps", tuple.New(s, nestedMaps(65, "x")), "nested deeper than 64 levels"},
		{"cycle", tuple.New(s, cyclic), "nested deeper than 64 levels"},
		{"init of another task", &tuple.Tuple{Source: s, Values: []any{"x"}, Anchors: []tuple.Anchor{{Root: 1, Edge: 2}}, InitTask: 2}, "carries the init of task 2"},
		{"init without an anchor", &tuple.Tuple{Source: s, Values: []any{"x"}, InitTask: 1}, "with 0 anchors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e wire.Encoder
			if err := e.AddTuple(1, tuple.New(s, "first")); err != nil {
				t.Fatal(err)
			}
			before := bytes.Clone(e.Bytes())
			err := e.AddTuple(2, tc.t)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("AddTuple error = %v, want one containing %q", err, tc.want)
			}
			if !bytes.Equal(e.Bytes(), before) || e.Len() != 1 {
				t.Fatalf("a failed AddTuple changed the batch (len %d)", e.Len())
			}
		})
	}
}

func TestEncoderReset(t *testing.T) {
	src := newSources(false)
	s := src.add(1, "default")
	var e wire.Encoder
	if e.Len() != 0 || len(e.Bytes()) != 0 {
		t.Fatal("zero Encoder is not empty")
	}
	for round := range 3 {
		e.Reset()
		for i := range 10 {
			if err := e.AddTuple(int32(i), tuple.New(s, int64(round), strings.Repeat("y", 200))); err != nil {
				t.Fatal(err)
			}
		}
		e.AddControl(wire.Control{Kind: wire.ControlInit, Root: uint64(round)})
		if e.Len() != 11 || e.Size() != len(e.Bytes()) {
			t.Fatalf("round %d: Len %d Size %d", round, e.Len(), e.Size())
		}
		got, err := decodeAll(e.Bytes(), src)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 11 || got[0].t.Values[0] != int64(round) || got[10].control.Root != uint64(round) {
			t.Fatalf("round %d: decoded %v", round, got)
		}
	}
}

// Every count of values and anchors decodes to slices of exactly that length and
// capacity, so that appending to one tuple's slice never writes into another's.
func TestDecodedSliceShapes(t *testing.T) {
	src := newSources(false)
	s := src.add(1, "default")
	var want []entry
	for nv := range 7 {
		for na := range 3 {
			tp := &tuple.Tuple{Source: s}
			for i := range nv {
				tp.Values = append(tp.Values, int64(nv*10+i))
			}
			for i := range na {
				tp.Anchors = append(tp.Anchors, tuple.Anchor{Root: uint64(nv), Edge: uint64(i + 1)})
			}
			want = append(want, entry{dest: int32(nv*10 + na), t: tp})
		}
	}
	got, err := decodeAll(encodeAll(t, want), src)
	if err != nil {
		t.Fatal(err)
	}
	if d := sameEntries(got, want); d != "" {
		t.Fatal(d)
	}
	for i, en := range got {
		v, a := en.t.Values, en.t.Anchors
		if cap(v) != len(v) || cap(a) != len(a) || (len(v) == 0) != (v == nil) || (len(a) == 0) != (a == nil) {
			t.Errorf("entry %d: values len %d cap %d nil %v, anchors len %d cap %d nil %v", i, len(v), cap(v), v == nil, len(a), cap(a), a == nil)
		}
		if en.t.AckVal != 0 {
			t.Errorf("entry %d: AckVal %d", i, en.t.AckVal)
		}
	}
}

// TestDecoderAcrossBatches: a Decoder keeps what it learned from one batch for the next,
// without relying on the previous batch's buffer, which the transport reuses.
func TestDecoderAcrossBatches(t *testing.T) {
	src := newSources(false)
	a, b := src.add(1, "aa"), src.add(2, "bb")
	calls := 0
	dec := wire.NewDecoder(func(task int32, stream string) *tuple.Source {
		calls++
		return src.resolve(task, stream)
	})
	buf := make([]byte, 0, 256)
	for i, s := range []*tuple.Source{a, a, b, b, a} {
		var e wire.Encoder
		e.ResetTo(buf)
		for j := range 3 {
			if err := e.AddTuple(int32(j), tuple.New(s, fmt.Sprint("v", i, j))); err != nil {
				t.Fatal(err)
			}
		}
		buf = e.Bytes() // the same array every time, overwritten
		got, err := collect(func(onT func(int32, *tuple.Tuple), onC func(wire.Control)) error {
			return dec.Decode(buf, onT, onC)
		})
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		for j, en := range got {
			if en.t.Source != s || en.t.Values[0] != fmt.Sprint("v", i, j) {
				t.Fatalf("batch %d tuple %d: source %d/%q value %v, want %d/%q v%d%d", i, j, en.t.Source.Task, en.t.Source.Stream, en.t.Values[0], s.Task, s.Stream, i, j)
			}
		}
	}
	// Once per distinct source, although the sources alternate across batches.
	if calls != 2 {
		t.Errorf("resolve called %d times, want 2", calls)
	}
}
