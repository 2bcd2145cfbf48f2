package generic

import (
	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/internal/spec"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// Config keys of the built-in components.
const (
	// ConfSequenceLimit: the sequence spout emits the numbers 0..limit-1 (0: no end).
	ConfSequenceLimit = "sequence.limit"
	// ConfLogEvery: the log bolt logs one tuple in this many (default 1: all).
	ConfLogEvery = "log.every"
)

// Builtins returns a registry with the Go components every generic worker has:
//
//   - sequence (spout): emits 0, 1, 2, ... on field "n", reliably (a failed number is
//     emitted again); with several tasks, task i of k emits i, i+k, ... The config
//     sequence.limit stops it after the numbers below the limit (0: never).
//   - log (bolt): logs each tuple it receives, with its source, stream and fields, at
//     info level, and acks it; log.every: N logs one tuple in N.
//   - discard (bolt): acks each tuple and does nothing else: a sink that ends tuple trees.
//   - kafka-spout (spout) and kafka-bolt (bolt): read records from Kafka and write them
//     to it, configured by the kafka.* keys of docs/kafka.md (registerKafka).
func Builtins() *spec.Registry {
	r := spec.NewRegistry()
	r.Register("sequence", spec.Registered{
		Kind:    topology.KindSpout,
		Spout:   func() topology.Spout { return &sequenceSpout{} },
		Outputs: []topology.StreamSpec{{ID: tuple.DefaultStream, Fields: []string{"n"}}},
		Doc:     "emits 0, 1, 2, ... on field n, reliably; config sequence.limit ends it",
	})
	r.Register("log", spec.Registered{
		Kind: topology.KindBolt,
		Bolt: func() topology.Bolt { return &logBolt{} },
		Doc:  "logs every tuple it receives (config log.every: N logs one in N) and acks it",
	})
	r.Register("discard", spec.Registered{
		Kind: topology.KindBolt,
		Bolt: func() topology.Bolt { return &discardBolt{} },
		Doc:  "acks every tuple and does nothing else",
	})
	registerKafka(r)
	return r
}

type sequenceSpout struct {
	topology.BaseSpout
	out               topology.SpoutCollector
	next, step, limit int64
	replay            []int64
}

func (s *sequenceSpout) Open(ctx *topology.Context, out topology.SpoutCollector) error {
	limit, err := ctx.Config.Int(ConfSequenceLimit, 0)
	if err != nil {
		return err
	}
	s.out, s.limit = out, max(limit, 0)
	s.next = int64(max(ctx.ThisTaskIndex(), 0))
	s.step = int64(max(len(ctx.ComponentTasks(ctx.ComponentID)), 1))
	return nil
}

func (s *sequenceSpout) NextTuple() {
	var n int64
	switch {
	case len(s.replay) > 0:
		n = s.replay[len(s.replay)-1]
		s.replay = s.replay[:len(s.replay)-1]
	case s.limit == 0 || s.next < s.limit:
		n = s.next
		s.next += s.step
	default:
		return
	}
	s.out.Emit([]any{n}, n)
}

func (s *sequenceSpout) Fail(id any) {
	if n, ok := id.(int64); ok {
		s.replay = append(s.replay, n)
	}
}

type logBolt struct {
	out   topology.BoltCollector
	log   hclog.Logger
	every int64
	seen  int64
}

func (b *logBolt) Prepare(ctx *topology.Context, out topology.BoltCollector) error {
	every, err := ctx.Config.Int(ConfLogEvery, 1)
	if err != nil {
		return err
	}
	b.out, b.log, b.every = out, out.Logger(), max(every, 1)
	return nil
}

func (b *logBolt) Execute(in *tuple.Tuple) {
	if !in.IsTick() {
		if b.seen%b.every == 0 {
			args := []any{"source", in.Component(), "stream", in.Stream()}
			var names []string
			if f := in.Fields(); f != nil {
				names = f.Names()
			}
			for i, v := range in.Values {
				name := "value"
				if i < len(names) {
					name = names[i]
				}
				args = append(args, name, v)
			}
			b.log.Info("tuple", args...)
		}
		b.seen++
	}
	b.out.Ack(in)
}

func (b *logBolt) Cleanup() {}

type discardBolt struct{ out topology.BoltCollector }

func (b *discardBolt) Prepare(_ *topology.Context, out topology.BoltCollector) error {
	b.out = out
	return nil
}

func (b *discardBolt) Execute(in *tuple.Tuple) { b.out.Ack(in) }

func (b *discardBolt) Cleanup() {}
