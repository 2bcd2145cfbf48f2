package acker

import (
	"fmt"
	"sync"
	"testing"
)

// step is one message fed to an Acker and the result expected from it.
type step struct {
	op   string // init, ack, fail, reset, rotate
	root uint64
	xor  uint64
	task int32
	want Outcome
	n    int // for rotate: trees expected to expire
}

func run(t *testing.T, a *Acker, steps []step) {
	t.Helper()
	for i, s := range steps {
		var r Result
		switch s.op {
		case "init":
			r = a.Init(s.root, s.xor, s.task)
		case "ack":
			r = a.Ack(s.root, s.xor)
		case "fail":
			r = a.Fail(s.root)
		case "reset":
			a.ResetTimeout(s.root)
			continue
		case "rotate":
			if got := a.Rotate(); got != s.n {
				t.Fatalf("step %d: Rotate = %d, want %d", i, got, s.n)
			}
			continue
		default:
			t.Fatalf("step %d: unknown op %q", i, s.op)
		}
		if r.Outcome != s.want || r.Root != s.root {
			t.Fatalf("step %d %s(%#x, %#x): got %v root %#x, want %v root %#x", i, s.op, s.root, s.xor, r.Outcome, r.Root, s.want, s.root)
		}
		if s.want != Pending && r.SpoutTask != s.task {
			t.Fatalf("step %d %s(%#x): SpoutTask = %d, want %d", i, s.op, s.root, r.SpoutTask, s.task)
		}
	}
}

func TestAcker(t *testing.T) {
	const (
		r  = 0xabc
		r2 = 0xdef
		e1 = 0x1111
		e2 = 0x2222
		e3 = 0x4444
		e4 = 0x8888
		tk = 7
	)
	tests := []struct {
		name    string
		buckets int
		steps   []step
		wantLen int
	}{
		{name: "single edge", steps: []step{
			{op: "init", root: r, xor: e1, task: tk},
			{op: "ack", root: r, xor: e1, task: tk, want: Complete},
		}},
		{name: "two levels in order", steps: []step{
			{op: "init", root: r, xor: e1 ^ e2, task: tk},
			{op: "ack", root: r, xor: e1 ^ e3 ^ e4},
			{op: "ack", root: r, xor: e2},
			{op: "ack", root: r, xor: e3},
			{op: "ack", root: r, xor: e4, task: tk, want: Complete},
		}},
		{name: "out of order", steps: []step{
			{op: "ack", root: r, xor: e4},
			{op: "ack", root: r, xor: e2},
			{op: "init", root: r, xor: e1 ^ e2, task: tk},
			{op: "ack", root: r, xor: e3},
			{op: "ack", root: r, xor: e1 ^ e3 ^ e4, task: tk, want: Complete},
		}},
		{name: "all acks before init", steps: []step{
			{op: "ack", root: r, xor: e1 ^ e3},
			{op: "ack", root: r, xor: e3},
			{op: "init", root: r, xor: e1, task: tk, want: Complete},
		}},
		{name: "xor zero before init is not complete", steps: []step{
			{op: "ack", root: r, xor: e1},
			{op: "ack", root: r, xor: e1},
			{op: "init", root: r, xor: e2, task: tk},
			{op: "ack", root: r, xor: e2, task: tk, want: Complete},
		}},
		{name: "init with zero xor completes", steps: []step{
			{op: "init", root: r, xor: 0, task: tk, want: Complete},
		}},
		{name: "interleaved roots", steps: []step{
			{op: "init", root: r, xor: e1, task: 1},
			{op: "init", root: r2, xor: e2, task: 2},
			{op: "ack", root: r2, xor: e2, task: 2, want: Complete},
			{op: "ack", root: r, xor: e1, task: 1, want: Complete},
		}},
		{name: "fail after init", steps: []step{
			{op: "init", root: r, xor: e1, task: tk},
			{op: "fail", root: r, task: tk, want: Failed},
		}},
		{name: "fail before init", steps: []step{
			{op: "fail", root: r},
			{op: "init", root: r, xor: e1, task: tk, want: Failed},
		}},
		{name: "fail before init wins over complete xor", steps: []step{
			{op: "ack", root: r, xor: e1},
			{op: "fail", root: r},
			{op: "init", root: r, xor: e1, task: tk, want: Failed},
		}},
		{name: "fail after partial acks", steps: []step{
			{op: "init", root: r, xor: e1 ^ e2, task: tk},
			{op: "ack", root: r, xor: e1 ^ e3},
			{op: "fail", root: r, task: tk, want: Failed},
			{op: "ack", root: r, xor: e2}, // late messages open an entry that times out
			{op: "ack", root: r, xor: e3},
		}, wantLen: 1},
		{name: "double fail reported once", steps: []step{
			{op: "init", root: r, xor: e1, task: tk},
			{op: "fail", root: r, task: tk, want: Failed},
			{op: "fail", root: r},
		}, wantLen: 1},
		{name: "double fail before init reported once", steps: []step{
			{op: "fail", root: r},
			{op: "fail", root: r},
			{op: "init", root: r, xor: e1, task: tk, want: Failed},
			{op: "ack", root: r, xor: e1},
		}, wantLen: 1},
		{name: "timeout", buckets: 3, steps: []step{
			{op: "init", root: r, xor: e1 ^ e2, task: tk},
			{op: "ack", root: r, xor: e1},
			{op: "rotate", n: 0},
			{op: "rotate", n: 0},
			{op: "rotate", n: 1},
			{op: "ack", root: r, xor: e2}, // too late: a fresh, incomplete entry
		}, wantLen: 1},
		{name: "acks do not extend the timeout", buckets: 2, steps: []step{
			{op: "init", root: r, xor: e1 ^ e2, task: tk},
			{op: "rotate", n: 0},
			{op: "ack", root: r, xor: e1},
			{op: "rotate", n: 1},
		}},
		{name: "reset timeout", buckets: 3, steps: []step{
			{op: "init", root: r, xor: e1 ^ e2, task: tk},
			{op: "rotate", n: 0},
			{op: "rotate", n: 0},
			{op: "reset", root: r},
			{op: "reset", root: r2}, // unknown root: ignored
			{op: "rotate", n: 0},
			{op: "rotate", n: 0},
			{op: "ack", root: r, xor: e1},
			{op: "ack", root: r, xor: e2, task: tk, want: Complete},
			{op: "rotate", n: 0},
		}},
		{name: "reset timeout keeps the ledger", buckets: 2, steps: []step{
			{op: "ack", root: r, xor: e2},
			{op: "rotate", n: 0},
			{op: "reset", root: r}, // without this the next Rotate expires r
			{op: "rotate", n: 0},
			{op: "init", root: r, xor: e2, task: tk, want: Complete},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.buckets
			if b == 0 {
				b = 3
			}
			a := New(b)
			run(t, a, tt.steps)
			if a.Len() != tt.wantLen {
				t.Fatalf("Len = %d, want %d", a.Len(), tt.wantLen)
			}
		})
	}
}

func TestNewRejectsFewBuckets(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New(1) did not panic")
		}
	}()
	New(1)
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{Pending: "Pending", Complete: "Complete", Failed: "Failed", 9: "Outcome(9)"} {
		if got := o.String(); got != want {
			t.Errorf("Outcome(%d).String() = %q, want %q", o, got, want)
		}
	}
}

func TestIDNonZeroAndConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	seen := make([]map[uint64]bool, 4)
	for g := range seen {
		seen[g] = map[uint64]bool{}
		wg.Go(func() {
			for range 10000 {
				seen[g][ID()] = true
			}
		})
	}
	wg.Wait()
	all := map[uint64]bool{}
	for _, m := range seen {
		for id := range m {
			if id == 0 {
				t.Fatal("ID returned 0")
			}
			all[id] = true
		}
	}
	if len(all) != 40000 {
		t.Fatalf("%d distinct ids out of 40000", len(all))
	}
}

func TestAckerZeroAllocs(t *testing.T) {
	a := New(3)
	var root uint64
	tree := func() {
		root++
		a.Ack(root, 2)
		a.Init(root, 1^2^3, 1)
		if r := a.Ack(root, 1^3); r.Outcome != Complete {
			t.Fatalf("root %d: %v", root, r.Outcome)
		}
		a.Init(root+1<<40, 5, 1) // left pending until rotated out
		if root%1000 == 0 {
			a.Rotate()
		}
	}
	for range 10000 {
		tree()
	}
	if n := testing.AllocsPerRun(10000, tree); n != 0 {
		t.Fatalf("steady state allocs/op = %v, want 0", n)
	}
}

// BenchmarkAckerTree measures one tree per op: init, two acks, complete.
// inflight is how many trees are pending meanwhile (the ledger's size).
func BenchmarkAckerTree(b *testing.B) {
	ids := make([]uint64, 1<<16)
	for i := range ids {
		ids[i] = ID()
	}
	mask := len(ids) - 1
	for _, inflight := range []int{0, 10000} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			a := New(3)
			// Tree k has root ids[3k], edges ids[3k+1] and ids[3k+2]; it is
			// opened (init + first ack) at op k and completed at op k+inflight.
			tree := func(k int) (root, e1, e2 uint64) {
				j := k * 3
				return ids[j&mask], ids[(j+1)&mask], ids[(j+2)&mask]
			}
			for k := range inflight {
				root, e1, e2 := tree(k)
				a.Init(root, e1^e2, 1)
				a.Ack(root, e1)
			}
			b.ReportAllocs()
			for k := 0; b.Loop(); k++ {
				root, e1, e2 := tree(k + inflight)
				a.Init(root, e1^e2, 1)
				a.Ack(root, e1)
				root, _, e2 = tree(k)
				if r := a.Ack(root, e2); r.Outcome != Complete {
					b.Fatalf("op %d: tree not complete: %v", k, r.Outcome)
				}
			}
		})
	}
}

// BenchmarkID compares the shared ID with a generator per goroutine (IDs), as the
// executors use.
func BenchmarkID(b *testing.B) {
	b.Run("shared", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var x uint64
			for pb.Next() {
				x ^= ID()
			}
			_ = x
		})
	})
	b.Run("per-goroutine", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			g := NewIDs()
			var x uint64
			for pb.Next() {
				x ^= g.Next()
			}
			_ = x
		})
	})
}

// TestIDs checks that a generator's ids are non-zero and distinct, that two generators
// differ, and that the bits are balanced: each of the 64 bits is set in about half of
// the ids (the XOR ledger relies on ids that look random).
func TestIDs(t *testing.T) {
	const n = 1 << 16
	g, h := NewIDs(), NewIDs()
	seen := make(map[uint64]bool, 2*n)
	var ones [64]int
	for range n {
		for _, id := range []uint64{g.Next(), h.Next()} {
			if id == 0 {
				t.Fatal("a zero id")
			}
			if seen[id] {
				t.Fatalf("id %#x drawn twice", id)
			}
			seen[id] = true
			for bit := range 64 {
				ones[bit] += int(id >> bit & 1)
			}
		}
	}
	for bit, c := range ones {
		// 2n draws: the mean is n, the standard deviation sqrt(2n)/2 = 181; 6 sigma.
		if c < n-1100 || c > n+1100 {
			t.Errorf("bit %d set in %d of %d ids", bit, c, 2*n)
		}
	}
	// The one state whose output is zero (zero itself) is skipped.
	step := uint64(0x9E3779B97F4A7C15)
	z := IDs{state: -step}
	if id := z.Next(); id == 0 {
		t.Error("Next returned zero")
	}
}

// BenchmarkAckerBatch handles acker messages in batches, as the acker executor does,
// with and without touching every root's entry first (Touch): an op opens one tree and
// completes another.
func BenchmarkAckerBatch(b *testing.B) {
	ids := make([]uint64, 1<<20)
	for i := range ids {
		ids[i] = ID()
	}
	mask := len(ids) - 1
	const batch = 64
	for _, inflight := range []int{10_000, 100_000} {
		for _, touch := range []bool{false, true} {
			b.Run(fmt.Sprintf("inflight=%d/touch=%v", inflight, touch), func(b *testing.B) {
				a := New(3)
				tree := func(k int) (root, edge uint64) { return ids[(2*k)&mask], ids[(2*k+1)&mask] }
				for k := range inflight {
					root, edge := tree(k)
					a.Init(root, edge, 1)
				}
				var roots [2 * batch]uint64
				var touched uint64
				b.ReportAllocs()
				for k := 0; b.Loop(); k += batch {
					for j := range batch {
						roots[2*j], _ = tree(k + j + inflight)
						roots[2*j+1], _ = tree(k + j)
					}
					if touch {
						for _, r := range roots {
							touched ^= a.Touch(r)
						}
					}
					for j := range batch {
						root, edge := tree(k + j + inflight)
						a.Init(root, edge, 1)
						root, edge = tree(k + j)
						if r := a.Ack(root, edge); r.Outcome != Complete {
							b.Fatalf("op %d: tree not complete: %v", k+j, r.Outcome)
						}
					}
				}
				b.ReportMetric(float64(touched&1), "x")
			})
		}
	}
}
