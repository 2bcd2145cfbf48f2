package generic

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sparsestream/sparse/pkg/topology"
)

// TestKafkaBuiltins: a spec of kafka-spout → kafka-bolt copies a topic to another.
func TestKafkaBuiltins(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "in", "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.DefaultProduceTopic("in"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const n = 500
	for i := range n {
		if err := cl.ProduceSync(t.Context(), &kgo.Record{Value: fmt.Appendf(nil, "line %d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	w := New(nil)
	defer w.Close()
	b, err := w.Load(writeSpec(t, fmt.Sprintf(`name: copy
config:
  kafka.brokers: %q
spouts:
  - id: lines
    go: kafka-spout
    parallelism: 2
    config: {kafka.topics: [in], kafka.offset.commit.period: 100ms}
bolts:
  - id: out
    go: kafka-bolt
    config: {kafka.topic: out, kafka.linger: 1ms}
streams:
  - {from: lines, to: out}
`, brokers)), "")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if acked, failed := run(t, s, nil, "lines", n); acked != n || failed != 0 {
		t.Errorf("acked %d and failed %d, want %d and 0", acked, failed, n)
	}
	rd, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics("out"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	got := map[string]bool{}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for len(got) < n && ctx.Err() == nil {
		rd.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got[string(r.Value)] = true })
	}
	if len(got) != n {
		t.Errorf("%d distinct lines in the output topic, want %d", len(got), n)
	}
}

// TestKafkaBuiltinsCheckOptions: bad options of kafka-spout and kafka-bolt stop the
// spec from loading, with the line of the option.
func TestKafkaBuiltinsCheckOptions(t *testing.T) {
	for _, tc := range []struct {
		name, config, want string
	}{
		{"unknown option", `{kafka.brokers: "h:1", kafka.topics: [a], kafka.retry.max.dalay: 1s}`, "did you mean kafka.retry.max.delay"},
		{"bad duration", `{kafka.brokers: "h:1", kafka.topics: [a], kafka.offset.commit.period: 5}`, "write it with a unit"},
		{"no brokers", `{kafka.topics: [a]}`, "no brokers"},
		{"no topic", `{kafka.brokers: "h:1"}`, "no topic"},
		{"password in clear", `{kafka.brokers: "h:1", kafka.topics: [a], kafka.sasl.password: x}`, "never written in a spec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := New(nil)
			defer w.Close()
			_, err := w.Load(writeSpec(t, `name: bad
spouts:
  - id: lines
    go: kafka-spout
    config: `+tc.config+`
bolts:
  - id: sink
    go: discard
streams:
  - {from: lines, to: sink}
`), "")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "topology.yaml:") {
				t.Fatalf("Load error %v, want one with the file's line and %q", err, tc.want)
			}
		})
	}
}

// TestKafkaWordCountYAML runs examples/kafka-wordcount-yaml against an in-process
// broker: each word's last count in the counts topic is its number of occurrences.
func TestKafkaWordCountYAML(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not on PATH; the example runs Python subprocesses")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "lines", "counts"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.DefaultProduceTopic("lines"),
		kgo.ConsumeTopics("counts"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const n = 200
	want := map[string]int64{}
	for i := range n {
		line := fmt.Sprintf("the cow number %d", i%7)
		for _, w := range strings.Fields(line) {
			want[w]++
		}
		if err := cl.ProduceSync(t.Context(), &kgo.Record{Value: []byte(line)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	w := New(nil)
	defer w.Close()
	b, err := w.Load(filepath.Join("..", "..", "examples", "kafka-wordcount-yaml"), "")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if acked, failed := run(t, s, topology.Config{"kafka.brokers": brokers}, "lines", n); acked != n || failed != 0 {
		t.Errorf("acked %d and failed %d, want %d and 0", acked, failed, n)
	}
	got := map[string]int64{}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for !equalCounts(got, want) && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			v, err := strconv.ParseInt(string(r.Value), 10, 64)
			if err != nil {
				t.Errorf("count %q of %q is not a number", r.Value, r.Key)
			}
			got[string(r.Key)] = v
		})
	}
	if !equalCounts(got, want) {
		t.Errorf("counts %v, want %v", got, want)
	}
}
