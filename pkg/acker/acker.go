// Package acker implements Storm's guaranteed-processing bookkeeping: the
// XOR ledger kept by acker tasks, the rotating map used for timeouts by both
// ackers and spout executors, and id generation.
//
// Every tuple tree has a random root id; every delivered tuple a random edge
// id. Each edge id is XORed into the root's ledger exactly twice, once when
// the tuple is created (spout init or the parent's ack) and once when it is
// acked, so the ledger returns to 0 exactly when the whole tree is processed,
// whatever order the messages arrive in.
package acker

import (
	"math/rand/v2"
	"strconv"
)

// Outcome of feeding one message to the acker.
type Outcome uint8

const (
	Pending  Outcome = iota // tree not finished
	Complete                // every edge acked: tell SpoutTask to Ack
	Failed                  // some tuple failed: tell SpoutTask to Fail
)

// String makes outcomes readable in logs and test failures.
func (o Outcome) String() string {
	switch o {
	case Pending:
		return "Pending"
	case Complete:
		return "Complete"
	case Failed:
		return "Failed"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Result says what, if anything, the acker task must tell a spout task.
// SpoutTask is set only when Outcome is Complete or Failed.
type Result struct {
	Outcome   Outcome
	Root      uint64
	SpoutTask int32
}

// tree is the ledger entry of one root.
type tree struct {
	xor       uint64
	spoutTask int32
	flags     uint8
}

const (
	initSeen uint8 = 1 << iota // spout task known; completion and failure can be reported
	failed                     // a fail arrived; stored only while the init is still awaited
)

// Acker is the pure XOR ledger of one acker task. Not safe for concurrent use (one task = one goroutine).
type Acker struct {
	trees *Rotating[tree]
}

// New returns an empty acker whose pending trees expire after buckets
// rotations (see Rotating). It panics if buckets < 2.
func New(buckets int) *Acker {
	return &Acker{trees: NewRotating[tree](buckets)}
}

// Init records the spout's emit: xor is the XOR of the edge ids of the
// tuples it sent for root. Acks may already have arrived. An Init with xor 0
// for an unknown root completes at once (callers normally send no init when
// the spout emitted nothing).
func (a *Acker) Init(root, xor uint64, spoutTask int32) Result {
	i, ok := a.trees.lookup(root)
	if !ok {
		if xor == 0 {
			return Result{Outcome: Complete, Root: root, SpoutTask: spoutTask}
		}
		a.trees.insert(root, tree{xor: xor, spoutTask: spoutTask, flags: initSeen})
		return Result{Root: root}
	}
	t := a.trees.at(i)
	t.xor ^= xor
	t.spoutTask = spoutTask
	t.flags |= initSeen
	return a.settle(root, i, t)
}

// Ack XORs a bolt's ack value (input edge ^ child edges) into root's ledger.
// An ack for an unknown root opens an entry, since it may precede the init.
func (a *Acker) Ack(root, xor uint64) Result {
	i, ok := a.trees.lookup(root)
	if !ok {
		a.trees.insert(root, tree{xor: xor})
		return Result{Root: root}
	}
	t := a.trees.at(i)
	t.xor ^= xor
	return a.settle(root, i, t)
}

// Fail marks root's tree failed. The failure is reported once, as soon as the
// spout task is known (now, or by the later Init), and the entry is dropped.
func (a *Acker) Fail(root uint64) Result {
	i, ok := a.trees.lookup(root)
	if !ok {
		a.trees.insert(root, tree{flags: failed})
		return Result{Root: root}
	}
	t := a.trees.at(i)
	t.flags |= failed
	return a.settle(root, i, t)
}

// settle reports and removes root's tree if it is finished. t is root's
// entry, stored in slot i.
func (a *Acker) settle(root uint64, i uint32, t *tree) Result {
	if t.flags&initSeen == 0 {
		return Result{Root: root}
	}
	var out Outcome
	switch {
	case t.flags&failed != 0:
		out = Failed
	case t.xor == 0:
		out = Complete
	default:
		return Result{Root: root}
	}
	task := t.spoutTask
	a.trees.removeAt(root, i)
	return Result{Outcome: out, Root: root, SpoutTask: task}
}

// ResetTimeout moves a pending root to the newest bucket (Storm's resetTimeout).
// Unknown roots are ignored: they are finished or already expired.
//
// It returns the spout task of the tree when the init has been seen, so that the caller
// can restart the spout's own timeout too; ok is false otherwise.
func (a *Acker) ResetTimeout(root uint64) (spoutTask int32, ok bool) {
	t := a.trees.Ptr(root)
	if t == nil {
		return 0, false
	}
	v := *t
	a.trees.Put(root, v)
	return v.spoutTask, v.flags&initSeen != 0
}

// Rotate expires the oldest bucket; returns the number of trees dropped by timeout.
// The spout is not told: its own pending map times the tuple out and fails it.
func (a *Acker) Rotate() int { return a.trees.Rotate(nil) }

// Touch loads where root's entry would be; see Rotating.Touch.
func (a *Acker) Touch(root uint64) uint64 { return a.trees.Touch(root) }

// Len returns the number of pending trees.
func (a *Acker) Len() int { return a.trees.Len() }

// IDs hands out ids like ID for one goroutine, about seven times cheaper: a tree takes
// an id for its root and one for every edge, so an acked topology draws several per
// tuple. It is splitmix64 from a random seed: its outputs are a bijection of a counter,
// so one generator never repeats an id within 2^64 draws, and generators seeded
// independently overlap with negligible probability. Not safe for concurrent use; the
// zero value is not seeded (use NewIDs).
type IDs struct{ state uint64 }

// NewIDs returns a generator seeded from math/rand/v2.
func NewIDs() IDs { return IDs{state: rand.Uint64()} }

// Next returns the next non-zero id.
func (g *IDs) Next() uint64 {
	for {
		g.state += 0x9E3779B97F4A7C15
		z := g.state
		z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
		z = (z ^ z>>27) * 0x94D049BB133111EB
		if z ^= z >> 31; z != 0 {
			return z
		}
	}
}

// ID returns a random non-zero 64-bit id (root or edge ids). It uses
// math/rand/v2's top-level Uint64, which is safe for concurrent use and does
// not lock, so executors can call it on the hot path without sharing state.
// Zero is excluded because a zero edge id would leave no trace in the ledger.
func ID() uint64 {
	for {
		if id := rand.Uint64(); id != 0 {
			return id
		}
	}
}
