package generic

import (
	"github.com/sparsestream/sparse/internal/spec"
	"github.com/sparsestream/sparse/pkg/connect/kafka"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// registerKafka adds kafka-spout and kafka-bolt, whose options are checked when the
// spec is built, so a bad one stops the topology before it starts.
func registerKafka(r *spec.Registry) {
	r.Register("kafka-spout", spec.Registered{
		Kind:    topology.KindSpout,
		Spout:   kafka.NewSpoutFromConfig(nil),
		Outputs: []topology.StreamSpec{{ID: tuple.DefaultStream, Fields: kafka.DefaultFields}},
		Check:   kafka.CheckSpoutConfig,
		Doc:     "reads records from Kafka topics (fields topic, partition, offset, key, value), committing offsets once acked; kafka.* config",
	})
	r.Register("kafka-bolt", spec.Registered{
		Kind:  topology.KindBolt,
		Bolt:  kafka.NewSinkFromConfig(nil),
		Check: kafka.CheckSinkConfig,
		Doc:   "writes each tuple to Kafka as a record and acks it once Kafka has; kafka.* config",
	})
}
