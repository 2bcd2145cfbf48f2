package wire_test

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"github.com/sparsestream/sparse/internal/wire"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// srcKey names one shared Source.
type srcKey struct {
	task   int32
	stream string
}

// sources is a receiver's table of shared Sources.
type sources struct {
	m map[srcKey]*tuple.Source
	// open makes resolve create a Source for any pair instead of refusing unknown ones.
	open bool
}

func newSources(open bool) *sources { return &sources{m: map[srcKey]*tuple.Source{}, open: open} }

// add registers (task, stream) and returns its Source.
func (s *sources) add(task int32, stream string) *tuple.Source {
	k := srcKey{task, stream}
	if src, ok := s.m[k]; ok {
		return src
	}
	src := &tuple.Source{Component: fmt.Sprintf("c%d", task), Stream: stream, Task: task, Fields: tuple.NewFields("f")}
	s.m[k] = src
	return src
}

func (s *sources) resolve(task int32, stream string) *tuple.Source {
	if src, ok := s.m[srcKey{task, stream}]; ok {
		return src
	}
	if s.open {
		return s.add(task, stream)
	}
	return nil
}

// entry is one decoded batch entry: a tuple for a task, or a control.
type entry struct {
	dest    int32
	t       *tuple.Tuple
	control *wire.Control
}

func (e entry) String() string {
	if e.control != nil {
		return fmt.Sprintf("control %+v", *e.control)
	}
	return fmt.Sprintf("tuple for %d: %#v anchors %v", e.dest, e.t, e.t.Anchors)
}

// decodeAll decodes b and returns its entries in order.
func decodeAll(b []byte, s *sources) ([]entry, error) {
	var out []entry
	err := wire.Decode(b, s.resolve,
		func(dest int32, t *tuple.Tuple) { out = append(out, entry{dest: dest, t: t}) },
		func(c wire.Control) { out = append(out, entry{control: &c}) })
	return out, err
}

// encodeAll encodes entries into one batch.
func encodeAll(t testing.TB, entries []entry) []byte {
	t.Helper()
	var e wire.Encoder
	for i, en := range entries {
		if en.control != nil {
			e.AddControl(*en.control)
			continue
		}
		if err := e.AddTuple(en.dest, en.t); err != nil {
			t.Fatalf("entry %d: AddTuple: %v", i, err)
		}
	}
	if e.Len() != len(entries) {
		t.Fatalf("Len = %d, want %d", e.Len(), len(entries))
	}
	return bytes.Clone(e.Bytes())
}

// sameEntries reports how got differs from want, or "" when they are equal.
func sameEntries(got, want []entry) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d entries, want %d", len(got), len(want))
	}
	for i := range got {
		if d := sameEntry(got[i], want[i]); d != "" {
			return fmt.Sprintf("entry %d: %s\n got: %v\nwant: %v", i, d, got[i], want[i])
		}
	}
	return ""
}

func sameEntry(got, want entry) string {
	if (got.control == nil) != (want.control == nil) {
		return "tuple and control mixed up"
	}
	if got.control != nil {
		if *got.control != *want.control {
			return "controls differ"
		}
		return ""
	}
	if got.dest != want.dest {
		return fmt.Sprintf("dest %d, want %d", got.dest, want.dest)
	}
	return sameTuple(got.t, want.t)
}

func sameTuple(got, want *tuple.Tuple) string {
	if got.Source.Task != want.Source.Task || got.Source.Stream != want.Source.Stream {
		return fmt.Sprintf("source %d/%q, want %d/%q", got.Source.Task, got.Source.Stream, want.Source.Task, want.Source.Stream)
	}
	if len(got.Values) != len(want.Values) {
		return fmt.Sprintf("%d values, want %d", len(got.Values), len(want.Values))
	}
	for i := range got.Values {
		if !sameValue(got.Values[i], want.Values[i]) {
			return fmt.Sprintf("value %d: %#v, want %#v", i, got.Values[i], want.Values[i])
		}
	}
	if len(got.Anchors) != len(want.Anchors) {
		return fmt.Sprintf("%d anchors, want %d", len(got.Anchors), len(want.Anchors))
	}
	for i := range got.Anchors {
		if got.Anchors[i] != want.Anchors[i] {
			return fmt.Sprintf("anchor %d: %v, want %v", i, got.Anchors[i], want.Anchors[i])
		}
	}
	if got.InitTask != want.InitTask {
		return fmt.Sprintf("InitTask %d, want %d", got.InitTask, want.InitTask)
	}
	return ""
}

// sameValue compares decoded values: floats bit for bit (NaN equals NaN, 0 differs from
// -0), byte slices by content (nil equals empty), lists and maps element by element.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	}
	return false
}

// nested returns a value of depth lists, one inside the other, around leaf.
func nested(depth int, leaf any) any {
	v := leaf
	for range depth {
		v = []any{v}
	}
	return v
}

// nestedMaps returns depth maps, one inside the other, around leaf.
func nestedMaps(depth int, leaf any) any {
	v := leaf
	for range depth {
		v = map[string]any{"k": v}
	}
	return v
}
