package grouping

import (
	"math"
	"reflect"
	"slices"
)

// Hash returns a deterministic 64-bit hash of the values at the given indexes.
//
// It is FNV-1a 64 over a canonical encoding of the values, finished with murmur3's fmix64
// so the low bits a modulus keeps are well mixed. The encoding writes a type tag before
// each value (string "1" and int64 1 differ), prefixes strings, byte slices, lists and maps
// with their length (("ab","c") and ("a","bc") differ), normalizes -0 to +0 and every NaN
// to one NaN, and visits map keys in sorted order (insertion order does not matter).
// It never uses Go's per-process seeded hashes, so a key maps to the same task in every
// process, after restarts and on every machine.
//
// Go integer and float kinds that tuple.Normalize converts hash like the int64 or float64
// they become, and []string like a list of strings. An index outside values hashes like
// nil. A value of any other type hashes by its type name alone, and nesting deeper than 64
// levels is cut off; tuple.Normalize rejects both before a tuple is emitted.
//
// It does not allocate, except for maps with more than 8 keys, whose keys it sorts.
func Hash(values []any, idx []int) uint64 {
	return fmix64(sum(values, idx))
}

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211

	// hashMaxDepth matches the nesting tuple.Normalize accepts.
	hashMaxDepth = 64

	// canonicalNaN is the bit pattern every NaN hashes as (math.NaN's).
	canonicalNaN = 0x7ff8000000000001
)

// Type tags of the canonical encoding. They are part of the hash: never change them.
const (
	tagNil    = 'n'
	tagFalse  = 'f'
	tagTrue   = 't'
	tagInt    = 'i'
	tagFloat  = 'd'
	tagString = 's'
	tagBytes  = 'b'
	tagList   = 'l'
	tagMap    = 'm'
	tagOther  = '?' // followed by the Go type name
	tagDeep   = 'x' // nesting cut off at hashMaxDepth
)

// sum is the unfinished FNV-1a state of the selected values.
func sum(values []any, idx []int) uint64 {
	h := uint64(fnvOffset64)
	for _, i := range idx {
		var v any
		if i >= 0 && i < len(values) {
			v = values[i]
		}
		h = addValue(h, v, 0)
	}
	return h
}

func addByte(h uint64, b byte) uint64 {
	return (h ^ uint64(b)) * fnvPrime64
}

// addUint64 writes v as 8 little-endian bytes.
func addUint64(h, v uint64) uint64 {
	for range 8 {
		h = (h ^ (v & 0xff)) * fnvPrime64
		v >>= 8
	}
	return h
}

func addString(h uint64, s string) uint64 {
	h = addUint64(h, uint64(len(s)))
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime64
	}
	return h
}

func addBytes(h uint64, b []byte) uint64 {
	h = addUint64(h, uint64(len(b)))
	for _, c := range b {
		h = (h ^ uint64(c)) * fnvPrime64
	}
	return h
}

func addInt(h uint64, v int64) uint64 {
	return addUint64(addByte(h, tagInt), uint64(v))
}

func addFloat(h uint64, f float64) uint64 {
	bits := math.Float64bits(f)
	switch {
	case f == 0:
		bits = 0 // -0 == +0, so they must hash alike
	case f != f:
		bits = canonicalNaN
	}
	return addUint64(addByte(h, tagFloat), bits)
}

func addValue(h uint64, v any, depth int) uint64 {
	switch x := v.(type) {
	case string:
		return addString(addByte(h, tagString), x)
	case int64:
		return addInt(h, x)
	case float64:
		return addFloat(h, x)
	case bool:
		if x {
			return addByte(h, tagTrue)
		}
		return addByte(h, tagFalse)
	case []byte:
		return addBytes(addByte(h, tagBytes), x)
	case nil:
		return addByte(h, tagNil)
	case []any:
		if depth >= hashMaxDepth {
			return addByte(h, tagDeep)
		}
		h = addUint64(addByte(h, tagList), uint64(len(x)))
		for _, e := range x {
			h = addValue(h, e, depth+1)
		}
		return h
	case map[string]any:
		if depth >= hashMaxDepth {
			return addByte(h, tagDeep)
		}
		return addMap(h, x, depth)

	// Kinds tuple.Normalize converts hash as what they become, so a value routes the
	// same whether or not it has been normalized yet.
	case int:
		return addInt(h, int64(x))
	case int32:
		return addInt(h, int64(x))
	case int16:
		return addInt(h, int64(x))
	case int8:
		return addInt(h, int64(x))
	case uint8:
		return addInt(h, int64(x))
	case uint16:
		return addInt(h, int64(x))
	case uint32:
		return addInt(h, int64(x))
	case uint:
		return addInt(h, int64(x))
	case uint64:
		return addInt(h, int64(x))
	case float32:
		return addFloat(h, float64(x))
	case []string:
		if depth >= hashMaxDepth {
			return addByte(h, tagDeep)
		}
		h = addUint64(addByte(h, tagList), uint64(len(x)))
		for _, s := range x {
			h = addString(addByte(h, tagString), s)
		}
		return h
	default:
		return addString(addByte(h, tagOther), reflect.TypeOf(v).String())
	}
}

// addMap writes the entries in key order. The keys are sorted in a stack buffer, so maps of
// up to 8 keys do not allocate.
func addMap(h uint64, m map[string]any, depth int) uint64 {
	h = addUint64(addByte(h, tagMap), uint64(len(m)))
	var buf [8]string
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		h = addString(h, k)
		h = addValue(h, m[k], depth+1)
	}
	return h
}

// fmix64 is murmur3's 64-bit finalizer: every input bit affects every output bit, which
// FNV alone does not give the low bits.
func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}
