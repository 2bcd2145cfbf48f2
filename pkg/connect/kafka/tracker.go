package kafka

import "sort"

// offsetTracker keeps, for one partition, the offsets emitted and not yet committable,
// and computes the committable offset: the next offset to read after everything below
// it is done (acked, or given up after its retries, or skipped). Offsets are emitted in
// increasing order (a retry re-emits an offset already tracked), so the pending ones are
// a sorted slice; Kafka's gaps (compaction, transaction markers) cost nothing, since
// only emitted offsets are tracked. It is pure: no I/O, no clock, one goroutine.
type offsetTracker struct {
	// committable is the offset a commit would store; -1 until known (the partition
	// started at earliest or latest and nothing was emitted yet).
	committable int64
	offs        []int64 // emitted offsets, ascending, from offs[head]
	done        []bool  // done[i]: offs[i] is acked or given up
	head        int
}

func newOffsetTracker(start int64) *offsetTracker {
	return &offsetTracker{committable: start}
}

// emitted records that offset o was emitted for the first time. An offset at or below
// one already tracked, or below the committable offset, is ignored: it was emitted
// before (a refetch after a reset) and is tracked already or done.
func (t *offsetTracker) emitted(o int64) {
	if t.committable < 0 {
		t.committable = o // the first record read: everything before it is not ours
	}
	if o < t.committable || (len(t.offs) > t.head && o <= t.offs[len(t.offs)-1]) {
		return
	}
	t.offs = append(t.offs, o)
	t.done = append(t.done, false)
}

// known reports whether offset o was emitted before (it is done or in flight): a
// record read again after the client reset its position (out of range, or a leader
// that lost records) must not be emitted twice.
func (t *offsetTracker) known(o int64) bool {
	if t.committable >= 0 && o < t.committable {
		return true
	}
	return len(t.offs) > t.head && o <= t.offs[len(t.offs)-1]
}

// finished marks offset o done (acked, given up, or skipped) and advances the
// committable offset over every done offset at the head. It reports whether o was
// tracked and not done before.
func (t *offsetTracker) finished(o int64) bool {
	p := t.find(o)
	if p >= len(t.offs) || t.offs[p] != o || t.done[p] {
		return false
	}
	t.done[p] = true
	for t.head < len(t.offs) && t.done[t.head] {
		t.committable = t.offs[t.head] + 1
		t.head++
	}
	// Drop the done prefix once it is most of the slice, so memory follows the
	// uncommitted offsets, not the partition's history.
	if t.head > 1024 && t.head*2 > len(t.offs) {
		n := copy(t.offs, t.offs[t.head:])
		copy(t.done, t.done[t.head:])
		t.offs, t.done, t.head = t.offs[:n], t.done[:n], 0
	}
	return true
}

// find returns where o is, or would be, in offs[head:]. A partition without gaps has
// its offsets one apart, so o's place is computed first, and searched only when that
// misses.
func (t *offsetTracker) find(o int64) int {
	if t.head < len(t.offs) {
		if d := o - t.offs[t.head]; d >= 0 && d < int64(len(t.offs)-t.head) && t.offs[t.head+int(d)] == o {
			return t.head + int(d)
		}
	}
	return t.head + sort.Search(len(t.offs)-t.head, func(i int) bool { return t.offs[t.head+i] >= o })
}

// uncommitted is the number of emitted offsets at or above the committable offset:
// what max.uncommitted.offsets bounds.
func (t *offsetTracker) uncommitted() int { return len(t.offs) - t.head }
