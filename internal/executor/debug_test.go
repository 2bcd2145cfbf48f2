package executor_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDebugSamples: a running topology's emits are logged, with their component and
// task fields, only while its component's sample rate is set.
func TestDebugSamples(t *testing.T) {
	var out syncBuffer
	tb := topology.NewBuilder("dbg")
	tb.Config(topology.ConfAckerExecutors, 0)
	tb.Spout("spout", func() topology.Spout { return &burstSpout{n: 1 << 40, values: []any{"word"}} }, 1).Output("v")
	tb.Bolt("sink", boltOf(func(*funcBolt, *tuple.Tuple) {}), 1).Shuffle("spout")
	spec := build(t, tb)
	rt, err := executor.New(executor.Options{Spec: spec, Logger: hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Info})})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(50 * time.Millisecond)
	if strings.Contains(out.String(), "sampled emit") {
		t.Fatalf("emits logged with sampling off:\n%s", out.String())
	}
	rt.SetDebugSamples(map[string]float64{"spout": 1})
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "sampled emit") {
		if time.Now().After(deadline) {
			t.Fatal("no emit logged with a sample rate of 1")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, line, _ := strings.Cut(out.String(), "sampled emit")
	line, _, _ = strings.Cut(line, "\n")
	for _, f := range []string{"component=spout", "task=", "values=[word]"} {
		if !strings.Contains(line, f) {
			t.Errorf("the sampled line lacks %s: %s", f, line)
		}
	}
	rt.SetDebugSamples(nil)
	time.Sleep(20 * time.Millisecond)
	n := strings.Count(out.String(), "sampled emit")
	time.Sleep(50 * time.Millisecond)
	if m := strings.Count(out.String(), "sampled emit"); m != n {
		t.Errorf("%d more emits logged after sampling was turned off", m-n)
	}
}
