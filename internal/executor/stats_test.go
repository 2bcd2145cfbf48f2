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
