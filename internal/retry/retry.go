// Package retry holds the one way the project waits between attempts: a Backoff that
// spaces retries exponentially with jitter, and Sleep, the context-aware wait.
package retry

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Jitter is the largest part of each pause that New's Backoff cuts at random. Without it
// every supervisor and nimbus that lost etcd at the same moment would retry at the same
// moments, each time together; with it they spread out over half of each pause.
const Jitter = 0.5

// Backoff yields the pauses between the attempts of one retry loop: initial, doubling up
// to max, each shortened by a random part of up to its jitter. So max is a true bound and
// no pause is shorter than (1-jitter) of its nominal value. The zero Backoff is not
// usable; make one with New or Exact. A Backoff is used by one goroutine and does not
// allocate.
type Backoff struct {
	// The growth and the cap. Its own randomization stays off: it spreads the pause on
	// both sides of the nominal value, so a capped pause could exceed max.
	exp    backoff.ExponentialBackOff
	jitter float64
	rand   func() float64 // in [0, 1); tests pin it
}

// New returns a Backoff from initial to max with Jitter.
func New(initial, max time.Duration) Backoff {
	return newBackoff(initial, max, Jitter)
}

// Exact returns a Backoff from initial to max without jitter, for pauses that are a
// promised least wait rather than a shared service's retry.
func Exact(initial, max time.Duration) Backoff {
	return newBackoff(initial, max, 0)
}

func newBackoff(initial, max time.Duration, jitter float64) Backoff {
	b := Backoff{
		exp:    backoff.ExponentialBackOff{InitialInterval: initial, Multiplier: 2, MaxInterval: max},
		jitter: jitter,
		rand:   rand.Float64,
	}
	b.exp.Reset()
	return b
}

// Next returns the pause before the next attempt and moves on to the one after.
func (b *Backoff) Next() time.Duration {
	// The cap also holds when initial exceeds max, which the library does not see to.
	d := min(b.exp.NextBackOff(), b.exp.MaxInterval)
	if b.jitter > 0 {
		d -= time.Duration(b.jitter * b.rand() * float64(d))
	}
	return d
}

// Reset starts again from the initial pause: call it once an attempt succeeds.
func (b *Backoff) Reset() {
	b.exp.Reset()
}

// Sleep waits for d or until ctx ends, and then returns ctx.Err(): nil means the whole
// wait passed. Unlike time.After in a select, its timer is released at once either way.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
