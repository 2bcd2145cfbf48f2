package acker

import (
	"fmt"
	"math/rand/v2"
)

// InFlight holds a spout executor's trees in flight. Unlike Rotating it makes the root
// ids itself: a root is a bijective scramble of its entry's slot and a sequence number,
// so a reply finds its entry by unscrambling the root, with no hash table to insert into
// and delete from. On a spout's goroutine, which handles every reply, the index's
// inserts and deletes were about a twelfth of a Kafka spout topology's CPU.
//
// Roots look as random as acker.IDs' (the scramble is splitmix64's finalizer over a
// randomly seeded input), so acker tasks and ledgers see the same spread. Two live
// entries never share a root (their slots differ); a slot's next root differs from its
// last while fewer than 2^32 roots are made in between. A root that does not name a live
// entry (timed out, or garbage from a peer) finds nothing.
//
// Expiry is Rotating's: an entry put or refreshed is expired by the N-th Rotate after,
// so with Rotate every timeout/(N-1) it lives between timeout and timeout*N/(N-1).
// Rotate scans every slot, which at one call per timeout/(N-1) costs little next to the
// entries' own puts and removes. Not safe for concurrent use.
type InFlight[V any] struct {
	slots    []inFlightSlot[V]
	free     []uint32 // free slot indices, reused LIFO so that recent slots stay cached
	seed     uint64
	seq      uint32
	gen      uint32 // rotations so far, wrapping
	buckets  uint32
	reserved uint32 // the slot Reserve handed out and Put has not filled; noPos if none
	resRoot  uint64 // the root Reserve returned last
}

type inFlightSlot[V any] struct {
	root uint64 // 0 when the slot is free or reserved
	gen  uint32 // the rotation count when the entry was put or refreshed
	v    V
}

// NewInFlight returns an empty set whose entries live through buckets-1 to buckets
// rotations. It panics if buckets < 2, as NewRotating does.
func NewInFlight[V any](buckets int) *InFlight[V] {
	if buckets < 2 {
		panic(fmt.Sprintf("acker: NewInFlight needs buckets >= 2, got %d (Storm's default is 3)", buckets))
	}
	return &InFlight[V]{seed: rand.Uint64(), buckets: uint32(buckets), reserved: noPos}
}

// Reserve returns the root for the next Put, which the caller can hand to the tree's
// tuples before it knows whether the tree needs an entry. A reservation Put does not
// fill is taken up again by the next Reserve, with a new root: an emit that panics
// or finds no receiver leaves nothing behind.
func (p *InFlight[V]) Reserve() uint64 {
	if p.reserved == noPos {
		p.reserved = p.alloc()
	}
	for {
		p.seq++
		if root := scramble((uint64(p.seq)<<32 | uint64(p.reserved)) ^ p.seed); root != 0 {
			p.resRoot = root
			return root
		}
	}
}

// Put stores v under root, which must be what the last Reserve returned; it panics
// otherwise, since the entry's slot is known only through the reservation.
func (p *InFlight[V]) Put(root uint64, v V) {
	if p.reserved == noPos || root != p.resRoot {
		panic(fmt.Sprintf("acker: InFlight.Put of root %#x, which the last Reserve did not return", root))
	}
	i := p.reserved
	p.reserved = noPos
	p.slots[i] = inFlightSlot[V]{root: root, gen: p.gen, v: v}
}

// Remove deletes root's entry and returns its value and whether there was one.
func (p *InFlight[V]) Remove(root uint64) (V, bool) {
	i, ok := p.live(root)
	if !ok {
		var zero V
		return zero, false
	}
	v := p.slots[i].v
	p.release(i)
	return v, true
}

// Refresh restarts root's expiry, as putting it again would; false when it is absent.
func (p *InFlight[V]) Refresh(root uint64) bool {
	i, ok := p.live(root)
	if ok {
		p.slots[i].gen = p.gen
	}
	return ok
}

// Len returns the number of entries: every slot but the free and the reserved one.
func (p *InFlight[V]) Len() int {
	n := len(p.slots) - len(p.free)
	if p.reserved != noPos {
		n--
	}
	return n
}

// Rotate expires every entry put or refreshed buckets rotations ago, calling expired
// (if not nil) for each after it has been removed, and returns how many expired.
// expired may Reserve, Put and Remove (an entry it puts is new, so it does not expire
// in this call) but must not call Rotate.
func (p *InFlight[V]) Rotate(expired func(root uint64, v V)) int {
	p.gen++
	n := 0
	for i := range p.slots {
		s := &p.slots[i]
		if s.root == 0 || p.gen-s.gen < p.buckets {
			continue
		}
		root, v := s.root, s.v
		p.release(uint32(i))
		n++
		if expired != nil {
			expired(root, v) // may grow p.slots: s is not used after this
		}
	}
	return n
}

// live returns root's slot when it holds root's entry.
func (p *InFlight[V]) live(root uint64) (uint32, bool) {
	i, ok := p.slotOf(root)
	if !ok || p.slots[i].root != root {
		return 0, false
	}
	return i, true
}

// slotOf returns the slot root names, if it is one of the set's slots.
func (p *InFlight[V]) slotOf(root uint64) (uint32, bool) {
	i := uint32(unscramble(root) ^ p.seed)
	return i, int(i) < len(p.slots)
}

func (p *InFlight[V]) alloc() uint32 {
	return allocSlot(&p.slots, &p.free, inFlightSlot[V]{}, "InFlight", "lower topology.max.spout.pending or the message timeout")
}

// release frees slot i, zeroing its value so the GC can reclaim what it references.
func (p *InFlight[V]) release(i uint32) {
	p.slots[i] = inFlightSlot[V]{}
	p.free = append(p.free, i)
}

// scramble is splitmix64's finalizer, a bijection on uint64 (as IDs.Next uses it);
// unscramble is its inverse.
func scramble(z uint64) uint64 {
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

func unscramble(z uint64) uint64 {
	z ^= z>>31 ^ z>>62
	z *= 0x319642B2D24D8EC3 // the inverse of 0x94D049BB133111EB modulo 2^64
	z ^= z>>27 ^ z>>54
	z *= 0x96DE1B173F119089 // the inverse of 0xBF58476D1CE4E5B9
	return z ^ z>>30 ^ z>>60
}
