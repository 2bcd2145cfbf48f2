package executor

import (
	"os"
	"sync"
)

// A stream topology allocates fast and keeps little: wordcount at 2M words/s allocates
// about 100 MB/s over a live heap of 2 MB, and Go's collector, whose heap goal is twice
// the live heap but at least 4 MB, then runs some 200 times a second. On two cores each
// cycle's mark phase takes one of them, and the tuples queued meanwhile are most of the
// topology's p99 latency. The heap floor is a ballast: a large, never-touched,
// pointer-free allocation that counts as live heap, so the goal stays at twice the floor
// while the real live heap is small, and collections come every floor's worth of
// allocation instead. The ballast's pages are never written, so it costs address space,
// not memory. Go has no direct setting for a minimum heap goal (GOGC scales every
// goal, GOMEMLIMIT caps them).

var (
	floorMu sync.Mutex
	ballast []byte
)

// SetHeapFloor makes the process's heap floor at least mb megabytes. It only grows (the
// floor serves every runtime of the process) and does nothing when mb <= 0 or when
// GOMEMLIMIT or GOGC is set in the environment: whoever set them manages the heap. It
// returns the floor in force, in megabytes.
func SetHeapFloor(mb int64) int64 {
	floorMu.Lock()
	defer floorMu.Unlock()
	if os.Getenv("GOMEMLIMIT") != "" || os.Getenv("GOGC") != "" {
		return 0
	}
	if size := mb << 20; size > int64(len(ballast)) {
		ballast = nil
		ballast = make([]byte, size)
	}
	return int64(len(ballast)) >> 20
}

// HeapFloorBytes is the size of the ballast, which heap statistics such as
// runtime.MemStats.HeapAlloc count as live: subtract it to see the real live heap.
func HeapFloorBytes() uint64 {
	floorMu.Lock()
	defer floorMu.Unlock()
	return uint64(len(ballast))
}
