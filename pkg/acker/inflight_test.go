package acker

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestScrambleInverts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, z := range []uint64{0, 1, 2, 1 << 32, 1<<63 | 1, ^uint64(0)} {
		if got := unscramble(scramble(z)); got != z {
			t.Fatalf("unscramble(scramble(%#x)) = %#x", z, got)
		}
	}
	for range 100000 {
		z := rng.Uint64()
		if got := unscramble(scramble(z)); got != z {
			t.Fatalf("unscramble(scramble(%#x)) = %#x", z, got)
		}
	}
}

func TestInFlightOps(t *testing.T) {
	type op struct {
		kind   string // put (Reserve then Put), reserve (Reserve alone), remove, refresh, rotate
		name   string // the entry's name: put gives it a root, the others use it
		want   string // remove: the value; rotate: the names expired, in slot order
		wantOK bool
		len    int
	}
	tests := []struct {
		name string
		ops  []op
	}{
		{"remove absent", []op{{kind: "put", name: "a", len: 1}, {kind: "remove", name: "a", want: "a", wantOK: true}, {kind: "remove", name: "a"}}},
		{"put remove", []op{
			{kind: "put", name: "a", len: 1},
			{kind: "put", name: "b", len: 2},
			{kind: "remove", name: "b", want: "b", wantOK: true, len: 1},
			{kind: "remove", name: "a", want: "a", wantOK: true, len: 0},
		}},
		{"a reused slot gets a new root", []op{
			{kind: "put", name: "a", len: 1},
			{kind: "remove", name: "a", want: "a", wantOK: true},
			{kind: "put", name: "b", len: 1},
			{kind: "remove", name: "a", len: 1}, // a's root names b's slot, and finds nothing
			{kind: "remove", name: "b", want: "b", wantOK: true},
		}},
		{"an unfilled reservation leaves nothing", []op{
			{kind: "reserve", name: "x"},
			{kind: "put", name: "a", len: 1},
			{kind: "remove", name: "x", len: 1},
			{kind: "rotate", len: 1}, {kind: "rotate", len: 1}, {kind: "rotate", len: 1},
			{kind: "rotate", want: "a", len: 0},
		}},
		{"expiry after four rotations", []op{
			{kind: "put", name: "a", len: 1},
			{kind: "rotate", len: 1},
			{kind: "put", name: "b", len: 2},
			{kind: "rotate", len: 2}, {kind: "rotate", len: 2},
			{kind: "rotate", want: "a", len: 1},
			{kind: "rotate", want: "b", len: 0},
		}},
		{"refresh restarts expiry", []op{
			{kind: "put", name: "a", len: 1},
			{kind: "rotate", len: 1}, {kind: "rotate", len: 1}, {kind: "rotate", len: 1},
			{kind: "refresh", name: "a", wantOK: true, len: 1},
			{kind: "rotate", len: 1}, {kind: "rotate", len: 1}, {kind: "rotate", len: 1},
			{kind: "rotate", want: "a", len: 0},
			{kind: "refresh", name: "a", wantOK: false, len: 0},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewInFlight[string](4)
			roots := map[string]uint64{}
			for i, o := range tc.ops {
				switch o.kind {
				case "put":
					roots[o.name] = p.Reserve()
					p.Put(roots[o.name], o.name)
				case "reserve":
					roots[o.name] = p.Reserve()
				case "remove":
					v, ok := p.Remove(roots[o.name])
					if v != o.want || ok != o.wantOK {
						t.Fatalf("op %d: Remove(%s) = %q, %v; want %q, %v", i, o.name, v, ok, o.want, o.wantOK)
					}
				case "refresh":
					if ok := p.Refresh(roots[o.name]); ok != o.wantOK {
						t.Fatalf("op %d: Refresh(%s) = %v, want %v", i, o.name, ok, o.wantOK)
					}
				case "rotate":
					got := ""
					n := p.Rotate(func(root uint64, v string) {
						if roots[v] != root {
							t.Fatalf("op %d: expired %q with root %#x, put with %#x", i, v, root, roots[v])
						}
						got += v
					})
					if got != o.want || n != len(o.want) {
						t.Fatalf("op %d: Rotate expired %q (n=%d), want %q", i, got, n, o.want)
					}
				}
				if p.Len() != o.len {
					t.Fatalf("op %d (%s %s): Len = %d, want %d", i, o.kind, o.name, p.Len(), o.len)
				}
			}
		})
	}
}

func TestInFlightPutChecksTheReservation(t *testing.T) {
	tests := []struct {
		name string
		put  func(p *InFlight[int])
	}{
		{"no reservation", func(p *InFlight[int]) { p.Put(12345, 1) }},
		{"an earlier reservation", func(p *InFlight[int]) {
			old := p.Reserve()
			p.Reserve()
			p.Put(old, 1)
		}},
		{"twice", func(p *InFlight[int]) {
			r := p.Reserve()
			p.Put(r, 1)
			p.Put(r, 2)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("Put did not panic")
				}
			}()
			tc.put(NewInFlight[int](3))
		})
	}
}

// TestInFlightModel checks InFlight against a map over random operations, with
// expiry, and that live roots are distinct and never zero.
func TestInFlightModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	p := NewInFlight[int](3)
	model := map[uint64]int{} // root -> value
	born := map[uint64]int{}  // root -> rotation when put or refreshed
	var dead []uint64         // roots removed or expired
	rot := 0
	for step := range 200000 {
		switch r := rng.IntN(100); {
		case r < 45:
			root := p.Reserve()
			if root == 0 {
				t.Fatal("Reserve returned root 0")
			}
			if _, dup := model[root]; dup {
				t.Fatalf("step %d: Reserve returned the live root %#x", step, root)
			}
			if rng.IntN(10) == 0 {
				continue // an emit that found no receiver
			}
			p.Put(root, step)
			model[root], born[root] = step, rot
		case r < 85 && len(model) > 0:
			root := anyKey(model, rng)
			if rng.IntN(4) == 0 && len(dead) > 0 {
				root = dead[rng.IntN(len(dead))] // a late reply
			}
			v, ok := p.Remove(root)
			want, wantOK := model[root]
			if v != want || ok != wantOK {
				t.Fatalf("step %d: Remove(%#x) = %d, %v; want %d, %v", step, root, v, ok, want, wantOK)
			}
			if ok {
				delete(model, root)
				dead = append(dead, root)
			}
		case r < 90 && len(model) > 0:
			root := anyKey(model, rng)
			if !p.Refresh(root) {
				t.Fatalf("step %d: Refresh(%#x) of a live root = false", step, root)
			}
			born[root] = rot
		case r < 92:
			rot++
			p.Rotate(func(root uint64, v int) {
				if model[root] != v || rot-born[root] != 3 {
					t.Fatalf("step %d: expired %#x=%d put at rotation %d, now %d", step, root, v, born[root], rot)
				}
				delete(model, root)
				dead = append(dead, root)
			})
			for root, b := range born {
				if _, ok := model[root]; ok && rot-b >= 3 {
					t.Fatalf("step %d: %#x put at rotation %d is still live at %d", step, root, b, rot)
				}
			}
		case r < 95:
			root := rng.Uint64() // garbage from a peer
			if _, ok := model[root]; !ok {
				if _, ok := p.Remove(root); ok {
					t.Fatalf("step %d: Remove of the unknown root %#x found an entry", step, root)
				}
			}
		}
		if p.Len() != len(model) {
			t.Fatalf("step %d: Len = %d, model has %d", step, p.Len(), len(model))
		}
		if len(dead) > 1000 {
			dead = dead[500:]
		}
	}
}

func anyKey(m map[uint64]int, rng *rand.Rand) uint64 {
	n := rng.IntN(len(m))
	for k := range m {
		if n == 0 {
			return k
		}
		n--
	}
	panic("unreachable")
}

func TestInFlightRotateCallbackMayPut(t *testing.T) {
	p := NewInFlight[int](2)
	for i := range 100 {
		p.Put(p.Reserve(), i)
	}
	p.Rotate(nil)
	replays := 0
	n := p.Rotate(func(_ uint64, v int) {
		// As a spout's Fail does when it emits the tuple again at once.
		p.Put(p.Reserve(), v+1000)
		replays++
	})
	if n != 100 || replays != 100 || p.Len() != 100 {
		t.Fatalf("Rotate expired %d (callbacks %d), Len %d; want 100, 100, 100", n, replays, p.Len())
	}
	if n := p.Rotate(nil); n != 0 {
		t.Fatalf("the replays expired %d rotations early", n)
	}
}

func TestInFlightZeroAllocs(t *testing.T) {
	p := NewInFlight[int](4)
	roots := make([]uint64, 1000)
	for i := range roots {
		roots[i] = p.Reserve()
		p.Put(roots[i], i)
	}
	i := 0
	allocs := testing.AllocsPerRun(10000, func() {
		p.Remove(roots[i])
		roots[i] = p.Reserve()
		p.Put(roots[i], i)
		i = (i + 1) % len(roots)
	})
	if allocs != 0 {
		t.Fatalf("Remove, Reserve and Put at a steady size allocate %.1f times", allocs)
	}
}

// FuzzInFlightRemove: a root from a peer's reply, whatever its bits, finds only the
// entry it names, and never panics.
func FuzzInFlightRemove(f *testing.F) {
	f.Add(uint64(0), uint64(1))
	f.Add(^uint64(0), uint64(1<<32))
	f.Fuzz(func(t *testing.T, root, salt uint64) {
		p := NewInFlight[uint64](3)
		live := map[uint64]bool{}
		for i := range salt%64 + 1 {
			r := p.Reserve()
			p.Put(r, i)
			live[r] = true
		}
		_, ok := p.Remove(root)
		if ok != live[root] {
			t.Fatalf("Remove(%#x) = %v, but the root is live: %v", root, ok, live[root])
		}
	})
}

// BenchmarkSpoutPending is a spout's pending map per tree: a new entry, and the removal
// of the oldest, at a steady size; InFlight against Rotating (with ids from IDs, as a
// spout drew them before), in the same run.
func BenchmarkSpoutPending(b *testing.B) {
	type entry struct {
		msgID any
		task  *int
		born  int64
	}
	one := 1 // what the entries point at, as a spout's do
	for _, live := range []int{2000, 1 << 20} {
		b.Run(fmt.Sprintf("InFlight/%d", live), func(b *testing.B) {
			p := NewInFlight[entry](4)
			roots := make([]uint64, live)
			for i := range roots {
				roots[i] = p.Reserve()
				p.Put(roots[i], entry{})
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				j := i % live
				p.Remove(roots[j])
				roots[j] = p.Reserve()
				p.Put(roots[j], entry{msgID: &one, task: &one, born: int64(i)})
			}
		})
		b.Run(fmt.Sprintf("Rotating/%d", live), func(b *testing.B) {
			r := NewRotating[entry](4)
			ids := NewIDs()
			roots := make([]uint64, live)
			for i := range roots {
				roots[i] = ids.Next()
				r.Put(roots[i], entry{})
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				j := i % live
				r.Remove(roots[j])
				roots[j] = ids.Next()
				r.Put(roots[j], entry{msgID: &one, task: &one, born: int64(i)})
			}
		})
	}
}
