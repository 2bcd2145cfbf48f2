package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sparsestream/sparse/pkg/local"
	"github.com/sparsestream/sparse/pkg/topology"
)

// TestWordCountCountsEveryWord runs the topology in process with a limit of 5000
// sentences until the spout has seen all of them acked, then checks that the count bolts
// executed exactly one input per word of those sentences, with nothing failed.
func TestWordCountCountsEveryWord(t *testing.T) {
	const sentences = 5000
	spec, err := Topology().Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	// RunUntil stops the topology once the condition holds, and returns the counts
	// every executor published as it stopped.
	s, err := local.RunUntil(t.Context(), local.Options{
		Spec:     spec,
		Config:   topology.Config{ConfSentences: sentences},
		Duration: 15 * time.Second,
	}, func(s local.Summary) bool { return s.Component("sentences").Acked >= sentences })
	if err != nil {
		t.Fatalf("want the spout to have %d sentences acked: %v", sentences, err)
	}

	words := int64(0)
	for i := range sentences {
		words += int64(len(strings.Fields(Sentences[i%len(Sentences)])))
	}
	spout, split, count := s.Component("sentences"), s.Component("split"), s.Component("count")
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
