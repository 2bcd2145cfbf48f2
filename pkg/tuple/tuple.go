// Package tuple defines the record that flows through a topology: a list of typed values
// named by the fields of the stream that carries it, plus the metadata the acker needs.
//
// A value is one of: string, int64, float64, bool, []byte, nil, []any (a list of values) or
// map[string]any (a map of values). Normalize converts Go's other integer and float kinds
// to int64 and float64 so that a tuple means the same thing in memory, in protobuf and in
// JSON.
package tuple

import (
	"fmt"
	"math"
	"strings"
)

// Stream and component names the engine reserves. User names may not start with "__".
const (
	DefaultStream = "default"
	TickStream    = "__tick"
	SystemID      = "__system"
	AckerID       = "__acker"
	// SystemTask is the source task of tuples made by the engine itself (ticks).
	SystemTask int32 = -1
)

// Fields names the values of a stream. It is immutable and shared by every tuple of the
// stream, so looking a field up costs one map access and no allocation.
type Fields struct {
	names []string
	index map[string]int
}

// NewFields returns the fields in the given order. Duplicates are the caller's error;
// topology validation reports them before any Fields is built.
func NewFields(names ...string) *Fields {
	f := &Fields{names: append([]string(nil), names...), index: make(map[string]int, len(names))}
	for i, n := range names {
		if _, dup := f.index[n]; !dup {
			f.index[n] = i
		}
	}
	return f
}

// Len is the number of fields.
func (f *Fields) Len() int {
	if f == nil {
		return 0
	}
	return len(f.names)
}

// Names returns a copy of the field names in order.
func (f *Fields) Names() []string {
	if f == nil {
		return nil
	}
	return append([]string(nil), f.names...)
}

// Index returns the position of a field.
func (f *Fields) Index(name string) (int, bool) {
	if f == nil {
		return 0, false
	}
	i, ok := f.index[name]
	return i, ok
}

// String renders the fields as [a b c].
func (f *Fields) String() string {
	if f == nil {
		return "[]"
	}
	return "[" + strings.Join(f.names, " ") + "]"
}

// Anchor ties a tuple to one spout tuple tree: Root is the tree's id, Edge this tuple's
// edge id in it. A tuple anchored to inputs from several trees has one Anchor per root.
type Anchor struct {
	Root uint64
	Edge uint64
}

// Source is where a tuple comes from: one per task and stream, shared by every tuple the
// task emits on that stream, which keeps each tuple small.
type Source struct {
	Component string
	Stream    string
	Task      int32
	Fields    *Fields
}

// Tuple is one record. The engine creates a distinct Tuple for every receiving task, so a
// task owns the tuples it is given; the Values slice may be shared between receivers and
// must be treated as read-only.
type Tuple struct {
	Values []any
	Source *Source

	// Anchors are the spout tuple trees this tuple belongs to (empty when unreliable).
	Anchors []Anchor
	// AckVal accumulates the edge ids of the children anchored to this tuple; the
	// executor XORs it into the ack it sends for each root. Only the receiving task
	// touches it.
	AckVal uint64
	// InitTask, when not 0, is the spout task whose init of the tuple's one tree rides on
	// the tuple: the spout emitted it to this one task, so the receiver, not the spout,
	// tells the acker of the tree when it acks or fails the tuple, and tells the spout
	// directly when the tree ends there. Set by the engine; only the receiver reads it.
	InitTask int32
}

// New returns a tuple of values from a source.
func New(src *Source, values ...any) *Tuple { return &Tuple{Values: values, Source: src} }

// Component is the id of the component that emitted the tuple.
func (t *Tuple) Component() string { return t.Source.Component }

// Stream is the stream the tuple was emitted on.
func (t *Tuple) Stream() string { return t.Source.Stream }

// Task is the task that emitted the tuple.
func (t *Tuple) Task() int32 { return t.Source.Task }

// Fields names the tuple's values.
func (t *Tuple) Fields() *Fields { return t.Source.Fields }

// Len is the number of values.
func (t *Tuple) Len() int { return len(t.Values) }

// Value returns the value at index i; it panics like a slice when i is out of range.
func (t *Tuple) Value(i int) any { return t.Values[i] }

// ValueByField returns the value of a named field.
func (t *Tuple) ValueByField(name string) (any, bool) {
	i, ok := t.Source.Fields.Index(name)
	if !ok || i >= len(t.Values) {
		return nil, false
	}
	return t.Values[i], true
}

// Contains reports whether the tuple's stream declares the field.
func (t *Tuple) Contains(name string) bool {
	_, ok := t.Source.Fields.Index(name)
	return ok
}

// String returns value i as a string, or "" when it is not one.
func (t *Tuple) String(i int) string { s, _ := t.Values[i].(string); return s }

// Int returns value i as an int64, or 0 when it is not one.
func (t *Tuple) Int(i int) int64 { v, _ := t.Values[i].(int64); return v }

// Float returns value i as a float64, or 0 when it is not one.
func (t *Tuple) Float(i int) float64 { v, _ := t.Values[i].(float64); return v }

// Bool returns value i as a bool, or false when it is not one.
func (t *Tuple) Bool(i int) bool { v, _ := t.Values[i].(bool); return v }

// Bytes returns value i as a byte slice, or nil when it is not one.
func (t *Tuple) Bytes(i int) []byte { v, _ := t.Values[i].([]byte); return v }

// StringByField returns a named value as a string, or "" when absent or not a string.
func (t *Tuple) StringByField(name string) string {
	v, _ := t.ValueByField(name)
	s, _ := v.(string)
	return s
}

// IntByField returns a named value as an int64, or 0 when absent or not an int64.
func (t *Tuple) IntByField(name string) int64 {
	v, _ := t.ValueByField(name)
	n, _ := v.(int64)
	return n
}

// FloatByField returns a named value as a float64, or 0 when absent or not a float64.
func (t *Tuple) FloatByField(name string) float64 {
	v, _ := t.ValueByField(name)
	f, _ := v.(float64)
	return f
}

// IsTick reports whether this is a tick tuple from the engine.
func (t *Tuple) IsTick() bool { return t.Source.Stream == TickStream && t.Source.Component == SystemID }

// Reliable reports whether the tuple belongs to at least one tracked spout tuple tree.
func (t *Tuple) Reliable() bool { return len(t.Anchors) > 0 }

// GoString renders a tuple for logs: source, stream and values.
func (t *Tuple) GoString() string {
	return fmt.Sprintf("source: %s:%d, stream: %s, values: %v", t.Source.Component, t.Source.Task, t.Source.Stream, t.Values)
}

// MaxBytes bounds a tuple's payload: the lengths of its strings and byte slices, map
// keys included, at every depth. The transport sends a tuple whole, in frames a worker
// accepts up to 64 MiB; a bound well under that keeps one huge value from breaking the
// stream it travels on (and every tuple in flight with it) each time it is replayed.
const MaxBytes = 32 << 20

// Normalize checks that every value is of a supported type, converting other Go integer
// and float kinds in place to int64 and float64, and that the values hold at most
// MaxBytes. The error names the index and the type, or the size, so the emitter can be
// fixed.
func Normalize(values []any) error {
	size := 0
	for i, v := range values {
		switch x := v.(type) {
		case string:
			size += len(x)
			continue
		case []byte:
			size += len(x)
			continue
		case int64, float64, bool, nil:
			// Already canonical: no write, so a spout may emit the same slice again
			// while receivers read it.
			continue
		}
		nv, err := normalize(v, 0)
		if err != nil {
			return fmt.Errorf("value %d: %w", i, err)
		}
		values[i] = nv
		size += payloadBytes(nv)
	}
	if size > MaxBytes {
		return fmt.Errorf("the values hold %d bytes of strings and byte slices; a tuple holds at most %d (tuple.MaxBytes): split the data over several tuples, or emit a reference to it (a key, a path) instead", size, MaxBytes)
	}
	return nil
}

// payloadBytes counts what MaxBytes bounds in a normalized value.
func payloadBytes(v any) int {
	switch x := v.(type) {
	case string:
		return len(x)
	case []byte:
		return len(x)
	case []any:
		n := 0
		for _, e := range x {
			n += payloadBytes(e)
		}
		return n
	case map[string]any:
		n := 0
		for k, e := range x {
			n += len(k) + payloadBytes(e)
		}
		return n
	}
	return 0
}

const maxDepth = 64

// Int64 converts any Go integer kind to int64. ok is false when v is not an integer; err
// is set when it is one that does not fit.
func Int64(v any) (n int64, ok bool, err error) {
	switch x := v.(type) {
	case int64:
		return x, true, nil
	case int:
		return int64(x), true, nil
	case int32:
		return int64(x), true, nil
	case int16:
		return int64(x), true, nil
	case int8:
		return int64(x), true, nil
	case uint8:
		return int64(x), true, nil
	case uint16:
		return int64(x), true, nil
	case uint32:
		return int64(x), true, nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return 0, true, fmt.Errorf("uint %d does not fit in int64", x)
		}
		return int64(x), true, nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, true, fmt.Errorf("uint64 %d does not fit in int64", x)
		}
		return int64(x), true, nil
	}
	return 0, false, nil
}

func normalize(v any, depth int) (any, error) {
	switch x := v.(type) {
	case string, int64, float64, bool, []byte, nil:
		return v, nil
	case int, int8, int16, int32, uint, uint8, uint16, uint32, uint64:
		n, _, err := Int64(v)
		if err != nil {
			return nil, err
		}
		return n, nil
	case float32:
		return float64(x), nil
	case []any:
		if depth >= maxDepth {
			return nil, fmt.Errorf("list nested deeper than %d levels", maxDepth)
		}
		for i, e := range x {
			ne, err := normalize(e, depth+1)
			if err != nil {
				return nil, fmt.Errorf("list element %d: %w", i, err)
			}
			x[i] = ne
		}
		return x, nil
	case []string:
		l := make([]any, len(x))
		for i, s := range x {
			l[i] = s
		}
		return l, nil
	case map[string]any:
		if depth >= maxDepth {
			return nil, fmt.Errorf("map nested deeper than %d levels", maxDepth)
		}
		for k, e := range x {
			ne, err := normalize(e, depth+1)
			if err != nil {
				return nil, fmt.Errorf("map key %q: %w", k, err)
			}
			x[k] = ne
		}
		return x, nil
	default:
		return nil, fmt.Errorf("type %T is not a tuple value; use string, int64, float64, bool, []byte, nil, []any or map[string]any", v)
	}
}
