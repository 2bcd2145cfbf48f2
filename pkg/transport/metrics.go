package transport

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sparsestream/sparse/internal/metrics"
)

// Totals are what a worker's transport moved so far, added up over its senders (one
// per peer worker) and its server.
type Totals struct {
	TuplesSent, ControlsSent, BytesSent, FramesSent int64
	TuplesRecv, ControlsRecv, BytesRecv, FramesRecv int64
	// Dropped counts tuples and control messages lost with a broken stream (their
	// spout tuples time out and are replayed).
	Dropped int64
	// Refused counts handshakes and batches refused, by this worker or by its peers.
	Refused    int64
	Reconnects int64
}

// NewCollector publishes a worker's transport counters. totals is called on every
// scrape. Every series carries the labels topology and worker.
func NewCollector(topologyID, workerID string, totals func() Totals) prometheus.Collector {
	constLabels := prometheus.Labels{metrics.LabelTopology: topologyID, metrics.LabelWorker: workerID}
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(metrics.Namespace, "transport", name), help, nil, constLabels)
	}
	return &collector{totals: totals, counters: []totalCounter{
		{desc("sent_tuples_total", "Tuples sent to other workers."), func(t *Totals) int64 { return t.TuplesSent }},
		{desc("sent_control_messages_total", "Acker messages sent to other workers."), func(t *Totals) int64 { return t.ControlsSent }},
		{desc("sent_bytes_total", "Encoded bytes sent to other workers."), func(t *Totals) int64 { return t.BytesSent }},
		{desc("sent_frames_total", "Frames (encoded batches) sent to other workers."), func(t *Totals) int64 { return t.FramesSent }},
		{desc("received_tuples_total", "Tuples received from other workers."), func(t *Totals) int64 { return t.TuplesRecv }},
		{desc("received_control_messages_total", "Acker messages received from other workers."), func(t *Totals) int64 { return t.ControlsRecv }},
		{desc("received_bytes_total", "Encoded bytes received from other workers."), func(t *Totals) int64 { return t.BytesRecv }},
		{desc("received_frames_total", "Frames (encoded batches) received from other workers."), func(t *Totals) int64 { return t.FramesRecv }},
		{desc("dropped_messages_total", "Tuples and acker messages lost with a broken stream; their spout tuples time out and are replayed."), func(t *Totals) int64 { return t.Dropped }},
		{desc("refusals_total", "Handshakes and batches refused, by this worker or by its peers."), func(t *Totals) int64 { return t.Refused }},
		{desc("reconnects_total", "Reconnections to peer workers."), func(t *Totals) int64 { return t.Reconnects }},
	}}
}

type totalCounter struct {
	desc  *prometheus.Desc
	value func(*Totals) int64
}

type collector struct {
	totals   func() Totals
	counters []totalCounter
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.counters {
		ch <- d.desc
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	t := c.totals()
	for _, d := range c.counters {
		ch <- prometheus.MustNewConstMetric(d.desc, prometheus.CounterValue, float64(d.value(&t)))
	}
}
