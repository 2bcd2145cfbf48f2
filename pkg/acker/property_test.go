package acker

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The property test simulates what executors send to ackers for random tuple
// forests, using Storm's anchoring algorithm: a child emitted with anchors
// a1..am gets one fresh edge id per anchor, XORed into the anchor's ack value
// and into the child's id for every root of that anchor. A child anchored to
// tuples of different roots therefore belongs to several trees.

type msgKind uint8

const (
	mInit msgKind = iota
	mAck
	mFail
)

func (k msgKind) String() string { return [...]string{"init", "ack", "fail"}[k] }

type msg struct {
	kind  msgKind
	root  uint64
	xor   uint64
	task  int32
	tuple int // index of the tuple that sent it; -1 for the spout's init
}

// rootID is one root a tuple belongs to and the XOR of the edge ids it
// carries for that root. A slice keeps generation deterministic per seed.
type rootID struct{ root, id uint64 }

type simTuple struct {
	ids    []rootID
	ackVal uint64 // XOR of the edge ids of children anchored to this tuple
	depth  int
}

func (t *simTuple) xorID(root, e uint64) {
	for i := range t.ids {
		if t.ids[i].root == root {
			t.ids[i].id ^= e
			return
		}
	}
	t.ids = append(t.ids, rootID{root, e})
}

type forest struct {
	msgs   []msg
	roots  []uint64
	task   map[uint64]int32
	tuples int
}

func nonZero(rng *rand.Rand) uint64 {
	for {
		if v := rng.Uint64(); v != 0 {
			return v
		}
	}
}

// genForest builds 1-4 trees with random depth and fan-out and ~1/4 of the
// children anchored to a second pending tuple (often of another root), and
// returns the messages executors would send, in causal order.
func genForest(rng *rand.Rand) forest {
	f := forest{task: map[uint64]int32{}}
	var pool []*simTuple
	for range 1 + rng.IntN(4) {
		root := nonZero(rng)
		task := int32(rng.IntN(64))
		f.roots = append(f.roots, root)
		f.task[root] = task
		var init uint64
		for range 1 + rng.IntN(3) {
			e := nonZero(rng)
			init ^= e
			pool = append(pool, &simTuple{ids: []rootID{{root, e}}})
		}
		f.msgs = append(f.msgs, msg{kind: mInit, root: root, xor: init, task: task, tuple: -1})
	}
	maxTuples := 1 + rng.IntN(150)
	maxDepth := 1 + rng.IntN(6)
	for len(pool) > 0 {
		p := rng.IntN(len(pool))
		t := pool[p]
		pool[p] = pool[len(pool)-1]
		pool = pool[:len(pool)-1]
		if t.depth < maxDepth && f.tuples+len(pool) < maxTuples {
			for range rng.IntN(4) {
				anchors := []*simTuple{t}
				if len(pool) > 0 && rng.IntN(4) == 0 {
					anchors = append(anchors, pool[rng.IntN(len(pool))]) // still pending, so its ack will include the edge
				}
				c := &simTuple{depth: t.depth + 1}
				for _, a := range anchors {
					e := nonZero(rng)
					a.ackVal ^= e
					for _, r := range a.ids {
						c.xorID(r.root, e)
					}
				}
				pool = append(pool, c)
			}
		}
		for _, r := range t.ids {
			f.msgs = append(f.msgs, msg{kind: mAck, root: r.root, xor: r.id ^ t.ackVal, tuple: f.tuples})
		}
		f.tuples++
	}
	return f
}

type variant int

const (
	allAcked variant = iota
	oneFailed
	oneDropped
)

func (v variant) String() string { return [...]string{"all-acked", "one-failed", "one-dropped"}[v] }

func TestPropertyTrees(t *testing.T) {
	iters := 3000
	if testing.Short() {
		iters = 300
	}
	for it := range iters {
		seed := uint64(it)
		v := variant(it % 3)
		if err := checkForest(seed, v); err != nil {
			t.Fatalf("seed %d, %v: %v", seed, v, err)
		}
	}
}

// checkForest generates one forest from seed, applies the variant, delivers
// the messages in random order to 1-3 ackers (chosen by root % n) with up to
// buckets-1 rotations interleaved, then rotates until leftovers expire.
func checkForest(seed uint64, v variant) error {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	f := genForest(rng)
	msgs := f.msgs

	failRoots := map[uint64]bool{}
	var dropped uint64
	switch v {
	case oneFailed:
		bad := rng.IntN(f.tuples)
		for i := range msgs {
			if msgs[i].tuple == bad {
				msgs[i].kind = mFail
				msgs[i].xor = 0
				failRoots[msgs[i].root] = true
			}
		}
	case oneDropped:
		for {
			i := rng.IntN(len(msgs))
			if msgs[i].kind == mAck {
				dropped = msgs[i].root
				msgs = append(msgs[:i:i], msgs[i+1:]...)
				break
			}
		}
	}
	if rng.IntN(4) != 0 {
		rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	}

	buckets := 2 + rng.IntN(3)
	ackers := make([]*Acker, 1+rng.IntN(3))
	for i := range ackers {
		ackers[i] = New(buckets)
	}
	rotations := 0
	rotateAll := func() int {
		rotations++
		n := 0
		for _, a := range ackers {
			n += a.Rotate()
		}
		return n
	}
	totalLen := func() int {
		n := 0
		for _, a := range ackers {
			n += a.Len()
		}
		return n
	}

	remaining := map[uint64]int{}
	for _, m := range msgs {
		remaining[m.root]++
	}
	var (
		done        = map[uint64]bool{} // reported Complete or Failed
		initSeen    = map[uint64]bool{}
		failSeen    = map[uint64]bool{}
		open        = map[uint64]bool{} // the model's view: root has a ledger entry
		createdAt   = map[uint64]int{}  // rotations done when that entry was created
		maxRotation = rng.IntN(buckets) // entries live buckets rotations, so none expire during delivery
	)
	for i, m := range msgs {
		if rotations < maxRotation && rng.IntN(len(msgs)) < maxRotation {
			if n := rotateAll(); n != 0 {
				return fmt.Errorf("rotation %d during delivery expired %d trees", rotations, n)
			}
		}
		if !open[m.root] {
			open[m.root] = true
			createdAt[m.root] = rotations
		}
		a := ackers[m.root%uint64(len(ackers))]
		var res Result
		switch m.kind {
		case mInit:
			res = a.Init(m.root, m.xor, m.task)
			initSeen[m.root] = true
		case mAck:
			res = a.Ack(m.root, m.xor)
		case mFail:
			res = a.Fail(m.root)
			failSeen[m.root] = true
		}
		remaining[m.root]--
		where := fmt.Sprintf("message %d/%d (%v of root %#x)", i+1, len(msgs), m.kind, m.root)
		if res.Root != m.root {
			return fmt.Errorf("%s: result for root %#x", where, res.Root)
		}
		switch res.Outcome {
		case Complete, Failed:
			if done[m.root] {
				return fmt.Errorf("%s: %v reported again", where, res.Outcome)
			}
			if res.SpoutTask != f.task[m.root] {
				return fmt.Errorf("%s: SpoutTask %d, want %d", where, res.SpoutTask, f.task[m.root])
			}
			done[m.root] = true
			open[m.root] = false
		}
		switch {
		case m.root == dropped:
			if res.Outcome != Pending {
				return fmt.Errorf("%s: root with a dropped ack reported %v", where, res.Outcome)
			}
		case failRoots[m.root]:
			// Failed exactly when both the fail and the init have arrived.
			due := initSeen[m.root] && failSeen[m.root] && (m.kind == mInit || m.kind == mFail)
			if res.Outcome == Complete || (res.Outcome == Failed) != due {
				return fmt.Errorf("%s: failed root got %v (init seen %v, fail seen %v)", where, res.Outcome, initSeen[m.root], failSeen[m.root])
			}
		default:
			if (res.Outcome == Complete) != (remaining[m.root] == 0) || res.Outcome == Failed {
				return fmt.Errorf("%s: got %v with %d messages of the root still undelivered", where, res.Outcome, remaining[m.root])
			}
		}
	}

	for _, r := range f.roots {
		if r != dropped && !done[r] {
			return fmt.Errorf("root %#x never reported (failed root: %v)", r, failRoots[r])
		}
	}
	// Leftovers: the dropped root's entry, and entries reopened by messages
	// that arrived after a failure was reported.
	expire := map[int]int{} // rotation number -> trees it must expire
	left, last := 0, rotations
	for r, o := range open {
		if o {
			left++
			expire[createdAt[r]+buckets]++
			last = max(last, createdAt[r]+buckets)
		}
	}
	if got := totalLen(); got != left {
		return fmt.Errorf("after delivery Len = %d, want %d", got, left)
	}
	if v == oneDropped && !open[dropped] {
		return fmt.Errorf("dropped root %#x has no pending entry", dropped)
	}
	for rotations < last {
		if n := rotateAll(); n != expire[rotations] {
			return fmt.Errorf("rotation %d expired %d trees, want %d (buckets %d)", rotations, n, expire[rotations], buckets)
		}
	}
	if got := totalLen(); got != 0 {
		return fmt.Errorf("Len = %d after all leftovers expired", got)
	}
	return nil
}

// TestPropertyForestShape guards the generator itself: the forests must
// actually exercise deep trees and tuples belonging to several roots.
func TestPropertyForestShape(t *testing.T) {
	multiRoot, deep := 0, 0
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		f := genForest(rng)
		acks := map[int]int{}
		for _, m := range f.msgs {
			if m.kind == mAck {
				acks[m.tuple]++
			}
		}
		for _, n := range acks {
			if n > 1 {
				multiRoot++
			}
		}
		if f.tuples > 50 {
			deep++
		}
	}
	if multiRoot < 100 || deep < 50 {
		t.Fatalf("generator too tame: %d multi-root tuples, %d forests over 50 tuples", multiRoot, deep)
	}
}
