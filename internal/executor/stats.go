package executor

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Stats are one executor's counters. The executor counts in plain fields on its own
// goroutine and publishes them here when it flushes, so readers never slow the hot path.
type Stats struct {
	Component string
	Kind      string // "spout", "bolt" or "acker"
	Tasks     []int32

	Emitted     atomic.Int64 // tuples emitted by user code
	Transferred atomic.Int64 // tuple copies delivered to receiving tasks
	Executed    atomic.Int64 // inputs given to Execute (bolts)
	Acked       atomic.Int64 // spouts: trees completed; bolts: inputs acked
	Failed      atomic.Int64 // spouts: trees failed or timed out; bolts: inputs failed
	TimedOut    atomic.Int64 // spouts: trees that timed out (also counted in Failed)
	Errors      atomic.Int64 // reported errors and recovered panics
	Pending     atomic.Int64 // spouts: reliable tuples in flight
	Backpressed atomic.Int64 // sends that found the receiver's queue full

	// CompleteLatency is spout emit to ack (spouts only).
	CompleteLatency Histogram
	// ExecuteLatency is the time spent in Execute, and ProcessLatency the time from
	// Execute's start to the input's ack (bolts only); both are sampled, one input in
	// latencySample, as Storm samples its statistics.
	ExecuteLatency, ProcessLatency Histogram

	lastErr atomic.Pointer[reportedError]
}

// reportedError is an error message and when it was reported, stored together so that a
// reader never pairs one error with another's time.
type reportedError struct {
	msg string
	at  time.Time
}

// setLastError records an error as the most recent one.
func (s *Stats) setLastError(msg string) {
	s.lastErr.Store(&reportedError{msg: msg, at: time.Now()})
}

// LastError returns the most recent reported error and when it was reported, or "" and
// the zero time.
func (s *Stats) LastError() (string, time.Time) {
	if p := s.lastErr.Load(); p != nil {
		return p.msg, p.at
	}
	return "", time.Time{}
}

// counts is the executor-local side of Stats.
type counts struct {
	emitted, transferred, executed, acked, failed, timedOut, backpressed int64
}

func (c *counts) publish(s *Stats) {
	s.Emitted.Add(c.emitted)
	s.Transferred.Add(c.transferred)
	s.Executed.Add(c.executed)
	s.Acked.Add(c.acked)
	s.Failed.Add(c.failed)
	s.TimedOut.Add(c.timedOut)
	s.Backpressed.Add(c.backpressed)
	*c = counts{}
}

// Histogram is a lock-free latency histogram with log-linear buckets: 8 sub-buckets per
// power of two of microseconds, so any quantile is within 12.5% of the true value.
type Histogram struct {
	buckets [histBuckets]atomic.Int64
	count   atomic.Int64
	sum     atomic.Int64 // nanoseconds
}

const (
	histSub     = 8
	histBuckets = 40 * histSub
)

func histIndex(us uint64) int {
	if us < histSub {
		return int(us)
	}
	exp := bits.Len64(us) - 4 // us has exp+4 bits; keep the top 4 (1 + 3 sub-bucket bits)
	i := exp*histSub + int(us>>uint(exp))
	return min(i, histBuckets-1)
}

// HistogramBuckets is the number of buckets of a Histogram's Snapshot.
const HistogramBuckets = histBuckets

// BucketLowerMicros is the lowest whole microsecond value counted in bucket i of a
// Histogram's Snapshot, for converting it to other histogram formats.
func BucketLowerMicros(i int) uint64 { return histLower(i) }

// histLower is the lowest microsecond value of bucket i.
func histLower(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	exp := i/histSub - 1
	return uint64(histSub+i%histSub) << uint(exp)
}

// Observe records one duration.
func (h *Histogram) Observe(d time.Duration) {
	d = max(d, 0)
	h.buckets[histBucket(d)].Add(1)
	h.count.Add(1)
	h.sum.Add(int64(d))
}

// histBucket is the bucket of a duration that is not negative.
func histBucket(d time.Duration) int { return histIndex(uint64(d / time.Microsecond)) }

// histTally observes durations into its Histogram for a goroutine that observes a batch
// at a time: it adds to the shared counters at flush, and to a bucket when the batch
// moves on to another, instead of three atomic adds per observation. The observations of
// a batch mostly share a bucket. Until flush, the histogram lags the tally.
type histTally struct {
	h      *Histogram
	n, sum int64
	bucket int   // the bucket of the current run of observations
	run    int64 // how many, not yet added to it
}

func (t *histTally) observe(d time.Duration) {
	d = max(d, 0)
	i := histBucket(d)
	if i != t.bucket && t.run > 0 {
		t.h.buckets[t.bucket].Add(t.run)
		t.run = 0
	}
	t.bucket = i
	t.run++
	t.n++
	t.sum += int64(d)
}

func (t *histTally) flush() {
	if t.n > 0 {
		t.h.buckets[t.bucket].Add(t.run)
		t.h.count.Add(t.n)
		t.h.sum.Add(t.sum)
		t.n, t.sum, t.run = 0, 0, 0
	}
}

// Count is the number of observations.
func (h *Histogram) Count() int64 { return h.count.Load() }

// Sum is the total of all observations.
func (h *Histogram) Sum() time.Duration { return time.Duration(h.sum.Load()) }

// Mean is the average observation, 0 when there is none.
func (h *Histogram) Mean() time.Duration {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}

// Snapshot returns the bucket counts, for merging histograms of several executors.
func (h *Histogram) Snapshot() []int64 {
	out := make([]int64, histBuckets)
	for i := range out {
		out[i] = h.buckets[i].Load()
	}
	return out
}

// Quantile returns the q-quantile (0..1) of bucket counts from Snapshot, or of several
// snapshots added together. It reports a bucket's midpoint.
func Quantile(counts []int64, q float64) time.Duration {
	var total int64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(total)))
	rank = max(rank, 1)
	var seen int64
	for i, c := range counts {
		seen += c
		if seen >= rank {
			lo := histLower(i)
			hi := histLower(i + 1)
			return time.Duration((lo+hi)/2) * time.Microsecond
		}
	}
	return 0
}

// ComponentSummary adds up the executors of one component.
type ComponentSummary struct {
	Component   string
	Kind        string
	Executors   int
	Emitted     int64
	Transferred int64
	Executed    int64
	Acked       int64
	Failed      int64
	TimedOut    int64
	Errors      int64
	Pending     int64
	Backpressed int64
	// Complete latency of spouts: mean and quantiles over the run so far.
	LatencyMean, LatencyP50, LatencyP99 time.Duration
	LastError                           string
}

// Summarize groups executor stats by component, in the order given.
func Summarize(stats []*Stats) []ComponentSummary {
	var out []ComponentSummary
	index := map[string]int{}
	hists := map[string][]int64{}
	sums := map[string][2]int64{} // latency sum (ns), count
	for _, s := range stats {
		i, ok := index[s.Component]
		if !ok {
			i = len(out)
			index[s.Component] = i
			out = append(out, ComponentSummary{Component: s.Component, Kind: s.Kind})
		}
		c := &out[i]
		c.Executors++
		c.Emitted += s.Emitted.Load()
		c.Transferred += s.Transferred.Load()
		c.Executed += s.Executed.Load()
		c.Acked += s.Acked.Load()
		c.Failed += s.Failed.Load()
		c.TimedOut += s.TimedOut.Load()
		c.Errors += s.Errors.Load()
		c.Pending += s.Pending.Load()
		c.Backpressed += s.Backpressed.Load()
		if e, _ := s.LastError(); e != "" {
			c.LastError = e
		}
		if s.Kind == "spout" {
			h := hists[s.Component]
			if h == nil {
				h = make([]int64, histBuckets)
			}
			for j, n := range s.CompleteLatency.Snapshot() {
				h[j] += n
			}
			hists[s.Component] = h
			sum := sums[s.Component]
			sum[0] += s.CompleteLatency.sum.Load()
			sum[1] += s.CompleteLatency.Count()
			sums[s.Component] = sum
		}
	}
	for comp, h := range hists {
		c := &out[index[comp]]
		c.LatencyP50 = Quantile(h, 0.5)
		c.LatencyP99 = Quantile(h, 0.99)
		if s := sums[comp]; s[1] > 0 {
			c.LatencyMean = time.Duration(s[0] / s[1])
		}
	}
	return out
}
