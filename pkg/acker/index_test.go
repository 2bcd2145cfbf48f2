package acker

import (
	"math/rand/v2"
	"testing"
)

// TestIndexModel checks the table against a Go map under random puts, gets and deletes,
// with keys from small ranges (long probe runs, wrapping at the table's end, and
// deletions in the middle of runs) and random keys.
func TestIndexModel(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  func(*rand.Rand) uint64
	}{
		{"8 keys", func(r *rand.Rand) uint64 { return r.Uint64N(8) }},
		{"300 keys", func(r *rand.Rand) uint64 { return r.Uint64N(300) }},
		{"multiples of 2^40", func(r *rand.Rand) uint64 { return r.Uint64N(64) << 40 }},
		{"random", func(r *rand.Rand) uint64 { return r.Uint64() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range uint64(10) {
				rng := rand.New(rand.NewPCG(seed, 7))
				var x index
				model := map[uint64]uint32{}
				var seen []uint64
				for step := range 20000 {
					k := tc.key(rng)
					if len(seen) > 0 && rng.IntN(2) == 0 {
						k = seen[rng.IntN(len(seen))] // random keys repeat too
					}
					switch p := rng.IntN(10); {
					case p < 5:
						v := uint32(rng.IntN(maxSlots))
						x.put(k, v)
						model[k] = v
						seen = append(seen, k)
					case p < 8:
						_, want := model[k]
						if got := x.del(k); got != want {
							t.Fatalf("seed %d step %d: del(%d) = %v, want %v", seed, step, k, got, want)
						}
						delete(model, k)
					default:
						v, ok := x.get(k)
						mv, mok := model[k]
						if ok != mok || v != mv {
							t.Fatalf("seed %d step %d: get(%d) = %d, %v; want %d, %v", seed, step, k, v, ok, mv, mok)
						}
						if s, ok := x.touch(k); ok && (!mok || s != mv) {
							t.Fatalf("seed %d step %d: touch(%d) = %d, true; want %d, %v", seed, step, k, s, mv, mok)
						}
					}
					if x.n != len(model) {
						t.Fatalf("seed %d step %d: %d keys, want %d", seed, step, x.n, len(model))
					}
				}
				for k, mv := range model {
					if v, ok := x.get(k); !ok || v != mv {
						t.Fatalf("seed %d: at the end get(%d) = %d, %v; want %d", seed, k, v, ok, mv)
					}
				}
			}
		})
	}
}

// TestIndexTouch: touch finds a key that sits in its home cell, and reports nothing for
// an empty table, a missing or removed key, or a key moved off its home cell.
func TestIndexTouch(t *testing.T) {
	var x index
	if _, ok := x.touch(0); ok {
		t.Error("an empty table's touch(0) found a key")
	}
	x.put(42, 7)
	if s, ok := x.touch(42); !ok || s != 7 {
		t.Errorf("touch(42) = %d, %v; want 7, true", s, ok)
	}
	if _, ok := x.touch(0); ok {
		t.Error("touch(0) found a key that was never put")
	}
	// A second key with 42's home cell is put after it, so it sits further on.
	var other uint64
	for k := uint64(43); ; k++ {
		if x.home(k) == x.home(42) {
			other = k
			break
		}
	}
	x.put(other, 8)
	if _, ok := x.touch(other); ok {
		t.Error("touch found a key that is not in its home cell")
	}
	if s, ok := x.get(other); !ok || s != 8 {
		t.Errorf("get(%d) = %d, %v; want 8, true", other, s, ok)
	}
	x.del(42) // other moves back to its home cell
	if _, ok := x.touch(42); ok {
		t.Error("touch found a removed key")
	}
	if s, ok := x.touch(other); !ok || s != 8 {
		t.Errorf("after the delete, touch(%d) = %d, %v; want 8, true", other, s, ok)
	}
}

// BenchmarkIndex against a Go map, with 10,000 keys live as in an acker at
// max.spout.pending 10,000: each op adds a key and removes the oldest.
func BenchmarkIndex(b *testing.B) {
	const live = 10_000
	keys := make([]uint64, 1<<16)
	for i := range keys {
		keys[i] = ID()
	}
	mask := len(keys) - 1
	b.Run("index", func(b *testing.B) {
		var x index
		for i := range live {
			x.put(keys[i], uint32(i))
		}
		for i := 0; b.Loop(); i++ {
			x.put(keys[(i+live)&mask], uint32(i))
			if _, ok := x.get(keys[i&mask]); !ok {
				b.Fatal("lost a key")
			}
			x.del(keys[i&mask])
		}
	})
	b.Run("map", func(b *testing.B) {
		m := map[uint64]uint32{}
		for i := range live {
			m[keys[i]] = uint32(i)
		}
		for i := 0; b.Loop(); i++ {
			m[keys[(i+live)&mask]] = uint32(i)
			if _, ok := m[keys[i&mask]]; !ok {
				b.Fatal("lost a key")
			}
			delete(m, keys[i&mask])
		}
	})
}
