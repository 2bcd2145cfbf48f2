package multilang

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
)

// The msgpack codec is written here rather than imported: the protocol needs a small
// subset (no extension types, string map keys), and the decoder must bound every
// allocation by the bytes actually left in a message, because a length header written by
// a broken subprocess may claim gigabytes.

// maxDepth bounds the nesting of decoded and encoded values.
const maxDepth = 100

var errTooDeep = fmt.Errorf("values nested deeper than %d levels", maxDepth)

// msgpackDecoder reads consecutive msgpack values.
type msgpackDecoder struct {
	r    *bufio.Reader
	max  int64
	n    int64  // bytes consumed by the current message
	head []byte // its first headBytes bytes
}

// errMsgTooBig is returned from inside the decoder when a message would exceed max.
var errMsgTooBig = errors.New("too big")

func (d *msgpackDecoder) ReadMessage() (any, error) {
	d.n = 0
	d.head = d.head[:0]
	if _, err := d.r.Peek(1); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, err
	}
	v, err := d.value(0)
	if err == nil {
		return v, nil
	}
	var pe *ProtocolError
	switch {
	case errors.As(err, &pe):
		return nil, err
	case errors.Is(err, errMsgTooBig):
		return nil, d.fail(fmt.Sprintf("message is larger than the limit of %d bytes (config %s)", d.max, ConfMaxMessageBytes))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, d.fail("the stream ended in the middle of a msgpack message")
	case errors.Is(err, errTooDeep):
		return nil, d.fail("the msgpack message has " + err.Error())
	}
	return nil, err // an I/O error of the pipe
}

// lastBytes returns the first bytes of the last message read, followed by what is
// already buffered after it (without waiting for more), up to headBytes in all.
func (d *msgpackDecoder) lastBytes() []byte {
	out := bytes.Clone(d.head)
	if room := headBytes - len(out); room > 0 {
		if more, _ := d.r.Peek(min(room, d.r.Buffered())); len(more) > 0 {
			out = append(out, more...)
		}
	}
	return out
}

func (d *msgpackDecoder) fail(reason string) error {
	return &ProtocolError{Reason: reason, Head: bytes.Clone(d.head), Size: d.n}
}

func (d *msgpackDecoder) record(b []byte) {
	if room := headBytes - len(d.head); room > 0 {
		d.head = append(d.head, b[:min(room, len(b))]...)
	}
}

func (d *msgpackDecoder) readByte() (byte, error) {
	if d.n+1 > d.max {
		return 0, errMsgTooBig
	}
	b, err := d.r.ReadByte()
	if err != nil {
		return 0, err
	}
	d.n++
	d.record([]byte{b})
	return b, nil
}

// readN reads n bytes; it refuses before allocating when n exceeds what is left of the
// message's budget.
func (d *msgpackDecoder) readN(n uint64) ([]byte, error) {
	if n > uint64(d.max-d.n) {
		return nil, errMsgTooBig
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(d.r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	d.n += int64(n)
	d.record(buf)
	return buf, nil
}

func (d *msgpackDecoder) uint(size int) (uint64, error) {
	b, err := d.readN(uint64(size))
	if err != nil {
		return 0, err
	}
	switch size {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(b)), nil
	}
	return binary.BigEndian.Uint64(b), nil
}

func (d *msgpackDecoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	c, err := d.readByte()
	if err != nil {
		return nil, err
	}
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c >= 0x80 && c <= 0x8f:
		return d.mapOf(uint64(c&0x0f), depth)
	case c >= 0x90 && c <= 0x9f:
		return d.arrayOf(uint64(c&0x0f), depth)
	case c >= 0xa0 && c <= 0xbf:
		b, err := d.readN(uint64(c & 0x1f))
		return string(b), err
	}
	switch c {
	case 0xc0:
		return nil, nil
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	case 0xc4, 0xc5, 0xc6: // bin 8/16/32
		n, err := d.uint(1 << (c - 0xc4))
		if err != nil {
			return nil, err
		}
		return d.readN(n)
	case 0xd9, 0xda, 0xdb: // str 8/16/32
		n, err := d.uint(1 << (c - 0xd9))
		if err != nil {
			return nil, err
		}
		b, err := d.readN(n)
		return string(b), err
	case 0xca:
		u, err := d.uint(4)
		return float64(math.Float32frombits(uint32(u))), err
	case 0xcb:
		u, err := d.uint(8)
		return math.Float64frombits(u), err
	case 0xcc, 0xcd, 0xce, 0xcf: // uint 8/16/32/64
		u, err := d.uint(1 << (c - 0xcc))
		if err != nil {
			return nil, err
		}
		if u > math.MaxInt64 {
			return u, nil
		}
		return int64(u), nil
	case 0xd0:
		u, err := d.uint(1)
		return int64(int8(u)), err
	case 0xd1:
		u, err := d.uint(2)
		return int64(int16(u)), err
	case 0xd2:
		u, err := d.uint(4)
		return int64(int32(u)), err
	case 0xd3:
		u, err := d.uint(8)
		return int64(u), err
	case 0xdc, 0xdd: // array 16/32
		n, err := d.uint(2 << (c - 0xdc))
		if err != nil {
			return nil, err
		}
		return d.arrayOf(n, depth)
	case 0xde, 0xdf: // map 16/32
		n, err := d.uint(2 << (c - 0xde))
		if err != nil {
			return nil, err
		}
		return d.mapOf(n, depth)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xc7, 0xc8, 0xc9:
		return nil, d.fail(fmt.Sprintf("msgpack extension types (byte 0x%02x) are not part of the protocol", c))
	}
	return nil, d.fail(fmt.Sprintf("byte 0x%02x is not a msgpack type", c)) // 0xc1
}

// arrayOf reads n values. Every value takes at least one byte, so n is checked against
// the budget before anything is allocated.
func (d *msgpackDecoder) arrayOf(n uint64, depth int) (any, error) {
	if n > uint64(d.max-d.n) {
		return nil, errMsgTooBig
	}
	out := make([]any, 0, min(n, 1024))
	for range n {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (d *msgpackDecoder) mapOf(n uint64, depth int) (any, error) {
	if n > uint64(d.max-d.n)/2 {
		return nil, errMsgTooBig
	}
	out := make(map[string]any, min(n, 64))
	for range n {
		k, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		var key string
		switch x := k.(type) {
		case string:
			key = x
		case []byte:
			key = string(x)
		case int64:
			key = strconv.FormatInt(x, 10)
		case uint64:
			key = strconv.FormatUint(x, 10)
		default:
			return nil, d.fail(fmt.Sprintf("a msgpack map key is a %s; keys must be strings", typeName(k)))
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
	return out, nil
}

// appendMsgpack encodes v: nil, booleans, every Go integer and float kind, strings,
// []byte, json.Number, and slices, arrays and string-keyed maps of those.
func appendMsgpack(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	switch x := v.(type) {
	case nil:
		return append(b, 0xc0), nil
	case bool:
		if x {
			return append(b, 0xc3), nil
		}
		return append(b, 0xc2), nil
	case string:
		return appendStr(b, x), nil
	case []byte:
		return appendBin(b, x), nil
	case int64:
		return appendInt(b, x), nil
	case int:
		return appendInt(b, int64(x)), nil
	case int32:
		return appendInt(b, int64(x)), nil
	case uint64:
		return appendUint(b, x), nil
	case float64:
		return binary.BigEndian.AppendUint64(append(b, 0xcb), math.Float64bits(x)), nil
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return appendInt(b, n), nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("cannot encode number %q", string(x))
		}
		return appendMsgpack(b, f, depth)
	case []any:
		b = appendLen(b, len(x), 0x90, 0xdc)
		for _, e := range x {
			var err error
			if b, err = appendMsgpack(b, e, depth+1); err != nil {
				return nil, err
			}
		}
		return b, nil
	case []int32:
		b = appendLen(b, len(x), 0x90, 0xdc)
		for _, e := range x {
			b = appendInt(b, int64(e))
		}
		return b, nil
	case map[string]any:
		b = appendLen(b, len(x), 0x80, 0xde)
		for k, e := range x {
			b = appendStr(b, k)
			var err error
			if b, err = appendMsgpack(b, e, depth+1); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	return appendReflect(b, reflect.ValueOf(v), depth)
}

func appendReflect(b []byte, rv reflect.Value, depth int) ([]byte, error) {
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return appendInt(b, rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return appendUint(b, rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return appendMsgpack(b, rv.Float(), depth)
	case reflect.String:
		return appendStr(b, rv.String()), nil
	case reflect.Bool:
		return appendMsgpack(b, rv.Bool(), depth)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return append(b, 0xc0), nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return appendBin(b, rv.Bytes()), nil
		}
		b = appendLen(b, rv.Len(), 0x90, 0xdc)
		for i := range rv.Len() {
			var err error
			if b, err = appendMsgpack(b, rv.Index(i).Interface(), depth+1); err != nil {
				return nil, err
			}
		}
		return b, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("cannot encode a map with %s keys to msgpack; use string keys", rv.Type().Key())
		}
		if rv.IsNil() {
			return append(b, 0xc0), nil
		}
		b = appendLen(b, rv.Len(), 0x80, 0xde)
		it := rv.MapRange()
		for it.Next() {
			b = appendStr(b, it.Key().String())
			var err error
			if b, err = appendMsgpack(b, it.Value().Interface(), depth+1); err != nil {
				return nil, err
			}
		}
		return b, nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return append(b, 0xc0), nil
		}
		return appendMsgpack(b, rv.Elem().Interface(), depth)
	case reflect.Invalid:
		return append(b, 0xc0), nil
	}
	return nil, fmt.Errorf("cannot encode a value of type %s to msgpack", rv.Type())
}

func appendInt(b []byte, n int64) []byte {
	switch {
	case n >= 0:
		return appendUint(b, uint64(n))
	case n >= -32:
		return append(b, byte(int8(n)))
	case n >= math.MinInt8:
		return append(b, 0xd0, byte(int8(n)))
	case n >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(int16(n)))
	case n >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(int32(n)))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(n))
}

func appendUint(b []byte, n uint64) []byte {
	switch {
	case n <= 0x7f:
		return append(b, byte(n))
	case n <= math.MaxUint8:
		return append(b, 0xcc, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), n)
}

func appendStr(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n <= 31:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

func appendBin(b []byte, p []byte) []byte {
	n := len(p)
	switch {
	case n <= math.MaxUint8:
		b = append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xc5), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(n))
	}
	return append(b, p...)
}

// appendLen writes an array or map header: fix is the fixarray/fixmap base, wide the
// 16-bit code (the 32-bit code follows it).
func appendLen(b []byte, n int, fix, wide byte) []byte {
	switch {
	case n <= 15:
		return append(b, fix|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, wide), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, wide+1), uint32(n))
}

// typeName names a decoded value's type for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case int64, uint64:
		return "integer"
	case float64:
		return "float"
	case []byte:
		return "binary"
	case []any:
		return "list"
	case map[string]any:
		return "map"
	}
	return fmt.Sprintf("%T", v)
}
