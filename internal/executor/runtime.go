// Package executor runs the tasks of a topology: one goroutine per executor, bounded
// queues between them, emit routing through groupings, acker plumbing, ticks and
// backpressure. Local mode runs every task in one Runtime; a worker runs its slot's share.
//
// New (build.go) builds a Runtime and Run runs it. The files follow a tuple's path:
//
//   - emit.go: a collector's Emit calls emit, which checks the values against the stream;
//   - route.go: route picks the receiving tasks through each subscriber's grouping;
//   - send.go: sendTuple queues the tuple in the executor's outbox, one batch per
//     receiving inbox, and a full or flushed batch is sent to the inbox's queue, which
//     blocks while the queue is full (backpressure);
//   - outbound.go: the inbox of a task in another worker is that worker's Outbound, which
//     pkg/transport drains, encodes with internal/wire and receives on the other side;
//   - deliver.go: there Deliver hands the tuples to the executors they are for;
//   - execute.go: executeBatch runs the bolt's Execute for each tuple;
//   - ack.go: the bolt's ack goes to the acker, which tells the spout (spout.go) when
//     the tuple's tree is complete.
//
// Acker messages take the same path on a lane of their own (batch.go), so that they
// never wait behind tuples.
package executor

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// Options configure a Runtime.
type Options struct {
	// TopologyID identifies the running topology (default: the spec's name).
	TopologyID string
	Spec       *topology.Spec
	// Config overrides the spec's topology config (the -o options of the CLI).
	Config topology.Config
	Logger hclog.Logger
	// ComponentLogger, when set, gives each component's logger (a worker's, whose
	// levels change at run time: logging.Levels); by default Logger named after the
	// component. Either way its lines carry a component field, and its tasks' a task
	// field.
	ComponentLogger func(component string) hclog.Logger

	// LocalTasks are the tasks this runtime runs; nil runs every task (local mode). It
	// must hold whole executors: every task of an executor of the Layout, or none.
	LocalTasks []int32
	// PeerOf names the worker that runs a task this runtime does not run; tuples and
	// acker messages for it are queued on that peer's Outbound.
	PeerOf func(task int32) string
	// Inactive starts the spouts deactivated (a worker activates them once its peers
	// are connected, or when the topology is activated).
	Inactive bool
}

// Runtime runs a topology's executors until its context ends.
type Runtime struct {
	id     string
	spec   *topology.Spec
	conf   topology.Config
	layout *topology.Layout
	log    hclog.Logger
	// compLog is each component's logger (Options.ComponentLogger).
	compLog func(component string) hclog.Logger
	epoch   time.Time
	ctx     context.Context

	ackers     int
	ackerTasks []int32
	timeout    time.Duration

	executors []*executor
	taskInbox []int // task id -> index of the inbox that receives for it
	// inputInbox is taskInbox for the bolt tasks that run here and -1 for every other
	// task, so that Deliver checks a tuple from a peer with one load.
	inputInbox []int
	// spoutTask says which tasks of the topology, here or not, are spouts': a tuple
	// from a peer may carry only a spout task's init (tuple.Tuple.InitTask).
	spoutTask []bool
	tasks     []*task // task id -> task, for the tasks run here
	// data and ctl hold every inbox's queue of each kind (executors' and peer
	// workers'), by inbox index, and the pools their batches come from.
	data     lane[Item]
	ctl      lane[Control]
	outbound []*Outbound
	// isOutbound says, by inbox index, which inboxes are peers' Outbounds.
	isOutbound []bool
	// spent holds tuples that peers' senders have encoded, for emits to reuse, in
	// slices (*[]*boxedTuple); spentEmpty the slices they were taken from.
	spent, spentEmpty sync.Pool
	// spentSlices counts the slices put in spent, roughly (the pool may drop some):
	// while it is 0, emits skip the pool, whose empty Get scans every P.
	spentSlices atomic.Int64
	sources     map[sourceKey]*tuple.Source
	stopped     chan struct{}

	active  atomic.Bool
	running atomic.Bool

	// userMetrics are what the tasks register through their Context.
	userMetrics *topology.UserMetrics
}

// QueueDepth is how many batches wait in an executor's queues.
type QueueDepth struct {
	Component     string
	Executor      int32 // the executor's first task
	Data, Control int
	Capacity      int // of each queue, in batches
}

// QueueDepths reads every executor's queue lengths (a racy snapshot, for metrics).
func (r *Runtime) QueueDepths() []QueueDepth {
	out := make([]QueueDepth, 0, len(r.executors))
	for _, e := range r.executors {
		out = append(out, QueueDepth{Component: e.comp.ID, Executor: e.tasks[0].id,
			Data: len(e.self.data), Control: len(e.self.ctl), Capacity: cap(e.self.data)})
	}
	return out
}

// Layout returns the topology's task numbering.
func (r *Runtime) Layout() *topology.Layout { return r.layout }

// UserMetrics are the metrics the runtime's tasks registered through their Context.
func (r *Runtime) UserMetrics() *topology.UserMetrics { return r.userMetrics }

// Config returns the effective topology configuration.
func (r *Runtime) Config() topology.Config { return r.conf }

// Ackers is the number of acker tasks (0: acking is off).
func (r *Runtime) Ackers() int { return r.ackers }

// Stats returns every executor's counters, in a stable order.
func (r *Runtime) Stats() []*Stats {
	out := make([]*Stats, len(r.executors))
	for i, e := range r.executors {
		out[i] = e.stats
	}
	return out
}

// Activate lets spouts emit (the default); Deactivate pauses them, as Storm's
// activate/deactivate commands do. In-flight tuples still complete while paused.
func (r *Runtime) Activate() { r.setActive(true) }

// Deactivate stops calling NextTuple on every spout.
func (r *Runtime) Deactivate() { r.setActive(false) }

func (r *Runtime) setActive(on bool) {
	r.active.Store(on)
	for _, e := range r.executors {
		if e.spout != nil {
			e.self.nudge()
		}
	}
}

// Run opens every task, runs the executors until ctx ends, then closes every task and
// returns when every goroutine has ended. An error from Open or Prepare stops the whole
// runtime before any tuple flows, and is returned naming the component and task.
func (r *Runtime) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("executor: Run called twice on the same runtime; build a new one with New")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer close(r.stopped)
	r.ctx = ctx

	// Open and prepare concurrently: a spout that connects to an external system
	// should not hold up the others.
	var wg sync.WaitGroup
	errs := make([]error, len(r.executors))
	for i, e := range r.executors {
		wg.Go(func() { errs[i] = e.open() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, e := range r.executors {
			e.close()
		}
		return err
	}
	r.log.Info("topology running", "topology", r.id, "executors", len(r.executors), "tasks", r.layout.NumTasks(), "ackers", r.ackers)
	for _, e := range r.executors {
		wg.Go(func() {
			defer e.close()
			switch {
			case e.spout != nil:
				e.runSpout(ctx)
			case e.kind == "acker":
				e.runAcker(ctx, r.timeout)
			default:
				e.runBolt(ctx)
			}
			e.cnt.publish(e.stats)
		})
	}
	wg.Wait()
	r.log.Info("topology stopped", "topology", r.id)
	return nil
}
