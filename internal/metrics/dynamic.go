package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// dynamic holds the collectors added at run time by what a process opens after its
// registry was made: a connector's spout or bolt, opened with its task. A worker's
// registry serves them through Dynamic.
var dynamic struct {
	mu sync.Mutex
	cs []prometheus.Collector
}

// AddDynamic adds c to what Dynamic collects; adding the same collector twice adds it
// once. c's metrics must not clash with another's: they are collected unchecked.
func AddDynamic(c prometheus.Collector) {
	dynamic.mu.Lock()
	defer dynamic.mu.Unlock()
	for _, have := range dynamic.cs {
		if have == c {
			return
		}
	}
	dynamic.cs = append(dynamic.cs, c)
}

// Dynamic returns the collector of everything AddDynamic added, now or later. It
// describes nothing, so the registry collects it unchecked, as metrics that appear
// after registration must be.
func Dynamic() prometheus.Collector { return dynamicCollector{} }

type dynamicCollector struct{}

func (dynamicCollector) Describe(chan<- *prometheus.Desc) {}

func (dynamicCollector) Collect(ch chan<- prometheus.Metric) {
	dynamic.mu.Lock()
	cs := append([]prometheus.Collector(nil), dynamic.cs...)
	dynamic.mu.Unlock()
	for _, c := range cs {
		c.Collect(ch)
	}
}
