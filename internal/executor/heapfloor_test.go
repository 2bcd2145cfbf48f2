package executor

import (
	"runtime"
	"runtime/metrics"
	"testing"
)

func heapGoal() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestHeapFloorRaisesTheGCGoal: after SetHeapFloor(n) the collector's heap goal is above
// n MB, so it runs once per floor's worth of allocation; the floor never shrinks, and
// GOGC or GOMEMLIMIT in the environment turn it off.
func TestHeapFloorRaisesTheGCGoal(t *testing.T) {
	if got := SetHeapFloor(32); got < 32 {
		t.Fatalf("SetHeapFloor(32) = %d", got)
	}
	runtime.GC() // the goal is recomputed at the end of a cycle
	if goal := heapGoal(); goal < 32<<20 {
		t.Errorf("heap goal %d MB with a 32 MB floor", goal>>20)
	}
	before := SetHeapFloor(0)
	if got := SetHeapFloor(1); got != before || got < 32 {
		t.Errorf("SetHeapFloor(1) after a floor of %d MB = %d: the floor must not shrink", before, got)
	}
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, "100")
			if got := SetHeapFloor(1 << 10); got != 0 {
				t.Errorf("with %s set, SetHeapFloor = %d, want 0 (left to the environment)", env, got)
			}
		})
	}
}
