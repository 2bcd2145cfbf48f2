package batching

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/pkg/local"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// world is the state shared by the spout, processors and test, all under mu.
type world struct {
	mu      sync.Mutex
	acked   map[int64]int
	failed  map[int64]int
	batches []localBatch
	// failedKey's first batch is failed by the processor.
	failedKey string
	failedYet bool
}

type localBatch struct {
	key    string
	keys   []string // the key field of every member
	ids    []int64
	failed bool
}

// keyedSpout emits ids 0..n-1 with key keys[id%len(keys)], replaying failed ids first.
type keyedSpout struct {
	topology.BaseSpout
	w       *world
	out     topology.SpoutCollector
	keys    []string
	n, next int64
	replays []int64
}

func (s *keyedSpout) Open(_ *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	return nil
}

func (s *keyedSpout) NextTuple() {
	var id int64
	switch {
	case len(s.replays) > 0:
		id, s.replays = s.replays[0], s.replays[1:]
	case s.next < s.n:
		id = s.next
		s.next++
	default:
		return
	}
	s.out.Emit([]any{s.keys[id%int64(len(s.keys))], id}, id)
}

func (s *keyedSpout) Ack(id any) {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	s.w.acked[id.(int64)]++
}

func (s *keyedSpout) Fail(id any) {
	s.w.mu.Lock()
	s.w.failed[id.(int64)]++
	s.w.mu.Unlock()
	s.replays = append(s.replays, id.(int64))
}

// countProc records its batches, emits each batch's size anchored to it, and fails the
// first batch of w.failedKey.
type countProc struct {
	w   *world
	out Emitter
}

func (p *countProc) Prepare(_ *topology.Context, out Emitter) error {
	p.out = out
	return nil
}

func (p *countProc) Key(in *tuple.Tuple) string { return in.StringByField("key") }

func (p *countProc) ProcessBatch(key string, batch []*tuple.Tuple) error {
	b := localBatch{key: key}
	for _, in := range batch {
		b.keys = append(b.keys, in.StringByField("key"))
		b.ids = append(b.ids, in.IntByField("id"))
	}
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	if key == p.w.failedKey && !p.w.failedYet {
		p.w.failedYet = true
		b.failed = true
		p.w.batches = append(p.w.batches, b)
		return errors.New("first batch of this key fails on purpose")
	}
	p.w.batches = append(p.w.batches, b)
	p.out.Emit(key, int64(len(batch)))
	return nil
}

func (p *countProc) Cleanup() {}

// sink acks what the batching bolt emits, completing the spout tuples' trees.
type sink struct{}

func (sink) Prepare(*topology.Context) error                     { return nil }
func (sink) Execute(*tuple.Tuple, topology.BasicCollector) error { return nil }
func (sink) Cleanup()                                            {}

// TestLocalFailedBatchReplays runs spout -> batching bolt -> sink in local mode. The first
// batch of key "b" fails, so its spout tuples are failed and replayed, and must be acked
// in a later batch; every other id is acked after its first batch and the sink's ack.
func TestLocalFailedBatchReplays(t *testing.T) {
	const n = 30
	keys := []string{"a", "b", "c"}
	w := &world{acked: map[int64]int{}, failed: map[int64]int{}, failedKey: "b"}

	b := topology.NewBuilder("batching-local")
	b.Config(topology.ConfMessageTimeoutSecs, 3)
	b.Spout("src", func() topology.Spout { return &keyedSpout{w: w, keys: keys, n: n} }, 1).Output("key", "id")
	Declare(b, "batch", func() Processor { return &countProc{w: w} }, 2, Interval(time.Second)).
		Fields("src", "key").Output("key", "count")
	b.Bolt("sink", topology.Basic(func() topology.BasicBolt { return sink{} }), 1).Shuffle("batch")
	spec, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	rt, err := executor.New(executor.Options{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- local.RunRuntime(ctx, rt, local.Options{}) }()

	allAcked := func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.acked) == n
	}
	deadline := time.Now().Add(9 * time.Second)
	for !allAcked() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	for id := range int64(n) {
		if w.acked[id] != 1 {
			t.Errorf("id %d acked %d times, want once", id, w.acked[id])
		}
	}
	// Exactly the first "b" batch failed, promptly (not by timeout), and was replayed.
	var failedIDs []int64
	for _, bt := range w.batches {
		if bt.failed {
			failedIDs = append(failedIDs, bt.ids...)
		}
	}
	if len(failedIDs) == 0 {
		t.Fatal("no batch failed; the processor should have failed the first batch of \"b\"")
	}
	for id, c := range w.failed {
		if c != 1 || !slices.Contains(failedIDs, id) {
			t.Errorf("id %d failed %d times; only the ids of the failed batch %v should fail, once", id, c, failedIDs)
		}
	}
	if len(w.failed) != len(failedIDs) {
		t.Errorf("%d ids failed at the spout, want the %d of the failed batch", len(w.failed), len(failedIDs))
	}
	// Every batch holds one key, and fresh (not replayed) ids keep their emit order.
	for _, bt := range w.batches {
		for _, k := range bt.keys {
			if k != bt.key {
				t.Errorf("batch of key %q holds a tuple of key %q: %v", bt.key, k, bt.keys)
			}
		}
		if !slices.ContainsFunc(bt.ids, func(id int64) bool { return w.failed[id] > 0 }) && !slices.IsSorted(bt.ids) {
			t.Errorf("batch of key %q is out of emit order: %v", bt.key, bt.ids)
		}
	}
	// Batching happened: far fewer batches than tuples.
	if len(w.batches) >= n/2 {
		t.Errorf("%d batches for %d tuples; want them grouped: %s", len(w.batches), n, fmt.Sprint(w.batches))
	}
	var errs, timedOut int64
	for _, st := range rt.Stats() {
		switch st.Component {
		case "batch":
			errs += st.Errors.Load()
		case "src":
			timedOut += st.TimedOut.Load()
		}
	}
	if errs != 1 {
		t.Errorf("the batching bolt reported %d errors, want 1 (the failed batch)", errs)
	}
	if timedOut != 0 {
		t.Errorf("%d spout tuples timed out; the failed batch should fail them at once", timedOut)
	}
}
