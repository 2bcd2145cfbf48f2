package tuple_test

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/sparsestream/sparse/pkg/tuple"
)

func TestNormalizeAccepts(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"string", "word", "word"},
		{"empty string", "", ""},
		{"int64", int64(-7), int64(-7)},
		{"int64 max", int64(math.MaxInt64), int64(math.MaxInt64)},
		{"float64", 2.5, 2.5},
		{"bool true", true, true},
		{"bool false", false, false},
		{"bytes", []byte("raw"), []byte("raw")},
		{"nil", nil, nil},
		{"int", int(42), int64(42)},
		{"int negative", int(-42), int64(-42)},
		{"int32", int32(math.MinInt32), int64(math.MinInt32)},
		{"int16", int16(-300), int64(-300)},
		{"int8", int8(-128), int64(-128)},
		{"uint8", uint8(255), int64(255)},
		{"uint16", uint16(65535), int64(65535)},
		{"uint32", uint32(math.MaxUint32), int64(math.MaxUint32)},
		{"uint", uint(9), int64(9)},
		{"uint at int64 max", uint(math.MaxInt64), int64(math.MaxInt64)},
		{"uint64", uint64(12), int64(12)},
		{"uint64 at int64 max", uint64(math.MaxInt64), int64(math.MaxInt64)},
		{"float32", float32(0.25), float64(0.25)},
		{"float32 negative", float32(-1.5), float64(-1.5)},
		{"string slice", []string{"a", "b"}, []any{"a", "b"}},
		{"empty string slice", []string{}, []any{}},
		{"empty list", []any{}, []any{}},
		{"empty map", map[string]any{}, map[string]any{}},
		{
			"list with conversions",
			[]any{int(1), int32(2), uint8(3), float32(0.5), "s", nil, []byte{1}},
			[]any{int64(1), int64(2), int64(3), float64(0.5), "s", nil, []byte{1}},
		},
		{
			"map with conversions",
			map[string]any{"i": int(1), "f": float32(1.5), "s": "x", "b": true},
			map[string]any{"i": int64(1), "f": float64(1.5), "s": "x", "b": true},
		},
		{
			"nested list in map in list",
			[]any{map[string]any{"l": []any{int16(4), []string{"z"}}}},
			[]any{map[string]any{"l": []any{int64(4), []any{"z"}}}},
		},
		{
			"nested map in list in map",
			map[string]any{"outer": []any{map[string]any{"n": uint32(8)}}},
			map[string]any{"outer": []any{map[string]any{"n": int64(8)}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			values := []any{"first", tc.in, "last"}
			if err := tuple.Normalize(values); err != nil {
				t.Fatalf("Normalize(%#v): %v", tc.in, err)
			}
			if !reflect.DeepEqual(values[1], tc.want) {
				t.Errorf("Normalize converted %#v to %#v (%T), want %#v (%T)", tc.in, values[1], values[1], tc.want, tc.want)
			}
			if values[0] != "first" || values[2] != "last" {
				t.Errorf("neighbouring values changed: %#v", values)
			}
		})
	}
}

func TestNormalizeInPlace(t *testing.T) {
	inner := []any{int(5)}
	m := map[string]any{"k": int8(6)}
	values := []any{int(1), inner, m}
	if err := tuple.Normalize(values); err != nil {
		t.Fatal(err)
	}
	if _, ok := values[0].(int64); !ok {
		t.Errorf("values[0] is %T, want int64 written back into the caller's slice", values[0])
	}
	// Nested lists and maps are converted in place too, so the caller's references see it.
	if _, ok := inner[0].(int64); !ok {
		t.Errorf("nested list element is %T, want int64 converted in place", inner[0])
	}
	if _, ok := m["k"].(int64); !ok {
		t.Errorf("nested map value is %T, want int64 converted in place", m["k"])
	}
}

func TestNormalizeEmpty(t *testing.T) {
	if err := tuple.Normalize(nil); err != nil {
		t.Errorf("Normalize(nil) = %v, want nil", err)
	}
	if err := tuple.Normalize([]any{}); err != nil {
		t.Errorf("Normalize([]) = %v, want nil", err)
	}
}

type point struct{ X, Y int }

// nestLists wraps leaf in n levels of []any.
func nestLists(n int, leaf any) any {
	v := leaf
	for range n {
		v = []any{v}
	}
	return v
}

// nestMaps wraps leaf in n levels of map[string]any.
func nestMaps(n int, leaf any) any {
	v := leaf
	for range n {
		v = map[string]any{"k": v}
	}
	return v
}

func TestNormalizeRejects(t *testing.T) {
	tests := []struct {
		name   string
		values []any
		want   []string // fragments the error must contain
	}{
		{
			"uint64 overflow",
			[]any{"a", int64(1), uint64(math.MaxInt64) + 1},
			[]string{"value 2", "uint64", "9223372036854775808", "does not fit in int64"},
		},
		{
			"uint64 max",
			[]any{uint64(math.MaxUint64)},
			[]string{"value 0", "uint64", "does not fit in int64"},
		},
		{
			"uint overflow",
			[]any{"x", uint(math.MaxUint64)},
			[]string{"value 1", "uint ", "does not fit in int64"},
		},
		{
			"struct",
			[]any{"a", "b", "c", point{1, 2}},
			[]string{"value 3", "tuple_test.point", "is not a tuple value"},
		},
		{
			"chan",
			[]any{make(chan int)},
			[]string{"value 0", "chan int", "is not a tuple value"},
		},
		{
			"pointer",
			[]any{"a", new(int)},
			[]string{"value 1", "*int"},
		},
		{
			"func",
			[]any{func() {}},
			[]string{"value 0", "func()"},
		},
		{
			"int slice",
			[]any{[]int{1}},
			[]string{"value 0", "[]int"},
		},
		{
			"map of strings",
			[]any{map[string]string{"a": "b"}},
			[]string{"value 0", "map[string]string"},
		},
		{
			"map with int keys",
			[]any{map[int]any{1: "b"}},
			[]string{"value 0", "map[int]interface {}"},
		},
		{
			"complex",
			[]any{complex(1, 2)},
			[]string{"value 0", "complex128"},
		},
		{
			"struct in list",
			[]any{"a", []any{"ok", point{}}},
			[]string{"value 1", "list element 1", "tuple_test.point"},
		},
		{
			"uint64 overflow in map",
			[]any{map[string]any{"big": uint64(math.MaxUint64)}},
			[]string{"value 0", `map key "big"`, "uint64", "does not fit in int64"},
		},
		{
			"chan deep inside",
			[]any{1, 2, []any{map[string]any{"c": []any{make(chan struct{})}}}},
			[]string{"value 2", "list element 0", `map key "c"`, "list element 0", "chan struct {}"},
		},
		{
			"lists nested 65 deep",
			[]any{"a", nestLists(65, "leaf")},
			[]string{"value 1", "list nested deeper than 64 levels"},
		},
		{
			"maps nested 65 deep",
			[]any{nestMaps(65, "leaf")},
			[]string{"value 0", "map nested deeper than 64 levels"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tuple.Normalize(tc.values)
			if err == nil {
				t.Fatalf("Normalize(%v) = nil, want an error", tc.values)
			}
			for _, frag := range tc.want {
				if !strings.Contains(err.Error(), frag) {
					t.Errorf("error %q does not contain %q", err, frag)
				}
			}
		})
	}
}

func TestNormalizeDepthLimit(t *testing.T) {
	tests := []struct {
		name  string
		value any
		ok    bool
	}{
		{"lists 1 deep", nestLists(1, int(1)), true},
		{"lists 64 deep", nestLists(64, int(1)), true},
		{"lists 65 deep", nestLists(65, int(1)), false},
		{"lists 200 deep", nestLists(200, int(1)), false},
		{"maps 64 deep", nestMaps(64, int(1)), true},
		{"maps 65 deep", nestMaps(65, int(1)), false},
		{"mixed 64 deep", nestLists(32, nestMaps(32, int(1))), true},
		{"mixed 65 deep", nestMaps(33, nestLists(32, int(1))), false},
		// A []string at the bottom is converted, not descended into as another level.
		{"string slice under 64 lists", nestLists(64, []string{"a"}), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tuple.Normalize([]any{tc.value})
			if tc.ok && err != nil {
				t.Fatalf("Normalize: %v, want success", err)
			}
			if !tc.ok {
				if err == nil {
					t.Fatal("Normalize succeeded, want a depth error")
				}
				if !strings.Contains(err.Error(), "deeper than 64 levels") {
					t.Errorf("error %q does not mention the depth limit", err)
				}
			}
		})
	}
	// The leaf of an accepted deep value is converted.
	v := nestLists(64, int(7))
	if err := tuple.Normalize([]any{v}); err != nil {
		t.Fatal(err)
	}
	leaf := v
	for range 64 {
		leaf = leaf.([]any)[0]
	}
	if leaf != int64(7) {
		t.Errorf("leaf at depth 64 is %#v, want int64(7)", leaf)
	}
}

func TestFields(t *testing.T) {
	f := tuple.NewFields("word", "count", "ts")
	tests := []struct {
		name   string
		field  string
		wantI  int
		wantOK bool
	}{
		{"first", "word", 0, true},
		{"middle", "count", 1, true},
		{"last", "ts", 2, true},
		{"missing", "nope", 0, false},
		{"empty", "", 0, false},
		{"case sensitive", "Word", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i, ok := f.Index(tc.field)
			if i != tc.wantI || ok != tc.wantOK {
				t.Errorf("Index(%q) = %d, %v; want %d, %v", tc.field, i, ok, tc.wantI, tc.wantOK)
			}
		})
	}
	if f.Len() != 3 {
		t.Errorf("Len() = %d, want 3", f.Len())
	}
	if got := f.String(); got != "[word count ts]" {
		t.Errorf("String() = %q, want %q", got, "[word count ts]")
	}
}

func TestFieldsNamesIsACopy(t *testing.T) {
	in := []string{"a", "b"}
	f := tuple.NewFields(in...)
	in[0] = "changed" // NewFields must have copied its argument
	names := f.Names()
	if !reflect.DeepEqual(names, []string{"a", "b"}) {
		t.Fatalf("Names() = %v, want [a b]", names)
	}
	names[0] = "mutated"
	if got := f.Names(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("mutating the result of Names changed the fields: %v", got)
	}
	if i, ok := f.Index("a"); !ok || i != 0 {
		t.Errorf("Index(a) = %d, %v after mutations; want 0, true", i, ok)
	}
}

func TestFieldsDuplicateKeepsFirst(t *testing.T) {
	f := tuple.NewFields("a", "b", "a")
	if i, ok := f.Index("a"); !ok || i != 0 {
		t.Errorf("Index(a) = %d, %v; want the first position 0", i, ok)
	}
	if f.Len() != 3 {
		t.Errorf("Len() = %d, want 3", f.Len())
	}
}

func TestFieldsEmpty(t *testing.T) {
	f := tuple.NewFields()
	if f.Len() != 0 || len(f.Names()) != 0 || f.String() != "[]" {
		t.Errorf("empty fields: Len %d, Names %v, String %q", f.Len(), f.Names(), f.String())
	}
}

func TestNilFields(t *testing.T) {
	var f *tuple.Fields
	if f.Len() != 0 {
		t.Errorf("nil Len() = %d, want 0", f.Len())
	}
	if f.Names() != nil {
		t.Errorf("nil Names() = %v, want nil", f.Names())
	}
	if i, ok := f.Index("a"); i != 0 || ok {
		t.Errorf("nil Index(a) = %d, %v; want 0, false", i, ok)
	}
	if f.String() != "[]" {
		t.Errorf("nil String() = %q, want []", f.String())
	}
}

func sampleTuple() *tuple.Tuple {
	src := &tuple.Source{
		Component: "spout",
		Stream:    tuple.DefaultStream,
		Task:      3,
		Fields:    tuple.NewFields("s", "i", "f", "b", "raw", "nil", "i32"),
	}
	return tuple.New(src, "hello", int64(42), 1.5, true, []byte("raw"), nil, int32(7))
}

func TestNewAndSource(t *testing.T) {
	fields := tuple.NewFields("word", "count")
	src := &tuple.Source{Component: "split", Stream: "words", Task: 4, Fields: fields}
	values := []any{"cow", int64(2)}
	a := tuple.New(src, values...)
	b := tuple.New(src, "moon", int64(1))
	if a.Source != src || b.Source != src {
		t.Error("New does not keep the given Source")
	}
	if a.Component() != "split" || a.Stream() != "words" || a.Task() != 4 || a.Fields() != fields {
		t.Errorf("accessors = %q %q %d %v", a.Component(), a.Stream(), a.Task(), a.Fields())
	}
	if !reflect.DeepEqual(a.Values, values) || a.Len() != 2 {
		t.Errorf("Values = %#v", a.Values)
	}
	if a.Anchors != nil || a.AckVal != 0 || a.Reliable() {
		t.Error("a new tuple must be unanchored")
	}
	if b.StringByField("word") != "moon" || b.IntByField("count") != 1 {
		t.Errorf("by-field accessors through a shared Source: %q %d", b.StringByField("word"), b.IntByField("count"))
	}
	if empty := tuple.New(src); empty.Len() != 0 {
		t.Errorf("New without values: Len() = %d", empty.Len())
	}
}

func TestTupleAccessorsByIndex(t *testing.T) {
	tp := sampleTuple()
	if tp.Len() != 7 {
		t.Fatalf("Len() = %d, want 7", tp.Len())
	}
	tests := []struct {
		idx   int
		str   string
		i     int64
		f     float64
		b     bool
		bytes []byte
	}{
		{0, "hello", 0, 0, false, nil},
		{1, "", 42, 0, false, nil},
		{2, "", 0, 1.5, false, nil},
		{3, "", 0, 0, true, nil},
		{4, "", 0, 0, false, []byte("raw")},
		{5, "", 0, 0, false, nil},
		// An int32 was not normalized: Int does not convert it, it returns the zero value.
		{6, "", 0, 0, false, nil},
	}
	for _, tc := range tests {
		if got := tp.String(tc.idx); got != tc.str {
			t.Errorf("String(%d) = %q, want %q", tc.idx, got, tc.str)
		}
		if got := tp.Int(tc.idx); got != tc.i {
			t.Errorf("Int(%d) = %d, want %d", tc.idx, got, tc.i)
		}
		if got := tp.Float(tc.idx); got != tc.f {
			t.Errorf("Float(%d) = %v, want %v", tc.idx, got, tc.f)
		}
		if got := tp.Bool(tc.idx); got != tc.b {
			t.Errorf("Bool(%d) = %v, want %v", tc.idx, got, tc.b)
		}
		if got := tp.Bytes(tc.idx); !reflect.DeepEqual(got, tc.bytes) {
			t.Errorf("Bytes(%d) = %v, want %v", tc.idx, got, tc.bytes)
		}
		if got := tp.Value(tc.idx); !reflect.DeepEqual(got, tp.Values[tc.idx]) {
			t.Errorf("Value(%d) = %#v, want %#v", tc.idx, got, tp.Values[tc.idx])
		}
	}
}

func TestTupleValueOutOfRangePanics(t *testing.T) {
	tp := sampleTuple()
	for name, f := range map[string]func(){
		"Value":  func() { tp.Value(7) },
		"String": func() { tp.String(-1) },
		"Int":    func() { tp.Int(100) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s out of range did not panic", name)
				}
			}()
			f()
		})
	}
}

func TestTupleAccessorsByField(t *testing.T) {
	tp := sampleTuple()
	tests := []struct {
		field   string
		value   any
		found   bool
		str     string
		i       int64
		f       float64
		contain bool
	}{
		{"s", "hello", true, "hello", 0, 0, true},
		{"i", int64(42), true, "", 42, 0, true},
		{"f", 1.5, true, "", 0, 1.5, true},
		{"b", true, true, "", 0, 0, true},
		{"raw", []byte("raw"), true, "", 0, 0, true},
		{"nil", nil, true, "", 0, 0, true},
		{"i32", int32(7), true, "", 0, 0, true},
		{"missing", nil, false, "", 0, 0, false},
		{"", nil, false, "", 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.field, func(t *testing.T) {
			v, ok := tp.ValueByField(tc.field)
			if ok != tc.found || !reflect.DeepEqual(v, tc.value) {
				t.Errorf("ValueByField(%q) = %#v, %v; want %#v, %v", tc.field, v, ok, tc.value, tc.found)
			}
			if got := tp.Contains(tc.field); got != tc.contain {
				t.Errorf("Contains(%q) = %v, want %v", tc.field, got, tc.contain)
			}
			if got := tp.StringByField(tc.field); got != tc.str {
				t.Errorf("StringByField(%q) = %q, want %q", tc.field, got, tc.str)
			}
			if got := tp.IntByField(tc.field); got != tc.i {
				t.Errorf("IntByField(%q) = %d, want %d", tc.field, got, tc.i)
			}
			if got := tp.FloatByField(tc.field); got != tc.f {
				t.Errorf("FloatByField(%q) = %v, want %v", tc.field, got, tc.f)
			}
		})
	}
}

func TestTupleFieldsLongerThanValues(t *testing.T) {
	// A field declared past the end of the values is reported absent, not a panic.
	tp := tuple.New(&tuple.Source{Fields: tuple.NewFields("x", "y")}, "a")
	if v, ok := tp.ValueByField("y"); ok || v != nil {
		t.Errorf("ValueByField(y) = %#v, %v; want nil, false", v, ok)
	}
	if !tp.Contains("y") {
		t.Error("Contains(y) = false, want true: the stream declares it")
	}
	if got := tp.StringByField("y"); got != "" {
		t.Errorf("StringByField(y) = %q, want empty", got)
	}
}

func TestTupleNilFields(t *testing.T) {
	tp := tuple.New(&tuple.Source{Component: "c"}, "a", int64(1))
	if tp.Fields() != nil {
		t.Fatalf("Fields() = %v, want nil", tp.Fields())
	}
	if v, ok := tp.ValueByField("a"); ok || v != nil {
		t.Errorf("ValueByField with nil Fields = %#v, %v; want nil, false", v, ok)
	}
	if tp.Contains("a") {
		t.Error("Contains with nil Fields = true")
	}
	if tp.StringByField("a") != "" || tp.IntByField("a") != 0 || tp.FloatByField("a") != 0 {
		t.Error("typed by-field accessors with nil Fields returned non-zero values")
	}
	if tp.String(0) != "a" || tp.Int(1) != 1 {
		t.Error("index accessors must work without Fields")
	}
}

func TestIsTick(t *testing.T) {
	tests := []struct {
		name      string
		component string
		stream    string
		want      bool
	}{
		{"tick", tuple.SystemID, tuple.TickStream, true},
		{"tick literal names", "__system", "__tick", true},
		{"tick stream from user component", "spout", tuple.TickStream, false},
		{"system component default stream", tuple.SystemID, tuple.DefaultStream, false},
		{"ordinary", "spout", tuple.DefaultStream, false},
		{"acker", tuple.AckerID, tuple.TickStream, false},
		{"empty", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tp := tuple.New(&tuple.Source{Component: tc.component, Stream: tc.stream, Task: tuple.SystemTask})
			if got := tp.IsTick(); got != tc.want {
				t.Errorf("IsTick() for %s/%s = %v, want %v", tc.component, tc.stream, got, tc.want)
			}
		})
	}
}

func TestReliable(t *testing.T) {
	tests := []struct {
		name    string
		anchors []tuple.Anchor
		want    bool
	}{
		{"nil anchors", nil, false},
		{"empty anchors", []tuple.Anchor{}, false},
		{"one anchor", []tuple.Anchor{{Root: 1, Edge: 2}}, true},
		{"zero-valued anchor still counts", []tuple.Anchor{{}}, true},
		{"two roots", []tuple.Anchor{{Root: 1, Edge: 2}, {Root: 3, Edge: 4}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tp := &tuple.Tuple{Source: &tuple.Source{}, Anchors: tc.anchors}
			if got := tp.Reliable(); got != tc.want {
				t.Errorf("Reliable() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestGoString(t *testing.T) {
	tp := tuple.New(&tuple.Source{Component: "split", Task: 4, Stream: "words"}, "a", int64(1))
	want := "source: split:4, stream: words, values: [a 1]"
	if got := tp.GoString(); got != want {
		t.Errorf("GoString() = %q, want %q", got, want)
	}
}

func TestReservedNames(t *testing.T) {
	// These names are part of the wire contract with Storm-style tooling; pin them.
	tests := []struct{ got, want string }{
		{tuple.DefaultStream, "default"},
		{tuple.TickStream, "__tick"},
		{tuple.SystemID, "__system"},
		{tuple.AckerID, "__acker"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("constant = %q, want %q", tc.got, tc.want)
		}
	}
	if tuple.SystemTask != -1 {
		t.Errorf("SystemTask = %d, want -1", tuple.SystemTask)
	}
}

// TestNormalizeBoundsThePayload: strings and byte slices, at any depth and map keys
// included, may hold tuple.MaxBytes together and not a byte more.
func TestNormalizeBoundsThePayload(t *testing.T) {
	half := tuple.MaxBytes / 2
	tests := []struct {
		name   string
		values []any
		ok     bool
	}{
		{"at the limit", []any{strings.Repeat("a", half), make([]byte, half)}, true},
		{"one byte over", []any{strings.Repeat("a", half), make([]byte, half+1)}, false},
		{"nested in a list", []any{[]any{make([]byte, half), []any{strings.Repeat("b", half+1)}}}, false},
		{"map keys count", []any{map[string]any{strings.Repeat("k", half+1): make([]byte, half)}}, false},
		{"numbers do not count", []any{make([]byte, tuple.MaxBytes), int64(1), 2.5, true, nil}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tuple.Normalize(tc.values)
			if tc.ok && err != nil {
				t.Fatalf("Normalize: %v, want it accepted", err)
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), "tuple.MaxBytes")) {
				t.Fatalf("Normalize: %v, want a refusal naming tuple.MaxBytes", err)
			}
		})
	}
}
