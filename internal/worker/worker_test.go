package worker

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// idSpout emits ids [0, n) reliably and counts acks.
type idSpout struct {
	topology.BaseSpout
	out   topology.SpoutCollector
	n     int64
	next  int64
	step  int64
	acked *atomic.Int64
	fails *atomic.Int64
	again []int64
	ids   *ackSet
}

// ackSet records which ids were acked at least once.
type ackSet struct {
	mu   sync.Mutex
	seen map[int64]bool
}

func (a *ackSet) add(id int64) {
	a.mu.Lock()
	a.seen[id] = true
	a.mu.Unlock()
}

func (a *ackSet) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.seen)
}

func (s *idSpout) Open(ctx *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	s.next = int64(ctx.ThisTaskIndex())
	s.step = int64(len(ctx.ComponentTasks(ctx.ComponentID)))
	return nil
}

func (s *idSpout) NextTuple() {
	switch {
	case len(s.again) > 0:
		id := s.again[0]
		s.again = s.again[1:]
		s.out.Emit([]any{id}, id)
	case s.next < s.n:
		s.out.Emit([]any{s.next}, s.next)
		s.next += s.step
	}
}

func (s *idSpout) Ack(id any) {
	s.acked.Add(1)
	s.ids.add(id.(int64))
}

func (s *idSpout) Fail(id any) {
	s.fails.Add(1)
	s.again = append(s.again, id.(int64))
}

type sinkBolt struct {
	topology.BaseBolt
	out  topology.BoltCollector
	mu   *sync.Mutex
	seen map[int64]int
}

func (b *sinkBolt) Prepare(_ *topology.Context, out topology.BoltCollector) error {
	b.out = out
	return nil
}

func (b *sinkBolt) Execute(in *tuple.Tuple) {
	b.mu.Lock()
	b.seen[in.Int(0)]++
	b.mu.Unlock()
	b.out.Ack(in)
}

type fixture struct {
	spec  *topology.Spec
	ids   ackSet
	acked atomic.Int64
	fails atomic.Int64
	mu    sync.Mutex
	seen  map[int64]int
}

func newFixture(t *testing.T, n int64) *fixture {
	f := &fixture{seen: map[int64]int{}, ids: ackSet{seen: map[int64]bool{}}}
	b := topology.NewBuilder("pair")
	b.Config(topology.ConfWorkers, 2)
	b.Config(topology.ConfMessageTimeoutSecs, 2)
	b.Spout("spout", func() topology.Spout { return &idSpout{n: n, acked: &f.acked, fails: &f.fails, ids: &f.ids} }, 2).Output("id")
	b.Bolt("mid", func() topology.Bolt { return &passBolt{} }, 2).Shuffle("spout").Output("id")
	b.Bolt("sink", func() topology.Bolt { return &sinkBolt{mu: &f.mu, seen: f.seen} }, 2).Fields("mid", "id")
	spec, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	f.spec = spec
	return f
}

type passBolt struct {
	topology.BaseBolt
	out topology.BoltCollector
}

func (b *passBolt) Prepare(_ *topology.Context, out topology.BoltCollector) error {
	b.out = out
	return nil
}

func (b *passBolt) Execute(in *tuple.Tuple) {
	b.out.Emit(in, in.Values)
	b.out.Ack(in)
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestTwoWorkersOverGRPC runs a topology as two workers in one test process, talking
// real gRPC over loopback: every id is acked and reaches the sink exactly once.
func TestTwoWorkersOverGRPC(t *testing.T) {
	const n = 20000
	f := newFixture(t, n)
	l1, l2 := listen(t), listen(t)
	a := Spread("pair", 1, topology.NewLayout(f.spec, f.spec.Config.AckerTasks()),
		[]scheduler.WorkerSlot{Static("w1", l1.Addr().String()), Static("w2", l2.Addr().String())})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var workers []*Worker
	for _, x := range []struct {
		id string
		l  net.Listener
	}{{"w1", l1}, {"w2", l2}} {
		w, err := New(Options{Spec: f.spec, Assignment: a, WorkerID: x.id, Listener: x.l})
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
	deadline := time.Now().Add(time.Minute)
	for f.acked.Load() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if f.acked.Load() != n || f.fails.Load() != 0 {
		t.Fatalf("acked %d of %d, %d failed", f.acked.Load(), n, f.fails.Load())
	}
	for id := int64(0); id < n; id++ {
		if f.seen[id] != 1 {
			t.Fatalf("id %d reached the sink %d times", id, f.seen[id])
		}
	}
	var sent, recv int64
	for _, w := range workers {
		tt := w.Transport()
		sent += tt.TuplesSent
		recv += tt.TuplesRecv
		if tt.Dropped != 0 || tt.Refused != 0 {
			t.Errorf("transport dropped %d, refused %d", tt.Dropped, tt.Refused)
		}
	}
	if sent == 0 || sent != recv {
		t.Errorf("tuples sent %d, received %d; want equal and non-zero", sent, recv)
	}
}

// TestPeerRestart: one worker stops and a new one takes its place on the same address;
// the other reconnects on its own and every id is acked in the end.
func TestPeerRestart(t *testing.T) {
	const n = 20000
	f := newFixture(t, n)
	l1, l2 := listen(t), listen(t)
	addr2 := l2.Addr().String()
	a := Spread("pair", 1, topology.NewLayout(f.spec, f.spec.Config.AckerTasks()),
		[]scheduler.WorkerSlot{Static("w1", l1.Addr().String()), Static("w2", addr2)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run := func(ctx context.Context, id string, l net.Listener, wg *sync.WaitGroup) {
		w, err := New(Options{Spec: f.spec, Assignment: a, WorkerID: id, Listener: l})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { _ = w.Run(ctx) })
	}
	var wg1, wg2 sync.WaitGroup
	run(ctx, "w1", l1, &wg1)
	ctx2, cancel2 := context.WithCancel(ctx)
	run(ctx2, "w2", l2, &wg2)
	for f.acked.Load() < n/5 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel2() // w2 goes away with whatever it held
	wg2.Wait()
	var l2b net.Listener
	for deadline := time.Now().Add(10 * time.Second); ; {
		var err error
		if l2b, err = net.Listen("tcp", addr2); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cannot listen on %s again: %v", addr2, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	run(ctx, "w2", l2b, &wg2)
	// The restarted w2 has fresh spout tasks that emit their ids again, so acks can
	// exceed n; what matters is that every id is acked at least once.
	deadline := time.Now().Add(2 * time.Minute)
	for f.ids.len() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg1.Wait()
	wg2.Wait()
	if f.ids.len() < n {
		t.Fatalf("%d of %d ids acked after the peer restarted", f.ids.len(), n)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for id := int64(0); id < n; id++ {
		if f.seen[id] == 0 {
			t.Fatalf("id %d never reached the sink", id)
		}
	}
	t.Logf("acked %d (of %d ids), failed and replayed %d", f.acked.Load(), n, f.fails.Load())
}

func TestAssignmentValidate(t *testing.T) {
	f := newFixture(t, 1)
	l := topology.NewLayout(f.spec, f.spec.Config.AckerTasks())
	good := Spread("pair", 1, l, []scheduler.WorkerSlot{Static("w1", "a:1"), Static("w2", "a:2")})
	if err := good.CheckLayout(l); err != nil {
		t.Fatalf("Spread made an invalid assignment: %v", err)
	}
	for _, w := range good.Workers {
		comps := map[string]bool{}
		for _, task := range w.Tasks() {
			comps[l.TaskComponent(task)] = true
		}
		if len(comps) != 4 { // spout, mid, sink and __acker on each worker
			t.Errorf("worker %s runs %v; every component should be spread over both workers", w.ID(), comps)
		}
	}
	cases := []struct {
		name string
		mod  func(a *Assignment)
		want string
	}{
		{"no topology", func(a *Assignment) { a.TopologyID = "" }, "no topology_id"},
		{"duplicate id", func(a *Assignment) { a.Workers[1].Name = "w1" }, "used twice"},
		{"duplicate address", func(a *Assignment) { a.Workers[1].Host, a.Workers[1].Port = "a", 1 }, "empty or used twice"},
		{"unknown task", func(a *Assignment) { a.Workers[0].Executors = append(a.Workers[0].Executors, []int32{99}) }, "task 99 does not exist"},
		{"task twice", func(a *Assignment) {
			a.Workers[1].Executors = append(a.Workers[1].Executors, []int32{a.Workers[0].Tasks()[0]})
		}, "assigned to both"},
		{"task missing", func(a *Assignment) { a.Workers[0].Executors = a.Workers[0].Executors[1:] }, "assigned to no worker"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := Spread("pair", 1, l, []scheduler.WorkerSlot{Static("w1", "a:1"), Static("w2", "a:2")})
			tc.mod(a)
			if err := a.CheckLayout(l); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLoadAndSave(t *testing.T) {
	f := newFixture(t, 1)
	l := topology.NewLayout(f.spec, f.spec.Config.AckerTasks())
	a := Spread("pair", 7, l, []scheduler.WorkerSlot{Static("w1", "a:1")})
	path := filepath.Join(t.TempDir(), "a.json")
	if err := Save(a, path); err != nil {
		t.Fatal(err)
	}
	b, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.Version != 7 || len(b.Workers) != 1 || len(b.Workers[0].Tasks()) != l.NumTasks() {
		t.Fatalf("loaded %+v", b)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("loading a missing file succeeded")
	}
	if err := Save(&Assignment{}, filepath.Join(t.TempDir(), "x", "y.json")); err == nil {
		t.Error("saving into a missing directory succeeded")
	}
	if _, err := New(Options{Spec: f.spec, Assignment: a, WorkerID: "nobody"}); err == nil || !strings.Contains(err.Error(), `worker "nobody" is not in the assignment`) {
		t.Errorf("New with an unknown worker id: %v", err)
	}
}

// TestSpoutsWaitForLatePeer: a worker whose peer is not up yet emits nothing (tuples would
// only wait and time out); once the peer starts, the topology runs to completion.
func TestSpoutsWaitForLatePeer(t *testing.T) {
	const n = 5000
	f := newFixture(t, n)
	l1, l2 := listen(t), listen(t)
	addr2 := l2.Addr().String()
	l2.Close() // nobody listens there until the late worker starts
	a := Spread("pair", 1, topology.NewLayout(f.spec, f.spec.Config.AckerTasks()),
		[]scheduler.WorkerSlot{Static("w1", l1.Addr().String()), Static("w2", addr2)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	w1, err := New(Options{Spec: f.spec, Assignment: a, WorkerID: "w1", Listener: l1})
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { _ = w1.Run(ctx) })
	time.Sleep(1500 * time.Millisecond)
	for _, st := range w1.Runtime().Stats() {
		if st.Kind == "spout" && st.Emitted.Load() != 0 {
			t.Fatalf("a spout emitted %d tuples before its peer was up", st.Emitted.Load())
		}
	}
	w2, err := New(Options{Spec: f.spec, Assignment: a, WorkerID: "w2"})
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() {
		if err := w2.Run(ctx); err != nil {
			t.Errorf("w2: %v", err)
		}
	})
	deadline := time.Now().Add(time.Minute)
	for f.acked.Load() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if f.acked.Load() != n || f.fails.Load() != 0 {
		t.Fatalf("acked %d of %d, failed %d", f.acked.Load(), n, f.fails.Load())
	}
}

// TestOrphanStops: a worker whose supervised file is not touched within the orphan
// timeout stops by itself, cleanly; one whose file keeps being touched runs on.
func TestOrphanStops(t *testing.T) {
	f := newFixture(t, 1)
	for _, touched := range []bool{false, true} {
		t.Run(fmt.Sprintf("touched=%v", touched), func(t *testing.T) {
			l := listen(t)
			a := Spread("pair", 1, topology.NewLayout(f.spec, f.spec.Config.AckerTasks()), []scheduler.WorkerSlot{Static("w1", l.Addr().String())})
			file := filepath.Join(t.TempDir(), "supervised")
			w, err := New(Options{Spec: f.spec, Assignment: a, WorkerID: "w1", Listener: l, SupervisedFile: file, OrphanTimeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- w.Run(ctx) }()
			stopTouching := make(chan struct{})
			if touched {
				go func() {
					for {
						select {
						case <-stopTouching:
							return
						case <-time.After(200 * time.Millisecond):
							now := time.Now()
							if os.Chtimes(file, now, now) != nil {
								_ = os.WriteFile(file, nil, 0o644)
							}
						}
					}
				}()
			}
			select {
			case err := <-done:
				if touched {
					t.Fatalf("a supervised worker stopped: %v", err)
				}
				if err != nil {
					t.Fatalf("the orphan stopped with %v, want a clean stop", err)
				}
			case <-time.After(4 * time.Second):
				if !touched {
					t.Fatal("the orphan did not stop within 4s of a 1s orphan timeout")
				}
				close(stopTouching)
				cancel()
				<-done // after a cancel, the orphan's error is not what this test checks
			}
		})
	}
}
