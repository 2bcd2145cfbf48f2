package acker

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestBucketedMapsRejectFewBuckets: NewRotating and NewInFlight panic below 2 buckets.
func TestBucketedMapsRejectFewBuckets(t *testing.T) {
	for name, newMap := range map[string]func(int){
		"NewRotating": func(n int) { NewRotating[int](n) },
		"NewInFlight": func(n int) { NewInFlight[int](n) },
	} {
		for _, n := range []int{-1, 0, 1} {
			t.Run(fmt.Sprint(name, n), func(t *testing.T) {
				defer func() {
					if recover() == nil {
						t.Fatalf("%s(%d) did not panic", name, n)
					}
				}()
				newMap(n)
			})
		}
	}
}

func TestRotatingPutGetRemove(t *testing.T) {
	type op struct {
		kind   string // put, get, remove, ptr
		key    uint64
		val    string
		want   string
		wantOK bool
		len    int
	}
	tests := []struct {
		name string
		ops  []op
	}{
		{"get absent", []op{{kind: "get", key: 1, len: 0}}},
		{"put get", []op{
			{kind: "put", key: 1, val: "a", len: 1},
			{kind: "get", key: 1, want: "a", wantOK: true, len: 1},
			{kind: "get", key: 2, len: 1},
		}},
		{"replace", []op{
			{kind: "put", key: 1, val: "a", len: 1},
			{kind: "put", key: 1, val: "b", len: 1},
			{kind: "get", key: 1, want: "b", wantOK: true, len: 1},
		}},
		{"remove", []op{
			{kind: "put", key: 1, val: "a", len: 1},
			{kind: "put", key: 2, val: "b", len: 2},
			{kind: "remove", key: 1, want: "a", wantOK: true, len: 1},
			{kind: "remove", key: 1, len: 1},
			{kind: "get", key: 1, len: 1},
			{kind: "get", key: 2, want: "b", wantOK: true, len: 1},
		}},
		{"remove then put again", []op{
			{kind: "put", key: 1, val: "a", len: 1},
			{kind: "remove", key: 1, want: "a", wantOK: true, len: 0},
			{kind: "put", key: 1, val: "c", len: 1},
			{kind: "get", key: 1, want: "c", wantOK: true, len: 1},
		}},
		{"key zero is a normal key", []op{
			{kind: "put", key: 0, val: "z", len: 1},
			{kind: "get", key: 0, want: "z", wantOK: true, len: 1},
			{kind: "remove", key: 0, want: "z", wantOK: true, len: 0},
		}},
		{"ptr", []op{
			{kind: "ptr", key: 1, len: 0},
			{kind: "put", key: 1, val: "a", len: 1},
			{kind: "ptr", key: 1, val: "p", want: "a", wantOK: true, len: 1},
			{kind: "get", key: 1, want: "p", wantOK: true, len: 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRotating[string](3)
			for i, o := range tt.ops {
				var got string
				var ok bool
				switch o.kind {
				case "put":
					r.Put(o.key, o.val)
					got, ok = o.want, o.wantOK
				case "get":
					got, ok = r.Get(o.key)
				case "remove":
					got, ok = r.Remove(o.key)
				case "ptr":
					if p := r.Ptr(o.key); p != nil {
						got, ok = *p, true
						*p = o.val
					}
				}
				if got != o.want || ok != o.wantOK {
					t.Errorf("op %d %s(%d) = %q, %v; want %q, %v", i, o.kind, o.key, got, ok, o.want, o.wantOK)
				}
				if r.Len() != o.len {
					t.Errorf("op %d %s(%d): Len = %d, want %d", i, o.kind, o.key, r.Len(), o.len)
				}
			}
		})
	}
}

// An entry put after k rotations must survive exactly N-1 further rotations
// and be expired by the N-th.
func TestRotatingExpiryTiming(t *testing.T) {
	for _, n := range []int{2, 3, 5} {
		for k := 0; k <= 2*n+1; k++ {
			t.Run(fmt.Sprintf("buckets=%d/after=%d", n, k), func(t *testing.T) {
				r := NewRotating[int](n)
				for range k {
					if got := r.Rotate(nil); got != 0 {
						t.Fatalf("Rotate on empty map = %d", got)
					}
				}
				r.Put(42, 7)
				for i := 1; i < n; i++ {
					if got := r.Rotate(func(k uint64, _ int) { t.Fatalf("rotation %d expired key %d early", i, k) }); got != 0 {
						t.Fatalf("rotation %d = %d, want 0", i, got)
					}
					if v, ok := r.Get(42); !ok || v != 7 {
						t.Fatalf("after rotation %d Get = %d, %v", i, v, ok)
					}
				}
				var keys []uint64
				var vals []int
				got := r.Rotate(func(k uint64, v int) { keys = append(keys, k); vals = append(vals, v) })
				if got != 1 || !slices.Equal(keys, []uint64{42}) || !slices.Equal(vals, []int{7}) {
					t.Fatalf("rotation %d = %d, expired %v %v; want 1, [42] [7]", n, got, keys, vals)
				}
				if r.Len() != 0 {
					t.Fatalf("Len = %d after expiry", r.Len())
				}
			})
		}
	}
}

// Put of an existing key moves it to the newest bucket, like Storm.
func TestRotatingPutRefreshes(t *testing.T) {
	const n = 3
	r := NewRotating[int](n)
	r.Put(1, 10)
	r.Put(2, 20)
	for range n - 1 {
		r.Rotate(nil)
	}
	r.Put(1, 11) // refresh 1 just before it would expire
	var expired []uint64
	if got := r.Rotate(func(k uint64, _ int) { expired = append(expired, k) }); got != 1 || !slices.Equal(expired, []uint64{2}) {
		t.Fatalf("Rotate = %d expired %v, want 1 [2]", got, expired)
	}
	for range n - 2 {
		if got := r.Rotate(nil); got != 0 {
			t.Fatalf("refreshed key expired early: Rotate = %d", got)
		}
	}
	var vals []int
	if got := r.Rotate(func(_ uint64, v int) { vals = append(vals, v) }); got != 1 || !slices.Equal(vals, []int{11}) {
		t.Fatalf("Rotate = %d values %v, want 1 [11]", got, vals)
	}
}

// Updating through Ptr changes the value but not the expiry.
func TestRotatingPtrDoesNotRefresh(t *testing.T) {
	r := NewRotating[int](2)
	r.Put(5, 1)
	r.Rotate(nil)
	*r.Ptr(5) = 2
	var vals []int
	if got := r.Rotate(func(_ uint64, v int) { vals = append(vals, v) }); got != 1 || !slices.Equal(vals, []int{2}) {
		t.Fatalf("Rotate = %d values %v, want 1 [2]", got, vals)
	}
}

func TestRotatingExpiredCallbackEntries(t *testing.T) {
	r := NewRotating[uint64](3)
	for k := uint64(1); k <= 100; k++ {
		r.Put(k, k*10)
	}
	r.Rotate(nil)
	for k := uint64(101); k <= 150; k++ {
		r.Put(k, k*10)
	}
	for k := uint64(1); k <= 100; k += 3 {
		r.Remove(k)
	}
	r.Put(50, 5000) // moved to the second bucket
	r.Rotate(nil)

	got := map[uint64]uint64{}
	n := r.Rotate(func(k, v uint64) {
		if _, dup := got[k]; dup {
			t.Errorf("key %d expired twice", k)
		}
		got[k] = v
	})
	want := map[uint64]uint64{}
	for k := uint64(1); k <= 100; k++ {
		if k%3 != 1 && k != 50 {
			want[k] = k * 10
		}
	}
	if n != len(want) || len(got) != len(want) {
		t.Fatalf("Rotate = %d, callback saw %d, want %d", n, len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("expired[%d] = %d, want %d", k, got[k], v)
		}
	}
	if r.Len() != 51 {
		t.Fatalf("Len = %d, want 51", r.Len())
	}
}

// The callback may Put; such entries land in the newest bucket.
func TestRotatingCallbackMayPut(t *testing.T) {
	const n = 3
	r := NewRotating[int](n)
	for k := uint64(0); k < 10; k++ {
		r.Put(k, 0)
	}
	for range n - 1 {
		r.Rotate(nil)
	}
	if got := r.Rotate(func(k uint64, v int) { r.Put(k+100, v+1) }); got != 10 {
		t.Fatalf("Rotate = %d, want 10", got)
	}
	if r.Len() != 10 {
		t.Fatalf("Len = %d, want 10", r.Len())
	}
	for range n - 1 {
		if got := r.Rotate(nil); got != 0 {
			t.Fatalf("re-put entries expired early: %d", got)
		}
	}
	if got := r.Rotate(nil); got != 10 || r.Len() != 0 {
		t.Fatalf("Rotate = %d Len = %d, want 10 and 0", got, r.Len())
	}
}

// TestRotatingModel checks random operations against a naive model, with a
// small key space so keys are often removed and re-put in the same bucket,
// and long runs so the newest list gets compacted.
func TestRotatingModel(t *testing.T) {
	type ent struct {
		v   int
		gen int
	}
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 99))
		n := 2 + rng.IntN(4)
		keys := uint64(8 + rng.IntN(300))
		r := NewRotating[int](n)
		model := map[uint64]ent{}
		gen := 0
		for step := range 20000 {
			k := rng.Uint64N(keys)
			switch p := rng.IntN(1000); {
			case p < 450:
				r.Put(k, step)
				model[k] = ent{step, gen}
			case p < 900:
				v, ok := r.Remove(k)
				e, mok := model[k]
				if ok != mok || (ok && v != e.v) {
					t.Fatalf("seed %d step %d: Remove(%d) = %d, %v; model %d, %v", seed, step, k, v, ok, e.v, mok)
				}
				delete(model, k)
			case p < 995:
				v, ok := r.Get(k)
				e, mok := model[k]
				if ok != mok || (ok && v != e.v) {
					t.Fatalf("seed %d step %d: Get(%d) = %d, %v; model %d, %v", seed, step, k, v, ok, e.v, mok)
				}
			default:
				want := map[uint64]int{}
				for mk, e := range model {
					if e.gen == gen-(n-1) {
						want[mk] = e.v
						delete(model, mk)
					}
				}
				got := map[uint64]int{}
				c := r.Rotate(func(k uint64, v int) { got[k] = v })
				gen++
				if c != len(want) || len(got) != len(want) {
					t.Fatalf("seed %d step %d: Rotate = %d (callback %d), want %d", seed, step, c, len(got), len(want))
				}
				for k, v := range want {
					if gv, ok := got[k]; !ok || gv != v {
						t.Fatalf("seed %d step %d: expired[%d] = %d, %v; want %d", seed, step, k, gv, ok, v)
					}
				}
			}
			if r.Len() != len(model) {
				t.Fatalf("seed %d step %d: Len = %d, model %d", seed, step, r.Len(), len(model))
			}
		}
	}
}

// Lists must track the live count, not the number of Puts between rotations.
func TestRotatingMemoryBoundedByLive(t *testing.T) {
	r := NewRotating[int](3)
	for k := range uint64(1_000_000) {
		r.Put(k, 0)
		if k >= 100 {
			r.Remove(k - 100)
		}
	}
	if l := len(r.lists[r.head]); l > 2*r.Len()+compactSlack+1 {
		t.Fatalf("newest list holds %d indices for %d live entries", l, r.Len())
	}
	if len(r.slab) > 200 {
		t.Fatalf("slab grew to %d slots for 101 live entries", len(r.slab))
	}
}

func TestRotatingZeroAllocs(t *testing.T) {
	r := NewRotating[uint64](3)
	var k uint64
	step := func() {
		k++
		r.Put(k, k)
		r.Get(k)
		r.Ptr(k)
		r.Remove(k - 50)
		if k%1000 == 0 {
			r.Rotate(nil)
		}
	}
	for range 10000 {
		step() // grow the map, slab and lists
	}
	if a := testing.AllocsPerRun(10000, step); a != 0 {
		t.Fatalf("steady state allocs/op = %v, want 0", a)
	}
}

func BenchmarkRotatingPutRemove(b *testing.B) {
	const window = 1024 // entries in flight
	keys := make([]uint64, 1<<16)
	for i := range keys {
		keys[i] = ID()
	}
	r := NewRotating[uint64](3)
	for i := range window {
		r.Put(keys[i], uint64(i))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		j := i + window
		r.Put(keys[j%len(keys)], uint64(j))
		r.Remove(keys[i%len(keys)])
		if i%(1<<16) == 0 {
			r.Rotate(nil)
		}
	}
}
