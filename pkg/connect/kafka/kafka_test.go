package kafka

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sparsestream/sparse/internal/retry"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/pkg/local"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// newBroker starts an in-process Kafka broker with topics of the given partitions.
func newBroker(t testing.TB, partitions int32, topics ...string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// produce writes n records to topic, spread over its partitions by key, and returns how
// many went to each partition.
func produce(t testing.TB, brokers []string, topic string, from, n int) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(time.Millisecond),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	counts := map[int32]int64{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	for i := from; i < from+n; i++ {
		wg.Add(1)
		r := &kgo.Record{Topic: topic, Key: []byte(strconv.Itoa(i)), Value: []byte("value " + strconv.Itoa(i))}
		cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			counts[r.Partition]++
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("produce: %v", firstErr)
	}
	return counts
}

// committed reads the group's committed offsets of topic.
func committed(t testing.TB, brokers []string, group, topic string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.MaxVersions(capVersions()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	for p := range int32(64) {
		rt.Partitions = append(rt.Partitions, p)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	out := map[int32]int64{}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			if p.Offset >= 0 {
				out[p.Partition] = p.Offset
			}
		}
	}
	return out
}

// seen records every execution of a record by the checking bolt.
type seen struct {
	mu    sync.Mutex
	times map[string][]time.Time // "partition/offset" -> when each execution began
	fails map[string][]time.Time // when each failure (or dropped input) happened
}

func newSeen() *seen { return &seen{times: map[string][]time.Time{}, fails: map[string][]time.Time{}} }

func (s *seen) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.times)
}

// checkBolt records each input and acks it, except that fail(key, attempt) may fail it
// ("fail") or drop it to time out ("drop") on chosen attempts.
type checkBolt struct {
	seen *seen
	out  topology.BoltCollector
	fail func(partition, offset int64, attempt int) string
}

func (b *checkBolt) Prepare(_ *topology.Context, out topology.BoltCollector) error {
	b.out = out
	return nil
}

func (b *checkBolt) Execute(in *tuple.Tuple) {
	p, o := in.Values[1].(int64), in.Values[2].(int64)
	key := fmt.Sprintf("%d/%d", p, o)
	now := time.Now()
	b.seen.mu.Lock()
	b.seen.times[key] = append(b.seen.times[key], now)
	attempt := len(b.seen.times[key])
	what := ""
	if b.fail != nil {
		what = b.fail(p, o, attempt)
	}
	if what != "" {
		b.seen.fails[key] = append(b.seen.fails[key], now)
	}
	b.seen.mu.Unlock()
	switch what {
	case "fail":
		b.out.Fail(in)
	case "drop":
	default:
		b.out.Ack(in)
	}
}

func (b *checkBolt) Cleanup() {}

// spoutBuilder is a topology with one spout task "kafka".
func spoutBuilder(cfg SpoutConfig) *topology.Builder {
	b := topology.NewBuilder("kafka-test")
	b.Spout("kafka", NewSpout(cfg), 1).Output(cfg.OutputFields()...)
	return b
}

func spoutTopology(t testing.TB, cfg SpoutConfig, tasks int, bolt *checkBolt) *topology.Spec {
	t.Helper()
	b := topology.NewBuilder("kafka-test")
	b.Spout("kafka", NewSpout(cfg), tasks).Output(cfg.OutputFields()...)
	b.Bolt("check", func() topology.Bolt { return &checkBolt{seen: bolt.seen, fail: bolt.fail} }, 2).Shuffle("kafka")
	spec, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: testutil.LogWriter(t), Level: hclog.Warn})
}

// acked: the spout had n tuple trees acked, so its last commit (as it closes) reaches
// the end of what it read.
func acked(s local.Summary, n int) bool { return s.Component("kafka").Acked >= int64(n) }

// runSpout runs the spout topology until every one of n records was executed, and
// returns the executions.
func runSpout(t *testing.T, cfg SpoutConfig, conf topology.Config, n int, fail func(p, o int64, attempt int) string, also func() bool) *seen {
	t.Helper()
	s := newSeen()
	spec := spoutTopology(t, cfg, 3, &checkBolt{seen: s, fail: fail})
	_, err := local.RunUntil(t.Context(), local.Options{Spec: spec, Config: conf, Logger: testLogger(t), Duration: 60 * time.Second},
		func(sum local.Summary) bool { return acked(sum, n) && s.distinct() >= n && (also == nil || also()) })
	if err != nil {
		t.Fatalf("not every record was processed (%d of %d): %v", s.distinct(), n, err)
	}
	return s
}

// checkCommitted waits until the group's commits reach every partition's end; the
// spout's last commit is made as it closes.
func checkCommitted(t *testing.T, brokers []string, group, topic string, ends map[int32]int64) {
	t.Helper()
	got := committed(t, brokers, group, topic)
	for p, end := range ends {
		if got[p] != end {
			t.Errorf("partition %d: committed %d, want its end %d", p, got[p], end)
		}
	}
}

// TestSpoutReadsEveryRecord: 100,000 records over 8 partitions read by 3 spout tasks;
// every offset is processed and the commits reach the end of every partition.
func TestSpoutReadsEveryRecord(t *testing.T) {
	n := 100_000
	c := newBroker(t, 8, "in")
	brokers := c.ListenAddrs()
	ends := produce(t, brokers, "in", 0, n)
	cfg := SpoutConfig{Client: Client{Brokers: brokers}, Topics: []string{"in"}, Group: "g", CommitPeriod: 100 * time.Millisecond}
	s := runSpout(t, cfg, topology.Config{topology.ConfMaxSpoutPending: 2000}, n, nil, nil)
	if got := s.distinct(); got != n {
		t.Errorf("%d distinct records processed, want %d", got, n)
	}
	checkCommitted(t, brokers, "g", "in", ends)
}

// TestSpoutRetriesFailuresWithBackoff: a bolt that fails 1% of the records (twice each)
// and drops some to time out; nothing is lost and each retry comes after its backoff.
func TestSpoutRetriesFailuresWithBackoff(t *testing.T) {
	n := 20_000
	c := newBroker(t, 8, "in")
	brokers := c.ListenAddrs()
	ends := produce(t, brokers, "in", 0, n)
	sched := retry.Schedule{Initial: 20 * time.Millisecond, Multiplier: 3, Max: 200 * time.Millisecond}
	cfg := SpoutConfig{Client: Client{Brokers: brokers}, Topics: []string{"in"}, Group: "g",
		CommitPeriod: 100 * time.Millisecond, Retry: sched}
	fail := func(_, o int64, attempt int) string {
		switch {
		case o%100 == 7 && attempt <= 2:
			return "fail"
		case o%1000 == 13 && attempt == 1:
			return "drop" // times out after topology.message.timeout.secs
		}
		return ""
	}
	failing := 0
	for _, e := range ends {
		for o := range e {
			if o%100 == 7 || o%1000 == 13 {
				failing++
			}
		}
	}
	var s *seen
	retriedAll := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		done := 0
		for k, fs := range s.fails {
			if len(s.times[k]) > len(fs) {
				done++
			}
		}
		return done >= failing
	}
	s = newSeen()
	spec := spoutTopology(t, cfg, 3, &checkBolt{seen: s, fail: fail})
	_, err := local.RunUntil(t.Context(), local.Options{Spec: spec, Logger: testLogger(t), Duration: 60 * time.Second,
		Config: topology.Config{topology.ConfMessageTimeoutSecs: 1, topology.ConfMaxSpoutPending: 2000}},
		func(sum local.Summary) bool { return acked(sum, n) && s.distinct() >= n && retriedAll() })
	if err != nil {
		t.Fatalf("not every record was processed and retried (%d of %d): %v", s.distinct(), n, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, fs := range s.fails {
		// At least one more execution than failures: a retry acked later than the
		// message timeout (on a loaded machine) is failed by the timeout and emitted
		// once more, as at least once allows.
		times := s.times[k]
		if len(times) < len(fs)+1 {
			t.Errorf("record %s: %d executions after %d failures, want at least %d", k, len(times), len(fs), len(fs)+1)
			continue
		}
		for i, f := range fs {
			// The spout hears of a failure after the failure, so the gap is at least
			// the backoff (a timeout adds the timeout on top).
			if gap, least := times[i+1].Sub(f), sched.Delay(i+1); gap < least {
				t.Errorf("record %s: retry %d came %v after the failure, want at least %v", k, i+1, gap, least)
			}
		}
	}
	checkCommitted(t, brokers, "g", "in", ends)
}

// TestSpoutPausesAtMaxUncommitted: one record that fails for a while holds its
// partition's commit; the spout pauses the partition at max uncommitted offsets, and
// resumes once the record is acked.
func TestSpoutPausesAtMaxUncommitted(t *testing.T) {
	n := 4000
	c := newBroker(t, 1, "in")
	brokers := c.ListenAddrs()
	ends := produce(t, brokers, "in", 0, n)
	const maxUncommitted = 100
	cfg := SpoutConfig{Client: Client{Brokers: brokers}, Topics: []string{"in"}, Group: "g",
		CommitPeriod: 50 * time.Millisecond, MaxUncommittedOffsets: maxUncommitted,
		Retry: retry.Schedule{Initial: 100 * time.Millisecond, Multiplier: 1}, PollMaxRecords: 50}
	held := true
	var heldMu sync.Mutex
	fail := func(_, o int64, _ int) string {
		heldMu.Lock()
		defer heldMu.Unlock()
		if o == 10 && held {
			return "fail"
		}
		return ""
	}
	s := newSeen()
	spec := spoutTopology(t, cfg, 1, &checkBolt{seen: s, fail: fail})
	ctx := t.Context()
	done := make(chan error, 1)
	go func() {
		_, err := local.RunUntil(ctx, local.Options{Spec: spec, Logger: testLogger(t), Duration: 60 * time.Second},
			func(sum local.Summary) bool { return acked(sum, n) })
		done <- err
	}()
	// While offset 10 fails, the spout stops near 10+maxUncommitted (plus what one
	// fetch had already buffered).
	testutil.Eventually(t, 20*time.Second, "the first records read", func() bool { return s.distinct() >= maxUncommitted })
	time.Sleep(500 * time.Millisecond)
	if got := s.distinct(); got > 10+maxUncommitted+2*cfg.PollMaxRecords+1000 || got >= n {
		t.Errorf("%d records emitted while offset 10 was held; want the partition paused near %d", got, 10+maxUncommitted)
	}
	heldMu.Lock()
	held = false
	heldMu.Unlock()
	if err := <-done; err != nil {
		t.Fatalf("not every record was processed after the release (%d of %d): %v", s.distinct(), n, err)
	}
	checkCommitted(t, brokers, "g", "in", ends)
}

// TestSpoutReadsAddedPartitions: partitions added to the topic while the spout runs are
// assigned within the refresh period and read.
func TestSpoutReadsAddedPartitions(t *testing.T) {
	c := newBroker(t, 2, "in")
	brokers := c.ListenAddrs()
	first := produce(t, brokers, "in", 0, 1000)
	cfg := SpoutConfig{Client: Client{Brokers: brokers}, Topics: []string{"in"}, Group: "g",
		CommitPeriod: 50 * time.Millisecond, RefreshPeriod: 100 * time.Millisecond}
	s := newSeen()
	spec := spoutTopology(t, cfg, 3, &checkBolt{seen: s})
	done := make(chan error, 1)
	go func() {
		_, err := local.RunUntil(t.Context(), local.Options{Spec: spec, Logger: testLogger(t), Duration: 60 * time.Second},
			func(sum local.Summary) bool { return acked(sum, 3000) })
		done <- err
	}()
	testutil.Eventually(t, 20*time.Second, "the first 1000 records read", func() bool { return s.distinct() >= 1000 })
	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrCreatePartitionsRequest()
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = "in", 6
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 5000
	resp, err := req.RequestWith(t.Context(), adm)
	adm.Close()
	if err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create partitions: %v %+v", err, resp)
	}
	second := produce(t, brokers, "in", 1000, 2000)
	if err := <-done; err != nil {
		t.Fatalf("not every record was read (%d of 3000): %v", s.distinct(), err)
	}
	for p, e := range first {
		second[p] += e
	}
	for _, p := range []int32{2, 3, 4, 5} {
		if second[p] == 0 {
			t.Errorf("no record went to the new partition %d; the test proves nothing", p)
		}
	}
	checkCommitted(t, brokers, "g", "in", second)
}

// TestSpoutSkipsUntranslatableRecords: a translator that panics on some records (an
// undecodable key, say) and returns values of the wrong shape on others: those records
// are reported and committed past, the others processed, and the commits reach the end.
func TestSpoutSkipsUntranslatableRecords(t *testing.T) {
	n := 1000
	c := newBroker(t, 2, "in")
	brokers := c.ListenAddrs()
	ends := produce(t, brokers, "in", 0, n)
	cfg := SpoutConfig{Client: Client{Brokers: brokers}, Topics: []string{"in"}, Group: "g", CommitPeriod: 50 * time.Millisecond,
		Translate: func(r *Record) ([]any, string) {
			k, err := strconv.Atoi(string(r.Key))
			switch {
			case err != nil || k%10 == 3:
				panic(fmt.Sprintf("undecodable key %q", r.Key))
			case k%10 == 4:
				return []any{"too", "few"}, "" // the stream has five fields
			}
			return []any{r.Topic, int64(r.Partition), r.Offset, string(r.Key), string(r.Value)}, ""
		}}
	s := newSeen()
	spec := spoutTopology(t, cfg, 1, &checkBolt{seen: s})
	want := n * 8 / 10
	_, err := local.RunUntil(t.Context(), local.Options{Spec: spec, Logger: testLogger(t), Duration: 30 * time.Second},
		func(sum local.Summary) bool { return acked(sum, want) && sum.Component("kafka").Errors >= int64(n/5) })
	if err != nil {
		t.Fatalf("want %d records processed and %d reported: %v", want, n/5, err)
	}
	if got := s.distinct(); got != want {
		t.Errorf("%d records processed, want %d", got, want)
	}
	checkCommitted(t, brokers, "g", "in", ends)
}

// TestSpoutSurvivesLeaderChanges: with three brokers whose partition leaders move while
// the spout reads and commits, nothing is lost and the commits reach the end.
func TestSpoutSurvivesLeaderChanges(t *testing.T) {
	n := 10_000
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(8, "in"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	ends := produce(t, brokers, "in", 0, n)
	cfg := SpoutConfig{Client: Client{Brokers: brokers}, Topics: []string{"in"}, Group: "g", CommitPeriod: 20 * time.Millisecond,
		PollMaxRecords: 100}
	s := newSeen()
	spec := spoutTopology(t, cfg, 3, &checkBolt{seen: s})
	stop := make(chan struct{})
	shuffled := make(chan int)
	go func() {
		k := 0
		defer func() { shuffled <- k }()
		// The first shuffle comes with the first record processed, so that the leaders
		// move while nearly all of them are still to be read however fast the run is;
		// the next ones every 30ms.
		wait := time.Millisecond
		for {
			select {
			case <-stop:
				return
			case <-time.After(wait):
				if k == 0 && s.distinct() == 0 {
					continue
				}
				c.ShufflePartitionLeaders()
				c.RehashCoordinators()
				k++
				wait = 30 * time.Millisecond
			}
		}
	}()
	_, err = local.RunUntil(t.Context(), local.Options{Spec: spec, Logger: testLogger(t), Duration: 60 * time.Second,
		Config: topology.Config{topology.ConfMaxSpoutPending: 500}},
		func(sum local.Summary) bool { return acked(sum, n) })
	close(stop)
	k := <-shuffled
	if err != nil {
		t.Fatalf("not every record was processed (%d of %d) across %d leader shuffles: %v", s.distinct(), n, k, err)
	}
	if k == 0 {
		t.Error("the leaders never moved; the test proves nothing")
	}
	checkCommitted(t, brokers, "g", "in", ends)
}

// TestSpoutGroupMode: with kafka.partition.mode group, three tasks join the consumer
// group, its coordinator divides eight partitions, every record is processed and the
// commits (made in the group's generation) reach every partition's end.
func TestSpoutGroupMode(t *testing.T) {
	n := 20_000
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(8, "in"),
		kfake.BrokerConfigs(map[string]string{"group.initial.rebalance.delay.ms": "0"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	ends := produce(t, brokers, "in", 0, n)
	cfg := SpoutConfig{Client: Client{Brokers: brokers}, Topics: []string{"in"}, Group: "g", GroupMode: true,
		CommitPeriod: 50 * time.Millisecond}
	// Partitions move while the members join, and a moved partition's tuples in flight
	// are emitted again by its new owner: wait for the commits themselves.
	var last time.Time
	atEnds := func() bool {
		if time.Since(last) < 100*time.Millisecond {
			return false
		}
		last = time.Now()
		got := committed(t, brokers, "g", "in")
		for p, end := range ends {
			if got[p] != end {
				return false
			}
		}
		return true
	}
	s := runSpout(t, cfg, topology.Config{topology.ConfMaxSpoutPending: 2000}, n, nil, atEnds)
	if got := s.distinct(); got != n {
		t.Errorf("%d distinct records processed, want %d", got, n)
	}
	checkCommitted(t, brokers, "g", "in", ends)
}

// TestSpoutUnreliableGuarantees: at_most_once and none emit each record once, without
// replaying what a bolt fails, and commit to the end of every partition.
func TestSpoutUnreliableGuarantees(t *testing.T) {
	for _, g := range []Guarantee{AtMostOnce, None} {
		t.Run(string(g), func(t *testing.T) {
			n := 5000
			c := newBroker(t, 4, "in")
			brokers := c.ListenAddrs()
			ends := produce(t, brokers, "in", 0, n)
			cfg := SpoutConfig{Client: Client{Brokers: brokers}, Topics: []string{"in"}, Group: "g", Guarantee: g,
				CommitPeriod: 20 * time.Millisecond}
			s := newSeen()
			fail := func(_, o int64, _ int) string {
				if o%10 == 0 {
					return "fail"
				}
				return ""
			}
			spec := spoutTopology(t, cfg, 2, &checkBolt{seen: s, fail: fail})
			var all time.Time // when every record had been processed
			_, err := local.RunUntil(t.Context(), local.Options{Spec: spec, Logger: testLogger(t), Duration: 30 * time.Second},
				func(local.Summary) bool {
					if all.IsZero() && s.distinct() >= n {
						all = time.Now()
					}
					return !all.IsZero() && time.Since(all) > 300*time.Millisecond // time for a replay to show
				})
			if err != nil {
				t.Fatalf("%d of %d records processed: %v", s.distinct(), n, err)
			}
			s.mu.Lock()
			for k, ts := range s.times {
				if len(ts) != 1 {
					t.Errorf("record %s executed %d times, want once", k, len(ts))
				}
			}
			s.mu.Unlock()
			checkCommitted(t, brokers, "g", "in", ends)
		})
	}
}

// TestSpoutBadInput: a broker that cannot be reached and a topic that does not exist yet
// are warned about while the topology keeps running; once the topic exists, it is read.
func TestSpoutBadInput(t *testing.T) {
	t.Run("unreachable broker", func(t *testing.T) {
		addr := freeAddr(t)
		cfg := SpoutConfig{Client: Client{Brokers: []string{addr}}, Topics: []string{"in"}, Group: "g", RefreshPeriod: 100 * time.Millisecond}
		spec := spoutTopology(t, cfg, 1, &checkBolt{seen: newSeen()})
		// With no condition, the run lasts its duration; an error would mean the
		// spout failed to open or the run broke.
		if _, err := local.RunUntil(t.Context(), local.Options{Spec: spec, Logger: testLogger(t), Duration: time.Second}, nil); err != nil {
			t.Fatalf("the topology did not keep running: %v", err)
		}
	})
	t.Run("topic created later", func(t *testing.T) {
		c := newBroker(t, 1, "other")
		brokers := c.ListenAddrs()
		cfg := SpoutConfig{Client: Client{Brokers: brokers}, Topics: []string{"later"}, Group: "g", RefreshPeriod: 100 * time.Millisecond}
		s := newSeen()
		spec := spoutTopology(t, cfg, 1, &checkBolt{seen: s})
		done := make(chan error, 1)
		go func() {
			_, err := local.RunUntil(t.Context(), local.Options{Spec: spec, Logger: testLogger(t), Duration: 30 * time.Second},
				func(sum local.Summary) bool { return acked(sum, 100) })
			done <- err
		}()
		time.Sleep(300 * time.Millisecond)
		adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err != nil {
			t.Fatal(err)
		}
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "later", 2, 1
		req.Topics = append(req.Topics, rt)
		req.TimeoutMillis = 5000
		resp, err := req.RequestWith(t.Context(), adm)
		adm.Close()
		if err != nil || resp.Topics[0].ErrorCode != 0 {
			t.Fatalf("create topic: %v %+v", err, resp)
		}
		produce(t, brokers, "later", 0, 100)
		if err := <-done; err != nil {
			t.Fatalf("the topic created later was not read (%d of 100): %v", s.distinct(), err)
		}
	})
}

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestSpoutTopicPattern: a pattern reads every topic whose whole name matches, and no
// other.
func TestSpoutTopicPattern(t *testing.T) {
	c := newBroker(t, 2, "logs-a", "logs-b", "other", "xlogs-c")
	brokers := c.ListenAddrs()
	for _, topic := range []string{"logs-a", "logs-b", "other", "xlogs-c"} {
		produce(t, brokers, topic, 0, 100)
	}
	cfg := SpoutConfig{Client: Client{Brokers: brokers}, TopicPattern: regexp.MustCompile(`^(?:logs-.*)$`), Group: "g"}
	topics := map[string]int{}
	var mu sync.Mutex
	b := topology.NewBuilder("pattern")
	cfg.Translate = func(r *Record) ([]any, string) {
		mu.Lock()
		topics[r.Topic]++
		mu.Unlock()
		return []any{r.Topic, int64(r.Partition), r.Offset, nil, nil}, ""
	}
	b.Spout("kafka", NewSpout(cfg), 2).Output(DefaultFields...)
	b.Bolt("check", func() topology.Bolt { return &checkBolt{seen: newSeen()} }, 1).Shuffle("kafka")
	spec, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := local.RunUntil(t.Context(), local.Options{Spec: spec, Logger: testLogger(t), Duration: 30 * time.Second},
		func(sum local.Summary) bool { return acked(sum, 200) }); err != nil {
		t.Fatalf("the matching topics were not read: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if topics["logs-a"] != 100 || topics["logs-b"] != 100 || len(topics) != 2 {
		t.Errorf("records read per topic %v, want 100 of each of logs-a and logs-b and nothing else", topics)
	}
}
