package execmetrics

import (
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sparsestream/sparse/internal/metrics"
	"github.com/sparsestream/sparse/pkg/topology"
)

// UserPrefix starts the name of every user metric: sparse_user_<name>, and a counter's
// name ends in _total.
const UserPrefix = metrics.Namespace + "_user_"

// NewUserCollector publishes the metrics that spouts and bolts register through their
// Context (and multi-lang components through the metrics command), read at scrape
// time. Every series carries the labels topology, component and task.
func NewUserCollector(topologyID string, m *topology.UserMetrics) prometheus.Collector {
	return &userCollector{topology: topologyID, m: m}
}

type userCollector struct {
	topology string
	m        *topology.UserMetrics
}

// Describe sends nothing: the metrics are registered while the topology runs, so the
// collector is unchecked.
func (c *userCollector) Describe(chan<- *prometheus.Desc) {}

func (c *userCollector) Collect(ch chan<- prometheus.Metric) {
	type family struct {
		desc *prometheus.Desc
		kind topology.MetricKind
	}
	families := map[string]family{}
	c.m.Each(func(um *topology.UserMetric) {
		name := UserName(um)
		f, ok := families[name]
		if !ok {
			f = family{prometheus.NewDesc(name, "A "+string(um.Kind)+" registered by the topology's code as "+strconv.Quote(um.Name)+".",
				[]string{metrics.LabelComponent, "task"}, prometheus.Labels{metrics.LabelTopology: c.topology}), um.Kind}
			families[name] = f
		}
		if f.kind != um.Kind {
			return // a counter "x" and a gauge "x_total" share a name: the first wins
		}
		d := f.desc
		task := strconv.Itoa(int(um.Task))
		switch um.Kind {
		case topology.MetricCounter:
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(um.Counter.Value()), um.Component, task)
		case topology.MetricGauge:
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, um.Gauge.Value(), um.Component, task)
		case topology.MetricHistogram:
			bounds, cum, n, sum := um.Histogram.Snapshot()
			buckets := make(map[float64]uint64, len(bounds))
			for i, b := range bounds {
				buckets[b] = cum[i]
			}
			ch <- prometheus.MustNewConstHistogram(d, n, sum, buckets, um.Component, task)
		}
	})
}

// UserName is the Prometheus name of a user metric.
func UserName(um *topology.UserMetric) string {
	name := UserPrefix + um.Name
	if um.Kind == topology.MetricCounter && !strings.HasSuffix(name, "_total") {
		name += "_total"
	}
	return name
}
