package perf

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"time"

	"github.com/sparsestream/sparse/internal/executor"
)

// Result is one shape's measurement.
type Result struct {
	Shape    string
	TPS      float64 // engine, unlimited
	Baseline float64 // baseline, same run
	P50, P99 time.Duration
	Allocs   float64 // heap allocations per counted event
	Rate     float64 // the rate-limited run's target
}

// Line is the result in the `make bench` format.
func (r Result) Line() string {
	return fmt.Sprintf("BENCH shape=%s tps=%.0f p50_ms=%.3f p99_ms=%.3f ratio=%.2f allocs=%.2f",
		r.Shape, r.TPS, ms(r.P50), ms(r.P99), r.TPS/r.Baseline, r.Allocs)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Options for Measure.
type Options struct {
	Warmup, Duration time.Duration
	// TLSDir, for the two-worker shapes, runs the transport between the workers over
	// mutual TLS with the files NewTLSDir made there ("": plaintext).
	TLSDir string
}

// Rounds is how many times Measure alternates the baseline and the engine. The machines
// the benchmarks run on are shared, and their speed drifts by tens of percent within a
// minute: alternating short runs and taking medians compares the two under the same
// conditions, which one long run of each does not.
const Rounds = 3

// Measure alternates the baseline and the engine at full speed, Rounds times, then runs
// the engine at half of its median speed, Rounds times, for latency. Every figure is the
// median of its rounds; each round measures for o.Duration/Rounds (at least 500ms).
func Measure(s Shape, o Options) (Result, error) {
	r := Result{Shape: s.Name}
	if s.HeapFloorMB > 0 {
		executor.SetHeapFloor(s.HeapFloorMB)
	}
	per := Options{Warmup: o.Warmup, Duration: max(o.Duration/Rounds, 500*time.Millisecond)}
	var base, tps, allocs []float64
	for range Rounds {
		base = append(base, s.Baseline(per.Duration))
		full, err := measureEngine(s, 0, per)
		if err != nil {
			return r, err
		}
		tps, allocs = append(tps, full.rate), append(allocs, full.allocs)
	}
	r.Baseline, r.TPS, r.Allocs = median(base), median(tps), median(allocs)
	r.Rate = r.TPS / 2
	spoutRate := r.Rate
	if s.Name == "WordCount" {
		spoutRate /= wordsPerSentence()
	}
	var p50, p99 []float64
	for range Rounds {
		half, err := measureEngine(s, spoutRate, per)
		if err != nil {
			return r, err
		}
		p50, p99 = append(p50, float64(half.p50)), append(p99, float64(half.p99))
	}
	r.P50, r.P99 = time.Duration(median(p50)), time.Duration(median(p99))
	return r, nil
}

// median of xs. A failed baseline is NaN, which sorts first: it is the median only when
// most rounds failed.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// startWait bounds the wait for a topology's first counted event before the warm-up.
const startWait = 30 * time.Second

type engineRun struct {
	rate, allocs float64
	p50, p99     time.Duration
}

func measureEngine(s Shape, spoutRate float64, o Options) (engineRun, error) {
	var delivery executor.Histogram
	measuring := false
	sink := &LatencySink{Observe: func(d time.Duration) {
		if measuring {
			delivery.Observe(d)
		}
	}}
	// measuring is written before the window opens and read by the bolt goroutine; the
	// race is benign for a benchmark but keep it out of race-detector runs.
	// Stamping costs the spout an allocation per tuple, so only the latency run does it.
	var lat *LatencySink
	if s.Name == "ConstSpoutNullBolt" && spoutRate > 0 {
		lat = sink
	}
	spec, err := s.Build(spoutRate, lat).Build()
	if err != nil {
		return engineRun{}, err
	}
	rt, err := executor.New(executor.Options{Spec: spec})
	if err != nil {
		return engineRun{}, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()

	count := func() (int64, []int64) {
		var n int64
		var h []int64
		for _, st := range rt.Stats() {
			if st.Component == s.Counted {
				if s.Metric == "acked" {
					n += st.Acked.Load()
				} else {
					n += st.Executed.Load()
				}
			}
			if st.Kind == "spout" {
				h = st.CompleteLatency.Snapshot()
			}
		}
		return n, h
	}
	// The warm-up starts once events flow: the Python shapes start their subprocesses
	// first, which on a loaded machine can take longer than the warm-up.
	for deadline := time.Now().Add(startWait); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if n, _ := count(); n > 0 {
			break
		}
	}
	time.Sleep(o.Warmup)

	var m0, m1 runtime.MemStats
	n0, h0 := count()
	runtime.ReadMemStats(&m0)
	measuring = true
	start := time.Now()
	time.Sleep(o.Duration)
	n1, h1 := count()
	runtime.ReadMemStats(&m1)
	elapsed := time.Since(start)
	measuring = false
	cancel()
	if err := <-done; err != nil {
		return engineRun{}, err
	}
	res := engineRun{rate: float64(n1-n0) / elapsed.Seconds()}
	if n1 > n0 {
		res.allocs = float64(m1.Mallocs-m0.Mallocs) / float64(n1-n0)
	}
	if lat != nil {
		h := delivery.Snapshot()
		res.p50, res.p99 = executor.Quantile(h, 0.5), executor.Quantile(h, 0.99)
	} else {
		for i := range h1 {
			h1[i] -= h0[i]
		}
		res.p50, res.p99 = executor.Quantile(h1, 0.5), executor.Quantile(h1, 0.99)
	}
	return res, nil
}
