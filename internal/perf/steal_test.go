package perf

import (
	"math"
	"runtime"
	"testing"
)

func TestParseCPU(t *testing.T) {
	for _, tc := range []struct {
		name         string
		in           string
		steal, total uint64
		ok           bool
	}{
		{"linux", "cpu  948354 0 163705 1431904 3638 0 10192 93594 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n", 93594, 948354 + 163705 + 1431904 + 3638 + 10192 + 93594, true},
		{"no guest columns", "cpu 1 2 3 4 5 6 7 8\n", 8, 36, true},
		{"old kernel without steal", "cpu 1 2 3 4 5 6 7\n", 0, 0, false},
		{"not the cpu line", "intr 1 2 3 4 5 6 7 8 9\n", 0, 0, false},
		{"garbage", "cpu a b c d e f g h\n", 0, 0, false},
		{"empty", "", 0, 0, false},
	} {
		s := parseCPU([]byte(tc.in))
		if s.OK != tc.ok || s.Steal != tc.steal || s.Total != tc.total {
			t.Errorf("%s: got %+v, want steal %d total %d ok %v", tc.name, s, tc.steal, tc.total, tc.ok)
		}
	}
	a := CPUSample{Steal: 10, Total: 100, OK: true}
	b := CPUSample{Steal: 40, Total: 200, OK: true}
	if got := StealShare(a, b); got != 0.3 {
		t.Errorf("StealShare = %v, want 0.3", got)
	}
	if got := StealShare(a, CPUSample{}); !math.IsNaN(got) {
		t.Errorf("StealShare with an unknown sample = %v, want NaN", got)
	}
	if s := parseCPU([]byte("cpu 1 2 3 4 5 6 7 8\n")); s.Idle != 4+5 {
		t.Errorf("idle %d, want idle and iowait: 9", s.Idle)
	}
	// Of 100 ticks, 30 idle and 10 stolen: 60% of the machine was busy.
	c := CPUSample{Steal: 10, Idle: 30, Total: 100, OK: true}
	if got, want := BusyCores(CPUSample{OK: true}, c), 0.6*float64(runtime.NumCPU()); math.Abs(got-want) > 1e-9 {
		t.Errorf("BusyCores = %v, want %v", got, want)
	}
	if got := BusyCores(c, CPUSample{}); !math.IsNaN(got) {
		t.Errorf("BusyCores with an unknown sample = %v, want NaN", got)
	}
}

// FuzzParseCPU: whatever /proc/stat holds, parsing neither panics nor reports more steal
// than total time (counters that overflow the sum are refused).
func FuzzParseCPU(f *testing.F) {
	f.Add([]byte("cpu  948354 0 163705 1431904 3638 0 10192 93594 0 0\n"))
	f.Add([]byte("cpu 18446744073709551615 1 1 1 1 1 1 1\n"))
	f.Add([]byte("cpu 1 1 1 1 1 1 1 18446744073709551615\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := parseCPU(b)
		if s.OK && (s.Steal > s.Total || s.Idle > s.Total) {
			t.Fatalf("steal %d or idle %d > total %d", s.Steal, s.Idle, s.Total)
		}
	})
}
