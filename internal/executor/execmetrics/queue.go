package execmetrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/internal/metrics"
)

// NewTransferQueueCollector publishes how full a worker's transfer queues are: per
// peer worker, one queue of tuple batches and one of acker message batches, which the
// transport drains. A full queue means the peer (or the network to it) is the
// bottleneck and emitters are waiting. The depth is read with len() at scrape time.
// Pass executor.Runtime.Outbound. Every series carries the labels topology, worker,
// peer (the peer's worker id) and queue ("data" or "control"). Depths are in batches,
// each of up to topology.producer.batch.size tuples or messages, or none: an executor
// that went idle tells the transport so with an empty batch (executor.Batch.Idle).
func NewTransferQueueCollector(topologyID, workerID string, outbound func() []*executor.Outbound) prometheus.Collector {
	constLabels := prometheus.Labels{metrics.LabelTopology: topologyID, metrics.LabelWorker: workerID}
	labels := []string{"peer", "queue"}
	return &queueCollector{
		outbound: outbound,
		depth: prometheus.NewDesc(prometheus.BuildFQName(metrics.Namespace, "worker", "transfer_queue_batches"),
			"Batches waiting in the queue towards a peer worker.", labels, constLabels),
		capacity: prometheus.NewDesc(prometheus.BuildFQName(metrics.Namespace, "worker", "transfer_queue_capacity_batches"),
			"Batches the queue towards a peer worker holds when full.", labels, constLabels),
	}
}

type queueCollector struct {
	outbound        func() []*executor.Outbound
	depth, capacity *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.capacity
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	for _, ob := range c.outbound() {
		data, ctl := ob.Data(), ob.Control()
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(len(data)), ob.Peer, "data")
		ch <- prometheus.MustNewConstMetric(c.capacity, prometheus.GaugeValue, float64(cap(data)), ob.Peer, "data")
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(len(ctl)), ob.Peer, "control")
		ch <- prometheus.MustNewConstMetric(c.capacity, prometheus.GaugeValue, float64(cap(ctl)), ob.Peer, "control")
	}
}

// NewReceiveQueueCollector reports how many batches wait in each executor's own queues.
func NewReceiveQueueCollector(topologyID string, depths func() []executor.QueueDepth) prometheus.Collector {
	constLabels := prometheus.Labels{metrics.LabelTopology: topologyID}
	labels := []string{metrics.LabelComponent, metrics.LabelExecutor, "queue"}
	return &receiveQueueCollector{
		depths: depths,
		length: prometheus.NewDesc(prometheus.BuildFQName(metrics.Namespace, "executor", "receive_queue_batches"),
			"Batches waiting in an executor's receive queue (data: tuples; control: acker traffic).", labels, constLabels),
		capac: prometheus.NewDesc(prometheus.BuildFQName(metrics.Namespace, "executor", "receive_queue_capacity_batches"),
			"The capacity of an executor's receive queue, in batches.", labels, constLabels),
	}
}

type receiveQueueCollector struct {
	depths        func() []executor.QueueDepth
	length, capac *prometheus.Desc
}

func (c *receiveQueueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.length
	ch <- c.capac
}

func (c *receiveQueueCollector) Collect(ch chan<- prometheus.Metric) {
	for _, d := range c.depths() {
		exec := strconv.FormatInt(int64(d.Executor), 10)
		for _, q := range []struct {
			name string
			n    int
		}{{"data", d.Data}, {"control", d.Control}} {
			ch <- prometheus.MustNewConstMetric(c.length, prometheus.GaugeValue, float64(q.n), d.Component, exec, q.name)
			ch <- prometheus.MustNewConstMetric(c.capac, prometheus.GaugeValue, float64(d.Capacity), d.Component, exec, q.name)
		}
	}
}
