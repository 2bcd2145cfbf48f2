package execmetrics

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/pkg/topology"
)

// countingSpout emits unreliable tuples as long as it is asked.
type countingSpout struct {
	topology.BaseSpout
	out topology.SpoutCollector
	i   int64
}

func (s *countingSpout) Open(_ *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	return nil
}

func (s *countingSpout) NextTuple() {
	s.out.Emit([]any{s.i}, nil)
	s.i++
}

// TestTransferQueueCollector: a spout whose bolt runs on a peer that never drains its
// queue fills the transfer queue, and the collector sees it full.
func TestTransferQueueCollector(t *testing.T) {
	b := topology.NewBuilder("queues")
	b.Config(topology.ConfAckerExecutors, 0)
	b.Spout("spout", func() topology.Spout { return &countingSpout{} }, 1).Output("i")
	b.Bolt("sink", func() topology.Bolt { return &passBolt{} }, 1).Shuffle("spout")
	spec, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	layout := topology.NewLayout(spec, 0)
	rt, err := executor.New(executor.Options{
		TopologyID: "queues-1", Spec: spec,
		LocalTasks: layout.Tasks["spout"], PeerOf: func(int32) string { return "sup-b:6700" },
	})
	if err != nil {
		t.Fatalf("executor.New: %v", err)
	}
	if len(rt.Outbound()) != 1 {
		t.Fatalf("%d outbound queues, want 1 (towards the sink's worker)", len(rt.Outbound()))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	c := NewTransferQueueCollector("queues-1", "sup-a:6700", rt.Outbound)
	data := rt.Outbound()[0].Data()
	deadline := time.Now().Add(10 * time.Second)
	for len(data) < cap(data) {
		if time.Now().After(deadline) {
			t.Fatalf("the transfer queue holds %d of %d batches after 10s", len(data), cap(data))
		}
		time.Sleep(time.Millisecond)
	}
	want := fmt.Sprintf(`
# HELP sparse_worker_transfer_queue_batches Batches waiting in the queue towards a peer worker.
# TYPE sparse_worker_transfer_queue_batches gauge
sparse_worker_transfer_queue_batches{peer="sup-b:6700",queue="control",topology="queues-1",worker="sup-a:6700"} 0
sparse_worker_transfer_queue_batches{peer="sup-b:6700",queue="data",topology="queues-1",worker="sup-a:6700"} %[1]d
# HELP sparse_worker_transfer_queue_capacity_batches Batches the queue towards a peer worker holds when full.
# TYPE sparse_worker_transfer_queue_capacity_batches gauge
sparse_worker_transfer_queue_capacity_batches{peer="sup-b:6700",queue="control",topology="queues-1",worker="sup-a:6700"} %[1]d
sparse_worker_transfer_queue_capacity_batches{peer="sup-b:6700",queue="data",topology="queues-1",worker="sup-a:6700"} %[1]d
`, cap(data))
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: error %v, problems %v", err, problems)
	}
}

func TestReceiveQueueCollector(t *testing.T) {
	depths := []executor.QueueDepth{
		{Component: "split", Executor: 3, Data: 5, Control: 0, Capacity: 256},
		{Component: "__acker", Executor: 1, Data: 0, Control: 7, Capacity: 256},
	}
	c := NewReceiveQueueCollector("t1", func() []executor.QueueDepth { return depths })
	want := `
# HELP sparse_executor_receive_queue_batches Batches waiting in an executor's receive queue (data: tuples; control: acker traffic).
# TYPE sparse_executor_receive_queue_batches gauge
sparse_executor_receive_queue_batches{component="__acker",executor="1",queue="control",topology="t1"} 7
sparse_executor_receive_queue_batches{component="__acker",executor="1",queue="data",topology="t1"} 0
sparse_executor_receive_queue_batches{component="split",executor="3",queue="control",topology="t1"} 0
sparse_executor_receive_queue_batches{component="split",executor="3",queue="data",topology="t1"} 5
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "sparse_executor_receive_queue_batches"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c); n != 8 {
		t.Errorf("%d metrics, want 8", n)
	}
}
