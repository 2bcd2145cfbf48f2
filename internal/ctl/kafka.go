package ctl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// KafkaOptions configure `sparsectl dev kafka`.
type KafkaOptions struct {
	Listen     string   // host:port; port 0 picks a free one
	Partitions int      // of the topics created, named or on first use
	Topics     []string // created at start
	// DataDir, when set, keeps the topics, records and committed offsets there, so a
	// restarted broker serves them again; "" keeps everything in memory.
	DataDir string
}

// RunKafka runs an in-process Kafka-protocol broker (franz-go's kfake) until ctx
// ends, for development and tests: one broker, topics created on first use. It prints
// the address to give clients as kafka.brokers.
func RunKafka(ctx context.Context, o KafkaOptions, out io.Writer) error {
	if o.Partitions < 1 {
		return fmt.Errorf("--partitions %d: a topic needs at least one partition", o.Partitions)
	}
	if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		return fmt.Errorf("--listen %q: give host:port, for example 127.0.0.1:9092: %w", o.Listen, err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(o.Partitions),
		// kfake listens on loopback by default; this listens where we were told.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, o.Listen) }),
	}
	if len(o.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(o.Partitions), o.Topics...))
	}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("starting the Kafka broker on %s: %w", o.Listen, err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	where := "in memory"
	if o.DataDir != "" {
		where = "data dir " + o.DataDir
	}
	topics := "created on first use"
	if len(o.Topics) > 0 {
		topics = strings.Join(o.Topics, ", ") + "; others created on first use"
	}
	fmt.Fprintf(out, "kafka is serving at %s (%d partitions per topic; topics %s; %s)\n", addr, o.Partitions, topics, where)
	<-ctx.Done()
	return nil
}

// KafkaProduce writes each line of in as a record's value to topic, and reports how
// many it wrote once Kafka has acknowledged them all.
func KafkaProduce(ctx context.Context, brokers []string, topic string, in io.Reader, out io.Writer) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var n int
	errs := make(chan error, 1)
	for sc.Scan() {
		line := append([]byte(nil), sc.Bytes()...)
		cl.Produce(ctx, &kgo.Record{Value: line}, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
		n++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading lines: %w", err)
	}
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("producing to %s: %w", topic, err)
	}
	select {
	case err := <-errs:
		return fmt.Errorf("producing to %s: %w", topic, err)
	default:
	}
	fmt.Fprintf(out, "produced %d records to %s\n", n, topic)
	return nil
}

// KafkaConsume writes the value of each record of topic to out, one a line, from the
// beginning (or only new ones), until ctx ends or max records (0: no limit) were
// written.
func KafkaConsume(ctx context.Context, brokers []string, topic string, fromStart bool, max int, out io.Writer) error {
	start := kgo.NewOffset().AtEnd()
	if fromStart {
		start = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(start))
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	w := bufio.NewWriter(out)
	defer w.Flush()
	n := 0
	for max == 0 || n < max {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && ferr == nil {
				ferr = fmt.Errorf("reading %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		for it := fs.RecordIter(); !it.Done() && (max == 0 || n < max); n++ {
			r := it.Next()
			_, _ = w.Write(r.Value) // a failed write shows at Flush
			_ = w.WriteByte('\n')
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return nil
}
