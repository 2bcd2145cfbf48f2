package wire

import (
	"fmt"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/structpb"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// Conversions between tuple values and the generated sparse.v1 messages, for the places
// that use generated code (topology specs and their configuration, tools, tests). The hot
// path uses Encoder and Decode instead.

// ValueToProto converts a tuple value to a sparse.v1.Value. It accepts what Encoder
// accepts and fails, naming the value at fault, where Encoder fails.
func ValueToProto(v any) (*sparsev1.Value, error) { return valueToProto(v, 0) }

func valueToProto(v any, depth int) (*sparsev1.Value, error) {
	switch x := v.(type) {
	case string:
		if !utf8.ValidString(x) {
			return nil, fmt.Errorf("string %s is not valid UTF-8", quoteString(x))
		}
		return &sparsev1.Value{Kind: &sparsev1.Value_StringValue{StringValue: x}}, nil
	case int64:
		return intProto(x), nil
	case float64:
		return &sparsev1.Value{Kind: &sparsev1.Value_DoubleValue{DoubleValue: x}}, nil
	case bool:
		return &sparsev1.Value{Kind: &sparsev1.Value_BoolValue{BoolValue: x}}, nil
	case []byte:
		return &sparsev1.Value{Kind: &sparsev1.Value_BytesValue{BytesValue: x}}, nil
	case nil:
		return &sparsev1.Value{Kind: &sparsev1.Value_NullValue{NullValue: structpb.NullValue_NULL_VALUE}}, nil
	case []any:
		if depth >= MaxDepth {
			return nil, fmt.Errorf("list nested deeper than %d levels", MaxDepth)
		}
		l := &sparsev1.List{Values: make([]*sparsev1.Value, len(x))}
		for i, el := range x {
			p, err := valueToProto(el, depth+1)
			if err != nil {
				return nil, fmt.Errorf("list element %d: %w", i, err)
			}
			l.Values[i] = p
		}
		return &sparsev1.Value{Kind: &sparsev1.Value_ListValue{ListValue: l}}, nil
	case map[string]any:
		if depth >= MaxDepth {
			return nil, fmt.Errorf("map nested deeper than %d levels", MaxDepth)
		}
		m, err := mapToProto(x, depth+1)
		if err != nil {
			return nil, err
		}
		return &sparsev1.Value{Kind: &sparsev1.Value_MapValue{MapValue: &sparsev1.Map{Entries: m}}}, nil
	case int, int32, int16, int8, uint, uint64, uint32, uint16, uint8:
		n, _, err := tuple.Int64(x)
		if err != nil {
			return nil, err
		}
		return intProto(n), nil
	case float32:
		return &sparsev1.Value{Kind: &sparsev1.Value_DoubleValue{DoubleValue: float64(x)}}, nil
	case []string:
		l := make([]any, len(x))
		for i, s := range x {
			l[i] = s
		}
		return valueToProto(l, depth)
	}
	return nil, fmt.Errorf("type %T is not a tuple value; use string, int64, float64, bool, []byte, nil, []any or map[string]any", v)
}

func intProto(i int64) *sparsev1.Value {
	return &sparsev1.Value{Kind: &sparsev1.Value_IntValue{IntValue: i}}
}

// MapToProto converts a map of tuple values, such as a topology.Config, to the map of a
// sparse.v1 message. A nil map gives nil.
func MapToProto(m map[string]any) (map[string]*sparsev1.Value, error) {
	if m == nil {
		return nil, nil
	}
	return mapToProto(m, 0)
}

func mapToProto(m map[string]any, depth int) (map[string]*sparsev1.Value, error) {
	out := make(map[string]*sparsev1.Value, len(m))
	for k, v := range m {
		if !utf8.ValidString(k) {
			return nil, fmt.Errorf("map key %s is not valid UTF-8", quoteString(k))
		}
		p, err := valueToProto(v, depth)
		if err != nil {
			return nil, fmt.Errorf("map key %q: %w", k, err)
		}
		out[k] = p
	}
	return out, nil
}

// ValueFromProto converts a sparse.v1.Value to a tuple value. A nil Value, or one with
// no kind set, is nil. It fails only for lists and maps nested deeper than MaxDepth.
func ValueFromProto(p *sparsev1.Value) (any, error) { return valueFromProto(p, 0) }

func valueFromProto(p *sparsev1.Value, depth int) (any, error) {
	switch k := p.GetKind().(type) {
	case *sparsev1.Value_StringValue:
		return k.StringValue, nil
	case *sparsev1.Value_IntValue:
		return k.IntValue, nil
	case *sparsev1.Value_DoubleValue:
		return k.DoubleValue, nil
	case *sparsev1.Value_BoolValue:
		return k.BoolValue, nil
	case *sparsev1.Value_BytesValue:
		if k.BytesValue == nil {
			return []byte{}, nil
		}
		return k.BytesValue, nil
	case *sparsev1.Value_ListValue:
		if depth >= MaxDepth {
			return nil, fmt.Errorf("list nested deeper than %d levels", MaxDepth)
		}
		vals := k.ListValue.GetValues()
		l := make([]any, len(vals))
		for i, el := range vals {
			v, err := valueFromProto(el, depth+1)
			if err != nil {
				return nil, fmt.Errorf("list element %d: %w", i, err)
			}
			l[i] = v
		}
		return l, nil
	case *sparsev1.Value_MapValue:
		if depth >= MaxDepth {
			return nil, fmt.Errorf("map nested deeper than %d levels", MaxDepth)
		}
		return mapFromProto(k.MapValue.GetEntries(), depth+1)
	}
	return nil, nil // null_value, or no kind set
}

// MapFromProto converts the map of a sparse.v1 message, such as a topology's config, to
// a map of tuple values. A nil map gives nil.
func MapFromProto(m map[string]*sparsev1.Value) (map[string]any, error) {
	if m == nil {
		return nil, nil
	}
	return mapFromProto(m, 0)
}

func mapFromProto(m map[string]*sparsev1.Value, depth int) (map[string]any, error) {
	out := make(map[string]any, len(m))
	for k, p := range m {
		v, err := valueFromProto(p, depth)
		if err != nil {
			return nil, fmt.Errorf("map key %q: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

// TupleToProto converts a tuple for task dest to a sparse.v1.Tuple.
func TupleToProto(dest int32, t *tuple.Tuple) (*sparsev1.Tuple, error) {
	if t == nil || t.Source == nil {
		return nil, fmt.Errorf("tuple for task %d has no source", dest)
	}
	p := &sparsev1.Tuple{DestTask: dest, SourceTask: t.Source.Task, Stream: t.Source.Stream}
	if len(t.Values) > 0 {
		p.Values = make([]*sparsev1.Value, len(t.Values))
	}
	for i, v := range t.Values {
		pv, err := ValueToProto(v)
		if err != nil {
			return nil, fmt.Errorf("tuple from task %d stream %q: value %d: %w", t.Source.Task, t.Source.Stream, i, err)
		}
		p.Values[i] = pv
	}
	if len(t.Anchors) > 0 {
		p.Anchors = make([]*sparsev1.Anchor, len(t.Anchors))
	}
	if t.InitTask != 0 {
		if err := checkInit(t); err != nil {
			return nil, err
		}
		p.InitCarried = true
	}
	for i, a := range t.Anchors {
		p.Anchors[i] = &sparsev1.Anchor{Root: a.Root, Edge: a.Edge}
	}
	return p, nil
}

// ControlToProto converts a control message to a sparse.v1.Control.
func ControlToProto(c Control) *sparsev1.Control {
	return &sparsev1.Control{Kind: sparsev1.ControlKind(c.Kind), DestTask: c.Task, SpoutTask: c.Spout, Root: c.Root, Val: c.Val}
}

// ControlFromProto converts a sparse.v1.Control to a control message; it fails for a
// kind that does not fit in a uint8, as Decode does.
func ControlFromProto(p *sparsev1.Control) (Control, error) {
	k := p.GetKind()
	if k < 0 || k > math.MaxUint8 {
		return Control{}, fmt.Errorf("control kind %d is out of range", k)
	}
	return Control{Kind: uint8(k), Task: p.GetDestTask(), Spout: p.GetSpoutTask(), Root: p.GetRoot(), Val: p.GetVal()}, nil
}
