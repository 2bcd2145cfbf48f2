package executor

import "math"

// SetDebugSamples makes the executors of each component in rates log that share of the
// tuples they emit (0 < rate ≤ 1), as topology.debug does for all of them, and the other
// components none: sparsectl debug, applied while the topology runs. Safe to call from
// any goroutine.
func (r *Runtime) SetDebugSamples(rates map[string]float64) {
	for _, e := range r.executors {
		e.debugSample.Store(sampleThreshold(rates[e.comp.ID]))
	}
}

// sampleThreshold turns a rate into the bound a random uint32 must fall under.
func sampleThreshold(rate float64) uint32 {
	switch {
	case !(rate > 0): // also NaN
		return 0
	case rate >= 1:
		return math.MaxUint32
	}
	return max(uint32(rate*(1<<32)), 1)
}
