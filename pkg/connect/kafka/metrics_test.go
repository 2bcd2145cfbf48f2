package kafka

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sparsestream/sparse/internal/metrics"
	"github.com/sparsestream/sparse/pkg/local"
)

// TestMetricsOnWorkerRegistry: while a spout and a sink run, a worker's registry
// (which holds metrics.Dynamic) serves their counters and per-partition gauges.
func TestMetricsOnWorkerRegistry(t *testing.T) {
	const n = 2000
	c := newBroker(t, 2, "in", "out")
	brokers := c.ListenAddrs()
	produce(t, brokers, "in", 0, n)
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.Dynamic())

	client := Client{Brokers: brokers}
	scfg := SpoutConfig{Client: client, Topics: []string{"in"}, Group: "g", CommitPeriod: 20 * time.Millisecond}
	b := spoutBuilder(scfg)
	b.Bolt("sink", NewSink(SinkConfig{Client: client, Topic: "out", ValueField: "value"}), 1).Shuffle("kafka")
	spec, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"sparse_kafka_spout_records_polled_total": false, "sparse_kafka_spout_records_acked_total": false,
		"sparse_kafka_spout_committed_offset": false, "sparse_kafka_spout_lag": false,
		"sparse_kafka_spout_paused_partitions": false, "sparse_kafka_sink_records_produced_total": false,
	}
	var committed float64
	_, err = local.RunUntil(t.Context(), local.Options{Spec: spec, Logger: testLogger(t), Duration: 30 * time.Second},
		func(local.Summary) bool {
			mfs, err := reg.Gather()
			if err != nil {
				t.Errorf("gather: %v", err)
				return true
			}
			committed = 0
			for _, mf := range mfs {
				if _, ok := want[mf.GetName()]; ok {
					want[mf.GetName()] = true
				}
				if mf.GetName() == "sparse_kafka_spout_committed_offset" {
					for _, m := range mf.GetMetric() {
						committed += m.GetGauge().GetValue()
					}
				}
			}
			for _, seen := range want {
				if !seen {
					return false
				}
			}
			return committed >= n
		})
	if err != nil {
		t.Fatalf("metrics seen %v, committed offsets summing to %v (want %d): %v", want, committed, n, err)
	}
}
