package kafka

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sparsestream/sparse/internal/metrics"
)

// spoutStats are one spout task's counters, written by its goroutines and read by the
// collector; parts is a snapshot the spout refreshes on each commit period.
type spoutStats struct {
	topology, component, task string

	polled, emitted, acked, failed, retried, givenUp, skipped, commits, commitErrors atomic.Int64

	mu    sync.Mutex
	parts map[TopicPartition]partSnapshot
}

type partSnapshot struct {
	committed   int64 // the last committed offset (-1: none yet)
	end         int64 // the high watermark last seen (-1: unknown)
	uncommitted int
	paused      bool
}

// sinkStats are one sink task's counters.
type sinkStats struct {
	topology, component, task string
	produced, errors          atomic.Int64
	inFlight                  atomic.Int64
}

// registry is every live spout and sink of the process, for the collector.
var registry struct {
	once   sync.Once
	mu     sync.Mutex
	spouts map[*spoutStats]struct{}
	sinks  map[*sinkStats]struct{}
}

func register(sp *spoutStats, sk *sinkStats) {
	registry.once.Do(func() {
		registry.spouts = map[*spoutStats]struct{}{}
		registry.sinks = map[*sinkStats]struct{}{}
		metrics.AddDynamic(collector{})
	})
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if sp != nil {
		registry.spouts[sp] = struct{}{}
	}
	if sk != nil {
		registry.sinks[sk] = struct{}{}
	}
}

func unregister(sp *spoutStats, sk *sinkStats) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	delete(registry.spouts, sp)
	delete(registry.sinks, sk)
}

var (
	taskLabels = []string{metrics.LabelTopology, metrics.LabelComponent, "task"}
	partLabels = []string{metrics.LabelTopology, metrics.LabelComponent, "task", "topic", "partition"}

	descOf = func(sub, name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(metrics.Namespace, sub, name), help, labels, nil)
	}
	descPolled      = descOf("kafka_spout", "records_polled_total", "Records the spout task read from Kafka.", taskLabels)
	descEmitted     = descOf("kafka_spout", "records_emitted_total", "Records emitted for the first time.", taskLabels)
	descAcked       = descOf("kafka_spout", "records_acked_total", "Records whose tuple tree was acked.", taskLabels)
	descFailed      = descOf("kafka_spout", "records_failed_total", "Failures and timeouts of records' tuple trees.", taskLabels)
	descRetried     = descOf("kafka_spout", "records_retried_total", "Records emitted again after a failure.", taskLabels)
	descGivenUp     = descOf("kafka_spout", "records_given_up_total", "Records committed past after their retries were spent.", taskLabels)
	descSkipped     = descOf("kafka_spout", "records_skipped_total", "Records committed past without being emitted (tombstones skipped, records the translator dropped).", taskLabels)
	descCommits     = descOf("kafka_spout", "commits_total", "Offset commits that succeeded.", taskLabels)
	descCommitErrs  = descOf("kafka_spout", "commit_errors_total", "Offset commits that failed (retried on the next period).", taskLabels)
	descPaused      = descOf("kafka_spout", "paused_partitions", "Partitions paused because they reached max uncommitted offsets.", taskLabels)
	descCommitted   = descOf("kafka_spout", "committed_offset", "The last offset committed for the partition.", partLabels)
	descLag         = descOf("kafka_spout", "lag", "Records between the committed offset and the partition's end, as last seen.", partLabels)
	descUncommitted = descOf("kafka_spout", "uncommitted_offsets", "Offsets emitted and not yet committable.", partLabels)
	descProduced    = descOf("kafka_sink", "records_produced_total", "Records Kafka acknowledged.", taskLabels)
	descProduceErrs = descOf("kafka_sink", "produce_errors_total", "Records Kafka refused or did not acknowledge in time; their tuples were failed.", taskLabels)
	descInFlight    = descOf("kafka_sink", "records_in_flight", "Records produced and not yet acknowledged.", taskLabels)
)

type collector struct{}

func (collector) Describe(chan<- *prometheus.Desc) {}

func (collector) Collect(ch chan<- prometheus.Metric) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	for s := range registry.spouts {
		l := []string{s.topology, s.component, s.task}
		counter(descPolled, s.polled.Load(), l...)
		counter(descEmitted, s.emitted.Load(), l...)
		counter(descAcked, s.acked.Load(), l...)
		counter(descFailed, s.failed.Load(), l...)
		counter(descRetried, s.retried.Load(), l...)
		counter(descGivenUp, s.givenUp.Load(), l...)
		counter(descSkipped, s.skipped.Load(), l...)
		counter(descCommits, s.commits.Load(), l...)
		counter(descCommitErrs, s.commitErrors.Load(), l...)
		s.mu.Lock()
		paused := 0
		for tp, p := range s.parts {
			pl := []string{s.topology, s.component, s.task, tp.Topic, strconv.Itoa(int(tp.Partition))}
			if p.paused {
				paused++
			}
			gauge(descUncommitted, int64(p.uncommitted), pl...)
			if p.committed >= 0 {
				gauge(descCommitted, p.committed, pl...)
			}
			if p.end >= 0 {
				gauge(descLag, max(p.end-max(p.committed, 0), 0), pl...)
			}
		}
		s.mu.Unlock()
		gauge(descPaused, int64(paused), l...)
	}
	for s := range registry.sinks {
		l := []string{s.topology, s.component, s.task}
		counter(descProduced, s.produced.Load(), l...)
		counter(descProduceErrs, s.errors.Load(), l...)
		gauge(descInFlight, s.inFlight.Load(), l...)
	}
}
