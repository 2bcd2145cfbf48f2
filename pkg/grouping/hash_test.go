package grouping

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"slices"
	"testing"

	"github.com/sparsestream/sparse/pkg/tuple"
)

func all(values []any) []int {
	idx := make([]int, len(values))
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// TestHashGolden pins Hash. If it fails, the hash function changed, and fields grouping
// would send keys to other tasks than running workers do during a rolling restart. Do not
// update these values unless that break is intended and announced.
func TestHashGolden(t *testing.T) {
	tests := []struct {
		name   string
		values []any
		want   uint64
	}{
		{"no values", []any{}, 0xefd01f60ba992926},
		{"nil", []any{nil}, 0xb3f11e5051d8d0b},
		{"string", []any{"hello"}, 0xe5557ddfed5ed097},
		{"empty string", []any{""}, 0x2628726bca9f3b03},
		{"int64", []any{int64(42)}, 0xe6c6085b016de4f4},
		{"negative int64", []any{int64(-1)}, 0x16446363ed6064e5},
		{"float64", []any{1.5}, 0x6a8527921dffbb84},
		{"true", []any{true}, 0xce03a4a8854cb33b},
		{"false", []any{false}, 0xdc8258409d407737},
		{"bytes", []any{[]byte("hello")}, 0x79e5cb0bfc17a049},
		{"list", []any{[]any{"a", int64(1), nil}}, 0xd7c679f18dafa03f},
		{"map", []any{map[string]any{"b": int64(2), "a": "x"}}, 0x20d8737ba5a08d4},
		{"several", []any{"user-17", int64(2024), 0.25, false}, 0x98394a5d77cfa4b9},
	}
	for _, tt := range tests {
		if got := Hash(tt.values, all(tt.values)); got != tt.want {
			t.Errorf("Hash(%v) = %#x, want %#x: the hash changed, which moves keys between tasks across a rolling restart", tt.name, got, tt.want)
		}
	}
}

// TestPartialKeyCandidatesGolden pins the two tasks partial_key grouping may send a key to,
// for the same reason as TestHashGolden.
func TestPartialKeyCandidatesGolden(t *testing.T) {
	tests := []struct {
		key  string
		n    uint64
		a, b uint64
	}{
		{"hello", 1, 0, 0},
		{"hello", 2, 0, 1},
		{"hello", 8, 0, 2},
		{"user-17", 8, 1, 2},
		{"hot", 5, 0, 4},
	}
	for _, tt := range tests {
		a, b := partialCandidates(sum([]any{tt.key}, []int{0}), tt.n)
		if a != tt.a || b != tt.b {
			t.Errorf("key %q over %d tasks: candidates %d and %d, want %d and %d: keys would move across a rolling restart", tt.key, tt.n, a, b, tt.a, tt.b)
		}
	}
}

// Our inline FNV-1a must be the real one, so the hash can be reimplemented from its spec.
func TestInlineFNVMatchesHashFNV(t *testing.T) {
	for _, s := range []string{"", "a", "hello world", string([]byte{0, 255, 128})} {
		ref := fnv.New64a()
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		ref.Write([]byte{tagString})
		ref.Write(n[:])
		ref.Write([]byte(s))
		if got := sum([]any{s}, []int{0}); got != ref.Sum64() {
			t.Errorf("sum(%q) = %#x, hash/fnv gives %#x", s, got, ref.Sum64())
		}
		if got := Hash([]any{s}, []int{0}); got != fmix64(ref.Sum64()) {
			t.Errorf("Hash(%q) is not fmix64 of FNV-1a", s)
		}
	}
}

func TestHashDistinguishes(t *testing.T) {
	tests := []struct {
		name string
		a, b []any
	}{
		{"string vs int64", []any{"1"}, []any{int64(1)}},
		{"int64 vs float64", []any{int64(1)}, []any{1.0}},
		{"string vs bytes", []any{"abc"}, []any{[]byte("abc")}},
		{"nil vs false", []any{nil}, []any{false}},
		{"true vs false", []any{true}, []any{false}},
		{"empty string vs nil", []any{""}, []any{nil}},
		{"empty bytes vs empty string", []any{[]byte{}}, []any{""}},
		{"boundary moved", []any{"ab", "c"}, []any{"a", "bc"}},
		{"bytes boundary moved", []any{[]byte("ab"), []byte("c")}, []any{[]byte("a"), []byte("bc")}},
		{"order", []any{"a", "b"}, []any{"b", "a"}},
		{"list vs its elements", []any{[]any{"a", "b"}}, []any{"a", "b"}},
		{"nested lists", []any{[]any{[]any{"a"}, "b"}}, []any{[]any{"a", []any{"b"}}}},
		{"empty list vs empty map", []any{[]any{}}, []any{map[string]any{}}},
		{"map key vs value", []any{map[string]any{"a": "b"}}, []any{map[string]any{"b": "a"}}},
		{"map vs list of pairs", []any{map[string]any{"a": "b"}}, []any{[]any{"a", "b"}}},
		{"int64 sign", []any{int64(1)}, []any{int64(-1)}},
		{"float 0 vs NaN", []any{0.0}, []any{math.NaN()}},
		{"+Inf vs -Inf", []any{math.Inf(1)}, []any{math.Inf(-1)}},
		{"close strings", []any{"user-1"}, []any{"user-2"}},
	}
	for _, tt := range tests {
		if Hash(tt.a, all(tt.a)) == Hash(tt.b, all(tt.b)) {
			t.Errorf("%s: %v and %v hash alike", tt.name, tt.a, tt.b)
		}
	}
}

func TestHashEqual(t *testing.T) {
	negZero := math.Copysign(0, -1)
	otherNaN := math.Float64frombits(0x7ff0000000000abc)
	tests := []struct {
		name     string
		a, b     []any
		aIdx, bI []int // nil: all values
	}{
		{"-0 vs +0", []any{negZero}, []any{0.0}, nil, nil},
		{"NaN payloads", []any{otherNaN}, []any{math.NaN()}, nil, nil},
		{"negative NaN", []any{math.Float64frombits(0xfff8000000000000)}, []any{math.NaN()}, nil, nil},
		{"int vs int64", []any{int(7)}, []any{int64(7)}, nil, nil},
		{"int32 vs int64", []any{int32(-7)}, []any{int64(-7)}, nil, nil},
		{"uint8 vs int64", []any{uint8(200)}, []any{int64(200)}, nil, nil},
		{"float32 vs float64", []any{float32(0.5)}, []any{0.5}, nil, nil},
		{"[]string vs list", []any{[]string{"a", "b"}}, []any{[]any{"a", "b"}}, nil, nil},
		{"only selected values count", []any{"k", int64(1)}, []any{int64(2), "k"}, []int{0}, []int{1}},
		{"missing index is nil", []any{"k"}, []any{"k", nil}, []int{0, 5}, []int{0, 1}},
		{"bytes nil vs empty", []any{[]byte(nil)}, []any{[]byte{}}, nil, nil},
	}
	for _, tt := range tests {
		ai, bi := tt.aIdx, tt.bI
		if ai == nil {
			ai, bi = all(tt.a), all(tt.b)
		}
		if Hash(tt.a, ai) != Hash(tt.b, bi) {
			t.Errorf("%s: %v and %v hash differently", tt.name, tt.a, tt.b)
		}
	}
}

func TestHashMapOrder(t *testing.T) {
	// Large maps too, since they take a different path than maps of up to 8 keys.
	for _, n := range []int{2, 8, 9, 100} {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = string(rune('a'+i%26)) + string(rune('a'+i/26))
		}
		fwd, rev := map[string]any{}, map[string]any{}
		for i, k := range keys {
			fwd[k] = []any{int64(i), k}
		}
		for i := n - 1; i >= 0; i-- {
			rev[keys[i]] = []any{int64(i), keys[i]}
		}
		want := Hash([]any{fwd}, []int{0})
		for range 20 { // Go randomizes map iteration order on every range
			if Hash([]any{fwd}, []int{0}) != want || Hash([]any{rev}, []int{0}) != want {
				t.Fatalf("map of %d keys: hash depends on insertion or iteration order", n)
			}
		}
		rev[keys[0]] = "changed"
		if Hash([]any{rev}, []int{0}) == want {
			t.Errorf("map of %d keys: changing a value did not change the hash", n)
		}
	}
}

// Pathological nesting must be cut off, not overflow the stack.
func TestHashDeepNesting(t *testing.T) {
	var v any = "leaf"
	for range 10000 {
		v = []any{v}
	}
	a := Hash([]any{v}, []int{0})
	if b := Hash([]any{[]any{v}}, []int{0}); a == 0 || b == 0 {
		t.Fatal("deeply nested value hashed to 0")
	}
	type unknown struct{ x int }
	if Hash([]any{unknown{1}}, []int{0}) != Hash([]any{unknown{2}}, []int{0}) {
		t.Error("values of an unsupported type should hash by type name only")
	}
}

// fuzzValues decodes bytes into tuple values of every supported kind, plus some kinds
// tuple.Normalize converts.
type fuzzValues struct{ b []byte }

func (f *fuzzValues) next() byte {
	if len(f.b) == 0 {
		return 0
	}
	c := f.b[0]
	f.b = f.b[1:]
	return c
}

func (f *fuzzValues) u64() uint64 {
	var buf [8]byte
	for i := range buf {
		buf[i] = f.next()
	}
	return binary.LittleEndian.Uint64(buf[:])
}

func (f *fuzzValues) str() string {
	n := int(f.next() % 12)
	n = min(n, len(f.b))
	s := string(f.b[:n])
	f.b = f.b[n:]
	return s
}

func (f *fuzzValues) value(depth int) any {
	kind := f.next() % 13
	if depth > 3 && kind >= 7 && kind <= 8 {
		kind = 0
	}
	switch kind {
	case 0:
		return nil
	case 1:
		return f.next()%2 == 0
	case 2:
		return int64(f.u64())
	case 3:
		return math.Float64frombits(f.u64()) // includes NaNs, infinities and -0
	case 4, 5:
		return f.str()
	case 6:
		return []byte(f.str())
	case 7:
		l := make([]any, f.next()%4)
		for i := range l {
			l[i] = f.value(depth + 1)
		}
		return l
	case 8:
		m := map[string]any{}
		for range f.next() % 11 {
			m[f.str()] = f.value(depth + 1)
		}
		return m
	case 9:
		return int(int32(f.u64()))
	case 10:
		return float32(math.Float32frombits(uint32(f.u64())))
	case 11:
		return []string{f.str(), f.str()}
	default:
		return uint16(f.u64())
	}
}

// deepCopy copies v, rebuilding maps in reverse key order.
func deepCopy(v any) any {
	switch x := v.(type) {
	case []byte:
		return slices.Clone(x)
	case []string:
		return slices.Clone(x)
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = deepCopy(e)
		}
		return c
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		slices.Reverse(keys)
		c := make(map[string]any, len(x))
		for _, k := range keys {
			c[k] = deepCopy(x[k])
		}
		return c
	}
	return v
}

func FuzzHash(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x04\x05hello\x02\x01\x02\x03\x04\x05\x06\x07\x08"))
	f.Add([]byte("\x07\x03\x04\x01a\x08\x02\x01k\x03\x00\x00\x00\x00\x00\x00\xf8\x7f\x01z\x00"))
	f.Add([]byte("\x03\x00\x00\x00\x00\x00\x00\x00\x80\x0a\x00\x00\xc0\x7f\x0b\x01x\x02yz"))
	f.Fuzz(func(t *testing.T, data []byte) {
		src := &fuzzValues{b: data}
		values := make([]any, int(src.next()%5))
		for i := range values {
			values[i] = src.value(0)
		}
		// Select each value, and one index that may lie outside the values.
		idx := append(all(values), int(int8(src.next())))
		h := Hash(values, idx)
		if again := Hash(values, idx); again != h {
			t.Fatalf("hashing %v twice gave %#x and %#x", values, h, again)
		}
		cp := deepCopy(values).([]any)
		if hc := Hash(cp, idx); hc != h {
			t.Fatalf("a deep copy of %v hashes to %#x, the original to %#x", values, hc, h)
		}
		// Normalizing must not move a key to another task.
		if err := tuple.Normalize(cp); err != nil {
			t.Fatalf("fuzz values %v are not tuple values: %v", values, err)
		}
		if hn := Hash(cp, idx); hn != h {
			t.Fatalf("normalized %v hashes to %#x, the original to %#x", values, hn, h)
		}
	})
}
