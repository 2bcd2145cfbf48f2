package perf

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/sparsestream/sparse/internal/executor"
)

// Soak runs a shape at full speed for d, printing the live heap (without the heap
// floor's ballast) every `every`, and
// returns an error when the live heap's peak in the second half of the run is more than
// 1.5 times its peak in the first half plus 4 MB: memory must stay flat however long a
// topology runs. (Single samples swing with GC timing; peaks over halves do not.)
func Soak(s Shape, d, every time.Duration, w io.Writer) error {
	spec, err := s.Build(0, nil).Build()
	if err != nil {
		return err
	}
	rt, err := executor.New(executor.Options{Spec: spec})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	start := time.Now()
	var first, last uint64
	var maxHeap, peak1, peak2 uint64
	for elapsed := every; elapsed <= d; elapsed += every {
		time.Sleep(time.Until(start.Add(elapsed)))
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		m.HeapAlloc -= executor.HeapFloorBytes() // the ballast is not the topology's
		var events int64
		for _, st := range rt.Stats() {
			if st.Component == s.Counted {
				events += st.Executed.Load() + st.Acked.Load()
			}
		}
		if first == 0 {
			first = m.HeapAlloc
		}
		last = m.HeapAlloc
		maxHeap = max(maxHeap, m.HeapAlloc)
		if elapsed <= d/2 {
			peak1 = max(peak1, m.HeapAlloc)
		} else {
			peak2 = max(peak2, m.HeapAlloc)
		}
		fmt.Fprintf(w, "SOAK shape=%s t=%s heap_mb=%.1f goroutines=%d events=%d\n",
			s.Name, elapsed.Round(time.Second), float64(m.HeapAlloc)/(1<<20), runtime.NumGoroutine(), events)
	}
	cancel()
	if err := <-done; err != nil {
		return err
	}
	fmt.Fprintf(w, "SOAK shape=%s first_heap_mb=%.1f last_heap_mb=%.1f max_heap_mb=%.1f\n",
		s.Name, float64(first)/(1<<20), float64(last)/(1<<20), float64(maxHeap)/(1<<20))
	if float64(peak2) > 1.5*float64(peak1)+4*(1<<20) {
		return fmt.Errorf("%s: the live heap's peak grew from %.1f MB in the first half to %.1f MB in the second over %v",
			s.Name, float64(peak1)/(1<<20), float64(peak2)/(1<<20), d)
	}
	return nil
}
