package executor_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// burstSpout emits n tuples of shared values, in bursts of 16 per NextTuple.
type burstSpout struct {
	topology.BaseSpout
	out    topology.SpoutCollector
	n      int64
	ack    bool
	values []any
}

func (s *burstSpout) Open(_ *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	return nil
}

func (s *burstSpout) NextTuple() {
	for i := 0; i < 16 && s.n > 0; i++ {
		s.n--
		if s.ack {
			s.out.Emit(s.values, s.n)
		} else {
			s.out.Emit(s.values, nil)
		}
	}
}

// benchTopology runs b.N tuples from a spout through a chain of pass-through bolts
// (depth 0: straight into a null bolt) and reports per-tuple cost.
func benchTopology(b *testing.B, ackers int, depth int) { benchTopologyWith(b, ackers, depth, nil) }

// benchTopologyWith is benchTopology with setup applied to the runtime before it runs.
func benchTopologyWith(b *testing.B, ackers int, depth int, setup func(*executor.Runtime)) {
	var done atomic.Int64
	finished := make(chan struct{})
	n := int64(b.N)
	tb := topology.NewBuilder("bench")
	tb.Config(topology.ConfAckerExecutors, ackers)
	tb.Config(topology.ConfMaxSpoutPending, 8192)
	tb.Spout("spout", func() topology.Spout {
		return &burstSpout{n: n, ack: ackers > 0, values: []any{"some data"}}
	}, 1).Output("v")
	prev := "spout"
	for i := range depth {
		id := string(rune('a' + i))
		tb.Bolt(id, boltOf(func(bt *funcBolt, in *tuple.Tuple) {
			bt.out.Emit(in, in.Values)
			bt.out.Ack(in)
		}), 1).LocalOrShuffle(prev).Output("v")
		prev = id
	}
	tb.Bolt("sink", boltOf(func(bt *funcBolt, in *tuple.Tuple) {
		bt.out.Ack(in)
		if done.Add(1) == n {
			close(finished)
		}
	}), 1).LocalOrShuffle(prev)
	spec, err := tb.Build()
	if err != nil {
		b.Fatal(err)
	}
	rt, err := executor.New(executor.Options{Spec: spec})
	if err != nil {
		b.Fatal(err)
	}
	if setup != nil {
		setup(rt)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	go func() { errc <- rt.Run(ctx) }()
	<-finished
	b.StopTimer()
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSpoutToBolt is ConstSpoutNullBolt: the cost of one tuple from emit to Execute.
func BenchmarkSpoutToBolt(b *testing.B) { benchTopology(b, 0, 0) }

// BenchmarkEmitDebugSample is BenchmarkSpoutToBolt with sparsectl debug's hook off (one
// atomic load an emit: compare with BenchmarkSpoutToBolt), sampling none of the
// tuples (a random draw an emit), and logging one in 10^4 to a null logger.
func BenchmarkEmitDebugSample(b *testing.B) {
	for _, c := range []struct {
		name string
		rate float64
	}{{"off", 0}, {"rate-1e-9", 1e-9}, {"rate-1e-4", 1e-4}} {
		b.Run(c.name, func(b *testing.B) {
			benchTopologyWith(b, 0, 0, func(rt *executor.Runtime) {
				rt.SetDebugSamples(map[string]float64{"spout": c.rate})
			})
		})
	}
}

// BenchmarkSpoutBoltBoltAcked is ConstSpoutIdBoltNullBolt: a fully acked two-hop tree.
func BenchmarkSpoutBoltBoltAcked(b *testing.B) { benchTopology(b, 1, 1) }

// BenchmarkDeliver is the receiving side of a worker: batches of 512 tuples from another
// worker delivered to a bolt's executors and executed, all for one executor or spread
// over four.
func BenchmarkDeliver(b *testing.B) {
	for _, c := range []struct {
		name   string
		spread bool
	}{{"one-executor", false}, {"four-executors", true}} {
		b.Run(c.name, func(b *testing.B) { benchDeliver(b, c.spread) })
	}
}

func benchDeliver(b *testing.B, spread bool) {
	var done atomic.Int64
	finished := make(chan struct{})
	n := int64(b.N)
	tb := topology.NewBuilder("deliver")
	tb.Config(topology.ConfAckerExecutors, 0)
	tb.Spout("spout", func() topology.Spout { return &burstSpout{} }, 1).Output("v")
	tb.Bolt("sink", boltOf(func(_ *funcBolt, _ *tuple.Tuple) {
		if done.Add(1) == n {
			close(finished)
		}
	}), 4).Shuffle("spout")
	spec, err := tb.Build()
	if err != nil {
		b.Fatal(err)
	}
	sinks := topology.NewLayout(spec, 0).Tasks["sink"]
	rt, err := executor.New(executor.Options{Spec: spec, LocalTasks: sinks, PeerOf: func(int32) string { return "peer" }})
	if err != nil {
		b.Fatal(err)
	}
	in := tuple.New(rt.Source(rt.Layout().Tasks["spout"][0], tuple.DefaultStream), "some data")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- rt.Run(ctx) }()
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; {
		bt := rt.NewBatch()
		for i := 0; i < 512 && sent < b.N; i++ {
			task := sinks[0]
			if spread {
				task = sinks[sent%len(sinks)]
			}
			bt.Items = append(bt.Items, executor.Item{Task: task, Tuple: in})
			sent++
		}
		if err := rt.Deliver(ctx, bt); err != nil {
			b.Fatal(err)
		}
	}
	<-finished
	b.StopTimer()
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSpoutToBoltAcked is an acked one-hop tree: a spout into a null bolt that
// acks, the engine's share of KafkaSpout.
func BenchmarkSpoutToBoltAcked(b *testing.B) { benchTopology(b, 1, 0) }
