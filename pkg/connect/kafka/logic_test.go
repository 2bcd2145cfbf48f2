package kafka

import (
	"bytes"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sparsestream/sparse/internal/retry"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

func TestOffsetTracker(t *testing.T) {
	type step struct {
		emit   []int64
		finish []int64
	}
	for _, tc := range []struct {
		name            string
		start           int64
		steps           []step
		wantCommittable int64
		wantUncommitted int
	}{
		{"nothing emitted keeps the start", 10, nil, 10, 0},
		{"unknown start takes the first record", -1, []step{{emit: []int64{7}}}, 7, 1},
		{"in order", 0, []step{{emit: []int64{0, 1, 2}, finish: []int64{0, 1, 2}}}, 3, 0},
		{"a hole holds the commit", 0, []step{{emit: []int64{0, 1, 2, 3}, finish: []int64{0, 2, 3}}}, 1, 3},
		{"the hole filled", 0, []step{{emit: []int64{0, 1, 2, 3}, finish: []int64{0, 2, 3}}, {finish: []int64{1}}}, 4, 0},
		{"gaps in offsets are skipped", 5, []step{{emit: []int64{5, 8, 9}, finish: []int64{9, 8, 5}}}, 10, 0},
		{"after a gap an offset's place is searched", 0, []step{{emit: []int64{0, 2, 3, 4}, finish: []int64{1, 2, 3, 4}}}, 0, 4},
		{"after a gap, then the head", 0, []step{{emit: []int64{0, 2, 3, 4}, finish: []int64{4, 3, 2, 0}}}, 5, 0},
		{"re-emitting an offset does not track it twice", 0, []step{{emit: []int64{0, 1, 1, 0}, finish: []int64{0, 1}}}, 2, 0},
		{"finishing twice counts once", 0, []step{{emit: []int64{0, 1}, finish: []int64{1, 1}}}, 0, 2},
		{"finishing an unknown offset does nothing", 0, []step{{emit: []int64{0}, finish: []int64{4}}}, 0, 1},
		{"records below the start are ignored", 10, []step{{emit: []int64{3, 10}, finish: []int64{3, 10}}}, 11, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newOffsetTracker(tc.start)
			for _, s := range tc.steps {
				for _, o := range s.emit {
					tr.emitted(o)
				}
				for _, o := range s.finish {
					tr.finished(o)
				}
			}
			if tr.committable != tc.wantCommittable || tr.uncommitted() != tc.wantUncommitted {
				t.Errorf("committable %d, uncommitted %d; want %d, %d", tr.committable, tr.uncommitted(), tc.wantCommittable, tc.wantUncommitted)
			}
		})
	}
}

func TestOffsetTrackerKnown(t *testing.T) {
	tr := newOffsetTracker(10)
	for _, o := range []int64{10, 11, 14} {
		tr.emitted(o)
	}
	tr.finished(10)
	for o, want := range map[int64]bool{5: true, 10: true, 11: true, 12: true, 14: true, 15: false} {
		if got := tr.known(o); got != want {
			t.Errorf("known(%d) = %v, want %v", o, got, want)
		}
	}
	if newOffsetTracker(-1).known(0) {
		t.Error("a tracker that has seen nothing knows offset 0")
	}
}

// TestOffsetTrackerCompacts acks a long run out of order and checks that the commit
// reaches its end and the memory kept shrinks back.
func TestOffsetTrackerCompacts(t *testing.T) {
	tr := newOffsetTracker(0)
	const n = 100_000
	for o := range int64(n) {
		tr.emitted(o)
	}
	for o := int64(n - 1); o >= 1; o -= 2 { // every odd offset first, from the end
		tr.finished(o)
	}
	if tr.committable != 0 || tr.uncommitted() != n {
		t.Fatalf("committable %d, uncommitted %d; want 0, %d", tr.committable, tr.uncommitted(), n)
	}
	for o := int64(0); o < n; o += 2 {
		tr.finished(o)
	}
	if tr.committable != n || tr.uncommitted() != 0 || len(tr.offs) > n/2 {
		t.Errorf("committable %d, uncommitted %d, kept %d; want %d, 0, at most %d", tr.committable, tr.uncommitted(), len(tr.offs), n, n/2)
	}
}

func TestAssignPartitions(t *testing.T) {
	tps := func(topic string, ps ...int32) []TopicPartition {
		var out []TopicPartition
		for _, p := range ps {
			out = append(out, TopicPartition{topic, p})
		}
		return out
	}
	eight := tps("a", 7, 6, 5, 4, 3, 2, 1, 0)
	for _, tc := range []struct {
		name     string
		all      []TopicPartition
		index, n int
		want     []TopicPartition
	}{
		{"task 0 of 3", eight, 0, 3, tps("a", 0, 3, 6)},
		{"task 1 of 3", eight, 1, 3, tps("a", 1, 4, 7)},
		{"task 2 of 3", eight, 2, 3, tps("a", 2, 5)},
		{"one task takes all", eight, 0, 1, tps("a", 0, 1, 2, 3, 4, 5, 6, 7)},
		{"more tasks than partitions", tps("a", 0, 1), 2, 3, nil},
		{"two topics sorted by name", append(tps("b", 0, 1), tps("a", 0, 1)...), 1, 2, append(tps("a", 1), tps("b", 1)...)},
		{"duplicates count once", append(tps("a", 0, 1), tps("a", 1)...), 1, 2, tps("a", 1)},
		{"bad index", eight, 3, 3, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := assignPartitions(tc.all, tc.index, tc.n); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	// Every partition goes to exactly one task.
	seen := map[TopicPartition]int{}
	for i := range 3 {
		for _, tp := range assignPartitions(eight, i, 3) {
			seen[tp]++
		}
	}
	for _, tp := range eight {
		if seen[tp] != 1 {
			t.Errorf("%v assigned %d times", tp, seen[tp])
		}
	}
}

func TestStartFor(t *testing.T) {
	const me = "topo-1"
	at := func(o int64) startPosition { return startPosition{offset: o} }
	earliest, latest := startPosition{offset: -1, earliest: true}, startPosition{offset: -1}
	for _, tc := range []struct {
		s         FirstPoll
		committed int64
		by        string
		want      startPosition
	}{
		{Earliest, -1, "", earliest},
		{Earliest, 42, "other", earliest},
		{Earliest, 42, me, at(42)},
		{Latest, -1, "", latest},
		{Latest, 42, "other", latest},
		{Latest, 42, me, at(42)},
		{UncommittedEarliest, -1, "", earliest},
		{UncommittedEarliest, 42, "other", at(42)},
		{UncommittedLatest, -1, "", latest},
		{UncommittedLatest, 42, "", at(42)},
	} {
		if got := startFor(tc.s, tc.committed, tc.by, me); got != tc.want {
			t.Errorf("startFor(%s, %d, %q) = %+v, want %+v", tc.s, tc.committed, tc.by, got, tc.want)
		}
	}
}

func TestRetryQueue(t *testing.T) {
	ms := time.Millisecond
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name       string
		maxRetries int
		fails      int
		want       []time.Duration // the backoff after each failure; -1: given up
	}{
		{"backoff grows and is capped", 0, 6, []time.Duration{10 * ms, 20 * ms, 40 * ms, 80 * ms, 100 * ms, 100 * ms}},
		{"given up after max retries", 2, 3, []time.Duration{10 * ms, 20 * ms, -1}},
		{"no retries", -1, 1, []time.Duration{-1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := retryQueue{schedule: retry.Schedule{Initial: 10 * ms, Multiplier: 2, Max: 100 * ms}, maxRetries: tc.maxRetries}
			m := &message{tp: TopicPartition{"t", 0}, Offset: 5}
			now := t0
			var got []time.Duration
			for range tc.fails {
				if q.failed(m, now) == giveUp {
					got = append(got, -1)
					break
				}
				d := m.due.Sub(now)
				got = append(got, d)
				if q.due(now.Add(d-1)) != nil {
					t.Fatalf("due before its backoff passed")
				}
				now = now.Add(d)
				if q.due(now) != m {
					t.Fatalf("not due after its backoff")
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("backoffs %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRetryQueueOrderAndDrop(t *testing.T) {
	q := retryQueue{schedule: retry.Schedule{Initial: time.Second, Multiplier: 2}, maxRetries: 0}
	t0 := time.Unix(0, 0)
	a := &message{tp: TopicPartition{"t", 0}, Offset: 1}
	b := &message{tp: TopicPartition{"t", 1}, Offset: 2}
	c := &message{tp: TopicPartition{"t", 0}, Offset: 3}
	q.failed(a, t0.Add(2*time.Second))
	q.failed(b, t0)
	q.failed(c, t0.Add(time.Second))
	q.drop(func(tp TopicPartition) bool { return tp.Partition == 0 })
	var got []int64
	for m := q.due(t0.Add(time.Hour)); m != nil; m = q.due(t0.Add(time.Hour)) {
		got = append(got, m.Offset)
	}
	if !slices.Equal(got, []int64{3, 1}) {
		t.Errorf("due in order %v, want [3 1] (partition 1 dropped)", got)
	}
}

func TestTopologyName(t *testing.T) {
	for id, want := range map[string]string{
		"wc":                "wc",
		"wc-1765000000":     "wc",
		"wc-1765000000-2":   "wc",
		"kafka-wordcount":   "kafka-wordcount",
		"job-42":            "job-42",
		"-1765000000":       "-1765000000",
		"a-b-1765000000-10": "a-b",
	} {
		if got := topologyName(id); got != want {
			t.Errorf("topologyName(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestDefaultTranslation(t *testing.T) {
	rec := &kgo.Record{Topic: "t", Partition: 2, Offset: 9, Key: []byte("k"), Value: []byte("v"),
		Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}}
	tomb := &kgo.Record{Topic: "t", Partition: 2, Offset: 10, Key: []byte("k")}
	for _, tc := range []struct {
		name string
		cfg  SpoutConfig
		rec  *kgo.Record
		want string
	}{
		{"strings", SpoutConfig{}, rec, "[t 2 9 k v]"},
		{"bytes", SpoutConfig{ValuesAsBytes: true}, rec, "[t 2 9 [107] [118]]"},
		{"headers", SpoutConfig{Headers: true}, rec, "[t 2 9 k v map[h:x]]"},
		{"tombstone", SpoutConfig{}, tomb, "[t 2 10 k <nil>]"},
		{"tombstone skipped", SpoutConfig{SkipTombstones: true}, tomb, "[]"},
		{"no key", SpoutConfig{}, &kgo.Record{Topic: "t", Value: []byte("v")}, "[t 0 0 <nil> v]"},
		{"empty key", SpoutConfig{}, &kgo.Record{Topic: "t", Key: []byte{}, Value: []byte("v")}, "[t 0 0  v]"},
		{"longer key and value", SpoutConfig{}, &kgo.Record{Topic: "t", Key: []byte("key"), Value: []byte("value")}, "[t 0 0 key value]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Spout{cfg: tc.cfg}
			values, stream := s.translate(tc.rec, &partState{}, nil)
			if got := fmt.Sprint(values); got != tc.want || stream != "" {
				t.Errorf("values %s on stream %q, want %s on the default stream", got, stream, tc.want)
			}
			if tc.cfg.Headers {
				return // built on the task's goroutine, by translate
			}
			// The poller builds the same values ahead of the task.
			var pr preparer
			m := pr.messages([]*kgo.Record{tc.rec}, tc.cfg)[0]
			if got := fmt.Sprint(m.vals[:m.nvals]); got != tc.want {
				t.Errorf("the poller built %s, want %s", got, tc.want)
			}
		})
	}
}

// TestPreparerValues: the poller's default values, whose offset, key and value are boxed
// in place (boxed), are the values a plain conversion gives, for every kind of record.
func TestPreparerValues(t *testing.T) {
	for _, tc := range []struct {
		name       string
		key, value []byte
		asBytes    bool
		want       []any
	}{
		{"key and value", []byte("k"), []byte("v"), false, []any{"t", int64(3), int64(300), "k", "v"}},
		{"no key", nil, []byte("v"), false, []any{"t", int64(3), int64(300), nil, "v"}},
		{"empty key and value", []byte{}, []byte{}, false, []any{"t", int64(3), int64(300), "", ""}},
		{"a tombstone", []byte("k"), nil, false, []any{"t", int64(3), int64(300), "k", nil}},
		{"nothing", nil, nil, false, []any{"t", int64(3), int64(300), nil, nil}},
		{"as bytes", []byte("k"), []byte("v"), true, []any{"t", int64(3), int64(300), []byte("k"), []byte("v")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &kgo.Record{Topic: "t", Partition: 3, Offset: 300, Key: tc.key, Value: tc.value}
			var pr preparer
			m := pr.messages([]*kgo.Record{r}, SpoutConfig{ValuesAsBytes: tc.asBytes})[0]
			got := m.vals[:m.nvals]
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("values %#v, want %#v", got, tc.want)
			}
			for i, v := range got {
				if _, isBytes := v.([]byte); !isBytes && v != tc.want[i] {
					t.Errorf("value %d: %#v != %#v", i, v, tc.want[i])
				}
			}
			if o, ok := got[2].(int64); !ok || o != 300 || fmt.Sprint(got[2]) != "300" {
				t.Errorf("offset %v (%T)", got[2], got[2])
			}
			// The spout emits them unchecked (checked.Emitter): they must be what
			// tuple.Normalize would leave them.
			norm := slices.Clone(got)
			if err := tuple.Normalize(norm); err != nil || !reflect.DeepEqual(norm, got) {
				t.Errorf("Normalize of the built values: %v, %#v; want them unchanged", err, norm)
			}
		})
	}
}

// emitRecorder is a spout collector that records which of its emits was called.
type emitRecorder struct {
	topology.SpoutCollector // nil: only the emits below are called
	calls                   []string
}

func (c *emitRecorder) Emit([]any, any) { c.calls = append(c.calls, "Emit") }

func (c *emitRecorder) EmitStream(string, []any, any) []int32 {
	c.calls = append(c.calls, "EmitStream")
	return nil
}

type checkedRecorder struct{ emitRecorder }

func (c *checkedRecorder) EmitChecked([]any, any) { c.calls = append(c.calls, "EmitChecked") }

// TestSpoutEmitsCheckedValuesUnchecked: values the poller built and checked go to
// EmitChecked when the collector has it; a record too large for a tuple, a retry, or a
// collector without it go through Emit, where the engine checks them.
func TestSpoutEmitsCheckedValuesUnchecked(t *testing.T) {
	large := make([]byte, tuple.MaxBytes)
	for _, tc := range []struct {
		name    string
		checked bool
		value   []byte
		fails   int
		want    string
	}{
		{"built, checked collector", true, []byte("v"), 0, "EmitChecked"},
		{"built, plain collector", false, []byte("v"), 0, "Emit"},
		{"too large to build", true, large, 0, "Emit"},
		{"a retry", true, []byte("v"), 1, "Emit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pr preparer
			m := pr.messages([]*kgo.Record{{Topic: "t", Key: []byte("k"), Value: tc.value}}, SpoutConfig{})[0]
			if built := m.nvals > 0; built != (len(tc.value) < tuple.MaxBytes) {
				t.Fatalf("values built: %v for a %d-byte value", built, len(tc.value))
			}
			m.fails, m.p = tc.fails, &partState{}
			s := &Spout{cfg: SpoutConfig{Guarantee: AtLeastOnce}}
			rec := &checkedRecorder{}
			if tc.checked {
				s.out, s.checked = rec, rec
			} else {
				s.out = &rec.emitRecorder
			}
			if !s.emit(m) {
				t.Fatal("emit skipped the record")
			}
			if got := strings.Join(rec.calls, ","); got != tc.want {
				t.Errorf("called %s, want %s", got, tc.want)
			}
		})
	}
}

// TestPreparerValuesKeepNoRecord: a tuple value a bolt keeps does not keep its record (and
// so franz-go's fetch buffer) alive, only its chunk of values.
func TestPreparerValuesKeepNoRecord(t *testing.T) {
	freed := make(chan struct{})
	kept := func() any {
		r := &kgo.Record{Topic: "t", Offset: 300, Value: []byte("v")}
		runtime.SetFinalizer(r, func(*kgo.Record) { close(freed) })
		var pr preparer
		m := pr.messages([]*kgo.Record{r}, SpoutConfig{})[0]
		return m.vals[4]
	}()
	deadline := time.Now().Add(5 * time.Second)
	for done := false; !done; {
		runtime.GC()
		select {
		case <-freed:
			done = true
		case <-time.After(10 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("the record is still alive while only one of its tuple values is kept")
			}
		}
	}
	if kept != "v" {
		t.Errorf("the kept value is %#v, want \"v\"", kept)
	}
}

// TestTextCopy: the poller's copies of keys and values equal their bytes, do not change
// when the source or later copies do, share blocks only when small, and start a new block
// when the current one is full.
func TestTextCopy(t *testing.T) {
	var tx text
	var got []string
	var want []string
	for i, n := range []int{0, 1, 100, textAlone - 1, textAlone, 3 * textBlock, 7, textBlock / 2, textBlock / 2, 5} {
		b := bytes.Repeat([]byte{byte('a' + i)}, n)
		s := tx.copy(b)
		clear(b) // the copy must not share the source's bytes
		got, want = append(got, s), append(want, strings.Repeat(string(rune('a'+i)), n))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("copies changed after later copies or their sources did:\n got %q\nwant %q", got, want)
	}
	if got[0] != "" {
		t.Errorf("an empty value copies to %q", got[0])
	}
	var nilText *text
	if s := nilText.copy([]byte("alone")); s != "alone" {
		t.Errorf("a nil text copies %q", s)
	}
	src := make([]byte, 100)
	if allocs := testing.AllocsPerRun(100, func() {
		var tx text
		for range textBlock / len(src) {
			tx.copy(src)
		}
	}); allocs != 1 {
		t.Errorf("%v allocations for %d copies of 100 bytes, want 1 block", allocs, textBlock/len(src))
	}
}

// TestAckedCountWhileDeactivated: the spout counts acks on its goroutine and publishes
// them per NextTuple and every publishEvery acks; while the topology is deactivated,
// when nothing calls NextTuple, an ack is published at once, so the metric shows a
// deactivated topology draining.
func TestAckedCountWhileDeactivated(t *testing.T) {
	tp := TopicPartition{"t", 0}
	p := &partState{tr: newOffsetTracker(0)}
	s := &Spout{cfg: SpoutConfig{Guarantee: AtLeastOnce, MaxUncommittedOffsets: 100},
		stats: &spoutStats{parts: map[TopicPartition]partSnapshot{}},
		parts: map[TopicPartition]*partState{tp: p}, sent: map[TopicPartition]int64{},
		commits: make(chan map[TopicPartition]int64, 1)}
	msgs := make([]*message, 3)
	for i := range msgs {
		p.tr.emitted(int64(i))
		msgs[i] = &message{tp: tp, Offset: int64(i), p: p}
	}
	s.Ack(msgs[0])
	if got := s.stats.acked.Load(); got != 0 {
		t.Fatalf("acked %d while active before a NextTuple, want 0 (published per NextTuple)", got)
	}
	s.Deactivate() // commits, which publishes
	if got := s.stats.acked.Load(); got != 1 {
		t.Fatalf("acked %d after Deactivate, want 1", got)
	}
	s.Ack(msgs[1])
	if got := s.stats.acked.Load(); got != 2 {
		t.Fatalf("acked %d after an ack while deactivated, want 2", got)
	}
	s.Activate()
	s.Ack(msgs[2])
	if got := s.stats.acked.Load(); got != 2 {
		t.Fatalf("acked %d after an ack once active again, want 2 until the next NextTuple", got)
	}
	if p.tr.committable != 3 {
		t.Errorf("committable offset %d, want 3: every ack must still finish its offset", p.tr.committable)
	}
	// With NextTuple not called (a task at max pending), acks are still published
	// every publishEvery.
	for i := range publishEvery {
		o := int64(3 + i)
		p.tr.emitted(o)
		s.Ack(&message{tp: tp, Offset: o, p: p})
	}
	if got := s.stats.acked.Load(); got < publishEvery {
		t.Errorf("acked %d after %d acks with no NextTuple, want at least %d", got, 1+publishEvery, publishEvery)
	}
}
