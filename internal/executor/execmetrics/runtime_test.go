package execmetrics

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/internal/metrics"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

const testTopology = "metrics-test"

// seqSpout emits the ids task, task+step, ... below total, each reliable with its id
// as message id, and counts the acks it is told about.
type seqSpout struct {
	topology.BaseSpout
	out        topology.SpoutCollector
	next, step int64
	total      int64
	acked      *atomic.Int64
}

func (s *seqSpout) Open(ctx *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	s.next = int64(ctx.ThisTaskIndex())
	s.step = int64(len(ctx.ComponentTasks(ctx.ComponentID)))
	return nil
}

func (s *seqSpout) NextTuple() {
	if s.next < s.total {
		s.out.Emit([]any{s.next}, s.next)
		s.next += s.step
	}
}

func (s *seqSpout) Ack(any) { s.acked.Add(1) }

// passBolt emits one anchored child per input (when it declares an output) and acks.
type passBolt struct {
	out  topology.BoltCollector
	emit bool
}

func (b *passBolt) Prepare(_ *topology.Context, out topology.BoltCollector) error {
	b.out = out
	return nil
}

func (b *passBolt) Execute(in *tuple.Tuple) {
	if b.emit {
		b.out.Emit(in, []any{in.Int(0)})
	}
	b.out.Ack(in)
}

func (b *passBolt) Cleanup() {}

// runTopology runs spout (2 executors of 4 tasks) -> relay (3 executors) -> sink (1)
// with acking until every one of n tuple trees is acked, calling during while it runs,
// then stops the runtime. It returns the stopped runtime.
func runTopology(t *testing.T, n int64, during func(rt *executor.Runtime)) *executor.Runtime {
	t.Helper()
	var acked atomic.Int64
	b := topology.NewBuilder(testTopology)
	b.Spout("spout", func() topology.Spout { return &seqSpout{total: n, acked: &acked} }, 2).Tasks(4).Output("id")
	b.Bolt("relay", func() topology.Bolt { return &passBolt{emit: true} }, 3).Shuffle("spout").Output("id")
	b.Bolt("sink", func() topology.Bolt { return &passBolt{} }, 1).Shuffle("relay")
	spec, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	rt, err := executor.New(executor.Options{TopologyID: testTopology, Spec: spec})
	if err != nil {
		t.Fatalf("executor.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()

	var wg sync.WaitGroup
	stopDuring := make(chan struct{})
	if during != nil {
		wg.Go(func() {
			for {
				during(rt) // at least once, however fast the run
				select {
				case <-stopDuring:
					return
				case <-time.After(time.Millisecond):
				}
			}
		})
	}
	deadline := time.Now().Add(30 * time.Second)
	for acked.Load() < n && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	close(stopDuring)
	wg.Wait()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the runtime did not stop within 30s of cancel")
	}
	if got := acked.Load(); got != n {
		t.Fatalf("only %d of %d tuple trees were acked within 30s", got, n)
	}
	return rt
}

func gather(t *testing.T, cs ...prometheus.Collector) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			t.Fatalf("Register: %v", err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	return mfs
}

func family(t *testing.T, mfs []*dto.MetricFamily, name string) *dto.MetricFamily {
	t.Helper()
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	t.Fatalf("no metric family %s was gathered", name)
	return nil
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// sumBy adds up a counter or gauge family per component.
func sumBy(t *testing.T, mfs []*dto.MetricFamily, name string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, m := range family(t, mfs, name).GetMetric() {
		v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
		out[labels(m)[metrics.LabelComponent]] += v
	}
	return out
}

func TestRuntimeCollector(t *testing.T) {
	const n = 2000
	var scrapes atomic.Int64
	var rtc prometheus.Collector
	rt := runTopology(t, n, func(rt *executor.Runtime) {
		// Scrapes while the executors run: the race detector checks the reads.
		if rtc == nil {
			rtc = NewRuntimeCollector(testTopology, rt.Stats)
		}
		problems, err := testutil.CollectAndLint(rtc)
		if err != nil || len(problems) > 0 {
			t.Errorf("scrape while running: error %v, lint problems %v", err, problems)
		}
		scrapes.Add(1)
	})
	if scrapes.Load() == 0 {
		t.Fatal("no scrape ran while the topology ran")
	}
	c := NewRuntimeCollector(testTopology, rt.Stats)

	stats := rt.Stats()
	spouts, bolts := 0, 0
	for _, s := range stats {
		switch s.Kind {
		case "spout":
			spouts++
		case "bolt":
			bolts++
		}
	}
	// 8 counters per executor; spouts add a pending gauge and the complete latency,
	// bolts the execute and process latencies.
	if got, want := testutil.CollectAndCount(c), 8*len(stats)+2*spouts+2*bolts; got != want {
		t.Errorf("collected %d metrics for %d executors (%d spouts, %d bolts), want %d", got, len(stats), spouts, bolts, want)
	}

	mfs := gather(t, c)
	// Labels: every series names its topology, component, kind and executor, and the
	// executor label is the first task of one of the runtime's executors.
	first := map[string]*executor.Stats{}
	for _, s := range stats {
		first[strconv.Itoa(int(s.Tasks[0]))] = s
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			l := labels(m)
			if len(l) != 4 || l[metrics.LabelTopology] != testTopology {
				t.Errorf("%s has labels %v, want topology=%q, component, executor, kind", mf.GetName(), l, testTopology)
				continue
			}
			s, ok := first[l[metrics.LabelExecutor]]
			if !ok || s.Component != l[metrics.LabelComponent] || s.Kind != l[metrics.LabelKind] {
				t.Errorf("%s has labels %v, which match no executor of the runtime", mf.GetName(), l)
			}
		}
	}

	// Values agree with the executors' own summary, and make sense for the run.
	want := map[string]executor.ComponentSummary{}
	for _, s := range executor.Summarize(stats) {
		want[s.Component] = s
	}
	emitted := sumBy(t, mfs, "sparse_executor_emitted_tuples_total")
	acked := sumBy(t, mfs, "sparse_executor_acked_tuples_total")
	executed := sumBy(t, mfs, "sparse_executor_executed_tuples_total")
	failed := sumBy(t, mfs, "sparse_executor_failed_tuples_total")
	transferred := sumBy(t, mfs, "sparse_executor_transferred_tuples_total")
	for comp, s := range want {
		if emitted[comp] != float64(s.Emitted) || acked[comp] != float64(s.Acked) || executed[comp] != float64(s.Executed) ||
			failed[comp] != float64(s.Failed) || transferred[comp] != float64(s.Transferred) {
			t.Errorf("%s: metrics emitted=%v acked=%v executed=%v failed=%v transferred=%v, summary %+v",
				comp, emitted[comp], acked[comp], executed[comp], failed[comp], transferred[comp], s)
		}
	}
	if emitted["spout"] != n || acked["spout"] != n || failed["spout"] != 0 {
		t.Errorf("spout: emitted %v, acked %v, failed %v; want %d, %d, 0", emitted["spout"], acked["spout"], failed["spout"], n, n)
	}
	if executed["relay"] != n || emitted["relay"] != n || executed["sink"] != n {
		t.Errorf("relay executed %v and emitted %v, sink executed %v; want %d each", executed["relay"], emitted["relay"], executed["sink"], n)
	}
	if p := sumBy(t, mfs, "sparse_executor_pending_tuples"); p["spout"] != 0 || len(p) != 1 {
		t.Errorf("pending after every tree completed: %v, want spout 0 and no other component", p)
	}

	// The complete latency histogram of each spout executor counts its acked trees.
	hist := family(t, mfs, "sparse_executor_complete_latency_seconds")
	if hist.GetType() != dto.MetricType_HISTOGRAM || len(hist.GetMetric()) != spouts {
		t.Fatalf("complete latency: type %v with %d series, want a histogram per spout executor (%d)", hist.GetType(), len(hist.GetMetric()), spouts)
	}
	ackedBy := map[string]float64{}
	for _, m := range family(t, mfs, "sparse_executor_acked_tuples_total").GetMetric() {
		ackedBy[labels(m)[metrics.LabelExecutor]] = m.GetCounter().GetValue()
	}
	var total uint64
	for _, m := range hist.GetMetric() {
		h := m.GetHistogram()
		exec := labels(m)[metrics.LabelExecutor]
		if float64(h.GetSampleCount()) != ackedBy[exec] {
			t.Errorf("executor %s: latency histogram counts %d, but %v trees were acked", exec, h.GetSampleCount(), ackedBy[exec])
		}
		total += h.GetSampleCount()
		if h.GetSampleSum() <= 0 || h.GetSampleSum() > 30*float64(h.GetSampleCount()) {
			t.Errorf("executor %s: latency sum %vs for %d trees is not plausible", exec, h.GetSampleSum(), h.GetSampleCount())
		}
		bks := h.GetBucket()
		if len(bks) != len(LatencyBuckets()) {
			t.Errorf("executor %s: %d buckets, want %d", exec, len(bks), len(LatencyBuckets()))
		}
		var prev uint64
		for i, bk := range bks {
			if bk.GetUpperBound() != LatencyBuckets()[i] || bk.GetCumulativeCount() < prev || bk.GetCumulativeCount() > h.GetSampleCount() {
				t.Errorf("executor %s: bucket %d is le=%v count %d after %d (of %d)", exec, i, bk.GetUpperBound(), bk.GetCumulativeCount(), prev, h.GetSampleCount())
			}
			prev = bk.GetCumulativeCount()
		}
		if prev == 0 {
			t.Errorf("executor %s: no tree completed within 60s on a local run", exec)
		}
	}
	if total != n {
		t.Errorf("latency histograms count %d trees, want %d", total, n)
	}
}

// TestBucketLayoutMatchesExecutor guards the copy of the executor's bucket layout: the
// lowest value of every bucket, and the value just below the next, land in it.
func TestBucketLayoutMatchesExecutor(t *testing.T) {
	n := len(new(executor.Histogram).Snapshot())
	for i := range n {
		lo := bucketLowerMicros(i)
		check := func(us uint64) {
			var h executor.Histogram
			h.Observe(time.Duration(us) * time.Microsecond)
			snap := h.Snapshot()
			if snap[i] != 1 {
				got := -1
				for j, c := range snap {
					if c == 1 {
						got = j
					}
				}
				t.Fatalf("%dµs: metrics puts it in bucket %d, the executor in bucket %d; update bucketLowerMicros to the executor's layout", us, i, got)
			}
		}
		check(lo)
		if i < n-1 {
			check(bucketLowerMicros(i+1) - 1)
		}
	}
}

func TestConvertHistogram(t *testing.T) {
	bounds, les := latencyBounds(), LatencyBuckets()
	cases := []struct {
		name string
		obs  []time.Duration
		want map[float64]uint64 // cumulative counts at some bounds
	}{
		{"empty", nil, map[float64]uint64{0.0001: 0, 60: 0}},
		{"zero", []time.Duration{0}, map[float64]uint64{0.0001: 1}},
		{"50us", []time.Duration{50 * time.Microsecond}, map[float64]uint64{0.0001: 1}},
		// 99µs is in the executor's bucket [96µs, 104µs), which may exceed 100µs.
		{"99us", []time.Duration{99 * time.Microsecond}, map[float64]uint64{0.0001: 0, 0.00025: 1}},
		{"1ms", []time.Duration{time.Millisecond}, map[float64]uint64{0.0005: 0, 0.001: 0, 0.0025: 1}},
		{"mixed", []time.Duration{10 * time.Microsecond, 3 * time.Millisecond, 200 * time.Millisecond, 2 * time.Second},
			map[float64]uint64{0.0001: 1, 0.005: 2, 0.25: 3, 2.5: 4, 60: 4}},
		{"above 60s", []time.Duration{2 * time.Minute}, map[float64]uint64{60: 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h executor.Histogram
			var sum time.Duration
			for _, d := range tc.obs {
				h.Observe(d)
				sum += d
			}
			count, sumSec, cum := convertHistogram(&h, bounds, les)
			if count != uint64(len(tc.obs)) {
				t.Errorf("count %d, want %d", count, len(tc.obs))
			}
			if len(cum) != len(les) {
				t.Errorf("%d buckets, want %d", len(cum), len(les))
			}
			for le, want := range tc.want {
				if cum[le] != want {
					t.Errorf("le=%v: %d, want %d (all: %v)", le, cum[le], want, cum)
				}
			}
			if d := sumSec - sum.Seconds(); d > 1e-6 || d < -1e-6 {
				t.Errorf("sum %vs, want %vs", sumSec, sum.Seconds())
			}
		})
	}
}

// TestConvertHistogramBounds: for random durations, a bound counts an observation
// only if the observation is at or below it, and always counts it when the bound is
// at least 1/8 (plus a microsecond) above it.
func TestConvertHistogramBounds(t *testing.T) {
	bounds, les := latencyBounds(), LatencyBuckets()
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		d := time.Duration(r.Int64N(int64(90 * time.Second)))
		if r.IntN(2) == 0 {
			d = time.Duration(r.Int64N(int64(5 * time.Millisecond)))
		}
		var h executor.Histogram
		h.Observe(d)
		_, _, cum := convertHistogram(&h, bounds, les)
		for i, b := range bounds {
			counted := cum[les[i]] == 1
			if counted && d > b {
				t.Fatalf("%v is counted under le=%v", d, b)
			}
			if !counted && d+d/8+time.Microsecond <= b {
				t.Fatalf("%v is not counted under le=%v", d, b)
			}
		}
	}
}
