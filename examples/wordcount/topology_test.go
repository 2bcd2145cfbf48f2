package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/pkg/local"
	"github.com/sparsestream/sparse/pkg/topology"
)

func summaryOf(rt *executor.Runtime, component string) executor.ComponentSummary {
	for _, c := range executor.Summarize(rt.Stats()) {
		if c.Component == component {
			return c
		}
	}
	return executor.ComponentSummary{}
}

// TestWordCountCountsEveryWord runs the topology in process with a limit of 5000
// sentences until the spout has seen all of them acked, then checks that the count bolts
// executed exactly one input per word of those sentences, with nothing failed.
func TestWordCountCountsEveryWord(t *testing.T) {
	const sentences = 5000
	spec, err := Topology().Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	rt, err := executor.New(executor.Options{Spec: spec, Config: topology.Config{ConfSentences: sentences}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- local.RunRuntime(ctx, rt, local.Options{}) }()

	deadline := time.Now().Add(15 * time.Second)
	for summaryOf(rt, "sentences").Acked < sentences {
		if time.Now().After(deadline) {
			t.Fatalf("after 15s the spout has %+v, want %d acked", summaryOf(rt, "sentences"), sentences)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Stop, so that every executor publishes its final counts.
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunRuntime: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the topology did not stop within 15s of cancel")
	}

	words := int64(0)
	for i := range sentences {
		words += int64(len(strings.Fields(Sentences[i%len(Sentences)])))
	}
	spout, split, count := summaryOf(rt, "sentences"), summaryOf(rt, "split"), summaryOf(rt, "count")
	if spout.Emitted != sentences || spout.Acked != sentences || spout.Failed != 0 || spout.Pending != 0 {
		t.Errorf("spout: emitted=%d acked=%d failed=%d pending=%d, want %d emitted and acked, 0 failed, 0 pending",
			spout.Emitted, spout.Acked, spout.Failed, spout.Pending, sentences)
	}
	if split.Executed != sentences || split.Emitted != words || split.Failed != 0 {
		t.Errorf("split: executed=%d emitted=%d failed=%d, want %d, %d, 0", split.Executed, split.Emitted, split.Failed, sentences, words)
	}
	if want := spec.Component("count").Parallelism; count.Executors != want {
		t.Errorf("count has %d executors, want %d", count.Executors, want)
	}
	if count.Executed != words || count.Acked != words || count.Failed != 0 || count.Errors != 0 {
		t.Errorf("count: executed=%d acked=%d failed=%d errors=%d (%s), want %d executed and acked, none failed",
			count.Executed, count.Acked, count.Failed, count.Errors, count.LastError, words)
	}
}
