// Package metrics is what sparse's processes share to expose themselves to
// Prometheus: the registry (NewRegistry), the server of /metrics and /healthz (Serve),
// the namespace and label names, and a factory for a daemon's gauges and counters.
//
// Each owner defines its own metrics beside its code, so that a process links only
// the collectors of what it runs: the executors' counters, latencies and queues in
// internal/executor/execmetrics, the transport's counters in pkg/transport, and
// nimbusd's and supervisord's health in internal/nimbus and internal/supervisor. This
// package imports none of them.
//
// Names follow Prometheus's conventions: the "sparse_" namespace, a subsystem
// (executor, worker, transport, nimbus, supervisor), base units (seconds, bytes) and
// "_total" on counters. Labels are bounded: topology, component, executor (the
// executor's first task id), kind, worker, peer, queue.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Namespace prefixes every metric sparse defines.
const Namespace = "sparse"

// Label names shared by the collectors.
const (
	LabelTopology  = "topology"
	LabelComponent = "component"
	LabelExecutor  = "executor"
	LabelKind      = "kind"
	LabelWorker    = "worker"
)

// Factory creates a daemon's metrics under the sparse namespace and its subsystem,
// registered with the Registerer it was made with.
type Factory struct {
	promauto.Factory
	Subsystem string
}

// NewFactory returns a Factory for subsystem that registers with reg (nil: the
// metrics are not registered, for tests).
func NewFactory(reg prometheus.Registerer, subsystem string) Factory {
	return Factory{promauto.With(reg), subsystem}
}

// Gauge creates the gauge sparse_<subsystem>_<name>.
func (f Factory) Gauge(name, help string) prometheus.Gauge {
	return f.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: f.Subsystem, Name: name, Help: help})
}

// Counter creates the counter sparse_<subsystem>_<name>.
func (f Factory) Counter(name, help string) prometheus.Counter {
	return f.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: f.Subsystem, Name: name, Help: help})
}

// Histogram creates the histogram sparse_<subsystem>_<name> with the upper bounds
// given.
func (f Factory) Histogram(name, help string, buckets []float64) prometheus.Histogram {
	return f.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: f.Subsystem, Name: name, Help: help, Buckets: buckets})
}
