package retry

import (
	"math"
	"testing"
	"time"
)

func TestScheduleDelay(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		s    Schedule
		n    int
		want time.Duration
	}{
		{"first retry", Schedule{10 * ms, 2, time.Second}, 1, 10 * ms},
		{"third retry", Schedule{10 * ms, 2, time.Second}, 3, 40 * ms},
		{"capped", Schedule{10 * ms, 2, time.Second}, 20, time.Second},
		{"multiplier 1.5", Schedule{100 * ms, 1.5, 0}, 3, 225 * ms},
		{"multiplier below 1 is constant", Schedule{100 * ms, 0.5, 0}, 5, 100 * ms},
		{"n below 1", Schedule{100 * ms, 2, 0}, 0, 100 * ms},
		{"no cap, huge n", Schedule{time.Second, 10, 0}, 1000, time.Duration(math.MaxInt64)},
		{"zero initial", Schedule{0, 2, time.Second}, 5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.Delay(tc.n); got != tc.want {
				t.Errorf("Delay(%d) = %v, want %v", tc.n, got, tc.want)
			}
		})
	}
}
