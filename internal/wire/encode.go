package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sparsestream/sparse/pkg/tuple"
)

// Encoder appends tuples and controls to a reusable buffer that holds one encoded Batch.
// The zero value is ready to use. An Encoder is not safe for concurrent use.
type Encoder struct {
	buf []byte
	n   int
	// src and srcHdr remember the last source encoded and its source_task and stream
	// fields: a Source is shared by every tuple of one task and stream and never changes,
	// so its stream name is checked and its fields are built once per run of tuples
	// rather than once per tuple.
	src    *tuple.Source
	srcHdr []byte
}

// Reset empties the batch and keeps the buffer for reuse.
func (e *Encoder) Reset() {
	e.buf = e.buf[:0]
	e.n = 0
}

// ResetTo empties the batch and continues in buf[:0], which the encoder now owns: a
// sender that hands every finished batch to someone else (gRPC) gives each batch a buffer
// of its own.
func (e *Encoder) ResetTo(buf []byte) {
	e.buf = buf[:0]
	e.n = 0
}

// Bytes returns the encoded Batch. The slice aliases the encoder's buffer: it is valid
// until the next call to Reset, AddTuple or AddControl.
func (e *Encoder) Bytes() []byte { return e.buf }

// Len is the number of tuples and controls added since the last Reset.
func (e *Encoder) Len() int { return e.n }

// Size is the length of the encoded Batch in bytes.
func (e *Encoder) Size() int { return len(e.buf) }

// sourceHeader returns the encoded source_task and stream fields of src.
func (e *Encoder) sourceHeader(src *tuple.Source) ([]byte, error) {
	if src == e.src {
		return e.srcHdr, nil
	}
	if !utf8.ValidString(src.Stream) {
		return nil, fmt.Errorf("wire: tuple from task %d: stream name %s is not valid UTF-8", src.Task, quoteString(src.Stream))
	}
	h := e.srcHdr[:0]
	if src.Task != 0 {
		h = append(h, tagTupleSource)
		h = protowire.AppendVarint(h, uint64(int64(src.Task)))
	}
	if src.Stream != "" {
		h = append(h, tagTupleStream)
		h = append(protowire.AppendVarint(h, uint64(len(src.Stream))), src.Stream...)
	}
	e.src, e.srcHdr = src, h
	return h, nil
}

// AddTuple appends a tuple for the task dest: its source task and stream, values and
// anchors. Values must be of the types tuple.Normalize produces (Go's other integer and
// float kinds and []string are accepted too and encoded as Normalize would convert
// them). On error, which names the value at fault, nothing is appended.
func (e *Encoder) AddTuple(dest int32, t *tuple.Tuple) error {
	if t == nil {
		return errors.New("wire: nil tuple")
	}
	src := t.Source
	if src == nil {
		return errors.New("wire: tuple has no source")
	}
	hdr, err := e.sourceHeader(src)
	if err != nil {
		return err
	}
	start := len(e.buf)
	e.buf = append(e.buf, tagBatchTuple, 0)
	msg := len(e.buf)
	if dest != 0 {
		e.buf = appendVarint(append(e.buf, tagTupleDest), uint64(int64(dest)))
	}
	e.buf = append(e.buf, hdr...)
	for i, v := range t.Values {
		if err := e.value(tagTupleValue, v, 0); err != nil {
			e.buf = e.buf[:start]
			return fmt.Errorf("wire: tuple from task %d stream %q: value %d: %w", src.Task, src.Stream, i, err)
		}
	}
	for _, a := range t.Anchors {
		e.buf = append(e.buf, tagTupleAnchor, 18, tagAnchorRoot)
		e.buf = binary.LittleEndian.AppendUint64(e.buf, a.Root)
		e.buf = append(e.buf, tagAnchorEdge)
		e.buf = binary.LittleEndian.AppendUint64(e.buf, a.Edge)
	}
	if t.InitTask != 0 {
		if err := checkInit(t); err != nil {
			e.buf = e.buf[:start]
			return fmt.Errorf("wire: %w", err)
		}
		e.buf = append(e.buf, tagTupleInit, 1)
	}
	e.end(msg)
	e.n++
	return nil
}

// checkInit says why t, whose InitTask is set, cannot carry its tree's init, if it
// cannot: only a tuple with one anchor carries an init, and only its source task's.
func checkInit(t *tuple.Tuple) error {
	if t.InitTask != t.Source.Task || len(t.Anchors) != 1 {
		return fmt.Errorf("tuple from task %d carries the init of task %d with %d anchors; only a spout task's tuple with one anchor carries its own", t.Source.Task, t.InitTask, len(t.Anchors))
	}
	return nil
}

// maxShortString is the longest string whose Value message, with its two tags and two
// one-byte lengths, still has a one-byte length.
const maxShortString = 0x7f - 2

// isASCII reports whether s is all ASCII, and so valid UTF-8, with a loop short enough
// to inline; other strings take utf8.ValidString.
func isASCII(s string) bool {
	var or byte
	for i := 0; i < len(s); i++ {
		or |= s[i]
	}
	return or < 0x80
}

// appendVarint appends v, with the one-byte case inline.
func appendVarint(b []byte, v uint64) []byte {
	if v < 0x80 {
		return append(b, byte(v))
	}
	return protowire.AppendVarint(b, v)
}

// AddControl appends a control message.
func (e *Encoder) AddControl(c Control) {
	e.buf = append(e.buf, tagBatchControl, 0)
	msg := len(e.buf)
	if c.Kind != 0 {
		e.buf = append(e.buf, tagControlKind)
		e.buf = protowire.AppendVarint(e.buf, uint64(c.Kind))
	}
	if c.Task != 0 {
		e.buf = append(e.buf, tagControlDest)
		e.buf = protowire.AppendVarint(e.buf, uint64(int64(c.Task)))
	}
	if c.Spout != 0 {
		e.buf = append(e.buf, tagControlSpout)
		e.buf = protowire.AppendVarint(e.buf, uint64(int64(c.Spout)))
	}
	if c.Root != 0 {
		e.buf = append(e.buf, tagControlRoot)
		e.buf = protowire.AppendFixed64(e.buf, c.Root)
	}
	if c.Val != 0 {
		e.buf = append(e.buf, tagControlVal)
		e.buf = protowire.AppendFixed64(e.buf, c.Val)
	}
	e.end(msg) // at most 43 bytes: the length always fits the byte reserved for it
	e.n++
}

// end writes the length of the message that starts at start into the byte reserved just
// before it, moving the message when the length needs more than one byte.
func (e *Encoder) end(start int) {
	n := len(e.buf) - start
	if n < 0x80 {
		e.buf[start-1] = byte(n)
		return
	}
	extra := protowire.SizeVarint(uint64(n)) - 1
	e.buf = append(e.buf, make([]byte, extra)...)
	copy(e.buf[start+extra:], e.buf[start:start+n])
	protowire.AppendVarint(e.buf[:start-1], uint64(n))
}

// appendBytes appends a length-delimited field with a one-byte tag.
func (e *Encoder) appendBytes(tag byte, b []byte) {
	e.buf = append(protowire.AppendVarint(append(e.buf, tag), uint64(len(b))), b...)
}

// value appends v as a Value message field with the given tag, at nesting depth depth.
func (e *Encoder) value(tag byte, v any, depth int) error {
	switch x := v.(type) {
	case string:
		return e.stringValue(tag, x)
	case int64:
		e.intValue(tag, x)
	case float64:
		e.buf = append(e.buf, tag, 9, tagValueDouble)
		e.buf = protowire.AppendFixed64(e.buf, math.Float64bits(x))
	case bool:
		b := byte(0)
		if x {
			b = 1
		}
		e.buf = append(e.buf, tag, 2, tagValueBool, b)
	case []byte:
		n := len(x)
		e.buf = protowire.AppendVarint(append(e.buf, tag), uint64(1+protowire.SizeVarint(uint64(n))+n))
		e.appendBytes(tagValueBytes, x)
	case nil:
		e.buf = append(e.buf, tag, 2, tagValueNull, 0)
	case []any:
		if depth >= MaxDepth {
			return fmt.Errorf("list nested deeper than %d levels", MaxDepth)
		}
		e.buf = append(e.buf, tag, 0, tagValueList, 0)
		val := len(e.buf) - 2
		list := len(e.buf)
		for i, el := range x {
			if err := e.value(tagListValue, el, depth+1); err != nil {
				return fmt.Errorf("list element %d: %w", i, err)
			}
		}
		e.end(list)
		e.end(val)
	case map[string]any:
		if depth >= MaxDepth {
			return fmt.Errorf("map nested deeper than %d levels", MaxDepth)
		}
		e.buf = append(e.buf, tag, 0, tagValueMap, 0)
		val := len(e.buf) - 2
		m := len(e.buf)
		for k, el := range x {
			if !utf8.ValidString(k) {
				return fmt.Errorf("map key %s is not valid UTF-8", quoteString(k))
			}
			e.buf = append(e.buf, tagMapEntry, 0)
			entry := len(e.buf)
			e.buf = append(e.buf, tagEntryKey)
			e.buf = append(protowire.AppendVarint(e.buf, uint64(len(k))), k...)
			if err := e.value(tagEntryValue, el, depth+1); err != nil {
				return fmt.Errorf("map key %q: %w", k, err)
			}
			e.end(entry)
		}
		e.end(m)
		e.end(val)
	case int, int32, int16, int8, uint, uint64, uint32, uint16, uint8:
		n, _, err := tuple.Int64(x)
		if err != nil {
			return err
		}
		e.intValue(tag, n)
	case float32:
		return e.value(tag, float64(x), depth)
	case []string:
		l := make([]any, len(x))
		for i, s := range x {
			l[i] = s
		}
		return e.value(tag, l, depth)
	default:
		return fmt.Errorf("type %T is not a tuple value; use string, int64, float64, bool, []byte, nil, []any or map[string]any", v)
	}
	return nil
}

func (e *Encoder) stringValue(tag byte, s string) error {
	if len(s) <= maxShortString && isASCII(s) {
		// The common case: one-byte lengths, and no runes to check.
		e.buf = append(e.buf, tag, byte(len(s)+2), tagValueString, byte(len(s)))
		e.buf = append(e.buf, s...)
		return nil
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("string %s is not valid UTF-8", quoteString(s))
	}
	n := len(s)
	e.buf = protowire.AppendVarint(append(e.buf, tag), uint64(1+protowire.SizeVarint(uint64(n))+n))
	e.buf = append(e.buf, tagValueString)
	e.buf = append(protowire.AppendVarint(e.buf, uint64(n)), s...)
	return nil
}

func (e *Encoder) intValue(tag byte, i int64) {
	z := protowire.EncodeZigZag(i)
	e.buf = append(e.buf, tag, byte(1+protowire.SizeVarint(z)), tagValueInt)
	e.buf = protowire.AppendVarint(e.buf, z)
}
