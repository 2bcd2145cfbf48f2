package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

// pinned returns b with its random draws fixed at r.
func pinned(b Backoff, r float64) Backoff {
	b.rand = func() float64 { return r }
	return b
}

func pauses(b *Backoff, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = b.Next()
	}
	return out
}

func TestBackoffSchedule(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		b    Backoff
		want []time.Duration
	}{
		{"exact: doubles up to the cap", Exact(time.Second, 30*time.Second),
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}},
		{"jitter that cuts nothing", pinned(New(20*ms, time.Second), 0),
			[]time.Duration{20 * ms, 40 * ms, 80 * ms, 160 * ms, 320 * ms, 640 * ms, time.Second, time.Second}},
		{"jitter that cuts the most", pinned(New(20*ms, time.Second), 1),
			[]time.Duration{10 * ms, 20 * ms, 40 * ms, 80 * ms, 160 * ms, 320 * ms, 500 * ms, 500 * ms}},
		{"jitter in between", pinned(New(100*ms, 400*ms), 0.5),
			[]time.Duration{75 * ms, 150 * ms, 300 * ms, 300 * ms}},
		{"initial above max", Exact(time.Minute, 30*time.Second),
			[]time.Duration{30 * time.Second, 30 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := pauses(&tc.b, len(tc.want))
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("pauses %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestBackoffJitterRange: with the real random source every pause stays within
// [(1-Jitter)·nominal, nominal], and the pauses are not all alike.
func TestBackoffJitterRange(t *testing.T) {
	const initial, max = 100 * time.Millisecond, 2 * time.Second
	seen := map[time.Duration]bool{}
	for range 200 {
		b := New(initial, max)
		nominal := initial
		for range 8 {
			d := b.Next()
			if lo := time.Duration((1 - Jitter) * float64(nominal)); d < lo || d > nominal {
				t.Fatalf("pause %v outside [%v, %v]", d, lo, nominal)
			}
			seen[d] = true
			nominal = min(2*nominal, max)
		}
	}
	if len(seen) < 100 {
		t.Errorf("only %d distinct pauses in 1600: the jitter does not spread them", len(seen))
	}
}

func TestBackoffReset(t *testing.T) {
	b := Exact(time.Second, time.Minute)
	pauses(&b, 4)
	b.Reset()
	if got := b.Next(); got != time.Second {
		t.Errorf("first pause after Reset = %v, want %v", got, time.Second)
	}
	if got := b.Next(); got != 2*time.Second {
		t.Errorf("second pause after Reset = %v, want %v", got, 2*time.Second)
	}
}

// TestBackoffCopies: a Backoff is a value; a copy goes on from where it was copied
// without moving the original.
func TestBackoffCopies(t *testing.T) {
	a := Exact(time.Second, time.Minute)
	a.Next()
	b := a
	b.Next()
	if got := a.Next(); got != 2*time.Second {
		t.Errorf("original after a copy moved on: %v, want %v", got, 2*time.Second)
	}
}

func TestBackoffDoesNotAllocate(t *testing.T) {
	b := New(20*time.Millisecond, time.Second)
	if n := testing.AllocsPerRun(100, func() {
		b.Next()
		b.Reset()
	}); n != 0 {
		t.Errorf("Next and Reset allocate %v times", n)
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("a wait that passed returned %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("a wait on a cancelled context returned %v, want %v", err, context.Canceled)
	}
	// Cancelled during the wait: it returns promptly with the context's error.
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Sleep(ctx, time.Hour) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("a wait cancelled midway returned %v, want %v", err, context.Canceled)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a wait did not return after its context was cancelled")
	}
}
