package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// cleanupFlushTimeout bounds how long a closing sink waits for records in flight.
const cleanupFlushTimeout = 10 * time.Second

// errorReportPeriod is how often the sink reports failures of one kind as the task's
// error after the first: a broker outage fails every record in flight.
const errorReportPeriod = 30 * time.Second

// Sink is a bolt that writes each input to Kafka as a record and acks the input only
// once Kafka has acknowledged the record (acks from all in-sync replicas, through an
// idempotent producer), failing it when the produce fails so that its spout replays it.
// Records are produced asynchronously and in batches; at most MaxInFlight are
// unacknowledged, Execute waiting for room beyond that. Make one per task with NewSink.
type Sink struct {
	cfg        SinkConfig
	fromConfig bool // read cfg from the task's config on Prepare
	out        topology.BoltCollector
	tctx       *topology.Context
	cl         *kgo.Client
	stats      *sinkStats

	// unwritable and refused report inputs that cannot be records and records Kafka
	// did not take; the task's goroutine uses them.
	unwritable, refused failureReports
	at                  fieldsAt // the task's goroutine's
	promise             func(*kgo.Record, error)

	mu   sync.Mutex
	done []produced // acknowledged or failed records, for the task's goroutine
	buf  []produced
	// hasDone is set while done holds records (both under mu), so that Woken, called on
	// every Execute, takes the lock only when there is something to take: the lock
	// was 2% of a topic-to-topic pipeline's CPU.
	hasDone atomic.Bool
}

type produced struct {
	in  *tuple.Tuple
	err error
}

// NewSink returns a factory of sinks writing as c says.
func NewSink(c SinkConfig) topology.BoltFactory {
	return func() topology.Bolt { return &Sink{cfg: c} }
}

// Prepare checks the config and connects.
func (s *Sink) Prepare(ctx *topology.Context, out topology.BoltCollector) error {
	if s.fromConfig {
		c, err := parseSinkConfig(ctx.Config, false)
		if err != nil {
			return err
		}
		c.Map = s.cfg.Map // checked with the mapper below: it may choose the topics
		s.cfg = c
	}
	cfg, err := s.cfg.withDefaults()
	if err != nil {
		return err
	}
	s.cfg, s.out, s.tctx = cfg, out, ctx
	s.promise = s.produced // one func value for every record
	s.cl, err = newClient(cfg.Client, out.Logger(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxBufferedRecords(cfg.MaxInFlight),
		kgo.ProducerLinger(cfg.Linger),
		kgo.RecordDeliveryTimeout(cfg.ProduceTimeout),
		kgo.AllowAutoTopicCreation(),
		kgo.ProducerBatchCompression(codec(cfg.Compression)),
	)
	if err != nil {
		return err
	}
	s.stats = &sinkStats{topology: ctx.TopologyID, component: ctx.ComponentID, task: strconv.Itoa(int(ctx.TaskID))}
	register(nil, s.stats)
	return nil
}

// Execute produces the input's record; its ack or fail comes when Kafka answers.
func (s *Sink) Execute(in *tuple.Tuple) {
	s.Woken()
	if in.IsTick() {
		s.out.Ack(in)
		return
	}
	rec, err := s.record(in)
	if err != nil {
		s.stats.errors.Add(1)
		s.unwritable.report(s.out, fmt.Errorf("kafka bolt: a tuple from %s cannot be written, so it is acked and dropped: %w", in.Component(), err))
		s.out.Ack(in)
		return
	}
	if rec == nil {
		s.out.Ack(in)
		return
	}
	s.stats.inFlight.Add(1)
	rec.in = in
	// Produce waits while MaxInFlight records are unacknowledged: the bound.
	s.cl.Produce(context.Background(), &rec.Record, s.promise)
}

// sinkRecord is a record with the input it was made from, in one allocation instead of
// a record and a closure per input. Record comes first: Kafka's client hands the
// promise the *kgo.Record it was given, which is then the sinkRecord's address.
type sinkRecord struct {
	kgo.Record
	in *tuple.Tuple
}

// produced is every record's promise, called by Kafka's client when the record is
// acknowledged or has failed. It must only be the promise of a sinkRecord's Record.
func (s *Sink) produced(r *kgo.Record, err error) {
	in := (*sinkRecord)(unsafe.Pointer(r)).in
	s.mu.Lock()
	s.done = append(s.done, produced{in, err})
	s.hasDone.Store(true)
	s.mu.Unlock()
	s.tctx.Wake()
}

// Woken acks the inputs whose records Kafka acknowledged and fails the others.
func (s *Sink) Woken() {
	if !s.hasDone.Load() {
		return
	}
	s.mu.Lock()
	s.buf, s.done = s.done, s.buf[:0]
	s.hasDone.Store(false)
	s.mu.Unlock()
	for i, p := range s.buf {
		s.stats.inFlight.Add(-1)
		if p.err != nil {
			s.stats.errors.Add(1)
			s.refused.report(s.out, fmt.Errorf("kafka bolt: producing a record failed; its tuple is failed to be replayed: %w", p.err))
			s.out.Fail(p.in)
		} else {
			s.stats.produced.Add(1)
			s.out.Ack(p.in)
		}
		s.buf[i] = produced{}
	}
}

// failureReports reports failures of one kind as the task's error: the first, then at
// most one per errorReportPeriod, saying how many went unreported since. The sink's
// metrics count every one.
type failureReports struct {
	limit *rateLimited
	held  int
}

func (f *failureReports) report(out topology.BoltCollector, err error) {
	if f.limit == nil {
		f.limit = newRateLimited(errorReportPeriod)
	}
	if !f.limit.ok() {
		f.held++
		return
	}
	if f.held > 0 {
		err = fmt.Errorf("%w (and %d more like it since the last report; sparse_kafka_sink_produce_errors_total counts them all)", err, f.held)
		f.held = 0
	}
	out.ReportError(err)
}

// Cleanup waits a while for the records in flight, then closes the client; inputs
// still unacknowledged time out and are replayed.
func (s *Sink) Cleanup() {
	if s.cl == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupFlushTimeout)
	defer cancel()
	_ = s.cl.Flush(ctx)
	s.Woken()
	s.cl.Close()
	unregister(nil, s.stats)
}

// record makes the input's record; nil when the mapper skips it.
func (s *Sink) record(in *tuple.Tuple) (*sinkRecord, error) {
	if s.cfg.Map != nil {
		r, err := s.cfg.Map(in)
		if err != nil || r == nil {
			return nil, err
		}
		rec := &sinkRecord{Record: kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}}
		if rec.Topic == "" {
			rec.Topic = s.cfg.Topic
		}
		if rec.Topic == "" {
			return nil, errors.New("the mapper gave no topic and kafka.topic is not set")
		}
		for _, h := range r.Headers {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		return rec, nil
	}
	at := s.positions(in)
	rec := &sinkRecord{Record: kgo.Record{Topic: s.cfg.Topic}}
	if f := s.cfg.TopicField; f != "" {
		v, ok := valueAt(in, at.topic)
		topic, isString := v.(string)
		if !ok || !isString || topic == "" {
			return nil, fmt.Errorf("kafka.topic.field %q: the tuple has no topic name in it (%v)", f, v)
		}
		rec.Topic = topic
	}
	var err error
	if f := s.cfg.KeyField; f != "" {
		v, ok := valueAt(in, at.key)
		if !ok {
			return nil, fmt.Errorf("kafka.key.field %q: the tuple has no such field; its fields are %v", f, in.Fields())
		}
		if rec.Key, err = toBytes(v); err != nil {
			return nil, fmt.Errorf("kafka.key.field %q: %w", f, err)
		}
	}
	v, ok := valueAt(in, at.value)
	if !ok {
		return nil, fmt.Errorf("kafka.value.field %q: the tuple has no such field; its fields are %v", s.cfg.ValueField, in.Fields())
	}
	if rec.Value, err = toBytes(v); err != nil {
		return nil, fmt.Errorf("kafka.value.field %q: %w", s.cfg.ValueField, err)
	}
	if f := s.cfg.HeadersField; f != "" {
		v, _ := valueAt(in, at.headers)
		hs, ok := v.(map[string]any)
		if v != nil && !ok {
			return nil, fmt.Errorf("kafka.headers.field %q holds a %T, not a map", f, v)
		}
		for k, hv := range hs {
			b, err := toBytes(hv)
			if err != nil {
				return nil, fmt.Errorf("kafka.headers.field %q, header %q: %w", f, k, err)
			}
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: b})
		}
	}
	return rec, nil
}

// fieldsAt is where the configured fields sit in the stream of the last input: looking
// each up by name in every tuple was a tenth of the sink's CPU. Inputs of one stream
// share their *tuple.Fields, so a new stream is a new lookup.
type fieldsAt struct {
	of                         *tuple.Fields // nil: nothing cached
	topic, key, value, headers int           // -1: not configured, or not a field of the stream
}

// positions returns where the configured fields are in in's stream.
func (s *Sink) positions(in *tuple.Tuple) *fieldsAt {
	if f := in.Fields(); f == nil || f != s.at.of {
		index := func(name string) int {
			if i, ok := f.Index(name); ok && name != "" {
				return i
			}
			return -1
		}
		s.at = fieldsAt{of: f, topic: index(s.cfg.TopicField), key: index(s.cfg.KeyField),
			value: index(s.cfg.ValueField), headers: index(s.cfg.HeadersField)}
	}
	return &s.at
}

// valueAt returns in's value at i, if it has one there.
func valueAt(in *tuple.Tuple, i int) (any, bool) {
	if i < 0 || i >= len(in.Values) {
		return nil, false
	}
	return in.Values[i], true
}

// toBytes writes a tuple value as record bytes: bytes and strings as they are, numbers
// and booleans as text, lists and maps as JSON, nil as null (a tombstone value).
func toBytes(v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		return x, nil
	case string:
		if x == "" {
			return []byte{}, nil // empty, not null: a nil value is a tombstone
		}
		// The string's own bytes, not a copy: Kafka's client only reads a record's key
		// and value, and a string is never written to. The copy was a fifth of the
		// sink's CPU.
		return unsafe.Slice(unsafe.StringData(x), len(x)), nil
	case int64:
		return strconv.AppendInt(nil, x, 10), nil
	case float64:
		return strconv.AppendFloat(nil, x, 'g', -1, 64), nil
	case bool:
		return strconv.AppendBool(nil, x), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("a %T cannot be written as JSON: %w", v, err)
	}
	return b, nil
}

func codec(name string) kgo.CompressionCodec {
	switch name {
	case "none":
		return kgo.NoCompression()
	case "gzip":
		return kgo.GzipCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	return kgo.SnappyCompression()
}
