// Package execmetrics publishes the executors' counters, latencies and queues to
// Prometheus: a runtime collector (one series set per executor), a receive queue
// collector and a transfer queue collector. They read the atomics and queue lengths
// the executors already keep, at scrape time, so they cost nothing per tuple. They
// live beside the executor, not in internal/metrics, so that the daemons that serve
// metrics without running executors do not link the engine.
package execmetrics

import (
	"math"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/internal/metrics"
)

// LatencyBuckets are the upper bounds, in seconds, of the latency histograms that the
// runtime collector publishes (a fresh slice on every call).
func LatencyBuckets() []float64 {
	b := latencyBounds()
	out := make([]float64, len(b))
	for i, d := range b {
		out[i] = d.Seconds()
	}
	return out
}

func latencyBounds() []time.Duration {
	const us, ms, s = time.Microsecond, time.Millisecond, time.Second
	return []time.Duration{
		100 * us, 250 * us, 500 * us,
		1 * ms, 2500 * us, 5 * ms, 10 * ms, 25 * ms, 50 * ms, 100 * ms, 250 * ms, 500 * ms,
		1 * s, 2500 * ms, 5 * s, 10 * s, 30 * s, 60 * s,
	}
}

// NewRuntimeCollector publishes the counters of a worker's (or a local run's)
// executors. stats is called on every scrape; pass executor.Runtime.Stats. Every
// series carries the labels topology (topologyID), component, executor (the first
// task id of the executor) and kind (spout, bolt or acker).
func NewRuntimeCollector(topologyID string, stats func() []*executor.Stats) prometheus.Collector {
	constLabels := prometheus.Labels{metrics.LabelTopology: topologyID}
	labels := []string{metrics.LabelComponent, metrics.LabelExecutor, metrics.LabelKind}
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(metrics.Namespace, "executor", name), help, labels, constLabels)
	}
	return &runtimeCollector{
		stats:  stats,
		bounds: latencyBounds(),
		les:    LatencyBuckets(),
		counters: []counterDesc{
			{desc("emitted_tuples_total", "Tuples emitted by user code."), func(s *executor.Stats) int64 { return s.Emitted.Load() }},
			{desc("transferred_tuples_total", "Tuple copies delivered to receiving tasks (one emit can reach several tasks)."), func(s *executor.Stats) int64 { return s.Transferred.Load() }},
			{desc("executed_tuples_total", "Input tuples given to Execute (bolts)."), func(s *executor.Stats) int64 { return s.Executed.Load() }},
			{desc("acked_tuples_total", "Spouts: tuple trees completed. Bolts: input tuples acked."), func(s *executor.Stats) int64 { return s.Acked.Load() }},
			{desc("failed_tuples_total", "Spouts: tuple trees failed or timed out. Bolts: input tuples failed."), func(s *executor.Stats) int64 { return s.Failed.Load() }},
			{desc("timed_out_tuples_total", "Spout tuple trees that timed out (also counted as failed)."), func(s *executor.Stats) int64 { return s.TimedOut.Load() }},
			{desc("errors_total", "Errors reported by user code and panics recovered from it."), func(s *executor.Stats) int64 { return s.Errors.Load() }},
			{desc("backpressure_waits_total", "Sends that found the receiving queue full and had to wait."), func(s *executor.Stats) int64 { return s.Backpressed.Load() }},
		},
		pending:  desc("pending_tuples", "Reliable spout tuples in flight: emitted, neither acked nor failed yet (spouts)."),
		complete: desc("complete_latency_seconds", "Time from a spout's emit to the completion of its tuple tree (spouts). A bucket counts an observation only when the observation is certainly within it, so a value may show up to 1/8 above its true bucket."),
		execute:  desc("execute_latency_seconds", "Time spent in a bolt's Execute, sampled one input in 32 (bolts)."),
		process:  desc("process_latency_seconds", "Time from the start of a bolt's Execute to the input's ack, sampled one input in 32 (bolts)."),
	}
}

type counterDesc struct {
	desc  *prometheus.Desc
	value func(*executor.Stats) int64
}

type runtimeCollector struct {
	stats    func() []*executor.Stats
	bounds   []time.Duration
	les      []float64
	counters []counterDesc
	pending  *prometheus.Desc
	complete *prometheus.Desc
	execute  *prometheus.Desc
	process  *prometheus.Desc
}

func (c *runtimeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.counters {
		ch <- d.desc
	}
	ch <- c.pending
	ch <- c.complete
	ch <- c.execute
	ch <- c.process
}

func (c *runtimeCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.stats() {
		exec := ""
		if len(s.Tasks) > 0 {
			exec = strconv.FormatInt(int64(s.Tasks[0]), 10)
		}
		lv := []string{s.Component, exec, s.Kind}
		for _, d := range c.counters {
			ch <- prometheus.MustNewConstMetric(d.desc, prometheus.CounterValue, float64(d.value(s)), lv...)
		}
		switch s.Kind {
		case "spout":
			ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(s.Pending.Load()), lv...)
			c.histogram(ch, c.complete, &s.CompleteLatency, lv)
		case "bolt":
			c.histogram(ch, c.execute, &s.ExecuteLatency, lv)
			c.histogram(ch, c.process, &s.ProcessLatency, lv)
		}
	}
}

func (c *runtimeCollector) histogram(ch chan<- prometheus.Metric, d *prometheus.Desc, h *executor.Histogram, lv []string) {
	count, sum, buckets := convertHistogram(h, c.bounds, c.les)
	ch <- prometheus.MustNewConstHistogram(d, count, sum, buckets, lv...)
}

// convertHistogram turns an executor.Histogram's log-linear microsecond buckets into
// cumulative counts for the upper bounds given (bounds, and les: the same in seconds).
//
// An executor bucket is counted under a bound only when its exclusive upper edge is at
// or below the bound, so "le" never claims an observation was faster than it was; an
// observation lands at most one executor bucket width (1/8 of its value) higher. The
// count is the sum of the buckets, so it always agrees with them; the sum is derived
// from the histogram's mean.
func convertHistogram(h *executor.Histogram, bounds []time.Duration, les []float64) (count uint64, sumSeconds float64, cumulative map[float64]uint64) {
	snap := h.Snapshot()
	cumulative = make(map[float64]uint64, len(les))
	var seen uint64
	b := 0
	for i, n := range snap {
		// Every observation in bucket i is below upper (whole microseconds are
		// truncated when observed); the last bucket also holds everything above.
		upper := time.Duration(math.MaxInt64)
		if i < len(snap)-1 {
			upper = time.Duration(bucketLowerMicros(i+1)) * time.Microsecond
		}
		for b < len(bounds) && upper > bounds[b] {
			cumulative[les[b]] = seen
			b++
		}
		seen += uint64(max(n, 0))
	}
	for ; b < len(bounds); b++ {
		cumulative[les[b]] = seen
	}
	return seen, h.Sum().Seconds(), cumulative
}

// bucketLowerMicros is the lowest whole microsecond value of bucket i of an
// executor.Histogram.
func bucketLowerMicros(i int) uint64 { return executor.BucketLowerMicros(i) }
