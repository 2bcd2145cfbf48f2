package wire

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sparsestream/sparse/pkg/tuple"
)

// The fast paths read the layout that Encoder writes: a tuple's fields in field order,
// each at most once, values before anchors, and one-byte lengths. Any other layout,
// however valid, and any error make them give up, and the general decoder reads the
// entry again from its start; so they accept only what the general decoder accepts and
// decode it to the same result, which FuzzFastPath checks.

// fastTuple decodes the Tuple message m when it is laid out as Encoder writes it; ok is
// false when it is not, or when it holds anything the general decoder must judge.
func (d *decoder) fastTuple(m []byte) (dest int32, t *tuple.Tuple, ok bool) {
	v, i, ok := optVarint(m, 0, tagTupleDest)
	if !ok {
		return 0, nil, false
	}
	dest, hdr := int32(v), i
	v, i, ok = optVarint(m, i, tagTupleSource)
	if !ok {
		return 0, nil, false
	}
	task := int32(v)
	var stream []byte
	if i < len(m) && m[i] == tagTupleStream {
		if i+1 >= len(m) {
			return 0, nil, false
		}
		l := int(m[i+1])
		if l >= 0x80 || i+2+l > len(m) {
			return 0, nil, false
		}
		stream = m[i+2 : i+2+l]
		i += 2 + l
	}
	// The source fields of consecutive tuples are usually the same bytes.
	var src *tuple.Source
	if h := m[hdr:i]; d.lastSrc != nil && string(h) == string(d.lastHdr) {
		src = d.lastSrc
	} else {
		s, err := d.source(task, stream, dest)
		if err != nil {
			return 0, nil, false
		}
		// A copy: a Decoder outlives the batch, whose buffer is reused.
		src, d.lastSrc, d.lastHdr = s, s, append(d.lastHdr[:0], h...)
	}
	// First check the layout and count the values and anchors, then decode the values
	// straight into the tuple's own slice.
	nv, vstart := 0, i
	for i < len(m) && m[i] == tagTupleValue {
		if i+1 >= len(m) {
			return 0, nil, false
		}
		l := int(m[i+1])
		if l >= 0x80 || i+2+l > len(m) {
			return 0, nil, false
		}
		nv++
		i += 2 + l
	}
	na := 0
	for j := i; j < len(m) && m[j] == tagTupleAnchor; j += anchorSize {
		if j+anchorSize > len(m) || m[j+1] != anchorSize-2 || m[j+2] != tagAnchorRoot || m[j+11] != tagAnchorEdge {
			return 0, nil, false
		}
		na++
	}
	init := false
	if end := i + na*anchorSize; end+2 == len(m) && m[end] == tagTupleInit && m[end+1] == 1 && na == 1 {
		init = true
	} else if end != len(m) {
		return 0, nil, false
	}
	t = d.blocks.newTuple(nv, na)
	for k, j := 0, vstart; k < nv; k++ {
		l := int(m[j+1])
		v, ok := d.fastValue(m[j+2 : j+2+l])
		if !ok {
			// The tuple is dropped, and what it holds stays in its chunk unused.
			clear(t.Values)
			return 0, nil, false
		}
		t.Values[k] = v
		j += 2 + l
	}
	t.Source = src
	for k := range t.Anchors {
		a := m[i+k*anchorSize:]
		t.Anchors[k] = tuple.Anchor{Root: binary.LittleEndian.Uint64(a[3:]), Edge: binary.LittleEndian.Uint64(a[12:])}
	}
	if init {
		t.InitTask = task
	}
	return dest, t, true
}

// anchorSize is the length of an anchors field as Encoder writes it: tag, length, and
// the tag and eight bytes of each of root and edge.
const anchorSize = 2 + 1 + 8 + 1 + 8

// fastValue decodes a Value message that holds a single scalar field.
func (d *decoder) fastValue(m []byte) (any, bool) {
	if len(m) == 0 {
		return nil, true // no kind set reads as null
	}
	switch m[0] {
	case tagValueString:
		if len(m) < 2 || int(m[1]) != len(m)-2 {
			return nil, false
		}
		return d.str(m[2:])
	case tagValueInt:
		v, n := uvarint(m[1:])
		if n <= 0 || 1+n != len(m) {
			return nil, false
		}
		return protowire.DecodeZigZag(v), true
	case tagValueDouble:
		if len(m) != 9 {
			return nil, false
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(m[1:])), true
	case tagValueBool:
		if len(m) != 2 || m[1] >= 0x80 {
			return nil, false
		}
		return m[1] != 0, true
	}
	return nil, false
}

// fastControl decodes the Control message m when it is laid out as Encoder writes it.
func fastControl(m []byte) (c Control, ok bool) {
	kind, i, ok := optVarint(m, 0, tagControlKind)
	if !ok || kind > math.MaxUint8 {
		return c, false
	}
	task, i, ok := optVarint(m, i, tagControlDest)
	if !ok {
		return c, false
	}
	spout, i, ok := optVarint(m, i, tagControlSpout)
	if !ok {
		return c, false
	}
	root, i, ok := optFixed64(m, i, tagControlRoot)
	if !ok {
		return c, false
	}
	val, i, ok := optFixed64(m, i, tagControlVal)
	if !ok || i != len(m) {
		return c, false
	}
	return Control{Kind: uint8(kind), Task: int32(task), Spout: int32(spout), Root: root, Val: val}, true
}

// optVarint reads the varint field with the one-byte key tag at m[i], if it is there. It
// returns the value (0 when the field is absent), where the next field starts, and
// false when the field is there but malformed.
func optVarint(m []byte, i int, tag byte) (uint64, int, bool) {
	if i >= len(m) || m[i] != tag {
		return 0, i, true
	}
	v, n := uvarint(m[i+1:])
	return v, i + 1 + n, n > 0
}

// optFixed64 is optVarint for a fixed64 field.
func optFixed64(m []byte, i int, tag byte) (uint64, int, bool) {
	if i >= len(m) || m[i] != tag {
		return 0, i, true
	}
	if i+9 > len(m) {
		return 0, i, false
	}
	return binary.LittleEndian.Uint64(m[i+1:]), i + 9, true
}

// uvarint reads a varint as protowire.ConsumeVarint does, with the one-byte case inline;
// n <= 0 means b does not start with a valid varint.
func uvarint(b []byte) (uint64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	return protowire.ConsumeVarint(b)
}
