package worker

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// bigSpout emits n reliable tuples of a 1 MiB payload each, then one over
// tuple.MaxBytes, which the engine must refuse at the emit.
type bigSpout struct {
	topology.BaseSpout
	out     topology.SpoutCollector
	n, next int64
	acked   *atomic.Int64
	refused *atomic.Value
	payload []byte
}

func (s *bigSpout) Open(_ *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	s.payload = make([]byte, 1<<20)
	return nil
}

func (s *bigSpout) NextTuple() {
	switch {
	case s.next < s.n:
		s.out.Emit([]any{s.next, s.payload}, s.next)
		s.next++
	case s.next == s.n:
		s.next++
		func() {
			defer func() { s.refused.Store(recover()) }()
			s.out.Emit([]any{s.next, make([]byte, tuple.MaxBytes+1)}, s.next)
		}()
	}
}

func (s *bigSpout) Ack(any) { s.acked.Add(1) }

// TestLargeTuplesCrossWorkers: a batch of 1 MiB tuples (128 MiB, twice what a worker
// accepts in one frame) crosses to the other worker spread over frames; nothing is
// refused or dropped and every tuple is acked. A tuple over tuple.MaxBytes is refused
// at the emit, with an error that says so.
func TestLargeTuplesCrossWorkers(t *testing.T) {
	const n = 300
	var acked atomic.Int64
	var refused atomic.Value
	var mu sync.Mutex
	seen := map[int64]int{}
	b := topology.NewBuilder("large")
	b.Config(topology.ConfWorkers, 2)
	b.Config(topology.ConfMaxSpoutPending, 200)
	b.Config(topology.ConfMessageTimeoutSecs, 60)
	b.Spout("spout", func() topology.Spout { return &bigSpout{n: n, acked: &acked, refused: &refused} }, 1).Output("id", "payload")
	b.Bolt("sink", func() topology.Bolt { return &sinkBolt{mu: &mu, seen: seen} }, 1).Shuffle("spout")
	spec, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	l1, l2 := listen(t), listen(t)
	layout := topology.NewLayout(spec, spec.Config.AckerTasks())
	a := Spread("large", 1, layout, []scheduler.WorkerSlot{Static("w1", l1.Addr().String()), Static("w2", l2.Addr().String())})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var workers []*Worker
	for _, x := range []struct {
		id string
		l  net.Listener
	}{{"w1", l1}, {"w2", l2}} {
		w, err := New(Options{Spec: spec, Assignment: a, WorkerID: x.id, Listener: x.l})
		if err != nil {
			t.Fatal(err)
		}
		workers = append(workers, w)
		wg.Go(func() {
			if err := w.Run(ctx); err != nil {
				t.Errorf("%s: %v", x.id, err)
			}
		})
	}
	for deadline := time.Now().Add(time.Minute); (acked.Load() < n || refused.Load() == nil) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if acked.Load() != n {
		t.Fatalf("acked %d of %d 1 MiB tuples", acked.Load(), n)
	}
	var sent, bytes, frames int64
	for _, w := range workers {
		tt := w.Transport()
		sent, bytes, frames = sent+tt.TuplesSent, bytes+tt.BytesSent, frames+tt.FramesSent
		if tt.Dropped != 0 || tt.Refused != 0 {
			t.Errorf("transport dropped %d, refused %d", tt.Dropped, tt.Refused)
		}
	}
	if sent < n || bytes < n<<20 {
		t.Errorf("sent %d tuples in %d bytes across workers; want the %d payloads to cross", sent, bytes, n)
	}
	if frames < n/2 {
		t.Errorf("%d frames carried %d MiB; want them spread over frames, not a batch to a frame", frames, bytes>>20)
	}
	err, _ = refused.Load().(error)
	if err == nil || !strings.Contains(err.Error(), "tuple.MaxBytes") {
		t.Errorf("emitting a tuple over tuple.MaxBytes: %v, want a refusal naming the limit", refused.Load())
	}
}
