// Package perf holds the benchmark topologies, named after Storm's storm-perf ones, and
// the hand-written baselines they are compared with in the same run.
package perf

import (
	"strings"
	"time"

	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// Shape is one benchmark topology.
type Shape struct {
	Name string
	// Build returns the topology; rate > 0 limits the spout to that many tuples/s.
	Build func(rate float64, lat *LatencySink) *topology.Builder
	// Counted names the component whose counter is the throughput, and Metric which
	// counter: "executed" (bolt inputs) or "acked" (spout trees completed).
	Counted, Metric string
	// Unit is what one counted event is, for the report.
	Unit string
	// Baseline runs the same work with plain goroutines and channels for d and returns
	// events per second.
	Baseline func(d time.Duration) float64
	// HeapFloorMB, when set, is the heap floor the shape's topology asks for
	// (topology.worker.heap.floor.mb). Measure sets it for the whole process before the
	// first baseline, so that both run under it; the floor only grows, so sparse-bench
	// measures such shapes after all the others.
	HeapFloorMB int64
}

// Shapes are the benchmarks of `make bench`.
func Shapes() []Shape {
	return []Shape{
		{Name: "ConstSpoutNullBolt", Build: constSpoutNullBolt, Counted: "bolt", Metric: "executed", Unit: "tuples", Baseline: baselineNull},
		{Name: "ConstSpoutIdBoltNullBolt", Build: constSpoutIDBoltNullBolt, Counted: "spout", Metric: "acked", Unit: "spout tuples", Baseline: baselineIDNull},
		{Name: "WordCount", Build: wordCount, Counted: "count", Metric: "executed", Unit: "words", Baseline: baselineWordCount},
	}
}

// LatencySink receives delivery latencies measured by the null bolt when acking is off
// (then there is no complete latency): the spout stamps each tuple, the bolt observes.
type LatencySink struct {
	Observe func(time.Duration)
}

// limiter lets a spout emit at most rate tuples per second on average.
type limiter struct {
	rate  float64
	start time.Time
	sent  int64
}

// allow returns how many tuples may be emitted now: a whole burst once that many are
// due, else none. A spout that emitted each tuple the moment it was due would call
// NextTuple for one tuple at a time, spinning a core that the measured pipeline needs.
func (l *limiter) allow(burst int64) int64 {
	if l.rate <= 0 {
		return burst
	}
	if l.start.IsZero() {
		l.start = time.Now()
	}
	due := int64(time.Since(l.start).Seconds()*l.rate) - l.sent
	if due < burst {
		return 0
	}
	return burst
}

// constValues are the values ConstSpout emits: unacked, a string and the slot a latency
// run stamps (zero otherwise); acked, the string alone. Every baseline of a shape moves
// these same values, so that engine and baseline encode, send and decode the same tuple.
func constValues(acked bool) []any {
	if acked {
		return []any{"some data"}
	}
	return []any{"some data", int64(0)}
}

// constSource is the source of ConstSpout's tuples as the baselines give it.
func constSource(acked bool) *tuple.Source {
	f := tuple.NewFields("str", "ts")
	if acked {
		f = tuple.NewFields("str")
	}
	return &tuple.Source{Component: "spout", Stream: tuple.DefaultStream, Task: 1, Fields: f}
}

// constTuples makes the tuples of ConstSpout as the baselines send them: its i-th tuple
// has the spout's values on its source, and, when acked, an anchor with ids that differ
// from tuple to tuple and the carried init, as the engine sends it. The source and values
// are built once: the floor baseline makes a tuple per emit, and building a source (its
// fields' index) each time cost it two thirds of its rate.
func constTuples(acked bool) func(i int) *tuple.Tuple {
	src, values := constSource(acked), constValues(acked)
	return func(i int) *tuple.Tuple {
		t := tuple.New(src, values...)
		if acked {
			t.Anchors = []tuple.Anchor{{Root: uint64(i) * 0x9e3779b97f4a7c15, Edge: uint64(i) ^ 0xdeadbeefcafe}}
			// The spout's tuple has one receiver, so its tree's init rides on it.
			t.InitTask = src.Task
		}
		return t
	}
}

// ConstSpout emits the same value forever, reliably when ack is set.
type ConstSpout struct {
	topology.BaseSpout
	out    topology.SpoutCollector
	ack    bool
	stamp  bool
	lim    limiter
	id     int64
	values []any
}

// Open remembers the collector.
func (s *ConstSpout) Open(_ *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	return nil
}

// NextTuple emits a small burst so that the per-call overhead is amortized like a real
// spout reading a batch from a queue.
func (s *ConstSpout) NextTuple() {
	n := s.lim.allow(16)
	v := s.values
	if s.stamp && n > 0 {
		// One stamp per burst: its tuples leave within a microsecond of each other, and
		// a clock read and a boxed stamp per tuple were a third of the sending worker's
		// CPU at half load, which the latency it measures then paid for.
		v = []any{"some data", time.Now().UnixNano()}
	}
	for range n {
		if s.ack {
			s.id++
			s.out.Emit(v, s.id)
		} else {
			s.out.Emit(v, nil)
		}
	}
	s.lim.sent += n
}

// IDBolt re-emits its input anchored to it, then acks it.
type IDBolt struct {
	topology.BaseBolt
	out topology.BoltCollector
}

// Prepare remembers the collector.
func (b *IDBolt) Prepare(_ *topology.Context, out topology.BoltCollector) error {
	b.out = out
	return nil
}

// Execute passes the input on.
func (b *IDBolt) Execute(in *tuple.Tuple) {
	b.out.Emit(in, in.Values)
	b.out.Ack(in)
}

// NullBolt acks and drops its input; with a LatencySink it observes delivery latency.
type NullBolt struct {
	topology.BaseBolt
	out  topology.BoltCollector
	lat  *LatencySink
	seen int64
}

// Prepare remembers the collector.
func (b *NullBolt) Prepare(_ *topology.Context, out topology.BoltCollector) error {
	b.out = out
	return nil
}

// Execute acks; it samples one in 64 stamped tuples for latency.
func (b *NullBolt) Execute(in *tuple.Tuple) {
	if b.lat != nil && len(in.Values) > 1 {
		b.seen++
		if b.seen&63 == 0 {
			b.lat.Observe(time.Duration(time.Now().UnixNano() - in.Int(1)))
		}
	}
	b.out.Ack(in)
}

func constSpoutNullBolt(rate float64, lat *LatencySink) *topology.Builder {
	b := topology.NewBuilder("ConstSpoutNullBolt")
	b.Config(topology.ConfAckerExecutors, 0)
	stamp := lat != nil
	b.Spout("spout", func() topology.Spout {
		return &ConstSpout{lim: limiter{rate: rate}, stamp: stamp, values: constValues(false)}
	}, 1).Output("str", "ts")
	b.Bolt("bolt", func() topology.Bolt { return &NullBolt{lat: lat} }, 1).LocalOrShuffle("spout")
	return b
}

func constSpoutIDBoltNullBolt(rate float64, _ *LatencySink) *topology.Builder {
	b := topology.NewBuilder("ConstSpoutIdBoltNullBolt")
	b.Config(topology.ConfAckerExecutors, 1)
	b.Config(topology.ConfMaxSpoutPending, 8192)
	b.Spout("spout", func() topology.Spout {
		return &ConstSpout{lim: limiter{rate: rate}, ack: true, values: constValues(true)}
	}, 1).Output("str")
	b.Bolt("id", func() topology.Bolt { return &IDBolt{} }, 1).LocalOrShuffle("spout").Output("str")
	b.Bolt("bolt", func() topology.Bolt { return &NullBolt{} }, 1).LocalOrShuffle("id")
	return b
}

var sentences = []string{
	"the cow jumped over the moon",
	"an apple a day keeps the doctor away",
	"four score and seven years ago",
	"snow white and the seven dwarfs",
	"i am at two with nature",
}

// SentenceSpout emits sentences reliably.
type SentenceSpout struct {
	topology.BaseSpout
	out topology.SpoutCollector
	lim limiter
	n   int64
	val [][]any
}

// Open prepares the values once: a spout reading from a queue would not build them.
func (s *SentenceSpout) Open(_ *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	for _, st := range sentences {
		s.val = append(s.val, []any{st})
	}
	return nil
}

// NextTuple emits a small burst.
func (s *SentenceSpout) NextTuple() {
	n := s.lim.allow(8)
	for range n {
		s.n++
		s.out.Emit(s.val[s.n%int64(len(s.val))], s.n)
	}
	s.lim.sent += n
}

// SplitBolt splits a sentence into words.
type SplitBolt struct {
	topology.BaseBolt
	out topology.BoltCollector
}

// Prepare remembers the collector.
func (b *SplitBolt) Prepare(_ *topology.Context, out topology.BoltCollector) error {
	b.out = out
	return nil
}

// Execute emits each word anchored to the sentence.
func (b *SplitBolt) Execute(in *tuple.Tuple) {
	s := in.String(0)
	for s != "" {
		i := strings.IndexByte(s, ' ')
		w := s
		if i < 0 {
			s = ""
		} else {
			w, s = s[:i], s[i+1:]
		}
		b.out.Emit(in, []any{w})
	}
	b.out.Ack(in)
}

// CountBolt counts words.
type CountBolt struct {
	topology.BaseBolt
	out    topology.BoltCollector
	counts map[string]int64
}

// Prepare starts the counts.
func (b *CountBolt) Prepare(_ *topology.Context, out topology.BoltCollector) error {
	b.out = out
	b.counts = map[string]int64{}
	return nil
}

// Execute counts and acks.
func (b *CountBolt) Execute(in *tuple.Tuple) {
	b.counts[in.String(0)]++
	b.out.Ack(in)
}

func wordCount(rate float64, _ *LatencySink) *topology.Builder {
	b := topology.NewBuilder("WordCount")
	b.Config(topology.ConfAckerExecutors, 1)
	b.Config(topology.ConfMaxSpoutPending, wordCountPending)
	b.Spout("spout", func() topology.Spout { return &SentenceSpout{lim: limiter{rate: rate}} }, 1).Output("sentence")
	b.Bolt("split", func() topology.Bolt { return &SplitBolt{} }, 1).LocalOrShuffle("spout").Output("word")
	b.Bolt("count", func() topology.Bolt { return &CountBolt{} }, 1).Fields("split", "word")
	return b
}

// wordCountPending bounds the sentences in flight, in the engine and in the baseline:
// about 6,400 words, enough to keep both bolts busy. With 4096 the throughput was the
// same, and a passing stall (a descheduled vCPU) queued four times as many words, which
// showed as p99 latency.
const wordCountPending = 1024

// wordsPerSentence is the mean number of words per spout tuple, to turn a word rate into
// a spout rate for the rate-limited run.
func wordsPerSentence() float64 {
	n := 0
	for _, s := range sentences {
		n += len(strings.Fields(s))
	}
	return float64(n) / float64(len(sentences))
}
