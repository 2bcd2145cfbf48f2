package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/hashicorp/go-hclog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sparsestream/sparse/internal/checked"
	"github.com/sparsestream/sparse/internal/chunk"
	"github.com/sparsestream/sparse/internal/retry"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// closeCommitTimeout bounds the last commit a closing spout makes.
const closeCommitTimeout = 5 * time.Second

// Spout reads records from Kafka and emits one tuple per record. Make one per task with
// NewSpout (its factory); the tasks of a component share the partitions, task i of n
// taking every n-th of the sorted partitions.
//
// Its I/O runs on goroutines of its own (a poller, a partition refresher, a committer)
// that hand records and assignments to the task's goroutine through a channel, so
// NextTuple, Ack and Fail never wait on the network and own all the offset state.
type Spout struct {
	cfg        SpoutConfig
	fromConfig bool // read cfg from the task's config on Open
	out        topology.SpoutCollector
	log        hclog.Logger

	topologyID string
	group      string
	cl         *kgo.Client
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	events     chan event
	commits    chan map[TopicPartition]int64
	stats      *spoutStats
	now        func() time.Time
	// commitFailed tells the task's goroutine to send every offset again.
	commitFailed atomic.Bool

	// Owned by the task's goroutine.
	parts      map[TopicPartition]*partState
	retries    retryQueue
	buf        []*message
	bi         int
	resumed    []TopicPartition // partitions below the limit again, with held records
	lastTP     TopicPartition   // the partition of the last record taken, and its state
	lastP      *partState
	lastCommit time.Time
	sent       map[TopicPartition]int64 // committable offsets last handed to the committer
	// emitted and acked count since publish last added them to stats: an atomic add per
	// record cost the task's goroutine more than its offset tracking. NextTuple publishes
	// them; Ack does too every publishEvery acks (the engine does not call NextTuple while
	// a task is at max pending), and at once while the topology is deactivated
	// (inactive), when nothing calls NextTuple.
	emitted, acked int64
	inactive       bool
	emitting       *message // the record being emitted, for burst's recover
	// checked is the collector as a checked.Emitter, when it is one: the values the
	// poller builds are checked there, so the engine need not check them again.
	checked checked.Emitter
}

// partState is one assigned partition, on the task's goroutine.
type partState struct {
	tr     *offsetTracker
	gen    uint64 // which assignment of the partition this is
	paused bool
	end    int64 // the high watermark last seen
	// held are records read but not emitted while the partition is at max uncommitted
	// offsets (a fetch already under way when it was paused brings more); emitted in
	// order once it is below again.
	held []*message
	// topicV and partV are the partition's topic and number as tuple values, boxed once.
	topicV, partV any
	// revoked: the partition is no longer this task's (this assignment of it is over).
	revoked bool
}

// message is a record read, and the id of its tuple once emitted. The poller makes
// them, a poll's worth in one allocation, with the default output's values already
// built (vals[:nvals]), so that the task's goroutine, which every emit and ack passes
// through, only tracks and emits.
type message struct {
	tp     TopicPartition
	Offset int64
	rec    *kgo.Record
	p      *partState // set when the task's goroutine takes the record
	fails  int
	due    time.Time
	vals   [5]any // the default output's values of the first emission
	nvals  int
}

// event is what the I/O goroutines hand the task's goroutine, in order: partitions
// assigned before their records, records, partitions revoked.
type event struct {
	assign  []assigned
	revoke  []TopicPartition
	records []*message
	ends    map[TopicPartition]int64
}

type assigned struct {
	tp    TopicPartition
	start int64 // the committed offset resumed from; -1 when starting at an end
	gen   uint64
}

// NewSpout returns a factory of spouts reading as c says. c is checked when a task
// opens; CheckSpoutConfig checks it before.
func NewSpout(c SpoutConfig) topology.SpoutFactory {
	return func() topology.Spout { return &Spout{cfg: c} }
}

// Open checks the config, connects, and starts reading the task's partitions.
func (s *Spout) Open(ctx *topology.Context, out topology.SpoutCollector) error {
	if s.fromConfig {
		c, err := spoutConfigFrom(ctx.Config, false)
		if err != nil {
			return err
		}
		c.Translate = s.cfg.Translate
		s.cfg = c
	}
	cfg, err := s.cfg.withDefaults()
	if err != nil {
		return err
	}
	s.cfg, s.out, s.log = cfg, out, out.Logger()
	s.checked, _ = out.(checked.Emitter)
	if s.now == nil {
		s.now = time.Now
	}
	s.topologyID = ctx.TopologyID
	s.group = cfg.Group
	if s.group == "" {
		// The name, not the id: a topology submitted again (a new id) resumes.
		s.group = "sparse-" + topologyName(ctx.TopologyID) + "-" + ctx.ComponentID
	}
	index, n := max(ctx.ThisTaskIndex(), 0), max(len(ctx.ComponentTasks(ctx.ComponentID)), 1)
	s.parts = map[TopicPartition]*partState{}
	s.sent = map[TopicPartition]int64{}
	s.retries = retryQueue{schedule: cfg.Retry, maxRetries: cfg.MaxRetries}
	s.events = make(chan event, 4)
	s.commits = make(chan map[TopicPartition]int64, 1)
	s.stats = &spoutStats{topology: ctx.TopologyID, component: ctx.ComponentID,
		task: strconv.Itoa(int(ctx.TaskID)), parts: map[TopicPartition]partSnapshot{}}
	runCtx, cancel := context.WithCancel(context.Background())
	opts := []kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadCommitted())}
	if cfg.GroupMode {
		opts = append(opts, s.groupOptions(runCtx)...)
	} else {
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{}),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	}
	s.cl, err = newClient(cfg.Client, s.log, opts...)
	if err != nil {
		cancel()
		return err
	}
	register(s.stats, nil)
	s.lastCommit = s.now()
	s.cancel = cancel
	s.wg.Add(2)
	if !cfg.GroupMode {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.refreshLoop(runCtx, index, n) }()
	}
	go func() { defer s.wg.Done(); s.pollLoop(runCtx) }()
	go func() { defer s.wg.Done(); s.commitLoop(runCtx) }()
	return nil
}

// groupOptions make the client a member of the consumer group, whose coordinator
// assigns the partitions; assignments and revocations reach the task's goroutine as
// events, as the refresher's do in the manual mode.
func (s *Spout) groupOptions(ctx context.Context) []kgo.Opt {
	var gen atomic.Uint64
	start := kgo.NewOffset().AtStart()
	if s.cfg.FirstPoll == Latest || s.cfg.FirstPoll == UncommittedLatest {
		start = kgo.NewOffset().AtEnd()
	}
	revoke := func(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
		ev := event{}
		for t, ps := range lost {
			for _, p := range ps {
				ev.revoke = append(ev.revoke, TopicPartition{t, p})
			}
		}
		s.send(ctx, ev)
	}
	opts := []kgo.Opt{
		kgo.ConsumerGroup(s.group),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(start),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, got map[string][]int32) {
			ev := event{}
			for t, ps := range got {
				for _, p := range ps {
					ev.assign = append(ev.assign, assigned{tp: TopicPartition{t, p}, start: -1, gen: gen.Add(1)})
				}
			}
			s.send(ctx, ev)
		}),
		kgo.OnPartitionsRevoked(revoke),
		kgo.OnPartitionsLost(revoke),
	}
	if s.cfg.TopicPattern != nil {
		return append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics(s.cfg.TopicPattern.String()))
	}
	return append(opts, kgo.ConsumeTopics(s.cfg.Topics...))
}

// NextTuple emits up to emitBurst records: failed ones whose backoff has passed first,
// then held ones of resumed partitions, then new ones. A burst amortizes the engine's
// per-call cost as a batch read from a queue does; it may overshoot
// topology.max.spout.pending by less than a burst.
func (s *Spout) NextTuple() {
	now := s.now()
	s.publish()
	s.takeEvents()
	if now.Sub(s.lastCommit) >= s.cfg.CommitPeriod {
		s.lastCommit = now
		s.commit()
	}
	s.burst(now)
}

// burst emits up to emitBurst records. A record whose emit panics (see emit) ends the
// burst: one deferred recover a burst costs less than one a record.
func (s *Spout) burst(now time.Time) {
	defer func() {
		if p := recover(); p != nil {
			m := s.emitting
			s.emitting = nil
			if m == nil {
				panic(p) // not from an emit
			}
			s.out.ReportError(fmt.Errorf("kafka spout: record %s/%d at offset %d is skipped: it cannot be emitted: %v",
				m.tp.Topic, m.tp.Partition, m.Offset, p))
			s.stats.skipped.Add(1)
			s.done(m)
		}
	}()
	for range emitBurst {
		if !s.emitOne(now) {
			return
		}
	}
}

// emitBurst bounds the records one NextTuple emits.
const emitBurst = 32

// emitOne emits one record; false when none is ready.
func (s *Spout) emitOne(now time.Time) bool {
	for {
		m := s.retries.due(now)
		if m == nil {
			break
		}
		if !m.p.revoked {
			if !s.emit(m) { // the translator skips it now
				s.stats.skipped.Add(1)
				s.done(m)
				continue
			}
			s.stats.retried.Add(1)
			return true
		}
	}
	for len(s.resumed) > 0 {
		if s.emitHeld(s.resumed[0]) {
			return true
		}
		s.resumed = s.resumed[1:]
	}
	for {
		if s.bi >= len(s.buf) && !s.nextBatch() {
			return false
		}
		m := s.buf[s.bi]
		s.buf[s.bi] = nil
		s.bi++
		if s.handle(m) {
			return true
		}
	}
}

// nextBatch takes the next event without waiting, applies it, and reports whether
// records are waiting in buf.
func (s *Spout) nextBatch() bool {
	select {
	case ev := <-s.events:
		s.apply(ev)
		return s.bi < len(s.buf)
	default:
		return false
	}
}

// takeEvents applies waiting assignment events while no records are buffered, so a
// new partition is known before its records.
func (s *Spout) takeEvents() {
	for s.bi >= len(s.buf) {
		select {
		case ev := <-s.events:
			s.apply(ev)
		default:
			return
		}
	}
}

func (s *Spout) apply(ev event) {
	for _, a := range ev.assign {
		if old := s.parts[a.tp]; old != nil {
			old.revoked = true
		}
		s.parts[a.tp] = &partState{tr: newOffsetTracker(a.start), gen: a.gen, end: -1}
		s.log.Debug("partition assigned", "topic", a.tp.Topic, "partition", a.tp.Partition, "start", a.start)
	}
	for _, tp := range ev.revoke {
		if p := s.parts[tp]; p != nil {
			p.revoked = true
		}
		delete(s.parts, tp)
		delete(s.sent, tp)
	}
	if len(ev.revoke) > 0 {
		s.retries.drop(func(tp TopicPartition) bool { return s.parts[tp] != nil })
	}
	for tp, end := range ev.ends {
		if p := s.parts[tp]; p != nil {
			p.end = max(p.end, end)
		}
	}
	s.buf, s.bi = ev.records, 0
}

// handle emits a record read from Kafka, or commits past it; it reports whether it
// emitted.
func (s *Spout) handle(m *message) bool {
	// Records come in runs of one partition: look it up once per run.
	p := s.lastP
	if p == nil || p.revoked || s.lastTP != m.tp {
		p = s.parts[m.tp]
		s.lastTP, s.lastP = m.tp, p
	}
	if p == nil || p.tr.known(m.Offset) {
		return false // no longer ours, or emitted already (read again after a reset)
	}
	m.p = p
	if p.paused || len(p.held) > 0 {
		p.held = append(p.held, m)
		return false
	}
	return s.emitNew(p, m)
}

// emitHeld emits the next held record of a resumed partition; false when it has none
// left (or was paused again).
func (s *Spout) emitHeld(tp TopicPartition) bool {
	p := s.parts[tp]
	for p != nil && !p.paused && len(p.held) > 0 {
		m := p.held[0]
		p.held[0] = nil
		p.held = p.held[1:]
		if s.emitNew(p, m) {
			return true
		}
	}
	return false
}

// emitNew emits a record for the first time, or commits past it when it is skipped.
func (s *Spout) emitNew(p *partState, m *message) bool {
	if p.tr.known(m.Offset) {
		return false
	}
	tp := m.tp
	p.tr.emitted(m.Offset)
	if !s.emit(m) {
		s.stats.skipped.Add(1)
		p.tr.finished(m.Offset)
		return false
	}
	s.emitted++
	if s.cfg.Guarantee != AtLeastOnce {
		p.tr.finished(m.Offset) // unreliable: done once emitted
	} else if !p.paused && p.tr.uncommitted() >= s.cfg.MaxUncommittedOffsets {
		p.paused = true
		s.cl.PauseFetchPartitions(map[string][]int32{tp.Topic: {tp.Partition}})
		s.log.Debug("partition paused: max uncommitted offsets reached", "topic", tp.Topic, "partition", tp.Partition)
	}
	return true
}

// emit translates and emits m; it reports false when the translator skips the record.
// A translator that panics, or values the engine refuses (a wrong number of fields, a
// type a tuple cannot hold), make emit panic with s.emitting set, and burst skips the
// record with an error reported: emitting it again would fail the same way, and a record
// never finished would hold its partition's commit.
func (s *Spout) emit(m *message) bool {
	s.emitting = m
	// The first emission uses the values the poller built (and checked) in the message;
	// a retry, or a translator, builds new ones (the first tuple's receivers may still
	// read them).
	var values []any
	var stream string
	built := m.fails == 0 && m.nvals > 0
	if built {
		values = m.vals[:m.nvals]
	} else {
		values, stream = s.translate(m.rec, m.p, nil)
	}
	if values == nil {
		s.emitting = nil
		return false
	}
	var id any
	if s.cfg.Guarantee == AtLeastOnce {
		id = m
	}
	switch {
	case built && s.checked != nil:
		s.checked.EmitChecked(values, id)
	case stream == "":
		s.out.Emit(values, id)
	default:
		s.out.EmitStream(stream, values, id)
	}
	s.emitting = nil
	return true
}

func (s *Spout) translate(r *kgo.Record, p *partState, buf []any) ([]any, string) {
	if r.Value == nil && s.cfg.SkipTombstones {
		return nil, ""
	}
	if s.cfg.Translate != nil {
		rec := Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
		for _, h := range r.Headers {
			rec.Headers = append(rec.Headers, Header{h.Key, h.Value})
		}
		return s.cfg.Translate(&rec)
	}
	// The topic and partition are boxed once per partition, not per record.
	var topic, part any
	if p == nil {
		topic, part = any(r.Topic), any(int64(r.Partition))
	} else {
		if p.topicV == nil {
			p.topicV, p.partV = any(r.Topic), any(int64(r.Partition))
		}
		topic, part = p.topicV, p.partV
	}
	offset, key, value := new(recordValues).set(r, s.cfg.ValuesAsBytes, nil)
	values := buf
	values = append(values, topic, part, offset, key, value)
	if s.cfg.Headers {
		h := make(map[string]any, len(r.Headers))
		for _, x := range r.Headers {
			h[x.Key] = recordBytes(x.Value, s.cfg.ValuesAsBytes)
		}
		values = append(values, h)
	}
	return values, ""
}

// Ack marks the record's offset done.
func (s *Spout) Ack(id any) {
	m, ok := id.(*message)
	if !ok {
		return
	}
	s.acked++
	if s.inactive || s.acked >= publishEvery {
		s.publish()
	}
	s.done(m)
}

// publishEvery bounds the acks Ack counts before it publishes them.
const publishEvery = 64

// publish adds the counts kept on the task's goroutine to the metrics.
func (s *Spout) publish() {
	if s.emitted != 0 {
		s.stats.emitted.Add(s.emitted)
		s.emitted = 0
	}
	if s.acked != 0 {
		s.stats.acked.Add(s.acked)
		s.acked = 0
	}
}

// Fail schedules the record again after its backoff, or gives it up once its retries
// are spent.
func (s *Spout) Fail(id any) {
	m, ok := id.(*message)
	if !ok {
		return
	}
	s.stats.failed.Add(1)
	if m.p.revoked {
		return // the partition is no longer ours: its new owner reads it from the commit
	}
	if s.retries.failed(m, s.now()) == giveUp {
		s.stats.givenUp.Add(1)
		s.log.Warn("a record failed more than kafka.retry.max.retries times; it is committed past",
			"topic", m.tp.Topic, "partition", m.tp.Partition, "offset", m.Offset, "failures", m.fails)
		s.done(m)
	}
}

func (s *Spout) done(m *message) {
	p := m.p
	if p.revoked {
		return
	}
	p.tr.finished(m.Offset)
	if p.paused && p.tr.uncommitted() < s.cfg.MaxUncommittedOffsets {
		p.paused = false
		s.cl.ResumeFetchPartitions(map[string][]int32{m.tp.Topic: {m.tp.Partition}})
		if len(p.held) > 0 {
			s.resumed = append(s.resumed, m.tp)
		}
		s.log.Debug("partition resumed", "topic", m.tp.Topic, "partition", m.tp.Partition)
	}
}

// commit hands the committable offsets that moved to the committer and refreshes the
// metrics' snapshot. at_most_once commits before emitting, in the poller.
func (s *Spout) commit() {
	s.publish()
	if s.commitFailed.Swap(false) {
		clear(s.sent) // send every partition again
	}
	if s.cfg.Guarantee != AtMostOnce {
		offs := s.committable()
		if len(offs) > 0 {
			select {
			case s.commits <- offs:
				for tp, o := range offs {
					s.sent[tp] = o
				}
			default: // the last commit is still going; the next period sends these
			}
		}
	}
	s.stats.mu.Lock()
	for tp, p := range s.parts {
		snap := s.stats.parts[tp]
		snap.end, snap.uncommitted, snap.paused = p.end, p.tr.uncommitted(), p.paused
		if _, ok := s.stats.parts[tp]; !ok {
			snap.committed = -1
		}
		s.stats.parts[tp] = snap
	}
	for tp := range s.stats.parts {
		if s.parts[tp] == nil {
			delete(s.stats.parts, tp)
		}
	}
	s.stats.mu.Unlock()
}

// committable returns the partitions whose committable offset moved since last sent.
func (s *Spout) committable() map[TopicPartition]int64 {
	offs := map[TopicPartition]int64{}
	for tp, p := range s.parts {
		if c := p.tr.committable; c >= 0 && c != s.sent[tp] {
			offs[tp] = c
		}
	}
	return offs
}

// Activate does nothing but note it: the spout reads while it is open.
func (s *Spout) Activate() { s.inactive = false }

// Deactivate commits what is committable, as Storm's spout does.
func (s *Spout) Deactivate() {
	s.inactive = true
	s.commit()
}

// Close stops the I/O, commits what is committable and closes the client.
func (s *Spout) Close() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.wg.Wait()
	if s.cfg.Guarantee != AtMostOnce {
		clear(s.sent) // what the committer had may not have been committed
		if offs := s.committable(); len(offs) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), closeCommitTimeout)
			if err := s.commitOffsets(ctx, offs); err != nil {
				s.log.Warn("the last offset commit failed; the next run reads these records again", "error", err)
			}
			cancel()
		}
	}
	s.cl.Close()
	unregister(s.stats, nil)
}

// send hands ev to the task's goroutine, or gives up when ctx ends.
func (s *Spout) send(ctx context.Context, ev event) bool {
	select {
	case s.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// pollLoop reads records and hands them over in batches.
func (s *Spout) pollLoop(ctx context.Context) {
	warn := newRateLimited(30 * time.Second)
	var pre preparer
	for ctx.Err() == nil {
		fetches := s.cl.PollRecords(ctx, s.cfg.PollMaxRecords)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			return
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			if warn.ok() {
				s.log.Warn("reading from Kafka failed; retrying", "topic", topic, "partition", p, "error", err)
			}
		})
		ends := map[TopicPartition]int64{}
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			ends[TopicPartition{p.Topic, p.Partition}] = p.HighWatermark
		})
		recs := fetches.Records()
		if len(recs) == 0 && len(ends) == 0 {
			continue
		}
		s.stats.polled.Add(int64(len(recs)))
		if s.cfg.Guarantee == AtMostOnce && len(recs) > 0 {
			if !s.commitBeforeEmit(ctx, recs) {
				return
			}
		}
		if !s.send(ctx, event{records: pre.messages(recs, s.cfg), ends: ends}) {
			return
		}
	}
}

// preparer makes the poller's messages; it keeps each partition's topic and number
// boxed as tuple values.
type preparer struct {
	boxed  map[TopicPartition][2]any
	lastTP TopicPartition
	last   [2]any
	values chunk.Of[recordValues]
	text   text
}

// recordValues hold the offset, key and value a record's tuple values point at (see
// boxString). The poller takes them from chunks (internal/chunk), so a tuple value a bolt
// keeps keeps its chunk alive: at most sixteen records' strings, not their records or
// fetch buffers. Never written after set.
type recordValues struct {
	offset     int64
	key, value string
}

// set fills rv from r and returns the record's offset, key and value as tuple values
// that point into rv: nil for a missing key or value, bytes with asBytes (the record's
// own), strings otherwise (copies of the record's bytes, made by tx).
func (rv *recordValues) set(r *kgo.Record, asBytes bool, tx *text) (offset, key, value any) {
	rv.offset = r.Offset
	if asBytes {
		key, value = recordBytes(r.Key, true), recordBytes(r.Value, true)
	} else {
		if r.Key != nil {
			rv.key = tx.copy(r.Key)
			key = boxString(&rv.key)
		}
		if r.Value != nil {
			rv.value = tx.copy(r.Value)
			value = boxString(&rv.value)
		}
	}
	return boxInt64(&rv.offset), key, value
}

// text copies records' keys and values into strings, packing the small ones into
// shared blocks of textBlock bytes: one allocation for a dozen 100-byte values instead
// of one each. A string a bolt keeps keeps its block alive, about what it kept before
// through its chunk of recordValues (sixteen records' strings); a large key or value gets
// an allocation of its own. The zero text has no block; a nil *text copies each alone.
type text struct {
	block []byte // the current block's free tail: len 0, its capacity what is left
}

// textBlock is the size of a shared block; textAlone the size from which a key or value
// is copied on its own.
const (
	textBlock = 2048
	textAlone = textBlock / 4
)

func (tx *text) copy(b []byte) string {
	n := len(b)
	switch {
	case n == 0:
		return ""
	case tx == nil || n >= textAlone:
		return string(b)
	case n > cap(tx.block):
		tx.block = make([]byte, 0, textBlock)
	}
	dst := tx.block[:n]
	copy(dst, b)
	// The block is never written again where dst lies: the next copy starts after it.
	tx.block = tx.block[n:n:cap(tx.block)]
	return unsafe.String(&dst[0], n)
}

// messages wraps recs, one allocation for all, building the default output's values
// unless a translator or headers are configured (those are built on the task's
// goroutine, where a translator is always called) or the record is too large for a tuple.
// The values it builds are canonical tuple values within tuple.MaxBytes, so the spout
// emits them through checked.Emitter: the poller's check costs little where the values
// were just written, the engine's a cache miss on the task's goroutine.
func (pr *preparer) messages(recs []*kgo.Record, cfg SpoutConfig) []*message {
	if len(recs) == 0 {
		return nil
	}
	ms := make([]message, len(recs))
	out := make([]*message, len(recs))
	build := cfg.Translate == nil && !cfg.Headers
	for i, r := range recs {
		m := &ms[i]
		m.tp, m.Offset, m.rec = TopicPartition{r.Topic, r.Partition}, r.Offset, r
		out[i] = m
		if !build || (r.Value == nil && cfg.SkipTombstones) || len(r.Topic)+len(r.Key)+len(r.Value) > tuple.MaxBytes {
			continue // the task's goroutine builds them, or finds them too large, when it emits
		}
		if m.tp != pr.lastTP || pr.last[0] == nil {
			b, ok := pr.boxed[m.tp]
			if !ok {
				if pr.boxed == nil {
					pr.boxed = map[TopicPartition][2]any{}
				}
				b = [2]any{r.Topic, int64(r.Partition)}
				pr.boxed[m.tp] = b
			}
			pr.lastTP, pr.last = m.tp, b
		}
		offset, key, value := pr.values.Next().set(r, cfg.ValuesAsBytes, &pr.text)
		m.vals = [5]any{pr.last[0], pr.last[1], offset, key, value}
		m.nvals = 5
	}
	return out
}

// eface is the layout of an interface value with no methods: its dynamic type, and a
// pointer to its value (for types that are not pointers themselves).
type eface struct {
	typ, data unsafe.Pointer
}

func typeOf(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

var (
	stringType = typeOf("")
	int64Type  = typeOf(int64(0))
)

// boxString is the interface value holding *p, pointing at *p itself instead of a copy
// on the heap, which converting to any makes: with recordValues in chunks, boxing a
// record's offset, key and value costs no allocation of its own (two of the three a
// record took). *p must not change afterwards, as a boxed value never does.
// TestPreparerValues fails if Go's interface layout ever stops matching eface.
func boxString(p *string) (v any) {
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = stringType, unsafe.Pointer(p)
	return v
}

// boxInt64 is boxString for an int64.
func boxInt64(p *int64) (v any) {
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = int64Type, unsafe.Pointer(p)
	return v
}

// recordBytes is a record's key or value as a tuple value: nil, the bytes, or a string.
func recordBytes(b []byte, asBytes bool) any {
	switch {
	case b == nil:
		return nil
	case asBytes:
		return b
	}
	return string(b)
}

// commitBeforeEmit commits past recs before they are handed over (at_most_once),
// retrying until it succeeds or ctx ends: records whose commit failed are not emitted.
func (s *Spout) commitBeforeEmit(ctx context.Context, recs []*kgo.Record) bool {
	offs := map[TopicPartition]int64{}
	for _, r := range recs {
		tp := TopicPartition{r.Topic, r.Partition}
		offs[tp] = max(offs[tp], r.Offset+1)
	}
	b := retry.New(100*time.Millisecond, 5*time.Second)
	for {
		err := s.commitOffsets(ctx, offs)
		if err == nil {
			return true
		}
		s.log.Warn("committing before emitting failed; retrying", "error", err)
		if retry.Sleep(ctx, b.Next()) != nil {
			return false
		}
	}
}

// commitLoop commits what the task's goroutine hands it.
func (s *Spout) commitLoop(ctx context.Context) {
	for {
		select {
		case offs := <-s.commits:
			if err := s.commitOffsets(ctx, offs); err != nil && ctx.Err() == nil {
				s.log.Warn("an offset commit failed; the next commit period tries again", "error", err)
			}
		case <-ctx.Done():
			return
		}
	}
}

// commitOffsets commits offs for the group, outside any group generation (the spout is
// not a group member), with the topology id as metadata for the first poll strategies.
func (s *Spout) commitOffsets(ctx context.Context, offs map[TopicPartition]int64) error {
	if s.cfg.GroupMode {
		return s.commitAsMember(ctx, offs)
	}
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = s.group
	req.Generation = -1
	byTopic := map[string]int{}
	for tp, o := range offs {
		i, ok := byTopic[tp.Topic]
		if !ok {
			t := kmsg.NewOffsetCommitRequestTopic()
			t.Topic = tp.Topic
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			byTopic[tp.Topic] = i
		}
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Partition, p.Offset, p.LeaderEpoch = tp.Partition, o, -1
		meta := s.topologyID
		p.Metadata = &meta
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
	}
	resp, err := req.RequestWith(ctx, s.cl)
	return s.committed(offs, resp, err)
}

// commitAsMember commits offs in the group's current generation (the group mode).
func (s *Spout) commitAsMember(ctx context.Context, offs map[TopicPartition]int64) error {
	m := map[string]map[int32]kgo.EpochOffset{}
	for tp, o := range offs {
		if m[tp.Topic] == nil {
			m[tp.Topic] = map[int32]kgo.EpochOffset{}
		}
		m[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: o}
	}
	var resp *kmsg.OffsetCommitResponse
	var err error
	s.cl.CommitOffsetsSync(ctx, m, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, r *kmsg.OffsetCommitResponse, e error) {
		resp, err = r, e
	})
	if resp == nil && err == nil {
		return nil // nothing of offs is this member's any more
	}
	return s.committed(offs, resp, err)
}

// committed records the outcome of a commit of offs.
func (s *Spout) committed(offs map[TopicPartition]int64, resp *kmsg.OffsetCommitResponse, err error) error {
	if err != nil {
		s.stats.commitErrors.Add(1)
		s.commitFailed.Store(true)
		return fmt.Errorf("kafka: committing offsets for group %s: %w", s.group, err)
	}
	var firstErr error
	s.stats.mu.Lock()
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("kafka: committing %s/%d for group %s: %w", t.Topic, p.Partition, s.group, err)
				}
				continue
			}
			tp := TopicPartition{t.Topic, p.Partition}
			snap, ok := s.stats.parts[tp]
			if !ok {
				snap.end = -1
			}
			snap.committed = offs[tp]
			s.stats.parts[tp] = snap
		}
	}
	s.stats.mu.Unlock()
	if firstErr != nil {
		s.stats.commitErrors.Add(1)
		s.commitFailed.Store(true)
		return firstErr
	}
	s.stats.commits.Add(1)
	return nil
}

// refreshLoop lists the topics' partitions now and every refresh period, and assigns
// this task its share.
func (s *Spout) refreshLoop(ctx context.Context, index, n int) {
	mine := map[TopicPartition]bool{}
	var gen uint64
	warn := newRateLimited(time.Minute)
	t := time.NewTicker(s.cfg.RefreshPeriod)
	defer t.Stop()
	for {
		all, missing, err := s.listPartitions(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if warn.ok() {
				s.log.Warn("listing the topics' partitions failed; retrying", "error", err)
			}
		default:
			if len(missing) > 0 && warn.ok() {
				s.log.Warn("topics not found in Kafka; they are read once they exist", "topics", missing)
			}
			if !s.reassign(ctx, assignPartitions(all, index, n), mine, &gen) {
				return
			}
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// reassign starts reading the partitions of want that are new and stops the ones gone.
func (s *Spout) reassign(ctx context.Context, want []TopicPartition, mine map[TopicPartition]bool, gen *uint64) bool {
	wanted := map[TopicPartition]bool{}
	var added []TopicPartition
	for _, tp := range want {
		wanted[tp] = true
		if !mine[tp] {
			added = append(added, tp)
		}
	}
	var gone []TopicPartition
	for tp := range mine {
		if !wanted[tp] {
			gone = append(gone, tp)
		}
	}
	if len(gone) > 0 {
		rm := map[string][]int32{}
		for _, tp := range gone {
			rm[tp.Topic] = append(rm[tp.Topic], tp.Partition)
			delete(mine, tp)
		}
		s.cl.RemoveConsumePartitions(rm)
		if !s.send(ctx, event{revoke: gone}) {
			return false
		}
	}
	if len(added) == 0 {
		return true
	}
	committed, err := s.fetchCommitted(ctx, added)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("reading the committed offsets failed; retrying on the next refresh", "error", err)
		}
		return ctx.Err() == nil
	}
	ev := event{}
	add := map[string]map[int32]kgo.Offset{}
	for _, tp := range added {
		c := committed[tp]
		pos := startFor(s.cfg.FirstPoll, c.offset, c.metadata, s.topologyID)
		*gen++
		ev.assign = append(ev.assign, assigned{tp: tp, start: pos.offset, gen: *gen})
		o := kgo.NewOffset()
		switch {
		case pos.offset >= 0:
			o = o.At(pos.offset)
		case pos.earliest:
			o = o.AtStart()
		default:
			o = o.AtEnd()
		}
		if add[tp.Topic] == nil {
			add[tp.Topic] = map[int32]kgo.Offset{}
		}
		add[tp.Topic][tp.Partition] = o
		mine[tp] = true
	}
	if !s.send(ctx, ev) { // known to the task before any of its records
		return false
	}
	s.cl.AddConsumePartitions(add)
	return true
}

// listPartitions returns every partition of the configured topics, and the listed
// topics that do not exist.
func (s *Spout) listPartitions(ctx context.Context) ([]TopicPartition, []string, error) {
	req := kmsg.NewPtrMetadataRequest()
	if s.cfg.TopicPattern == nil {
		for _, t := range s.cfg.Topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, rt)
		}
	} else {
		req.Topics = nil // every topic
	}
	resp, err := req.RequestWith(ctx, s.cl)
	if err != nil {
		return nil, nil, fmt.Errorf("kafka: metadata: %w", err)
	}
	var all []TopicPartition
	var missing []string
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		name := *t.Topic
		if s.cfg.TopicPattern != nil && (t.IsInternal || !s.cfg.TopicPattern.MatchString(name)) {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				missing = append(missing, name)
				continue
			}
			return nil, nil, fmt.Errorf("kafka: metadata of topic %s: %w", name, err)
		}
		for _, p := range t.Partitions {
			all = append(all, TopicPartition{name, p.Partition})
		}
	}
	return all, missing, nil
}

type committedOffset struct {
	offset   int64
	metadata string
}

// fetchCommitted reads the group's committed offsets of tps (-1: none).
func (s *Spout) fetchCommitted(ctx context.Context, tps []TopicPartition) (map[TopicPartition]committedOffset, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = s.group
	byTopic := map[string]int{}
	for _, tp := range tps {
		i, ok := byTopic[tp.Topic]
		if !ok {
			t := kmsg.NewOffsetFetchRequestTopic()
			t.Topic = tp.Topic
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			byTopic[tp.Topic] = i
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, tp.Partition)
	}
	resp, err := req.RequestWith(ctx, s.cl)
	if err != nil {
		return nil, fmt.Errorf("kafka: reading the offsets of group %s: %w", s.group, err)
	}
	out := map[TopicPartition]committedOffset{}
	for _, tp := range tps {
		out[tp] = committedOffset{offset: -1}
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		if errors.Is(err, kerr.GroupIDNotFound) {
			return out, nil // a group nobody committed for yet
		}
		return nil, fmt.Errorf("kafka: reading the offsets of group %s: %w", s.group, err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				if errors.Is(err, kerr.GroupIDNotFound) || errors.Is(err, kerr.UnknownTopicOrPartition) {
					continue
				}
				return nil, fmt.Errorf("kafka: reading the offset of %s/%d for group %s: %w", t.Topic, p.Partition, s.group, err)
			}
			c := committedOffset{offset: p.Offset}
			if p.Metadata != nil {
				c.metadata = *p.Metadata
			}
			out[TopicPartition{t.Topic, p.Partition}] = c
		}
	}
	return out, nil
}

// rateLimited says yes at most once per period, to keep a broken connection from
// filling the log.
type rateLimited struct {
	every time.Duration
	last  time.Time
}

func newRateLimited(every time.Duration) *rateLimited { return &rateLimited{every: every} }

func (r *rateLimited) ok() bool {
	now := time.Now()
	if now.Sub(r.last) < r.every {
		return false
	}
	r.last = now
	return true
}
