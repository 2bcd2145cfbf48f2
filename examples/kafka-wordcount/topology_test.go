package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sparsestream/sparse/pkg/local"
	"github.com/sparsestream/sparse/pkg/topology"
)

// TestKafkaWordCount: lines produced to an in-process broker come out of the counts
// topic as each word's final count, the last record of its key.
func TestKafkaWordCount(t *testing.T) {
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
	sentences := []string{"the cow jumped over the moon", "the moon is made of cheese", "The Cow"}
	const n = 300
	want := map[string]int64{}
	for i := range n {
		s := sentences[i%len(sentences)]
		for _, w := range strings.Fields(strings.ToLower(s)) {
			want[w]++
		}
		if err := cl.ProduceSync(t.Context(), &kgo.Record{Value: []byte(s)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	spec, err := Topology().Build()
	if err != nil {
		t.Fatal(err)
	}
	_, err = local.RunUntil(t.Context(), local.Options{Spec: spec, Duration: 30 * time.Second,
		Config: topology.Config{"kafka.brokers": brokers}},
		func(s local.Summary) bool { return s.Component("lines").Acked >= n })
	if err != nil {
		t.Fatalf("the lines were not all acked: %v", err)
	}
	got := map[string]int64{}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for !equal(got, want) && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			v, err := strconv.ParseInt(string(r.Value), 10, 64)
			if err != nil {
				t.Errorf("count %q of %q is not a number", r.Value, r.Key)
			}
			got[string(r.Key)] = v
		})
	}
	if !equal(got, want) {
		t.Errorf("counts %v, want %v", got, want)
	}
}

func equal(a, b map[string]int64) bool { return fmt.Sprint(a) == fmt.Sprint(b) }
