package retry

import (
	"math"
	"time"
)

// Schedule is an exponential schedule without state and without jitter: the pause before
// attempt n of one message, for callers that keep many messages' attempts apart (a Kafka
// spout's failed records) rather than one retry loop. Its pauses are promises a test can
// check, so it has no jitter.
type Schedule struct {
	Initial    time.Duration // the pause before the first retry
	Multiplier float64       // the growth of each pause over the one before; below 1 counts as 1
	Max        time.Duration // the longest pause; 0 means no cap
}

// Delay returns the pause before retry n (n from 1): Initial*Multiplier^(n-1), capped at
// Max. n below 1 gives Initial.
func (s Schedule) Delay(n int) time.Duration {
	m := max(s.Multiplier, 1)
	d := float64(s.Initial) * math.Pow(m, float64(max(n, 1)-1))
	if s.Max > 0 && d >= float64(s.Max) {
		return s.Max
	}
	if d >= math.MaxInt64 || math.IsInf(d, 0) || math.IsNaN(d) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(d)
}
