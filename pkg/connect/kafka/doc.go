// Package kafka connects topologies to Kafka: a Spout that reads records and commits
// their offsets once their tuple trees are acked (storm-kafka-client's semantics), and
// a Sink bolt that acks an input once Kafka has acknowledged its record.
//
// The spout's tasks divide the topics' partitions among themselves with no consumer
// group coordinator (task i of n takes every n-th partition, sorted), and commit under a
// group as a member-less consumer. Its offset state lives on the task's goroutine; the
// network I/O runs on goroutines of its own, so NextTuple never waits on Kafka.
//
// NewSpout and NewSink take Go configs; NewSpoutFromConfig and NewSinkFromConfig read
// the kafka.* keys (Keys) of the task's config, as the YAML components kafka-spout and
// kafka-bolt do. docs/kafka.md states the guarantees and lists the keys.
package kafka
