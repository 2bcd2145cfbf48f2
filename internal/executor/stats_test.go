package executor

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestLastErrorKeepsItsTime: readers racing with reports always get a message with the
// time it was reported at, never one error with another's time.
func TestLastErrorKeepsItsTime(t *testing.T) {
	var s Stats
	if msg, at := s.LastError(); msg != "" || !at.IsZero() {
		t.Fatalf("no error yet: got %q at %v", msg, at)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 2000 {
			s.setLastError(fmt.Sprint(i))
		}
	})
	seen := map[string]time.Time{}
	for range 2000 {
		msg, at := s.LastError()
		if msg == "" {
			continue
		}
		if at.IsZero() {
			t.Fatalf("error %q has no time", msg)
		}
		if prev, ok := seen[msg]; ok && !prev.Equal(at) {
			t.Fatalf("error %q read at two times, %v and %v", msg, prev, at)
		}
		seen[msg] = at
	}
	wg.Wait()
	if msg, _ := s.LastError(); msg != "1999" {
		t.Errorf("last error %q, want the last reported, 1999", msg)
	}
}

// TestHistTallyMatchesObserve: a batch observed through a histTally leaves the histogram
// as observing each duration does, however the batch's durations fall into buckets.
func TestHistTallyMatchesObserve(t *testing.T) {
	us := time.Microsecond
	for _, tc := range []struct {
		name string
		ds   []time.Duration
	}{
		{"empty", nil},
		{"one", []time.Duration{40 * us}},
		{"one bucket", []time.Duration{40 * us, 40 * us, 41 * us}},
		{"bucket 0 first", []time.Duration{0, 0, 3 * time.Millisecond}},
		{"alternating", []time.Duration{5 * us, 900 * us, 5 * us, 900 * us, 5 * us}},
		{"negative and huge", []time.Duration{-time.Second, time.Hour, time.Hour, 7 * us}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want, got Histogram
			for _, d := range tc.ds {
				want.Observe(d)
			}
			got.Observe(time.Millisecond) // what was there before the batch stays
			tally := histTally{h: &got}
			for _, d := range tc.ds {
				tally.observe(d)
			}
			tally.flush()
			tally.flush() // a second flush adds nothing
			want.Observe(time.Millisecond)
			if got.Count() != want.Count() || got.Sum() != want.Sum() {
				t.Fatalf("count %d sum %v, want %d %v", got.Count(), got.Sum(), want.Count(), want.Sum())
			}
			if g, w := got.Snapshot(), want.Snapshot(); fmt.Sprint(g) != fmt.Sprint(w) {
				t.Fatalf("buckets\n%v, want\n%v", g, w)
			}
		})
	}
}
