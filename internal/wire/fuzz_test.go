package wire_test

import (
	"fmt"
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/wire"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// FuzzDecode feeds arbitrary bytes to Decode. It must never panic; when it succeeds,
// encoding what it decoded and decoding that again gives the same entries, and the
// generated code reads the same tuples and controls from the input.
func FuzzDecode(f *testing.F) {
	src := newSources(true)
	s0, s1 := src.add(0, tuple.DefaultStream), src.add(7, "événements")
	seeds := [][]entry{
		{{dest: 1, t: &tuple.Tuple{Source: s0, Values: []any{"some data"}, Anchors: []tuple.Anchor{{Root: 1, Edge: 2}}}}},
		{{dest: 2, t: tuple.New(s1, "word", int64(-3), 2.5, math.NaN(), true, nil, []byte{0, 1}, []any{"x", []any{}}, map[string]any{"k": map[string]any{"": int64(1)}})}},
		{{control: &wire.Control{Kind: wire.ControlInit, Task: 3, Spout: 1, Root: 5, Val: 6}}, {dest: -1, t: tuple.New(s0)},
			{control: &wire.Control{Kind: wire.ControlFailed, Task: -2, Root: math.MaxUint64}}},
		{{dest: 9, t: tuple.New(s1, nested(10, int64(1000)), nestedMaps(5, "deep"))}},
		{{dest: 4, t: &tuple.Tuple{Source: s1, Values: []any{"init"}, Anchors: []tuple.Anchor{{Root: 3, Edge: 4}}, InitTask: 7}}},
	}
	for _, seed := range seeds {
		f.Add(encodeAll(f, seed))
	}
	f.Add(rawTuple(rawValue(lenField(7, lenField(1, varintField(2, 2))), lenField(7, lenField(1, rawString("b"))))))
	f.Add(rawTuple(varintField(20, 1), groupField(24, varintField(1, 1))))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeAll(b, src)
		if err != nil {
			return
		}
		// Decoded entries encode again, and decode to the same entries.
		again, err := decodeAll(encodeAll(t, got), src)
		if err != nil {
			t.Fatalf("decoding the re-encoded batch: %v", err)
		}
		if d := sameEntries(again, got); d != "" {
			t.Fatalf("re-encoded batch decodes differently: %s", d)
		}
		// The generated code agrees about what the input holds.
		var pb sparsev1.Batch
		if err := proto.Unmarshal(b, &pb); err != nil {
			t.Fatalf("Decode accepted what proto.Unmarshal rejects: %v", err)
		}
		want, err := fromProto(&pb, src)
		if err != nil {
			t.Fatalf("Decode accepted what the generated code cannot convert: %v", err)
		}
		if d := sameEntries(tuplesThenControls(got), want); d != "" {
			t.Fatalf("Decode and the generated code disagree: %s", d)
		}
	})
}

// FuzzFastPath checks that Decode's fast paths change nothing but speed: for any input,
// Decode, a Decoder used twice on it, and the general decoder alone (DecodeSlow) give the
// same entries and the same error.
func FuzzFastPath(f *testing.F) {
	src := newSources(true)
	s0, s1 := src.add(0, tuple.DefaultStream), src.add(300, "événements")
	f.Add(encodeAll(f, []entry{
		{dest: 1, t: &tuple.Tuple{Source: s0, Values: []any{"some data"}, Anchors: []tuple.Anchor{{Root: 1, Edge: 2}}}},
		{dest: 200, t: tuple.New(s1, "word", int64(-3), 2.5, true, nil, []byte{1}, []any{"x"})},
		{dest: 200, t: tuple.New(s1, "word", int64(1)<<40, false)},
		{control: &wire.Control{Kind: wire.ControlAck, Task: 3, Spout: 1, Root: 5, Val: 6}},
		{control: &wire.Control{Kind: wire.ControlInit, Task: -2, Root: math.MaxUint64}},
		{dest: -1, t: tuple.New(s0)},
		{dest: 2, t: &tuple.Tuple{Source: s1, Values: []any{"init"}, Anchors: []tuple.Anchor{{Root: 7, Edge: 8}}, InitTask: 300}},
	}))
	f.Add(rawTuple(varintField(2, 300), lenField(5, fixed64Field(1, 1), fixed64Field(2, 2)), varintField(6, 2)))
	f.Add(rawTuple(varintField(2, 300), lenField(5, fixed64Field(1, 1), fixed64Field(2, 2)), varintField(6, 1), varintField(6, 0)))
	f.Add(rawTuple(varintField(2, 300), varintField(6, 1)))
	f.Add(rawTuple(varintField(1, 1), varintField(2, 0), varintField(1, 2), rawValue(rawString("a"))))
	f.Add(rawTuple(lenField(5, fixed64Field(1, 1), fixed64Field(2, 2)), rawValue(rawString("after an anchor"))))
	f.Add(rawTuple(rawValue(rawString("a"), rawString("b"))))
	f.Add(rawTuple(rawValue(varintField(4, 2)), rawValue(varintField(6, 0))))
	f.Add(rawTuple(rawValue(rawString("\xff"))))

	f.Fuzz(func(t *testing.T, b []byte) {
		want, wantErr := collect(func(onT func(int32, *tuple.Tuple), onC func(wire.Control)) error {
			return wire.DecodeSlow(b, src.resolve, onT, onC)
		})
		check := func(name string, got []entry, err error) {
			t.Helper()
			if fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Fatalf("%s: error %v, the general decoder's %v", name, err, wantErr)
			}
			if d := sameEntries(got, want); d != "" {
				t.Fatalf("%s and the general decoder disagree: %s", name, d)
			}
		}
		got, err := decodeAll(b, src)
		check("Decode", got, err)
		dec := wire.NewDecoder(src.resolve)
		for _, name := range []string{"a Decoder", "a Decoder again"} {
			got, err := collect(func(onT func(int32, *tuple.Tuple), onC func(wire.Control)) error {
				return dec.Decode(b, onT, onC)
			})
			check(name, got, err)
		}
	})
}

// collect runs a decode and returns the entries it handed over, in order.
func collect(decode func(func(int32, *tuple.Tuple), func(wire.Control)) error) ([]entry, error) {
	var out []entry
	err := decode(func(dest int32, t *tuple.Tuple) { out = append(out, entry{dest: dest, t: t}) },
		func(c wire.Control) { out = append(out, entry{control: &c}) })
	return out, err
}
