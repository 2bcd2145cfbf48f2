package acker

import "fmt"

// noPos marks a free slab slot; real list positions are always smaller.
const noPos = ^uint32(0)

// maxSlots bounds the slab so that list positions (at most about twice the
// live count) always fit in a uint32 below noPos.
const maxSlots = 1<<31 - 1

// compactSlack is how much garbage the newest bucket's key list may hold
// beyond twice its live count before it is compacted. It keeps tiny maps from
// compacting on every Put.
const compactSlack = 64

// slot is one stored entry. Values live in a slab rather than directly in the
// map so that Ptr can hand out a stable address for in-place updates.
type slot[V any] struct {
	key uint64
	gen uint32 // generation (rotation count, wrapping) of the bucket it was last put in
	pos uint32 // index in that bucket's list; noPos when the slot is free
	v   V
}

// Rotating is a map from uint64 keys with bucketed expiry (Storm's RotatingMap), used by
// the acker for its ledger (a spout's pending tuples are in an InFlight, whose keys it
// makes itself).
//
// An entry put into the newest bucket is expired by the N-th Rotate after the
// Put, so when Rotate is called every timeout/(N-1) an entry lives between
// timeout and timeout*N/(N-1).
//
// Internally there is one index (key -> slab index, see index) plus, per bucket, an
// append-only list of slab indices put in that bucket's generation. Remove is
// a plain delete; a list may therefore hold stale indices, which Rotate skips
// by checking the slot's generation and position. The newest list is
// compacted when garbage dominates, so memory tracks the live count rather
// than the Put rate. Not safe for concurrent use.
type Rotating[V any] struct {
	index index
	slab  []slot[V]
	free  []uint32   // free slab indices, reused LIFO
	lists [][]uint32 // per bucket: slab indices put in that bucket's generation
	spare []uint32   // recycled list backing array, becomes the next newest list
	head  int        // lists[head] is the newest bucket
	gen   uint32     // generation of the newest bucket
	live  int        // live entries with gen == r.gen, i.e. in lists[head]
}

// NewRotating returns an empty map with the given number of buckets.
// It panics if buckets < 2: with one bucket every Rotate would expire entries
// put an instant earlier.
func NewRotating[V any](buckets int) *Rotating[V] {
	if buckets < 2 {
		panic(fmt.Sprintf("acker: NewRotating needs buckets >= 2, got %d (Storm's default is 3)", buckets))
	}
	return &Rotating[V]{
		lists: make([][]uint32, buckets),
	}
}

// Put inserts or replaces the value for key. Like Storm's RotatingMap, the key
// always ends up in the newest bucket, so replacing refreshes its expiry.
func (r *Rotating[V]) Put(key uint64, v V) {
	i, ok := r.index.get(key)
	if !ok {
		r.insert(key, v)
		return
	}
	s := &r.slab[i]
	s.v = v
	if s.gen != r.gen {
		r.appendNewest(i)
	}
}

// Get returns the value for key and whether it is present.
func (r *Rotating[V]) Get(key uint64) (V, bool) {
	if i, ok := r.index.get(key); ok {
		return r.slab[i].v, true
	}
	var zero V
	return zero, false
}

// Ptr returns a pointer to the stored value for in-place update, or nil if key
// is absent. It saves a second lookup on read-modify-write paths. The pointer
// is valid until the next Put, Remove or Rotate; updating through it does not
// refresh the key's expiry.
func (r *Rotating[V]) Ptr(key uint64) *V {
	if i, ok := r.index.get(key); ok {
		return &r.slab[i].v
	}
	return nil
}

// Remove deletes key and returns its value and whether it was present.
func (r *Rotating[V]) Remove(key uint64) (V, bool) {
	i, ok := r.index.get(key)
	if !ok {
		var zero V
		return zero, false
	}
	return r.removeAt(key, i), true
}

// Touch loads the part of the index where key would be, and returns a value derived
// from it that the caller should keep (in a field, say) so that the load is not
// optimized away. Touching every key of a batch before handling it lets their cache
// misses overlap: a large map's lookups are mostly misses.
func (r *Rotating[V]) Touch(key uint64) uint64 {
	if i, ok := r.index.touch(key); ok {
		return r.slab[i].key // the entry too, when the key sits in its home cell
	}
	return 0
}

// Len returns the exact number of entries.
func (r *Rotating[V]) Len() int { return r.index.n }

// Rotate expires every entry in the oldest bucket, calling expired (if not
// nil) for each after it has been removed, and returns how many expired. The
// emptied bucket becomes the newest one before any callback runs, so expired
// may Put or Remove (but must not call Rotate).
func (r *Rotating[V]) Rotate(expired func(key uint64, v V)) int {
	oldest := (r.head + 1) % len(r.lists)
	oldGen := r.gen - uint32(len(r.lists)-1)
	list := r.lists[oldest]
	r.lists[oldest] = r.spare[:0]
	r.spare = nil
	r.head = oldest
	r.gen++
	r.live = 0

	n := 0
	for j, i := range list {
		s := &r.slab[i]
		if s.pos != uint32(j) || s.gen != oldGen {
			continue // removed, or moved to a newer bucket
		}
		key, v := s.key, s.v
		r.index.del(key)
		r.release(i)
		n++
		if expired != nil {
			expired(key, v)
		}
	}
	r.spare = list[:0]
	return n
}

// The unexported helpers below let the acker, which already looked a key up,
// skip the second hash lookup that Put and Remove would do.

// lookup returns key's slab index.
func (r *Rotating[V]) lookup(key uint64) (uint32, bool) {
	return r.index.get(key)
}

// at returns the value in slab slot i, which must be live.
func (r *Rotating[V]) at(i uint32) *V { return &r.slab[i].v }

// insert adds key, which must be absent, to the newest bucket.
func (r *Rotating[V]) insert(key uint64, v V) {
	i := r.alloc()
	s := &r.slab[i]
	s.key = key
	s.v = v
	r.index.put(key, i)
	r.appendNewest(i)
}

// removeAt deletes key, whose slab slot is i, and returns its value.
func (r *Rotating[V]) removeAt(key uint64, i uint32) V {
	r.index.del(key)
	v := r.slab[i].v
	if r.slab[i].gen == r.gen {
		r.live--
	}
	r.release(i)
	return v
}

// alloc returns a free slab index, growing the slab if needed.
func (r *Rotating[V]) alloc() uint32 {
	return allocSlot(&r.slab, &r.free, slot[V]{pos: noPos}, "Rotating", "rotate more often or shed load")
}

// allocSlot returns an index of *items that is free: the last one freed (reused LIFO, so
// that recent slots stay cached), or a new one holding fresh. owner and advice name the
// map and the remedy in the panic at maxSlots.
func allocSlot[T any](items *[]T, free *[]uint32, fresh T, owner, advice string) uint32 {
	if n := len(*free); n > 0 {
		i := (*free)[n-1]
		*free = (*free)[:n-1]
		return i
	}
	if len(*items) >= maxSlots {
		panic(fmt.Sprintf("acker: %s holds %d entries, the maximum; %s", owner, len(*items), advice))
	}
	*items = append(*items, fresh)
	return uint32(len(*items) - 1)
}

// release frees slab slot i, zeroing the value so the GC can reclaim what it
// references.
func (r *Rotating[V]) release(i uint32) {
	r.slab[i] = slot[V]{pos: noPos}
	r.free = append(r.free, i)
}

// appendNewest records slab slot i in the newest bucket.
func (r *Rotating[V]) appendNewest(i uint32) {
	l := r.lists[r.head]
	if len(l) >= 2*r.live+compactSlack {
		l = r.compact(l)
	}
	s := &r.slab[i]
	s.gen = r.gen
	s.pos = uint32(len(l))
	r.lists[r.head] = append(l, i)
	r.live++
}

// compact drops stale indices from the newest list in place. It runs only
// when at least half the list is garbage, and every garbage index in the
// newest list was left by a Remove since the last compaction, so the cost is
// amortized O(1) per Remove.
func (r *Rotating[V]) compact(l []uint32) []uint32 {
	w := 0
	for j, i := range l {
		s := &r.slab[i]
		if s.pos == uint32(j) && s.gen == r.gen {
			s.pos = uint32(w) // w <= j, so a later duplicate of i cannot match
			l[w] = i
			w++
		}
	}
	return l[:w]
}
