package wire_test

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sparsestream/sparse/internal/wire"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// Raw protobuf builders for inputs the Encoder would never write.

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func lenField(num protowire.Number, body ...[]byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, cat(body...))
}

func varintField(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
}

func fixed64Field(num protowire.Number, v uint64) []byte {
	return protowire.AppendFixed64(protowire.AppendTag(nil, num, protowire.Fixed64Type), v)
}

func fixed32Field(num protowire.Number, v uint32) []byte {
	return protowire.AppendFixed32(protowire.AppendTag(nil, num, protowire.Fixed32Type), v)
}

func groupField(num protowire.Number, body ...[]byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.StartGroupType)
	return protowire.AppendTag(append(b, cat(body...)...), num, protowire.EndGroupType)
}

// rawTuple is a Batch entry holding a Tuple from task 1 on "default" with the given
// extra fields (values, anchors, anything).
func rawTuple(fields ...[]byte) []byte {
	return lenField(1, cat(varintField(1, 2), varintField(2, 1), lenField(3, []byte("default"))), cat(fields...))
}

// rawValue is a Tuple's values field holding a Value with the given fields.
func rawValue(fields ...[]byte) []byte { return lenField(4, fields...) }

func rawString(s string) []byte { return lenField(1, []byte(s)) }

// rawNested is depth List Values, one inside the other, around a string.
func rawNested(depth int) []byte {
	v := rawString("leaf")
	for range depth {
		v = lenField(7, lenField(1, v))
	}
	return v
}

// rawNestedMaps is depth Map Values, one inside the other, around a string.
func rawNestedMaps(depth int) []byte {
	v := rawString("leaf")
	for range depth {
		v = lenField(8, lenField(1, lenField(1, []byte("k")), lenField(2, v)))
	}
	return v
}

func knownSources() *sources {
	s := newSources(false)
	s.add(1, "default")
	return s
}

func TestDecodeErrors(t *testing.T) {
	huge := protowire.AppendVarint([]byte{0x0a}, 1<<40)
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"bad key", []byte{0x00}, "batch entry 0 at offset 0: bad field key"},
		{"truncated key", []byte{0x80}, "bad field key: unexpected EOF"},
		{"field number 0", []byte{0x02, 0x00}, "bad field key: field number 0 is not between 1 and 536870911"},
		{"field number too large", protowire.AppendVarint(nil, uint64(protowire.MaxValidNumber+1)<<3), "field number 536870912 is not between 1 and 536870911"},
		{"field number too large in tuple", rawTuple(protowire.AppendVarint(nil, 1<<40)), "offset 15: bad field key: field number 137438953472"},
		{"tuples as varint", varintField(1, 5), "Batch field 1 has wire type 0 (varint), want 2 (length-delimited)"},
		{"controls as fixed64", fixed64Field(2, 5), "Batch field 2 has wire type 1 (fixed64), want 2"},
		{"tuple as end group", protowire.AppendTag(nil, 1, protowire.EndGroupType), "Batch field 1 has wire type 4 (end group)"},
		{"stray end group", protowire.AppendTag(nil, 9, protowire.EndGroupType), "unknown field 9"},
		{"reserved wire type", protowire.AppendTag(nil, 9, 6), "unknown field 9"},
		{"oversized batch entry", huge, "field 1 (tuples): length 1099511627776 exceeds the 0 bytes that remain"},
		{"oversized entry, some bytes", append(protowire.AppendVarint([]byte{0x12}, 100), 1, 2, 3), "field 2 (controls): length 100 exceeds the 3 bytes that remain"},
		{"dest as bytes", lenField(1, lenField(1, []byte("x"))), "Tuple field 1 has wire type 2 (length-delimited), want 0 (varint)"},
		{"stream as varint", lenField(1, varintField(3, 1)), "Tuple field 3 has wire type 0 (varint), want 2"},
		{"oversized stream", lenField(1, protowire.AppendVarint([]byte{0x1a}, 1000), []byte("abc")), "field 3 (stream): length 1000 exceeds the 3 bytes that remain"},
		{"truncated dest", lenField(1, []byte{0x08, 0x80}), "field 1 (dest_task): unexpected EOF"},
		{"values as varint", rawTuple(varintField(4, 1)), "Tuple field 4 has wire type 0"},
		{"init as bytes", rawTuple(lenField(6, []byte{1})), "Tuple field 6 has wire type 2 (length-delimited), want 0 (varint)"},
		{"init without an anchor", rawTuple(varintField(6, 1)), "field 6 (init_carried) is set on a tuple with 0 anchors"},
		{"string as varint", rawTuple(rawValue(varintField(1, 3))), "value 0: offset 17: Value field 1 has wire type 0 (varint), want 2"},
		{"int as fixed64", rawTuple(rawValue(fixed64Field(2, 3))), "Value field 2 has wire type 1 (fixed64), want 0"},
		{"double as varint", rawTuple(rawValue(varintField(3, 3))), "Value field 3 has wire type 0 (varint), want 1"},
		{"list as varint", rawTuple(rawValue(varintField(7, 3))), "Value field 7 has wire type 0"},
		{"map as fixed32", rawTuple(rawValue(fixed32Field(8, 3))), "Value field 8 has wire type 5 (fixed32)"},
		{"oversized string", rawTuple(rawValue(protowire.AppendVarint([]byte{0x0a}, 1<<62))), "field 1 (string_value): length 4611686018427387904 exceeds the 0 bytes that remain"},
		{"truncated double", rawTuple(rawValue([]byte{0x19, 1, 2, 3})), "field 3 (double_value): unexpected EOF"},
		{"list element as varint", rawTuple(rawValue(lenField(7, varintField(1, 1)))), "List field 1 has wire type 0"},
		{"map entry as varint", rawTuple(rawValue(lenField(8, varintField(1, 1)))), "Map field 1 has wire type 0"},
		{"map key as varint", rawTuple(rawValue(lenField(8, lenField(1, varintField(1, 1))))), "map entry field 1 has wire type 0"},
		{"map value as varint", rawTuple(rawValue(lenField(8, lenField(1, varintField(2, 1))))), "map entry field 2 has wire type 0"},
		{"anchor root as varint", rawTuple(lenField(5, varintField(1, 1))), "anchor 0: offset 17: Anchor field 1 has wire type 0 (varint), want 1 (fixed64)"},
		{"truncated anchor", rawTuple(lenField(5, []byte{0x09, 1, 2})), "field 1 (root): unexpected EOF"},
		{"control kind as fixed64", lenField(2, fixed64Field(1, 1)), "control at offset 0): offset 2: Control field 1 has wire type 1"},
		{"control root as varint", lenField(2, varintField(4, 1)), "Control field 4 has wire type 0"},
		{"control kind too large", lenField(2, varintField(1, 256)), "field 1 (kind): control kind 256 is out of range"},
		{"control kind negative", lenField(2, varintField(1, ^uint64(0))), "control kind -1 is out of range"},
		{"unknown task", lenField(1, varintField(2, 9), lenField(3, []byte("nope"))), `unknown source: task 9 has no stream "nope" here`},
		{"unknown stream", lenField(1, varintField(1, 4), varintField(2, 1), lenField(3, []byte("other"))), `task 1 has no stream "other" here (tuple for task 4)`},
		{"no stream", lenField(1, varintField(2, 1)), `task 1 has no stream "" here`},
		{"invalid utf-8 string", rawTuple(rawValue(rawString("ok\xffno"))), `field 1 (string_value): "ok\xffno" is not valid UTF-8`},
		{"invalid utf-8 in list", rawTuple(rawValue(lenField(7, lenField(1, rawString("\xc3("))))), "list at offset 17: element 0: offset 21: field 1 (string_value)"},
		{"invalid utf-8 key", rawTuple(rawValue(lenField(8, lenField(1, lenField(1, []byte("\xed\xa0\x80")))))), `field 1 (key): "\xed\xa0\x80" is not valid UTF-8`},
		{"invalid utf-8 stream", lenField(1, varintField(2, 1), lenField(3, []byte("def\xffault"))), `field 3 (stream): "def\xffault" is not valid UTF-8`},
		{"lists too deep", rawTuple(lenField(4, rawNested(65))), "field 7 (list_value): lists and maps nested deeper than 64 levels"},
		{"maps too deep", rawTuple(lenField(4, rawNestedMaps(65))), "field 8 (map_value): lists and maps nested deeper than 64 levels"},
		{"very deep", rawTuple(lenField(4, rawNested(3000))), "nested deeper than 64 levels"},
		{"bad unknown field in tuple", rawTuple(protowire.AppendTag(nil, 20, 7)), "unknown field 20"},
		{"unterminated group", rawTuple(protowire.AppendTag(nil, 20, protowire.StartGroupType)), "unknown field 20"},
		{"second entry bad", cat(rawTuple(), []byte{0x0a, 5}), "batch entry 1 at offset 15: field 1 (tuples): length 5 exceeds the 0 bytes that remain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeAll(tc.in, knownSources())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode(% x):\nerror %v\nwant one containing %q", tc.in, err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "wire: batch entry ") {
				t.Errorf("error %q does not say which batch entry is at fault", err)
			}
		})
	}
}

func TestDecodeNilCallbacks(t *testing.T) {
	if err := wire.Decode(nil, nil, nil, nil); err == nil {
		t.Fatal("Decode with nil functions succeeded")
	}
}

// The exact nesting limit: 64 levels of lists (depths 0 to 63) decode, 65 do not.
func TestDecodeDepthLimit(t *testing.T) {
	s := knownSources()
	// rawNested(n) starts with the Value's list field; a Tuple's value field wraps it.
	for depth, ok := range map[int]bool{63: true, 64: true, 65: false} {
		in := rawTuple(lenField(4, rawNested(depth)))
		got, err := decodeAll(in, s)
		if ok != (err == nil) {
			t.Fatalf("depth %d: error %v", depth, err)
		}
		if ok && !sameValue(got[0].t.Values[0], nested(depth, "leaf")) {
			t.Fatalf("depth %d: decoded %#v", depth, got[0].t.Values[0])
		}
		in = rawTuple(lenField(4, rawNestedMaps(depth)))
		if _, err := decodeAll(in, s); ok != (err == nil) {
			t.Fatalf("maps depth %d: error %v", depth, err)
		}
	}
}

// Unknown fields of every wire type, at every level, are skipped.
func TestDecodeSkipsUnknownFields(t *testing.T) {
	unknown := cat(varintField(20, 1), fixed32Field(21, 2), fixed64Field(22, 3), lenField(23, []byte("x")),
		groupField(24, varintField(1, 1), groupField(2)))
	in := cat(
		unknown,
		rawTuple(unknown,
			rawValue(unknown, rawString("s"), unknown),
			rawValue(lenField(7, unknown, lenField(1, unknown, varintField(2, 2)), unknown)),
			rawValue(lenField(8, unknown, lenField(1, unknown, lenField(1, []byte("k")), unknown, lenField(2, unknown, varintField(4, 1))))),
			rawValue(unknown),
			lenField(5, unknown, fixed64Field(1, 7), unknown, fixed64Field(2, 8)),
		),
		lenField(2, unknown, varintField(1, 2), unknown, varintField(2, 3)),
		unknown,
	)
	got, err := decodeAll(in, knownSources())
	if err != nil {
		t.Fatal(err)
	}
	s := knownSources().add(1, "default")
	want := []entry{
		{dest: 2, t: &tuple.Tuple{Source: s, Values: []any{"s", []any{int64(1)}, map[string]any{"k": true}, nil}, Anchors: []tuple.Anchor{{Root: 7, Edge: 8}}}},
		{control: &wire.Control{Kind: wire.ControlAck, Task: 3}},
	}
	if d := sameEntries(got, want); d != "" {
		t.Fatal(d)
	}
}

// A batch cut anywhere fails to decode, except where the cut falls between two entries,
// which leaves a shorter valid batch.
func TestDecodeTruncated(t *testing.T) {
	src := newSources(false)
	s := src.add(1, "default")
	entries := []entry{
		{dest: 1, t: &tuple.Tuple{Source: s, Values: []any{"some data", int64(-300), 2.5, true, []byte("b"), nil}, Anchors: []tuple.Anchor{{Root: 1, Edge: 2}}}},
		{control: &wire.Control{Kind: wire.ControlInit, Task: 2, Spout: 1, Root: 3, Val: 4}},
		{dest: 2, t: tuple.New(s, []any{"x", []any{int64(1)}}, map[string]any{"k": map[string]any{"kk": "v"}}, strings.Repeat("z", 200))},
		{dest: 3, t: tuple.New(s)},
	}
	var e wire.Encoder
	boundaries := map[int]int{0: 0}
	for i, en := range entries {
		if en.control != nil {
			e.AddControl(*en.control)
		} else if err := e.AddTuple(en.dest, en.t); err != nil {
			t.Fatal(err)
		}
		boundaries[e.Size()] = i + 1
	}
	b := e.Bytes()
	for cut := range len(b) {
		got, err := decodeAll(b[:cut], src)
		if n, ok := boundaries[cut]; ok {
			if err != nil {
				t.Fatalf("cut at entry boundary %d: %v", cut, err)
			}
			if d := sameEntries(got, entries[:n]); d != "" {
				t.Fatalf("cut at %d: %s", cut, d)
			}
			continue
		}
		if err == nil {
			t.Fatalf("cut at %d of %d decoded without error: %v", cut, len(b), got)
		}
	}
}

// What Decode allocates is bounded by its input, whatever the length prefixes claim.
func TestDecodeAllocationBounded(t *testing.T) {
	inputs := map[string][]byte{
		"huge prefix":        protowire.AppendVarint([]byte{0x0a}, 1<<62),
		"huge string prefix": rawTuple(rawValue(protowire.AppendVarint([]byte{0x0a}, 1<<40))),
		"huge list prefix":   rawTuple(rawValue(protowire.AppendVarint([]byte{0x3a}, 1<<40))),
	}
	// Many empty list elements: the most values per input byte.
	var elems []byte
	for range 4096 {
		elems = append(elems, lenField(1)...)
	}
	inputs["many elements"] = rawTuple(rawValue(lenField(7, elems)))
	for name, in := range inputs {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, _ = decodeAll(in, knownSources())
		runtime.ReadMemStats(&after)
		if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(64*len(in)+64<<10); got > limit {
			t.Errorf("%s: decoding %d bytes allocated %d bytes (limit %d)", name, len(in), got, limit)
		}
	}
}
