package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafkaBroker is `sparsectl dev kafka` run as a process, with its data on disk so that
// it can be restarted.
type kafkaBroker struct {
	t         *testing.T
	dir, addr string
	p         *proc
	starts    int
}

func startKafka(t *testing.T, dir string) *kafkaBroker {
	k := &kafkaBroker{t: t, dir: dir, addr: freeAddrs(t, 1)[0]}
	k.start()
	return k
}

func (k *kafkaBroker) start() {
	k.t.Helper()
	k.starts++
	name := fmt.Sprintf("kafka-%d", k.starts)
	k.p = startProc(k.t, k.dir, name, bins.sparsectl, "dev", "kafka", "--listen", k.addr, "--partitions", "4",
		"--topic", "lines", "--topic", "counts", "--data-dir", filepath.Join(k.dir, "kafka-data"))
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(k.p.stdout)
		if strings.Contains(string(b), "kafka is serving at "+k.addr) {
			return
		}
		select {
		case <-k.p.exited:
			k.t.Fatalf("sparsectl dev kafka exited: %v\n%s", k.p.exitErr, tail(k.p.stderr, 20))
		default:
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("sparsectl dev kafka did not serve within a minute:\n%s", tail(k.p.stderr, 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// restart stops the broker cleanly and starts it again on the same address and data.
func (k *kafkaBroker) restart() {
	k.t.Helper()
	k.p.stop(k.t)
	k.start()
}

// produceLines writes lines "u<i> the cow" for i in [from, to): u<i> is a word that
// appears in one line only, so its count in the output shows that line was counted.
func produceLines(t *testing.T, addr string, from, to int) {
	t.Helper()
	if err := tryProduceLines(addr, from, to); err != nil {
		t.Fatal(err)
	}
}

func tryProduceLines(addr string, from, to int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("lines"))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "u%d the cow", i)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("producing lines: %w", err)
	}
	return nil
}

// kafkaOutput reads the counts topic from the start: the records per word.
func kafkaOutput(t *testing.T, addr string) map[string][]string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("counts"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[string][]string{}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			out[string(r.Key)] = append(out[string(r.Key)], string(r.Value))
			n++
		})
		if n == 0 {
			return out
		}
	}
}

// kafkaLag is, for the group, the records of topic not yet committed past.
func kafkaLag(t *testing.T, addr, group, topic string) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lo := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Group = group
	ot := kmsg.NewOffsetFetchRequestTopic()
	ot.Topic = topic
	for p := range int32(4) {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition, lp.Timestamp = p, -1
		lt.Partitions = append(lt.Partitions, lp)
		ot.Partitions = append(ot.Partitions, p)
	}
	lo.Topics = append(lo.Topics, lt)
	of.Topics = append(of.Topics, ot)
	ends, err := lo.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	commits, err := of.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	committed := map[int32]int64{}
	for _, rt := range commits.Topics {
		for _, p := range rt.Partitions {
			committed[p.Partition] = max(p.Offset, 0)
		}
	}
	var lag int64
	for _, rt := range ends.Topics {
		for _, p := range rt.Partitions {
			lag += p.Offset - committed[p.Partition]
		}
	}
	return lag, nil
}

// TestClusterKafkaWordCount: the Kafka wordcount on a cluster, reading from and writing
// to `sparsectl dev kafka`. A worker is SIGKILLed and the broker restarted mid-run; in
// the end every line of the input topic is counted in the output topic (at least once)
// and the spout's commits reach the end of the input.
func TestClusterKafkaWordCount(t *testing.T) {
	const n = 4000
	c := newTestClusterWith(t, []string{"n1"}, map[string]int{"s1": 2}, clusterInsecure)
	k := startKafka(t, c.dir)
	produceLines(t, k.addr, 0, n/4)
	c.waitFor("the supervisor registered", time.Minute, func() bool {
		out, err := c.ctl("supervisors")
		return err == nil && strings.Contains(out, "s1")
	})
	c.mustCtl("submit", bins.kafkaWordcount, "--name", "kwc", "--workers", "2",
		"-o", "kafka.brokers="+k.addr, "-o", "topology.message.timeout.secs=10", "-o", "topology.max.spout.pending=200")

	uniq := regexp.MustCompile(`^u\d+$`)
	counted := func(out map[string][]string) int {
		m := 0
		for w := range out {
			if uniq.MatchString(w) {
				m++
			}
		}
		return m
	}
	c.waitFor("some lines counted", 3*time.Minute, func() bool { return counted(kafkaOutput(t, k.addr)) >= n/20 })
	// More lines, so that the worker dies with records in flight and offsets not yet
	// committed.
	produced := make(chan error, 1)
	go func() {
		for i := n / 4; i < n/2; i += 100 {
			if err := tryProduceLines(k.addr, i, i+100); err != nil {
				produced <- err
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		produced <- nil
	}()
	time.Sleep(500 * time.Millisecond)

	pids := c.workerPIDs("s1")
	if len(pids) == 0 {
		t.Fatal("no worker pid found")
	}
	t.Logf("SIGKILL worker %d", pids[0])
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	k.restart()
	produceLines(t, k.addr, n/2, n)

	c.waitFor("every line counted and committed", 4*time.Minute, func() bool {
		if counted(kafkaOutput(t, k.addr)) < n {
			return false
		}
		lag, err := kafkaLag(t, k.addr, "sparse-kwc-lines", "lines")
		return err == nil && lag == 0
	})
	out := kafkaOutput(t, k.addr)
	dups, records := 0, 0
	for w, vs := range out {
		records += len(vs)
		if uniq.MatchString(w) && len(vs) > 1 {
			dups += len(vs) - 1
		}
	}
	t.Logf("e2e kafka: %d lines in, %d count records out, %d lines counted more than once (replays after the kill and restart)", n, records, dups)
	c.mustCtl("kill", "kwc", "--wait=1s")
}
