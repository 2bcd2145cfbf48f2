package acker

import "math/bits"

// index maps a Rotating's keys to slab slots. It is an open-addressing table with linear
// probing rather than a Go map: the keys of an acker are random already, so a multiply
// spreads them, and a probe is one or two 16-byte cells next to each other. Go's map
// hashing and control-group probing were a third of an acked topology's CPU.
//
// Deletion shifts the entries after the hole back (no tombstones), so a table that sees
// a million puts and removes with a thousand live keys stays as fast as a fresh one.
type index struct {
	cells []cell // a power of two long, or empty
	n     int    // live keys
	shift uint   // 64 - log2(len(cells)): the top bits of the mixed key pick the home cell
}

// cell holds a key and its slab slot plus one, so that a zeroed cell is empty.
type cell struct {
	key  uint64
	slot uint32
}

// minCells is the first table's size.
const minCells = 16

// home is key's preferred cell: Fibonacci hashing, which also spreads keys that are
// not random (tests and callers other than the acker may use small sequential keys).
func (x *index) home(key uint64) uint64 { return (key * 0x9E3779B97F4A7C15) >> x.shift }

func (x *index) get(key uint64) (uint32, bool) {
	if x.n == 0 {
		return 0, false
	}
	mask := uint64(len(x.cells) - 1)
	for i := x.home(key); ; i = (i + 1) & mask {
		c := &x.cells[i]
		if c.slot == 0 {
			return 0, false
		}
		if c.key == key {
			return c.slot - 1, true
		}
	}
}

// touch reads key's home cell and returns its slot when key is there, so that a caller
// about to look up a batch of keys can first touch all their cells: the loads do not
// depend on each other, so the processor overlaps their cache misses instead of taking
// them one at a time.
func (x *index) touch(key uint64) (slot uint32, ok bool) {
	if len(x.cells) == 0 {
		return 0, false
	}
	c := x.cells[x.home(key)]
	return c.slot - 1, c.key == key && c.slot != 0
}

// put sets key's slot, adding the key if it is absent.
func (x *index) put(key uint64, slot uint32) {
	if 2*(x.n+1) > len(x.cells) {
		x.grow()
	}
	mask := uint64(len(x.cells) - 1)
	for i := x.home(key); ; i = (i + 1) & mask {
		c := &x.cells[i]
		if c.slot == 0 {
			c.key, c.slot = key, slot+1
			x.n++
			return
		}
		if c.key == key {
			c.slot = slot + 1
			return
		}
	}
}

// grow doubles the table, keeping it at most half full so that probes stay short.
func (x *index) grow() {
	old := x.cells
	size := max(minCells, 2*len(old))
	x.cells = make([]cell, size)
	x.shift = 64 - uint(bits.TrailingZeros(uint(size)))
	x.n = 0
	for _, c := range old {
		if c.slot != 0 {
			x.put(c.key, c.slot-1)
		}
	}
}

// del removes key and reports whether it was there.
func (x *index) del(key uint64) bool {
	if x.n == 0 {
		return false
	}
	mask := uint64(len(x.cells) - 1)
	hole := x.home(key)
	for ; ; hole = (hole + 1) & mask {
		c := &x.cells[hole]
		if c.slot == 0 {
			return false
		}
		if c.key == key {
			break
		}
	}
	// Move back each later entry of the run that may live in the hole: one whose home
	// is at least as far behind it as the hole is, so that it stays reachable.
	for j := (hole + 1) & mask; x.cells[j].slot != 0; j = (j + 1) & mask {
		if (j-x.home(x.cells[j].key))&mask >= (j-hole)&mask {
			x.cells[hole] = x.cells[j]
			hole = j
		}
	}
	x.cells[hole] = cell{}
	x.n--
	return true
}
