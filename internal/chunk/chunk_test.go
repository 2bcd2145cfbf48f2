package chunk

import "testing"

// TestOf: values are distinct and zeroed, and chunks grow from 1 to Max values, each one
// allocation.
func TestOf(t *testing.T) {
	var c Of[[4]int64]
	seen := map[*[4]int64]bool{}
	for i := range 100 {
		v := c.Next()
		if seen[v] {
			t.Fatalf("value %d was handed out before", i)
		}
		if *v != [4]int64{} {
			t.Fatalf("value %d is not zeroed: %v", i, *v)
		}
		seen[v] = true
		*v = [4]int64{1, 2, 3, 4}
	}
	// Empty says when the next value takes a new chunk.
	var e Of[int64]
	for i, want := range []bool{true, true, false, true, false, false, false, true} {
		if got := e.Empty(); got != want {
			t.Errorf("before value %d: Empty is %v, want %v (chunks of 1, 2, 4)", i, got, want)
		}
		e.Next()
	}
	// 1+2+4+8 values in the first four chunks, then chunks of Max.
	if allocs := testing.AllocsPerRun(1, func() {
		var c Of[int64]
		for range 15 + 2*Max {
			c.Next()
		}
	}); allocs != 6 {
		t.Errorf("%v allocations for 15+2*Max values, want 6", allocs)
	}
}
