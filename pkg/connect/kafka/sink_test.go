package kafka

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sparsestream/sparse/internal/retry"
	"github.com/sparsestream/sparse/pkg/local"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

func TestSinkRecord(t *testing.T) {
	src := &tuple.Source{Component: "up", Fields: tuple.NewFields("t", "k", "v", "h")}
	in := func(values ...any) *tuple.Tuple { return tuple.New(src, values...) }
	for _, tc := range []struct {
		name              string
		cfg               SinkConfig
		in                *tuple.Tuple
		topic, key, value string
		nilValue          bool
		headers           int
		wantErr           string
	}{
		{"fixed topic, string key and value", SinkConfig{Topic: "out", KeyField: "k", ValueField: "v"},
			in("x", "key", "hello", nil), "out", "key", "hello", false, 0, ""},
		{"topic from a field, number value", SinkConfig{TopicField: "t", ValueField: "v"},
			in("other", nil, int64(42), nil), "other", "", "42", false, 0, ""},
		{"map value as JSON", SinkConfig{Topic: "out", ValueField: "v"},
			in("x", nil, map[string]any{"a": int64(1)}, nil), "out", "", `{"a":1}`, false, 0, ""},
		{"empty string value is empty, not a tombstone", SinkConfig{Topic: "out", ValueField: "v"},
			in("x", nil, "", nil), "out", "", "", false, 0, ""},
		{"nil value is a tombstone", SinkConfig{Topic: "out", KeyField: "k", ValueField: "v"},
			in("x", []byte("k1"), nil, nil), "out", "k1", "", true, 0, ""},
		{"headers from a map", SinkConfig{Topic: "out", ValueField: "v", HeadersField: "h"},
			in("x", nil, "v", map[string]any{"a": "1", "b": int64(2)}), "out", "", "v", false, 2, ""},
		{"missing value field", SinkConfig{Topic: "out", ValueField: "nope"},
			in("x", nil, "v", nil), "", "", "", false, 0, `kafka.value.field "nope"`},
		{"topic field not a string", SinkConfig{TopicField: "v", ValueField: "v"},
			in("x", nil, int64(1), nil), "", "", "", false, 0, `kafka.topic.field "v"`},
		{"headers not a map", SinkConfig{Topic: "out", ValueField: "v", HeadersField: "v"},
			in("x", nil, "s", nil), "", "", "", false, 0, "not a map"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Sink{cfg: tc.cfg}
			rec, err := s.record(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.Topic != tc.topic || string(rec.Key) != tc.key || string(rec.Value) != tc.value ||
				(rec.Value == nil) != tc.nilValue || len(rec.Headers) != tc.headers {
				t.Errorf("record topic=%q key=%q value=%q (nil %v) headers=%d; want %q %q %q (nil %v) %d",
					rec.Topic, rec.Key, rec.Value, rec.Value == nil, len(rec.Headers), tc.topic, tc.key, tc.value, tc.nilValue, tc.headers)
			}
		})
	}
}

// TestSinkRecordFollowsTheStream: one sink fed by streams whose fields are in different
// orders, or missing, finds each input's fields in its own stream.
func TestSinkRecordFollowsTheStream(t *testing.T) {
	kv := &tuple.Source{Component: "a", Fields: tuple.NewFields("k", "v")}
	vk := &tuple.Source{Component: "b", Fields: tuple.NewFields("v", "k")}
	noKey := &tuple.Source{Component: "c", Fields: tuple.NewFields("v")}
	s := &Sink{cfg: SinkConfig{Topic: "out", KeyField: "k", ValueField: "v"}}
	for i, tc := range []struct {
		in       *tuple.Tuple
		key, val string
		wantErr  string
	}{
		{tuple.New(kv, "k1", "v1"), "k1", "v1", ""},
		{tuple.New(vk, "v2", "k2"), "k2", "v2", ""},
		{tuple.New(vk, "v3", "k3"), "k3", "v3", ""},
		{tuple.New(noKey, "v4"), "", "", `kafka.key.field "k"`},
		{tuple.New(kv, "k5", "v5"), "k5", "v5", ""},
		{tuple.New(kv, "k6"), "", "", `kafka.value.field "v"`}, // fewer values than fields
	} {
		rec, err := s.record(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("input %d: error %v, want one containing %q", i, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("input %d: %v", i, err)
		}
		if string(rec.Key) != tc.key || string(rec.Value) != tc.val {
			t.Errorf("input %d: key %q value %q, want %q %q", i, rec.Key, rec.Value, tc.key, tc.val)
		}
	}
}

// TestPipeWritesEveryRecord: records flow topic → spout → sink → topic while the broker
// refuses some produce requests; the refused inputs are failed, replayed and written,
// so every input record is in the output (at least once).
func TestPipeWritesEveryRecord(t *testing.T) {
	n := 10_000
	c := newBroker(t, 4, "in", "out")
	brokers := c.ListenAddrs()
	produce(t, brokers, "in", 0, n)

	// Refuse a few of the sink's produce requests with an error the client does not retry.
	var refused atomic.Int64
	c.ControlKey(int16(kmsg.Produce), func(r kmsg.Request) (kmsg.Response, error, bool) {
		req := r.(*kmsg.ProduceRequest)
		if refused.Load() >= 3 { // after the input was written: only the sink produces now
			return nil, nil, false
		}
		c.KeepControl()
		refused.Add(1)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, p := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = p.Partition
				sp.ErrorCode = kerr.InvalidRecord.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})

	client := Client{Brokers: brokers}
	b := topology.NewBuilder("pipe")
	scfg := SpoutConfig{Client: client, Topics: []string{"in"}, Group: "g", CommitPeriod: 100 * time.Millisecond,
		Retry: retry.Schedule{Initial: 10 * time.Millisecond, Multiplier: 2, Max: 100 * time.Millisecond}}
	b.Spout("kafka", NewSpout(scfg), 2).Output(scfg.OutputFields()...)
	b.Bolt("sink", NewSink(SinkConfig{Client: client, Topic: "out", KeyField: "key", ValueField: "value", MaxInFlight: 500}), 2).Shuffle("kafka")
	spec, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	sum, err := local.RunUntil(t.Context(), local.Options{Spec: spec, Logger: testLogger(t), Duration: 60 * time.Second},
		func(s local.Summary) bool { return s.Component("kafka").Acked >= int64(n) })
	if err != nil {
		t.Fatalf("the spout did not have every record acked: %v", err)
	}
	if refused.Load() == 0 || sum.Component("kafka").Failed == 0 {
		t.Errorf("refused %d produce requests, the spout saw %d failures; want some of each", refused.Load(), sum.Component("kafka").Failed)
	}

	// Read the output back.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("out"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[string]bool{}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for len(got) < n && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			if !bytes.HasPrefix(r.Value, []byte("value ")) || !bytes.Equal(r.Value[6:], r.Key) {
				t.Errorf("record key %q value %q: want the input's key and value", r.Key, r.Value)
			}
			got[string(r.Key)] = true
		})
	}
	if len(got) != n {
		t.Errorf("%d distinct records in the output, want %d", len(got), n)
	}
}

// recordingCollector keeps what a bolt acks, fails and reports.
type recordingCollector struct {
	topology.BoltCollector
	acked, failed int
	reports       []string
}

func (c *recordingCollector) Ack(*tuple.Tuple)  { c.acked++ }
func (c *recordingCollector) Fail(*tuple.Tuple) { c.failed++ }
func (c *recordingCollector) ReportError(err error) {
	c.reports = append(c.reports, err.Error())
}

// TestSinkRateLimitsFailureReports: a burst of failures of one kind is reported once,
// then at most once per period with how many were left out; each kind has its own
// limit, and the metric counts every failure.
func TestSinkRateLimitsFailureReports(t *testing.T) {
	src := &tuple.Source{Component: "up", Fields: tuple.NewFields("v")}
	const (
		refused    = "refused"    // Kafka did not take a record
		unwritable = "unwritable" // an input that cannot be a record
		later      = "later"      // the report period passes
	)
	for _, tc := range []struct {
		name    string
		steps   []string
		reports []string // what each report says, in order
		errors  int64
	}{
		{"one refusal", []string{refused}, []string{"producing a record failed; its tuple is failed to be replayed: broker down"}, 1},
		{"a burst of refusals", []string{refused, refused, refused, refused, refused},
			[]string{"producing a record failed"}, 5},
		{"each kind reports its first", []string{refused, unwritable, refused, unwritable},
			[]string{"producing a record failed", "cannot be written, so it is acked and dropped"}, 4},
		{"after the period, one more with the count", []string{refused, refused, refused, later, refused, refused},
			[]string{"producing a record failed", "broker down (and 2 more like it since the last report"}, 5},
		{"nothing left out, no count", []string{unwritable, later, unwritable},
			[]string{`kafka.value.field "nope"`, `kafka.value.field "nope": the tuple has no such field; its fields are [v]`}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := &recordingCollector{}
			s := &Sink{cfg: SinkConfig{Topic: "out", ValueField: "nope"}, out: out, stats: &sinkStats{}}
			in := tuple.New(src, "x")
			for _, step := range tc.steps {
				switch step {
				case refused:
					s.stats.inFlight.Add(1)
					s.done = append(s.done, produced{in, errors.New("broker down")})
					s.hasDone.Store(true) // as the promise does
					s.Woken()
				case unwritable:
					s.Execute(in)
				case later:
					for _, f := range []*failureReports{&s.refused, &s.unwritable} {
						if f.limit != nil {
							f.limit.last = f.limit.last.Add(-errorReportPeriod - time.Second)
						}
					}
				}
			}
			if len(out.reports) != len(tc.reports) {
				t.Fatalf("%d reports, want %d: %q", len(out.reports), len(tc.reports), out.reports)
			}
			for i, want := range tc.reports {
				counted := strings.Contains(want, "more like it")
				if !strings.Contains(out.reports[i], want) || strings.Contains(out.reports[i], "more like it") != counted {
					t.Errorf("report %d is %q, want it to contain %q (a count of those left out: %v)", i, out.reports[i], want, counted)
				}
			}
			if got := s.stats.errors.Load(); got != tc.errors {
				t.Errorf("the error count is %d, want %d", got, tc.errors)
			}
		})
	}
}
