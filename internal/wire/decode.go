package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sparsestream/sparse/internal/chunk"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// Decode parses an encoded Batch and passes its tuples and controls to onTuple and
// onControl in the order they appear.
//
// resolve maps a tuple's source task and stream to the receiver's shared *tuple.Source
// (one per task and stream); it returns nil for a pair the receiver does not know, and
// Decode then fails with an error naming the task and stream. resolve may keep the
// stream string. Decode remembers the last few pairs it resolved, so resolve is called
// about once per distinct pair in a batch rather than once per tuple.
//
// Each Tuple handed to onTuple is new, with its own Values and Anchors slices (tuples of
// a batch are allocated in chunks of up to 16, so a tuple kept keeps its chunk); strings
// and byte slices are copied, so b may be reused as soon as Decode returns. A Value with no kind set decodes to nil. When Decode returns an error, the
// callbacks have been called for the entries that precede the one at fault.
func Decode(b []byte, resolve func(task int32, stream string) *tuple.Source, onTuple func(dest int32, t *tuple.Tuple), onControl func(Control)) error {
	if resolve == nil || onTuple == nil || onControl == nil {
		return errors.New("wire: Decode needs resolve, onTuple and onControl functions")
	}
	d := decoder{resolve: resolve}
	return d.decode(b, onTuple, onControl)
}

// Decoder decodes the batches of one stream, as Decode does, and remembers the sources
// it resolved and the short strings it read from one batch to the next, so that a
// stream's steady traffic resolves nothing and allocates no string it has seen
// recently. A Decoder is not safe for concurrent use.
type Decoder struct {
	d decoder
}

// NewDecoder returns a decoder whose batches resolve their sources with resolve, as
// Decode's do.
func NewDecoder(resolve func(task int32, stream string) *tuple.Source) *Decoder {
	return &Decoder{d: decoder{resolve: resolve}}
}

// Decode decodes one batch, as the function Decode does.
func (x *Decoder) Decode(b []byte, onTuple func(dest int32, t *tuple.Tuple), onControl func(Control)) error {
	if x.d.resolve == nil || onTuple == nil || onControl == nil {
		return errors.New("wire: a Decoder needs resolve, onTuple and onControl functions")
	}
	return x.d.decode(b, onTuple, onControl)
}

func (d *decoder) decode(b []byte, onTuple func(dest int32, t *tuple.Tuple), onControl func(Control)) error {
	// The stack of values is empty between batches, even after an error, and keeps no
	// values of an earlier one alive.
	clear(d.vals)
	d.vals = d.vals[:0]
	entry := 0
	for i := 0; i < len(b); entry++ {
		at := i
		// The layout Encoder writes: a one-byte key and a one-byte length.
		if !d.slow && i+1 < len(b) && b[i+1] < 0x80 && i+2+int(b[i+1]) <= len(b) {
			m := b[i+2 : i+2+int(b[i+1])]
			switch b[i] {
			case tagBatchTuple:
				if dest, t, ok := d.fastTuple(m); ok {
					onTuple(dest, t)
					i += 2 + len(m)
					continue
				}
			case tagBatchControl:
				if c, ok := fastControl(m); ok {
					onControl(c)
					i += 2 + len(m)
					continue
				}
			}
		}
		num, wt, n := consumeTag(b[i:])
		if n < 0 {
			return fmt.Errorf("wire: batch entry %d at offset %d: bad field key: %w", entry, at, keyError(b[i:], n))
		}
		i += n
		switch num {
		case batchTuples, batchControls:
			if wt != wtBytes {
				return fmt.Errorf("wire: batch entry %d at offset %d: %w", entry, at, wireTypeError("Batch", num, wt, wtBytes))
			}
			m, n := protowire.ConsumeBytes(b[i:])
			if n < 0 {
				return fmt.Errorf("wire: batch entry %d at offset %d: field %d (%s): %w", entry, at, num, batchFieldName(num), lenError(b[i:], n))
			}
			base := i + n - len(m)
			i += n
			if num == batchTuples {
				dest, t, err := d.tuple(m, base)
				if err != nil {
					return fmt.Errorf("wire: batch entry %d (tuple at offset %d): %w", entry, at, err)
				}
				onTuple(dest, t)
			} else {
				c, err := control(m, base)
				if err != nil {
					return fmt.Errorf("wire: batch entry %d (control at offset %d): %w", entry, at, err)
				}
				onControl(c)
			}
		default:
			n := protowire.ConsumeFieldValue(num, wt, b[i:])
			if n < 0 {
				return fmt.Errorf("wire: batch entry %d at offset %d: unknown field %d: %w", entry, at, num, protowire.ParseError(n))
			}
			i += n
		}
	}
	return nil
}

// srcCacheSize is how many (task, stream) pairs one Decode remembers, so that resolve
// and the stream's string are paid once per pair rather than once per tuple.
const srcCacheSize = 8

type srcEntry struct {
	task   int32
	stream string
	src    *tuple.Source
}

// decoder holds the state of one Decode call.
type decoder struct {
	resolve func(task int32, stream string) *tuple.Source
	cache   [srcCacheSize]srcEntry
	cached  int // entries of cache in use
	victim  int // next entry to replace once the cache is full
	// vals is a stack of values being decoded: a tuple or list appends its elements and
	// copies them out into a slice of exactly the right size when it ends.
	vals    []any
	anchors []tuple.Anchor
	// strs shares short strings between the tuples of a batch: stream values repeat
	// (words, keys, constant fields), and a shared string costs no allocation where a
	// fresh one costs two (its bytes, and its box in the tuple's []any).
	strs [internSlots]internEntry
	blocks
	// lastHdr holds the source_task and stream fields of the last tuple the fast path
	// read, and lastSrc what they resolved to.
	lastHdr []byte
	lastSrc *tuple.Source
	// slow turns the fast paths off, so that tests can compare the two.
	slow bool
}

const (
	internBits  = 7
	internSlots = 1 << internBits // in pairs
	internMax   = 32              // longer strings are rarely repeated, and cost more to compare
)

type internEntry struct {
	s string
	v any
}

// str returns s as a boxed string, shared with an equal string earlier in the batch;
// ok is false when s is not valid UTF-8.
func (d *decoder) str(b []byte) (v any, ok bool) {
	if len(b) > internMax || len(b) == 0 {
		if !utf8.Valid(b) {
			return nil, false
		}
		return string(b), true
	}
	// A cheap hash of the length and up to 16 bytes: a collision only costs a new string.
	var x uint64
	if n := len(b); n >= 8 {
		x = binary.LittleEndian.Uint64(b) ^ binary.LittleEndian.Uint64(b[n-8:])<<1
	} else {
		for _, c := range b {
			x = x<<8 | uint64(c)
		}
	}
	h := (x ^ uint64(len(b))<<58) * 0x9e3779b97f4a7c15
	// Two slots per string, the more recent first, so that two strings that hash alike
	// do not evict each other in turn.
	i := h >> (64 - internBits) &^ 1
	e0, e1 := &d.strs[i], &d.strs[i+1]
	if e0.v != nil && e0.s == string(b) {
		return e0.v, true
	}
	if e1.v != nil && e1.s == string(b) {
		*e0, *e1 = *e1, *e0
		return e0.v, true
	}
	if !utf8.Valid(b) {
		return nil, false
	}
	*e1 = *e0
	e0.s = string(b)
	e0.v = e0.s
	return e0.v, true
}

// source returns the shared Source of task and stream.
func (d *decoder) source(task int32, stream []byte, dest int32) (*tuple.Source, error) {
	for i := range d.cached {
		c := &d.cache[i]
		if c.task == task && c.stream == string(stream) {
			return c.src, nil
		}
	}
	if !utf8.Valid(stream) {
		return nil, fmt.Errorf("field %d (stream): %s is not valid UTF-8", tupleStream, quoteBytes(stream))
	}
	s := string(stream)
	src := d.resolve(task, s)
	if src == nil {
		return nil, fmt.Errorf("unknown source: task %d has no stream %s here (tuple for task %d)", task, quoteString(s), dest)
	}
	c := &d.cache[d.victim]
	if d.cached < srcCacheSize {
		c = &d.cache[d.cached]
		d.cached++
	} else {
		d.victim = (d.victim + 1) % srcCacheSize
	}
	*c = srcEntry{task: task, stream: s, src: src}
	return src, nil
}

// tuple decodes the Tuple message m, which starts at offset base of the batch.
func (d *decoder) tuple(m []byte, base int) (int32, *tuple.Tuple, error) {
	var dest, task int32
	var stream []byte
	var init bool
	vals := len(d.vals)
	d.anchors = d.anchors[:0]
	for i := 0; i < len(m); {
		at := base + i
		num, wt, n := consumeTag(m[i:])
		if n < 0 {
			return 0, nil, fmt.Errorf("offset %d: bad field key: %w", at, keyError(m[i:], n))
		}
		i += n
		switch num {
		case tupleDest, tupleSource, tupleInit:
			if wt != wtVarint {
				return 0, nil, fmt.Errorf("offset %d: %w", at, wireTypeError("Tuple", num, wt, wtVarint))
			}
			v, n := protowire.ConsumeVarint(m[i:])
			if n < 0 {
				return 0, nil, fmt.Errorf("offset %d: field %d (%s): %w", at, num, tupleFieldName(num), protowire.ParseError(n))
			}
			i += n
			switch num {
			case tupleDest:
				dest = int32(v)
			case tupleSource:
				task = int32(v)
			default:
				init = v != 0
			}
		case tupleStream, tupleValues, tupleAnchors:
			if wt != wtBytes {
				return 0, nil, fmt.Errorf("offset %d: %w", at, wireTypeError("Tuple", num, wt, wtBytes))
			}
			s, n := protowire.ConsumeBytes(m[i:])
			if n < 0 {
				return 0, nil, fmt.Errorf("offset %d: field %d (%s): %w", at, num, tupleFieldName(num), lenError(m[i:], n))
			}
			sbase := base + i + n - len(s)
			i += n
			switch num {
			case tupleStream:
				// The last stream field wins, but protobuf requires each to be valid
				// UTF-8; the last one is checked when it is resolved.
				if stream != nil && !utf8.Valid(stream) {
					return 0, nil, fmt.Errorf("field %d (stream): %s is not valid UTF-8", tupleStream, quoteBytes(stream))
				}
				stream = s
			case tupleValues:
				var st valueState
				if err := d.value(&st, s, sbase, 0); err != nil {
					return 0, nil, fmt.Errorf("value %d: %w", len(d.vals)-vals, err)
				}
				d.vals = append(d.vals, st.v)
			default:
				a, err := anchor(s, sbase)
				if err != nil {
					return 0, nil, fmt.Errorf("anchor %d: %w", len(d.anchors), err)
				}
				d.anchors = append(d.anchors, a)
			}
		default:
			n := protowire.ConsumeFieldValue(num, wt, m[i:])
			if n < 0 {
				return 0, nil, fmt.Errorf("offset %d: unknown field %d: %w", at, num, protowire.ParseError(n))
			}
			i += n
		}
	}
	src, err := d.source(task, stream, dest)
	if err != nil {
		return 0, nil, err
	}
	t := d.blocks.newTuple(len(d.vals)-vals, len(d.anchors))
	t.Source = src
	copy(t.Values, d.vals[vals:])
	clear(d.vals[vals:])
	d.vals = d.vals[:vals]
	copy(t.Anchors, d.anchors)
	if init {
		if len(t.Anchors) != 1 {
			return 0, nil, fmt.Errorf("field %d (init_carried) is set on a tuple with %d anchors; only a tuple with one anchor carries its tree's init", tupleInit, len(t.Anchors))
		}
		t.InitTask = task
	}
	return dest, t, nil
}

// Tuples of up to four values and at most one anchor, the common shapes, are allocated
// with their Values and Anchors arrays in one block, and the blocks of one shape in
// chunks (internal/chunk): a tuple costs a fraction of an allocation instead of three.
// As with the executor's own tuples, a tuple that user code keeps keeps its chunk alive.
type (
	tupleV1 struct {
		t tuple.Tuple
		v [1]any
	}
	tupleV2 struct {
		t tuple.Tuple
		v [2]any
	}
	tupleV3 struct {
		t tuple.Tuple
		v [3]any
	}
	tupleV4 struct {
		t tuple.Tuple
		v [4]any
	}
	tupleV1A1 struct {
		t tuple.Tuple
		v [1]any
		a [1]tuple.Anchor
	}
	tupleV2A1 struct {
		t tuple.Tuple
		v [2]any
		a [1]tuple.Anchor
	}
	tupleV3A1 struct {
		t tuple.Tuple
		v [3]any
		a [1]tuple.Anchor
	}
	tupleV4A1 struct {
		t tuple.Tuple
		v [4]any
		a [1]tuple.Anchor
	}
)

// blocks holds the chunks of one Decode call.
type blocks struct {
	v1   chunk.Of[tupleV1]
	v2   chunk.Of[tupleV2]
	v3   chunk.Of[tupleV3]
	v4   chunk.Of[tupleV4]
	v1a1 chunk.Of[tupleV1A1]
	v2a1 chunk.Of[tupleV2A1]
	v3a1 chunk.Of[tupleV3A1]
	v4a1 chunk.Of[tupleV4A1]
}

// newTuple returns a tuple with nv zero Values and na zero Anchors, each slice of exactly
// that capacity (nil when empty).
func (k *blocks) newTuple(nv, na int) *tuple.Tuple {
	switch {
	case na == 0 && nv == 1:
		b := k.v1.Next()
		b.t.Values = b.v[:]
		return &b.t
	case na == 0 && nv == 2:
		b := k.v2.Next()
		b.t.Values = b.v[:]
		return &b.t
	case na == 0 && nv == 3:
		b := k.v3.Next()
		b.t.Values = b.v[:]
		return &b.t
	case na == 0 && nv == 4:
		b := k.v4.Next()
		b.t.Values = b.v[:]
		return &b.t
	case na == 1 && nv == 1:
		b := k.v1a1.Next()
		b.t.Values, b.t.Anchors = b.v[:], b.a[:]
		return &b.t
	case na == 1 && nv == 2:
		b := k.v2a1.Next()
		b.t.Values, b.t.Anchors = b.v[:], b.a[:]
		return &b.t
	case na == 1 && nv == 3:
		b := k.v3a1.Next()
		b.t.Values, b.t.Anchors = b.v[:], b.a[:]
		return &b.t
	case na == 1 && nv == 4:
		b := k.v4a1.Next()
		b.t.Values, b.t.Anchors = b.v[:], b.a[:]
		return &b.t
	}
	t := new(tuple.Tuple)
	if nv > 0 {
		t.Values = make([]any, nv)
	}
	if na > 0 {
		t.Anchors = make([]tuple.Anchor, na)
	}
	return t
}

// anchor decodes the Anchor message m, which starts at offset base of the batch.
func anchor(m []byte, base int) (tuple.Anchor, error) {
	var a tuple.Anchor
	for i := 0; i < len(m); {
		at := base + i
		num, wt, n := consumeTag(m[i:])
		if n < 0 {
			return a, fmt.Errorf("offset %d: bad field key: %w", at, keyError(m[i:], n))
		}
		i += n
		switch num {
		case anchorRoot, anchorEdge:
			if wt != wtFixed64 {
				return a, fmt.Errorf("offset %d: %w", at, wireTypeError("Anchor", num, wt, wtFixed64))
			}
			v, n := protowire.ConsumeFixed64(m[i:])
			if n < 0 {
				return a, fmt.Errorf("offset %d: field %d (%s): %w", at, num, anchorFieldName(num), protowire.ParseError(n))
			}
			i += n
			if num == anchorRoot {
				a.Root = v
			} else {
				a.Edge = v
			}
		default:
			n := protowire.ConsumeFieldValue(num, wt, m[i:])
			if n < 0 {
				return a, fmt.Errorf("offset %d: unknown field %d: %w", at, num, protowire.ParseError(n))
			}
			i += n
		}
	}
	return a, nil
}

// control decodes the Control message m, which starts at offset base of the batch.
func control(m []byte, base int) (Control, error) {
	var c Control
	for i := 0; i < len(m); {
		at := base + i
		num, wt, n := consumeTag(m[i:])
		if n < 0 {
			return c, fmt.Errorf("offset %d: bad field key: %w", at, keyError(m[i:], n))
		}
		i += n
		switch num {
		case controlKind, controlDest, controlSpout:
			if wt != wtVarint {
				return c, fmt.Errorf("offset %d: %w", at, wireTypeError("Control", num, wt, wtVarint))
			}
			v, n := protowire.ConsumeVarint(m[i:])
			if n < 0 {
				return c, fmt.Errorf("offset %d: field %d (%s): %w", at, num, controlFieldName(num), protowire.ParseError(n))
			}
			i += n
			switch num {
			case controlKind:
				// An enum is an int32 on the wire; a negative one is sign-extended.
				if k := int32(v); k < 0 || k > math.MaxUint8 {
					return c, fmt.Errorf("offset %d: field %d (kind): control kind %d is out of range", at, num, k)
				}
				c.Kind = uint8(v)
			case controlDest:
				c.Task = int32(v)
			default:
				c.Spout = int32(v)
			}
		case controlRoot, controlVal:
			if wt != wtFixed64 {
				return c, fmt.Errorf("offset %d: %w", at, wireTypeError("Control", num, wt, wtFixed64))
			}
			v, n := protowire.ConsumeFixed64(m[i:])
			if n < 0 {
				return c, fmt.Errorf("offset %d: field %d (%s): %w", at, num, controlFieldName(num), protowire.ParseError(n))
			}
			i += n
			if num == controlRoot {
				c.Root = v
			} else {
				c.Val = v
			}
		default:
			n := protowire.ConsumeFieldValue(num, wt, m[i:])
			if n < 0 {
				return c, fmt.Errorf("offset %d: unknown field %d: %w", at, num, protowire.ParseError(n))
			}
			i += n
		}
	}
	return c, nil
}

// valueState is a Value being decoded: protobuf lets a message's fields repeat (the last
// one wins), and a repeated message field merges into the previous one, which for a
// Value means that a second list or map extends the first.
type valueState struct {
	v    any
	kind protowire.Number // the field that set v; 0 for none yet
}

// value decodes the Value message m, which starts at offset base of the batch and sits
// at nesting depth depth, into st.
func (d *decoder) value(st *valueState, m []byte, base, depth int) error {
	for i := 0; i < len(m); {
		at := base + i
		num, wt, n := consumeTag(m[i:])
		if n < 0 {
			return fmt.Errorf("offset %d: bad field key: %w", at, keyError(m[i:], n))
		}
		i += n
		switch num {
		case valueInt, valueBool, valueNull:
			if wt != wtVarint {
				return fmt.Errorf("offset %d: %w", at, wireTypeError("Value", num, wt, wtVarint))
			}
			v, n := protowire.ConsumeVarint(m[i:])
			if n < 0 {
				return fmt.Errorf("offset %d: field %d (%s): %w", at, num, valueFieldName(num), protowire.ParseError(n))
			}
			i += n
			switch num {
			case valueInt:
				st.v = protowire.DecodeZigZag(v)
			case valueBool:
				st.v = v != 0
			default:
				st.v = nil
			}
		case valueDouble:
			if wt != wtFixed64 {
				return fmt.Errorf("offset %d: %w", at, wireTypeError("Value", num, wt, wtFixed64))
			}
			v, n := protowire.ConsumeFixed64(m[i:])
			if n < 0 {
				return fmt.Errorf("offset %d: field %d (double_value): %w", at, num, protowire.ParseError(n))
			}
			i += n
			st.v = math.Float64frombits(v)
		case valueString, valueBytes, valueList, valueMap:
			if wt != wtBytes {
				return fmt.Errorf("offset %d: %w", at, wireTypeError("Value", num, wt, wtBytes))
			}
			s, n := protowire.ConsumeBytes(m[i:])
			if n < 0 {
				return fmt.Errorf("offset %d: field %d (%s): %w", at, num, valueFieldName(num), lenError(m[i:], n))
			}
			sbase := base + i + n - len(s)
			i += n
			switch num {
			case valueString:
				v, ok := d.str(s)
				if !ok {
					return fmt.Errorf("offset %d: field %d (string_value): %s is not valid UTF-8", at, num, quoteBytes(s))
				}
				st.v = v
			case valueBytes:
				st.v = append(make([]byte, 0, len(s)), s...)
			case valueList:
				if depth >= MaxDepth {
					return fmt.Errorf("offset %d: field %d (list_value): lists and maps nested deeper than %d levels", at, num, MaxDepth)
				}
				var prev []any
				if st.kind == valueList {
					prev, _ = st.v.([]any)
				}
				l, err := d.list(prev, s, sbase, depth)
				if err != nil {
					return fmt.Errorf("list at offset %d: %w", at, err)
				}
				st.v = l
			default:
				if depth >= MaxDepth {
					return fmt.Errorf("offset %d: field %d (map_value): lists and maps nested deeper than %d levels", at, num, MaxDepth)
				}
				var prev map[string]any
				if st.kind == valueMap {
					prev, _ = st.v.(map[string]any)
				}
				mp, err := d.mapValue(prev, s, sbase, depth)
				if err != nil {
					return fmt.Errorf("map at offset %d: %w", at, err)
				}
				st.v = mp
			}
		default:
			n := protowire.ConsumeFieldValue(num, wt, m[i:])
			if n < 0 {
				return fmt.Errorf("offset %d: unknown field %d: %w", at, num, protowire.ParseError(n))
			}
			i += n
			continue
		}
		st.kind = num
	}
	return nil
}

// list decodes the List message m (at offset base, holding the elements of a list at
// depth depth) and returns prev extended with its elements.
func (d *decoder) list(prev []any, m []byte, base, depth int) ([]any, error) {
	start := len(d.vals)
	for i := 0; i < len(m); {
		at := base + i
		num, wt, n := consumeTag(m[i:])
		if n < 0 {
			return nil, fmt.Errorf("offset %d: bad field key: %w", at, keyError(m[i:], n))
		}
		i += n
		if num != listValues {
			n := protowire.ConsumeFieldValue(num, wt, m[i:])
			if n < 0 {
				return nil, fmt.Errorf("offset %d: unknown field %d: %w", at, num, protowire.ParseError(n))
			}
			i += n
			continue
		}
		if wt != wtBytes {
			return nil, fmt.Errorf("offset %d: %w", at, wireTypeError("List", num, wt, wtBytes))
		}
		s, n := protowire.ConsumeBytes(m[i:])
		if n < 0 {
			return nil, fmt.Errorf("offset %d: field %d (values): %w", at, num, lenError(m[i:], n))
		}
		sbase := base + i + n - len(s)
		i += n
		var st valueState
		if err := d.value(&st, s, sbase, depth+1); err != nil {
			return nil, fmt.Errorf("element %d: %w", len(prev)+len(d.vals)-start, err)
		}
		d.vals = append(d.vals, st.v)
	}
	// A repeated list_value merges into the list before it. prev is this decoder's own,
	// held by nothing but the value being decoded, so it grows in place: appending keeps
	// K merges linear, where copying prev each time would be O(K²). A first list gets
	// exactly its length.
	if prev == nil {
		prev = make([]any, 0, len(d.vals)-start)
	}
	prev = append(prev, d.vals[start:]...)
	clear(d.vals[start:])
	d.vals = d.vals[:start]
	return prev, nil
}

// mapValue decodes the Map message m (at offset base, holding the entries of a map at
// depth depth) into prev, or into a new map when prev is nil.
func (d *decoder) mapValue(prev map[string]any, m []byte, base, depth int) (map[string]any, error) {
	out := prev
	if out == nil {
		out = make(map[string]any)
	}
	for i := 0; i < len(m); {
		at := base + i
		num, wt, n := consumeTag(m[i:])
		if n < 0 {
			return nil, fmt.Errorf("offset %d: bad field key: %w", at, keyError(m[i:], n))
		}
		i += n
		if num != mapEntries {
			n := protowire.ConsumeFieldValue(num, wt, m[i:])
			if n < 0 {
				return nil, fmt.Errorf("offset %d: unknown field %d: %w", at, num, protowire.ParseError(n))
			}
			i += n
			continue
		}
		if wt != wtBytes {
			return nil, fmt.Errorf("offset %d: %w", at, wireTypeError("Map", num, wt, wtBytes))
		}
		s, n := protowire.ConsumeBytes(m[i:])
		if n < 0 {
			return nil, fmt.Errorf("offset %d: field %d (entries): %w", at, num, lenError(m[i:], n))
		}
		sbase := base + i + n - len(s)
		i += n
		k, v, err := d.entry(s, sbase, depth)
		if err != nil {
			return nil, fmt.Errorf("entry at offset %d: %w", at, err)
		}
		out[k] = v
	}
	return out, nil
}

// entry decodes one map entry message m (at offset base) of a map at depth depth.
func (d *decoder) entry(m []byte, base, depth int) (string, any, error) {
	var key []byte
	var st valueState
	for i := 0; i < len(m); {
		at := base + i
		num, wt, n := consumeTag(m[i:])
		if n < 0 {
			return "", nil, fmt.Errorf("offset %d: bad field key: %w", at, keyError(m[i:], n))
		}
		i += n
		switch num {
		case entryKey, entryValue:
			if wt != wtBytes {
				return "", nil, fmt.Errorf("offset %d: %w", at, wireTypeError("map entry", num, wt, wtBytes))
			}
			s, n := protowire.ConsumeBytes(m[i:])
			if n < 0 {
				return "", nil, fmt.Errorf("offset %d: field %d (%s): %w", at, num, entryFieldName(num), lenError(m[i:], n))
			}
			sbase := base + i + n - len(s)
			i += n
			if num == entryKey {
				if !utf8.Valid(s) {
					return "", nil, fmt.Errorf("offset %d: field %d (key): %s is not valid UTF-8", at, num, quoteBytes(s))
				}
				key = s
				continue
			}
			if err := d.value(&st, s, sbase, depth+1); err != nil {
				return "", nil, fmt.Errorf("value of key %s: %w", quoteBytes(key), err)
			}
		default:
			n := protowire.ConsumeFieldValue(num, wt, m[i:])
			if n < 0 {
				return "", nil, fmt.Errorf("offset %d: unknown field %d: %w", at, num, protowire.ParseError(n))
			}
			i += n
		}
	}
	return string(key), st.v, nil
}

// wireTypeError reports a known field that arrived with the wrong wire type.
func wireTypeError(msg string, num protowire.Number, got protowire.Type, want protowire.Type) error {
	return fmt.Errorf("%s field %d has wire type %d (%s), want %d (%s)", msg, num, got, wireTypeName(got), want, wireTypeName(want))
}

func wireTypeName(t protowire.Type) string {
	switch t {
	case protowire.VarintType:
		return "varint"
	case protowire.Fixed32Type:
		return "fixed32"
	case protowire.Fixed64Type:
		return "fixed64"
	case protowire.BytesType:
		return "length-delimited"
	case protowire.StartGroupType:
		return "start group"
	case protowire.EndGroupType:
		return "end group"
	}
	return "invalid"
}

// lenError explains why ConsumeBytes failed on b, giving the length prefix when it
// claims more bytes than remain.
func lenError(b []byte, code int) error {
	if l, n := protowire.ConsumeVarint(b); n > 0 && l > uint64(len(b)-n) {
		return fmt.Errorf("length %d exceeds the %d bytes that remain", l, len(b)-n)
	}
	return protowire.ParseError(code)
}

// quoteBytes quotes at most the first 64 bytes of b for an error message.
func quoteBytes(b []byte) string {
	if len(b) > 64 {
		return fmt.Sprintf("%q... (%d bytes)", b[:64], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// quoteString quotes at most the first 64 bytes of s for an error message.
func quoteString(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%q... (%d bytes)", s[:64], len(s))
	}
	return fmt.Sprintf("%q", s)
}

func batchFieldName(n protowire.Number) string {
	if n == batchTuples {
		return "tuples"
	}
	return "controls"
}

func tupleFieldName(n protowire.Number) string {
	switch n {
	case tupleDest:
		return "dest_task"
	case tupleSource:
		return "source_task"
	case tupleStream:
		return "stream"
	case tupleValues:
		return "values"
	case tupleInit:
		return "init_carried"
	}
	return "anchors"
}

func anchorFieldName(n protowire.Number) string {
	if n == anchorRoot {
		return "root"
	}
	return "edge"
}

func controlFieldName(n protowire.Number) string {
	switch n {
	case controlKind:
		return "kind"
	case controlDest:
		return "dest_task"
	case controlSpout:
		return "spout_task"
	case controlRoot:
		return "root"
	}
	return "val"
}

func valueFieldName(n protowire.Number) string {
	switch n {
	case valueString:
		return "string_value"
	case valueInt:
		return "int_value"
	case valueDouble:
		return "double_value"
	case valueBool:
		return "bool_value"
	case valueBytes:
		return "bytes_value"
	case valueNull:
		return "null_value"
	case valueList:
		return "list_value"
	}
	return "map_value"
}

func entryFieldName(n protowire.Number) string {
	if n == entryKey {
		return "key"
	}
	return "value"
}

// consumeTag parses a field key as the generated code does: field numbers above
// protowire.MaxValidNumber are errors.
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	num, wt, n := protowire.ConsumeTag(b)
	if n > 0 && num > protowire.MaxValidNumber {
		return 0, 0, -1
	}
	return num, wt, n
}

// keyError explains why consumeTag failed on b.
func keyError(b []byte, code int) error {
	if v, n := protowire.ConsumeVarint(b); n > 0 {
		return fmt.Errorf("field number %d is not between 1 and %d", v>>3, protowire.MaxValidNumber)
	}
	return protowire.ParseError(code)
}
