package perf

import (
	"math"
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
}

// FuzzParseCPU: whatever /proc/stat holds, parsing neither panics nor reports more steal
// than total time (counters that overflow the sum are refused).
func FuzzParseCPU(f *testing.F) {
	f.Add([]byte("cpu  948354 0 163705 1431904 3638 0 10192 93594 0 0\n"))
	f.Add([]byte("cpu 18446744073709551615 1 1 1 1 1 1 1\n"))
	f.Add([]byte("cpu 1 1 1 1 1 1 1 18446744073709551615\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := parseCPU(b)
		if s.OK && s.Steal > s.Total {
			t.Fatalf("steal %d > total %d", s.Steal, s.Total)
		}
	})
}
