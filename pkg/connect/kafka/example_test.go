package kafka_test

import (
	"fmt"

	"github.com/sparsestream/sparse/pkg/connect/kafka"
	"github.com/sparsestream/sparse/pkg/topology"
)

// A topology that reads the topic "lines", keeps each record's value, and writes it to
// the topic "copies" keyed by its source partition.
func Example() {
	client := kafka.Client{Brokers: []string{"127.0.0.1:9092"}}
	b := topology.NewBuilder("copy")
	b.Spout("lines", kafka.NewSpout(kafka.SpoutConfig{
		Client: client,
		Topics: []string{"lines"},
		Translate: func(r *kafka.Record) ([]any, string) {
			return []any{fmt.Sprint(r.Partition), string(r.Value)}, ""
		},
	}), 2).Output("partition", "line")
	b.Bolt("copies", kafka.NewSink(kafka.SinkConfig{
		Client: client, Topic: "copies", KeyField: "partition", ValueField: "line",
	}), 2).Shuffle("lines")
	if _, err := b.Build(); err != nil {
		fmt.Println(err)
	}
	// Output:
}
