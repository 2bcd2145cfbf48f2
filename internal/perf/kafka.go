package perf

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/sparsestream/sparse/pkg/connect/kafka"
	"github.com/sparsestream/sparse/pkg/topology"
)

// Names of the Kafka shapes.
const (
	KafkaSpoutShapeName      = "KafkaSpout"
	KafkaSpoutNoAckShapeName = "KafkaSpout-noack"
	KafkaPipeShapeName       = "KafkaPipe"
)

// kafkaPartitions of the benchmark topic.
const kafkaPartitions = 4

// kafkaHeapFloorMB is the heap floor the Kafka shapes' topology sets, as docs/kafka.md
// advises for Kafka topologies: a consumer allocates its fetches, and at the default
// 64 MB the collector ran every few hundred milliseconds. With 256, in three alternated
// rounds, KafkaSpout read 1.42-1.52 M records/s against 1.18-1.41 M, KafkaPipe
// 0.70-0.82 M against 0.68-0.69 M. The ratios move less: the baselines run in the same
// process, under the same floor.
const kafkaHeapFloorMB = 256

// kafkaBench is the in-process broker the Kafka shapes read from: every fetch is
// answered from one canned batch of 100-byte records, and produced records are
// discarded, so the broker's storage is not what is measured. Each run reads with a
// group of its own.
type kafkaBench struct {
	once    sync.Once
	err     error
	cluster *kfake.Cluster
	brokers []string
	runs    atomic.Int64
}

var kafkaBroker kafkaBench

func (k *kafkaBench) start() error {
	k.once.Do(func() {
		k.cluster, k.err = kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(kafkaPartitions, "bench-in", "bench-out"),
			kfake.SyntheticFetch(kfake.SyntheticBatch{Records: 500, RecordBytes: 100}), kfake.BlackholeProduce())
		if k.err == nil {
			k.brokers = k.cluster.ListenAddrs()
		}
	})
	return k.err
}

func (k *kafkaBench) group() string { return fmt.Sprintf("bench-%d", k.runs.Add(1)) }

// KafkaShapes are KafkaSpout (records read by the spout, each acked by a null bolt),
// KafkaSpout-noack (the same spout without its guarantee: what the tuple trees cost, run
// by run) and KafkaPipe (read by the spout, written by the sink, acked once the broker
// has them). Their baselines do the same with franz-go alone: a consumer loop, and a
// consume-produce loop, each committing on the spout's period. The spout reads as fast
// as the broker serves, so their latency is measured at full speed, not at half.
func KafkaShapes(note io.Writer) []Shape {
	if err := kafkaBroker.start(); err != nil {
		fmt.Fprintf(note, "%s, %s: skipped: the in-process broker did not start: %v\n", KafkaSpoutShapeName, KafkaPipeShapeName, err)
		return nil
	}
	return []Shape{
		{Name: KafkaSpoutShapeName, Build: func(float64, *LatencySink) *topology.Builder { return kafkaTopology(false, kafka.AtLeastOnce) },
			Counted: "spout", Metric: "acked", Unit: "records", Baseline: func(d time.Duration) float64 { return baselineKafka(d, false) },
			HeapFloorMB: kafkaHeapFloorMB},
		{Name: KafkaSpoutNoAckShapeName, Build: func(float64, *LatencySink) *topology.Builder { return kafkaTopology(false, kafka.None) },
			Counted: "bolt", Metric: "executed", Unit: "records", Baseline: func(d time.Duration) float64 { return baselineKafka(d, false) },
			HeapFloorMB: kafkaHeapFloorMB},
		{Name: KafkaPipeShapeName, Build: func(float64, *LatencySink) *topology.Builder { return kafkaTopology(true, kafka.AtLeastOnce) },
			Counted: "spout", Metric: "acked", Unit: "records", Baseline: func(d time.Duration) float64 { return baselineKafka(d, true) },
			HeapFloorMB: kafkaHeapFloorMB},
	}
}

func kafkaTopology(pipe bool, guarantee kafka.Guarantee) *topology.Builder {
	client := kafka.Client{Brokers: kafkaBroker.brokers}
	b := topology.NewBuilder("Kafka")
	// A spout task per partition, as storm-kafka-client advises: with one task, its
	// goroutine (emitting, and handling every ack) was the bottleneck, at 0.88-0.94 M
	// records/s against 1.12-1.18 M with four, and KafkaPipe at 0.51-0.55 M against
	// 0.64-0.69 M, in alternated runs.
	const spoutTasks = kafkaPartitions
	// KafkaPipe keeps as many records in flight in all as the baselines' client buffers
	// (kgo.MaxBufferedRecords, kafka.DefaultMaxInFlight; max.spout.pending is per task):
	// at 5,000, it waited on the broker's acknowledgements with half the baseline's
	// records in flight, on 1.1 of 2 cores. KafkaSpout's null bolt acks at once, so
	// more in flight only adds latency and cache misses: with 500 a task against 2,500,
	// 1.20-1.26 M records/s against 1.05-1.09 M, p50 1.2-1.3 ms against 6.9.
	pending := kafka.DefaultMaxInFlight / spoutTasks
	if !pipe {
		pending = 500
	}
	b.Config(topology.ConfMaxSpoutPending, pending)
	b.Config(topology.ConfHeapFloorMB, kafkaHeapFloorMB)
	cfg := kafka.SpoutConfig{Client: client, Topics: []string{"bench-in"}, Group: kafkaBroker.group(), Guarantee: guarantee}
	b.Spout("spout", kafka.NewSpout(cfg), spoutTasks).Output(cfg.OutputFields()...)
	if pipe {
		b.Bolt("sink", kafka.NewSink(kafka.SinkConfig{Client: client, Topic: "bench-out", KeyField: "key"}), 1).LocalOrShuffle("spout")
	} else {
		b.Bolt("bolt", func() topology.Bolt { return &NullBolt{} }, 1).LocalOrShuffle("spout")
	}
	return b
}

// baselineKafka reads the topic with franz-go alone for d and returns records per
// second: counted when read, or with pipe when the produced copy is acknowledged. It
// commits what it counted every kafka.DefaultCommitPeriod, as the spout does.
func baselineKafka(d time.Duration, pipe bool) float64 {
	parts := map[int32]kgo.Offset{}
	for p := range int32(kafkaPartitions) {
		parts[p] = kgo.NewOffset().At(0)
	}
	versions := kversion.Stable()
	versions.SetMaxKeyVersion(int16(kmsg.OffsetCommit), 9) // names topics, as the spout's commits do
	group := kafkaBroker.group()
	opts := []kgo.Opt{kgo.SeedBrokers(kafkaBroker.brokers...), kgo.MaxVersions(versions),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"bench-in": parts}),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.MaxBufferedRecords(kafka.DefaultMaxInFlight),
		kgo.ProducerLinger(kafka.DefaultLinger)}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return 0
	}
	defer cl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var counted atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		next := map[int32]int64{}
		lastCommit := time.Now()
		for ctx.Err() == nil {
			fs := cl.PollRecords(ctx, kafka.DefaultPollMaxRecords)
			fs.EachRecord(func(r *kgo.Record) {
				next[r.Partition] = r.Offset + 1
				if !pipe {
					counted.Add(1)
					return
				}
				out := &kgo.Record{Topic: "bench-out", Key: r.Key, Value: r.Value}
				cl.Produce(ctx, out, func(_ *kgo.Record, err error) {
					if err == nil {
						counted.Add(1)
					}
				})
			})
			if time.Since(lastCommit) >= kafka.DefaultCommitPeriod {
				lastCommit = time.Now()
				commitBaseline(ctx, cl, group, next)
			}
		}
	}()
	time.Sleep(time.Second) // warm up: connect and fill the pipeline
	n0, t0 := counted.Load(), time.Now()
	time.Sleep(d)
	n1, el := counted.Load(), time.Since(t0)
	cancel()
	<-done
	return float64(n1-n0) / el.Seconds()
}

// commitBaseline commits next (partition → offset) for group, as a member-less
// consumer, the way the spout commits.
func commitBaseline(ctx context.Context, cl *kgo.Client, group string, next map[int32]int64) {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = group, -1
	t := kmsg.NewOffsetCommitRequestTopic()
	t.Topic = "bench-in"
	for p, o := range next {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = p, o, -1
		t.Partitions = append(t.Partitions, rp)
	}
	req.Topics = append(req.Topics, t)
	_, _ = req.RequestWith(ctx, cl) // a failed commit is retried on the next period
}
