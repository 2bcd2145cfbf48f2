package main

import (
	"strings"

	"github.com/sparsestream/sparse/pkg/connect/kafka"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// Topology wires lines (a Kafka spout) → split → count → counts (a Kafka sink). Its
// Kafka settings are config keys (docs/kafka.md), so that `-o kafka.brokers=host:port`
// points it at another cluster.
func Topology() *topology.Builder {
	b := topology.NewBuilder("kafka-wordcount")
	b.Config(topology.ConfMaxSpoutPending, 2000)
	b.Config("kafka.brokers", "127.0.0.1:9092")

	// The translator emits only the line: the words are all the topology needs.
	lines := func(r *kafka.Record) ([]any, string) { return []any{string(r.Value)}, "" }
	b.Spout("lines", kafka.NewSpoutFromConfig(lines), 2).
		Config("kafka.topics", "lines").
		Config("kafka.offset.commit.period", "1s").
		Output("line")
	b.Bolt("split", topology.Basic(func() topology.BasicBolt { return &SplitBolt{} }), 2).
		Shuffle("lines").Output("word")
	b.Bolt("count", topology.Basic(func() topology.BasicBolt { return &CountBolt{} }), 2).
		Fields("split", "word").Output("word", "count")
	// One sink task per word keeps each word's counts in order in its partition.
	b.Bolt("counts", kafka.NewSinkFromConfig(nil), 2).
		Fields("count", "word").
		Config("kafka.topic", "counts").
		Config("kafka.key.field", "word").
		Config("kafka.value.field", "count")
	return b
}

// SplitBolt emits one tuple per word of a line.
type SplitBolt struct{}

// Prepare does nothing.
func (*SplitBolt) Prepare(*topology.Context) error { return nil }

// Execute emits the words.
func (*SplitBolt) Execute(in *tuple.Tuple, out topology.BasicCollector) error {
	for _, w := range strings.Fields(strings.ToLower(in.String(0))) {
		out.Emit(w)
	}
	return nil
}

// Cleanup does nothing.
func (*SplitBolt) Cleanup() {}

// CountBolt keeps a running count per word and emits it.
type CountBolt struct{ counts map[string]int64 }

// Prepare starts empty counts.
func (c *CountBolt) Prepare(*topology.Context) error {
	c.counts = map[string]int64{}
	return nil
}

// Execute counts a word.
func (c *CountBolt) Execute(in *tuple.Tuple, out topology.BasicCollector) error {
	w := in.String(0)
	c.counts[w]++
	out.Emit(w, c.counts[w])
	return nil
}

// Cleanup does nothing.
func (*CountBolt) Cleanup() {}
