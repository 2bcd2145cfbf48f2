package wire_test

import (
	"fmt"
	"math"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/wire"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// conformanceEntries is a batch with every kind of value, anchor and control.
func conformanceEntries(src *sources) []entry {
	var out []entry
	i := int32(0)
	for _, vals := range roundTripValues() {
		i++
		var anchors []tuple.Anchor
		for j := range i % 4 {
			anchors = append(anchors, tuple.Anchor{Root: uint64(i)<<32 | uint64(j), Edge: math.MaxUint64 / uint64(j+1)})
		}
		out = append(out, entry{dest: i - 3, t: &tuple.Tuple{Source: src.add(i%3-1, fmt.Sprint("stream", i%2)), Values: vals, Anchors: anchors}})
		c := wire.Control{Kind: uint8(i % 7), Task: -i, Spout: i * 1000, Root: uint64(i) * 0x9e3779b97f4a7c15, Val: uint64(i)}
		out = append(out, entry{control: &c})
	}
	// A spout tuple that carries its tree's init.
	s := src.add(5, "stream0")
	return append(out, entry{dest: 2, t: &tuple.Tuple{Source: s, Values: []any{"init"}, Anchors: []tuple.Anchor{{Root: 9, Edge: 10}}, InitTask: 5}})
}

// toProto builds the generated Batch that holds entries.
func toProto(t testing.TB, entries []entry) *sparsev1.Batch {
	t.Helper()
	b := &sparsev1.Batch{}
	for _, en := range entries {
		if en.control != nil {
			b.Controls = append(b.Controls, wire.ControlToProto(*en.control))
			continue
		}
		p, err := wire.TupleToProto(en.dest, en.t)
		if err != nil {
			t.Fatal(err)
		}
		b.Tuples = append(b.Tuples, p)
	}
	return b
}

// fromProto returns the entries of a generated Batch: its tuples, then its controls.
func fromProto(b *sparsev1.Batch, src *sources) ([]entry, error) {
	var out []entry
	for i, p := range b.GetTuples() {
		s := src.resolve(p.GetSourceTask(), p.GetStream())
		if s == nil {
			return nil, fmt.Errorf("tuple %d: unknown source %d/%q", i, p.GetSourceTask(), p.GetStream())
		}
		t := &tuple.Tuple{Source: s}
		if n := len(p.GetValues()); n > 0 {
			t.Values = make([]any, 0, n)
		}
		if n := len(p.GetAnchors()); n > 0 {
			t.Anchors = make([]tuple.Anchor, 0, n)
		}
		for j, pv := range p.GetValues() {
			v, err := wire.ValueFromProto(pv)
			if err != nil {
				return nil, fmt.Errorf("tuple %d value %d: %w", i, j, err)
			}
			t.Values = append(t.Values, v)
		}
		for _, a := range p.GetAnchors() {
			t.Anchors = append(t.Anchors, tuple.Anchor{Root: a.GetRoot(), Edge: a.GetEdge()})
		}
		if p.GetInitCarried() {
			if len(t.Anchors) != 1 {
				return nil, fmt.Errorf("tuple %d: init_carried with %d anchors", i, len(t.Anchors))
			}
			t.InitTask = p.GetSourceTask()
		}
		out = append(out, entry{dest: p.GetDestTask(), t: t})
	}
	for i, p := range b.GetControls() {
		c, err := wire.ControlFromProto(p)
		if err != nil {
			return nil, fmt.Errorf("control %d: %w", i, err)
		}
		out = append(out, entry{control: &c})
	}
	return out, nil
}

// tuplesThenControls reorders entries as the generated Batch holds them.
func tuplesThenControls(entries []entry) []entry {
	var tuples, controls []entry
	for _, en := range entries {
		if en.control != nil {
			controls = append(controls, en)
		} else {
			tuples = append(tuples, en)
		}
	}
	return append(tuples, controls...)
}

// Bytes written by Encoder are the Batch the generated code reads.
func TestEncoderBytesUnmarshalWithGeneratedCode(t *testing.T) {
	src := newSources(false)
	entries := conformanceEntries(src)
	var got sparsev1.Batch
	if err := proto.Unmarshal(encodeAll(t, entries), &got); err != nil {
		t.Fatalf("proto.Unmarshal of Encoder output: %v", err)
	}
	want := toProto(t, entries)
	if !proto.Equal(&got, want) {
		t.Fatal("proto.Unmarshal of Encoder output differs from the expected Batch")
	}
	if len(got.ProtoReflect().GetUnknown()) != 0 {
		t.Fatal("Encoder wrote fields the Batch message does not declare")
	}
}

// Bytes written by the generated code decode with Decode.
func TestDecodeReadsGeneratedBytes(t *testing.T) {
	src := newSources(false)
	entries := conformanceEntries(src)
	// Controls after tuples: the order in which the generated code writes them.
	entries = tuplesThenControls(entries)
	for _, deterministic := range []bool{false, true} {
		b, err := proto.MarshalOptions{Deterministic: deterministic}.Marshal(toProto(t, entries))
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeAll(b, src)
		if err != nil {
			t.Fatalf("Decode of proto.Marshal output: %v", err)
		}
		if d := sameEntries(got, entries); d != "" {
			t.Fatal(d)
		}
	}
}

// Protobuf lets fields repeat: the last scalar wins and a repeated message field merges
// into the previous one. Decode reads such input as the generated code does.
func TestDecodeMergesLikeGeneratedCode(t *testing.T) {
	for name, in := range map[string][]byte{
		"list twice":         rawTuple(rawValue(lenField(7, lenField(1, varintField(2, 2))), lenField(7, lenField(1, rawString("b"))))),
		"map twice":          rawTuple(rawValue(lenField(8, lenField(1, lenField(1, []byte("a")), lenField(2, varintField(4, 1)))), lenField(8, lenField(1, lenField(1, []byte("b")), lenField(2, varintField(6, 0)))))),
		"list then string":   rawTuple(rawValue(lenField(7, lenField(1, varintField(2, 2))), rawString("s"))),
		"list string list":   rawTuple(rawValue(lenField(7, lenField(1, varintField(2, 2))), rawString("s"), lenField(7, lenField(1, varintField(2, 4))))),
		"map then list":      rawTuple(rawValue(lenField(8, lenField(1, lenField(1, []byte("a")))), lenField(7))),
		"duplicate map key":  rawTuple(rawValue(lenField(8, lenField(1, lenField(1, []byte("a")), lenField(2, varintField(2, 2))), lenField(1, lenField(1, []byte("a")), lenField(2, rawString("second")))))),
		"entry value twice":  rawTuple(rawValue(lenField(8, lenField(1, lenField(1, []byte("a")), lenField(2, lenField(7, lenField(1, rawString("x")))), lenField(2, lenField(7, lenField(1, rawString("y")))))))),
		"entry key twice":    rawTuple(rawValue(lenField(8, lenField(1, lenField(1, []byte("a")), lenField(1, []byte("b")), lenField(2, varintField(4, 1)))))),
		"entry without key":  rawTuple(rawValue(lenField(8, lenField(1, lenField(2, rawString("v")))))),
		"entry without val":  rawTuple(rawValue(lenField(8, lenField(1, lenField(1, []byte("k")))))),
		"empty value":        rawTuple(rawValue()),
		"int then bool":      rawTuple(rawValue(varintField(2, 5), varintField(4, 7))),
		"null with value 3":  rawTuple(rawValue(varintField(6, 3))),
		"dest twice":         lenField(1, varintField(1, 5), varintField(2, 1), lenField(3, []byte("default")), varintField(1, 6)),
		"dest 64-bit":        lenField(1, varintField(1, 1<<40|7), varintField(2, 1), lenField(3, []byte("default"))),
		"stream twice":       lenField(1, varintField(2, 1), lenField(3, []byte("x")), lenField(3, []byte("default"))),
		"anchor field twice": rawTuple(lenField(5, fixed64Field(1, 1), fixed64Field(2, 2), fixed64Field(1, 3))),
		"control twice":      lenField(2, varintField(1, 2), varintField(1, 3), fixed64Field(5, 9), fixed64Field(5, 10)),
		"non-minimal varint": lenField(2, []byte{0x08, 0x82, 0x80, 0x80, 0x00}),
		"kind in high bits":  lenField(2, varintField(1, 1<<32|2)),
		"empty":              nil,
	} {
		t.Run(name, func(t *testing.T) {
			src := knownSources()
			got, err := decodeAll(in, src)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			var pb sparsev1.Batch
			if err := proto.Unmarshal(in, &pb); err != nil {
				t.Fatalf("proto.Unmarshal: %v", err)
			}
			want, err := fromProto(&pb, src)
			if err != nil {
				t.Fatal(err)
			}
			if d := sameEntries(got, want); d != "" {
				t.Fatal(d)
			}
		})
	}
}

// The generated code rejects the invalid UTF-8 that Decode rejects.
func TestGeneratedCodeAlsoRejectsInvalidUTF8(t *testing.T) {
	for _, in := range [][]byte{
		rawTuple(rawValue(rawString("\xff"))),
		rawTuple(rawValue(lenField(8, lenField(1, lenField(1, []byte("\xff")))))),
		lenField(1, lenField(3, []byte("\xff"))),
	} {
		if err := proto.Unmarshal(in, &sparsev1.Batch{}); err == nil {
			t.Errorf("proto.Unmarshal(% x) accepted invalid UTF-8", in)
		}
		if _, err := decodeAll(in, newSources(true)); err == nil {
			t.Errorf("Decode(% x) accepted invalid UTF-8", in)
		}
	}
}

func TestProtoConversions(t *testing.T) {
	for name, vals := range roundTripValues() {
		for i, v := range vals {
			p, err := wire.ValueToProto(v)
			if err != nil {
				t.Fatalf("%s %d: ValueToProto: %v", name, i, err)
			}
			back, err := wire.ValueFromProto(p)
			if err != nil {
				t.Fatalf("%s %d: ValueFromProto: %v", name, i, err)
			}
			if !sameValue(back, v) {
				t.Fatalf("%s %d: %#v came back as %#v", name, i, v, back)
			}
		}
	}
	if v, err := wire.ValueFromProto(nil); v != nil || err != nil {
		t.Errorf("ValueFromProto(nil) = %v, %v", v, err)
	}
	if p, _ := wire.ValueToProto(nil); p.GetNullValue() != structpb.NullValue_NULL_VALUE || p.GetKind() == nil {
		t.Errorf("nil converts to %v, want null_value", p)
	}
	if _, err := wire.ValueToProto(nested(wire.MaxDepth+1, "x")); err == nil {
		t.Error("ValueToProto accepted a value nested too deep")
	}
	if _, err := wire.ValueToProto(struct{}{}); err == nil {
		t.Error("ValueToProto accepted a struct")
	}
	deep := &sparsev1.Value{Kind: &sparsev1.Value_StringValue{StringValue: "x"}}
	for range wire.MaxDepth + 1 {
		deep = &sparsev1.Value{Kind: &sparsev1.Value_ListValue{ListValue: &sparsev1.List{Values: []*sparsev1.Value{deep}}}}
	}
	if _, err := wire.ValueFromProto(deep); err == nil {
		t.Error("ValueFromProto accepted a value nested too deep")
	}

	conf := map[string]any{"topology.workers": int64(3), "topology.debug": true, "name": "x", "list": []any{1.5}, "int": 7}
	pm, err := wire.MapToProto(conf)
	if err != nil {
		t.Fatal(err)
	}
	back, err := wire.MapFromProto(pm)
	if err != nil {
		t.Fatal(err)
	}
	conf["int"] = int64(7)
	if !sameValue(back, conf) {
		t.Errorf("config %v came back as %v", conf, back)
	}
	if m, err := wire.MapToProto(nil); m != nil || err != nil {
		t.Errorf("MapToProto(nil) = %v, %v", m, err)
	}
	if m, err := wire.MapFromProto(nil); m != nil || err != nil {
		t.Errorf("MapFromProto(nil) = %v, %v", m, err)
	}

	if _, err := wire.ControlFromProto(&sparsev1.Control{Kind: 300}); err == nil {
		t.Error("ControlFromProto accepted kind 300")
	}
	if _, err := wire.TupleToProto(1, &tuple.Tuple{}); err == nil {
		t.Error("TupleToProto accepted a tuple without source")
	}
}

// The kinds in package wire are the enum's numbers.
func TestControlKindsMatchEnum(t *testing.T) {
	for k, want := range map[uint8]sparsev1.ControlKind{
		wire.ControlInit:     sparsev1.ControlKind_CONTROL_KIND_INIT,
		wire.ControlAck:      sparsev1.ControlKind_CONTROL_KIND_ACK,
		wire.ControlFail:     sparsev1.ControlKind_CONTROL_KIND_FAIL,
		wire.ControlReset:    sparsev1.ControlKind_CONTROL_KIND_RESET,
		wire.ControlComplete: sparsev1.ControlKind_CONTROL_KIND_COMPLETE,
		wire.ControlFailed:   sparsev1.ControlKind_CONTROL_KIND_FAILED,
	} {
		if sparsev1.ControlKind(k) != want {
			t.Errorf("kind %d, enum %v = %d", k, want, want)
		}
	}
}

// The field numbers the codec uses are those of tuple.proto.
func TestFieldNumbersMatchProto(t *testing.T) {
	fields := func(m proto.Message) map[string]protowire.Number {
		out := map[string]protowire.Number{}
		fds := m.ProtoReflect().Descriptor().Fields()
		for i := range fds.Len() {
			out[string(fds.Get(i).Name())] = fds.Get(i).Number()
		}
		return out
	}
	for _, tc := range []struct {
		msg  proto.Message
		want map[string]protowire.Number
	}{
		{&sparsev1.Batch{}, map[string]protowire.Number{"tuples": 1, "controls": 2}},
		{&sparsev1.Tuple{}, map[string]protowire.Number{"dest_task": 1, "source_task": 2, "stream": 3, "values": 4, "anchors": 5, "init_carried": 6}},
		{&sparsev1.Anchor{}, map[string]protowire.Number{"root": 1, "edge": 2}},
		{&sparsev1.Control{}, map[string]protowire.Number{"kind": 1, "dest_task": 2, "spout_task": 3, "root": 4, "val": 5}},
		{&sparsev1.Value{}, map[string]protowire.Number{"string_value": 1, "int_value": 2, "double_value": 3, "bool_value": 4, "bytes_value": 5, "null_value": 6, "list_value": 7, "map_value": 8}},
		{&sparsev1.List{}, map[string]protowire.Number{"values": 1}},
		{&sparsev1.Map{}, map[string]protowire.Number{"entries": 1}},
	} {
		got := fields(tc.msg)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%T fields %v, the codec assumes %v", tc.msg, got, tc.want)
		}
	}
}
