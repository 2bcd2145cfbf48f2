// Package executor runs the tasks of a topology: one goroutine per executor, bounded
// queues between them, emit routing through groupings, acker plumbing, ticks and
// backpressure. Local mode runs every task in one Runtime; a worker runs its slot's share.
package executor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/pkg/acker"
	"github.com/sparsestream/sparse/pkg/grouping"
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
	epoch  time.Time
	ctx    context.Context

	ackers     int
	ackerTasks []int32
	timeout    time.Duration

	executors []*executor
	inboxes   []*inbox
	taskInbox []int   // task id -> index of the inbox that receives for it
	tasks     []*task // task id -> task, for the tasks run here
	pools     *pools
	outbound  []*Outbound
	sources   map[sourceKey]*tuple.Source
	stopped   chan struct{}

	active  atomic.Bool
	running atomic.Bool
}

// New builds a runtime: it validates the effective configuration, numbers the tasks,
// creates one instance of a component per task through its factory and prepares the
// groupings. Nothing runs until Run.
func New(o Options) (*Runtime, error) {
	if o.Spec == nil {
		return nil, errors.New("executor: no topology spec given")
	}
	conf := o.Spec.Config.Merge(o.Config)
	eff := *o.Spec
	eff.Config = conf
	if err := topology.Validate(&eff); err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	timeoutSecs, _ := conf.Int(topology.ConfMessageTimeoutSecs, topology.DefaultMessageTimeoutSecs)
	floorMB, _ := conf.Int(topology.ConfHeapFloorMB, topology.DefaultHeapFloorMB)
	SetHeapFloor(floorMB)
	r := &Runtime{
		id:      o.TopologyID,
		spec:    &eff,
		conf:    conf,
		log:     log,
		epoch:   time.Now(),
		ctx:     context.Background(),
		ackers:  conf.AckerTasks(),
		timeout: time.Duration(timeoutSecs) * time.Second,
	}
	if r.id == "" {
		r.id = eff.Name
	}
	r.active.Store(!o.Inactive)
	r.stopped = make(chan struct{})
	r.layout = topology.NewLayout(&eff, r.ackers)
	r.sources = map[sourceKey]*tuple.Source{}
	for _, c := range eff.Components {
		for _, st := range c.Streams {
			for _, task := range r.layout.Tasks[c.ID] {
				r.sources[sourceKey{task, st.ID}] = &tuple.Source{Component: c.ID, Stream: st.ID, Task: task, Fields: r.layout.Fields(c.ID, st.ID)}
			}
		}
	}
	r.ackerTasks = r.layout.Tasks[tuple.AckerID]
	r.taskInbox = make([]int, r.layout.NumTasks()+1)
	r.tasks = make([]*task, r.layout.NumTasks()+1)

	batchSize, _ := conf.Int(topology.ConfProducerBatchSize, topology.DefaultProducerBatchSize)
	r.pools = newPools(int(batchSize))

	local := func(int32) bool { return true }
	if o.LocalTasks != nil {
		if o.PeerOf == nil {
			return nil, errors.New("executor: LocalTasks given without PeerOf; say which worker runs the other tasks")
		}
		set := make(map[int32]bool, len(o.LocalTasks))
		for _, t := range o.LocalTasks {
			if r.layout.TaskComponent(t) == "" {
				return nil, fmt.Errorf("executor: local task %d does not exist; the topology has tasks 1..%d", t, r.layout.NumTasks())
			}
			set[t] = true
		}
		local = func(t int32) bool { return set[t] }
	}
	comps := make([]string, 0, len(r.layout.Executors))
	for id := range r.layout.Executors {
		comps = append(comps, id)
	}
	sort.Strings(comps)
	peers := map[string]*Outbound{}
	for _, id := range comps {
		for _, taskIDs := range r.layout.Executors[id] {
			n := 0
			for _, t := range taskIDs {
				if local(t) {
					n++
				}
			}
			switch {
			case n == len(taskIDs):
				if err := r.addExecutor(id, taskIDs); err != nil {
					return nil, err
				}
			case n == 0:
				if err := r.addRemote(peers, taskIDs, o.PeerOf); err != nil {
					return nil, err
				}
			default:
				return nil, fmt.Errorf("executor: tasks %v of %q form one executor but only some of them are local; assign whole executors", taskIDs, id)
			}
		}
	}
	for _, e := range r.executors {
		e.outData = make([]*Batch, len(r.inboxes))
		e.outCtl = make([]*ControlBatch, len(r.inboxes))
		e.isDirty = make([]bool, len(r.inboxes))
		for _, t := range e.tasks {
			if err := r.wire(e, t); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

func (r *Runtime) addExecutor(compID string, taskIDs []int32) error {
	comp := r.spec.Component(compID)
	conf := r.conf
	kind := "acker"
	if comp != nil {
		conf = r.conf.Merge(comp.Config)
		kind = string(comp.Kind)
	} else {
		comp = &topology.ComponentSpec{ID: compID, Parallelism: r.ackers, Tasks: r.ackers}
	}
	batchSize, _ := conf.Int(topology.ConfProducerBatchSize, topology.DefaultProducerBatchSize)
	bufSize, _ := conf.Int(topology.ConfReceiveBufferSize, topology.DefaultReceiveBufferSize)
	flushMs, _ := conf.Int(topology.ConfFlushIntervalMillis, int64(topology.DefaultFlushInterval/time.Millisecond))
	tickSecs, _ := conf.Int(topology.ConfTickTupleFreqSecs, 0)
	debug, _ := conf.Bool(topology.ConfDebug, false)

	idx := len(r.inboxes) // the executor's inbox index; remote peers' queues are interleaved
	in := newInbox(max(1, int(bufSize/max(batchSize, 1))))
	e := &executor{
		rt:            r,
		comp:          comp,
		kind:          kind,
		self:          in,
		stats:         &Stats{Component: compID, Kind: kind, Tasks: taskIDs},
		log:           r.log.Named(compID),
		batchSize:     int(batchSize),
		flushInterval: time.Duration(flushMs) * time.Millisecond,
		tickEvery:     time.Duration(tickSecs) * time.Second,
		debug:         debug,
		sampled:       map[*tuple.Tuple]time.Duration{},
	}
	for _, id := range taskIDs {
		t := &task{id: id, log: r.log.Named(compID).With("task", id)}
		t.ctx = topology.NewContext(r.id, r.layout, compID, id, conf, t.log)
		switch comp.Kind {
		case topology.KindSpout:
			t.spout = comp.Spout()
			if t.spout == nil {
				return fmt.Errorf("the spout factory of %q returned nil; return a new spout from it", compID)
			}
		case topology.KindBolt:
			t.bolt = comp.Bolt()
			if t.bolt == nil {
				return fmt.Errorf("the bolt factory of %q returned nil; return a new bolt from it", compID)
			}
			if w, ok := t.bolt.(topology.Wakeable); ok {
				t.wakeable = w
				t.ctx.SetWaker(func() {
					t.woken.Store(true)
					in.nudge()
				})
			}
		default:
			t.ledger = acker.New(ackerBuckets)
		}
		e.tasks = append(e.tasks, t)
		r.tasks[id] = t
		r.taskInbox[id] = idx
	}
	if comp.Kind == topology.KindSpout {
		maxPending, _ := conf.Int(topology.ConfMaxSpoutPending, 0)
		waitMs, _ := conf.Int(topology.ConfSpoutWaitMaxMillis, int64(topology.DefaultSpoutWaitMax/time.Millisecond))
		rot := r.timeout / (pendingBuckets - 1)
		e.spout = &spoutState{
			pending:     acker.NewRotating[pendingTuple](pendingBuckets),
			maxPending:  int(maxPending),
			rotateEvery: rot,
			nextRotate:  rot,
			waitMax:     max(time.Duration(waitMs)*time.Millisecond, 50*time.Microsecond),
		}
	}
	r.executors = append(r.executors, e)
	r.inboxes = append(r.inboxes, in)
	return nil
}

// addRemote routes tasks that run in another worker to that worker's Outbound.
func (r *Runtime) addRemote(peers map[string]*Outbound, taskIDs []int32, peerOf func(int32) string) error {
	for _, t := range taskIDs {
		peer := peerOf(t)
		if peer == "" {
			return fmt.Errorf("executor: no worker is assigned task %d (%s)", t, r.layout.TaskComponent(t))
		}
		ob := peers[peer]
		if ob == nil {
			bufSize, _ := r.conf.Int(topology.ConfReceiveBufferSize, topology.DefaultReceiveBufferSize)
			ob = &Outbound{Peer: peer, in: newInbox(max(1, int(bufSize)/r.pools.size)), pools: r.pools, idx: len(r.inboxes)}
			peers[peer] = ob
			r.outbound = append(r.outbound, ob)
			r.inboxes = append(r.inboxes, ob.in)
		}
		r.taskInbox[t] = ob.idx
	}
	return nil
}

// wire builds a task's routing table: for each stream it declares, one prepared grouper
// per subscribing component.
func (r *Runtime) wire(e *executor, t *task) error {
	t.out = map[string]*streamOut{}
	for _, st := range e.comp.Streams {
		so := &streamOut{src: r.sources[sourceKey{t.id, st.ID}], direct: st.Direct}
		for _, c := range r.spec.Components {
			for _, in := range c.Inputs {
				if in.Component != e.comp.ID || in.Stream != st.ID {
					continue
				}
				g, err := grouping.New(in.Grouping)
				if err != nil {
					return fmt.Errorf("component %q input from %q stream %q: %w", c.ID, in.Component, in.Stream, err)
				}
				gctx := grouping.Context{SourceComponent: e.comp.ID, Stream: st.ID, TargetComponent: c.ID, OutputFields: st.Fields,
					IsLocal: r.isLocal}
				targets := r.layout.Tasks[c.ID]
				if err := g.Prepare(gctx, targets); err != nil {
					return fmt.Errorf("component %q input from %q stream %q: %w", c.ID, in.Component, in.Stream, err)
				}
				so.subs = append(so.subs, subscriber{component: c.ID, grouper: g, direct: in.Grouping.Type == grouping.Direct, targets: targets})
			}
		}
		t.out[st.ID] = so
	}
	t.def = t.out[tuple.DefaultStream]
	return nil
}

// isLocal reports whether a task runs in this runtime (local_or_shuffle prefers those).
func (r *Runtime) isLocal(task int32) bool {
	return task > 0 && int(task) < len(r.tasks) && r.tasks[task] != nil
}

// ackerTask picks the acker task that tracks a root.
func (r *Runtime) ackerTask(root uint64) int32 {
	return r.ackerTasks[root%uint64(len(r.ackerTasks))]
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

func (e *executor) open() error {
	var errs []error
	for _, t := range e.tasks {
		var err error
		var panicked error
		switch {
		case t.spout != nil:
			c := &spoutCollector{e: e, t: t}
			panicked = e.safely(t, "Open", func() { err = t.spout.Open(t.ctx, c) })
		case t.bolt != nil:
			c := &boltCollector{e: e, t: t}
			panicked = e.safely(t, "Prepare", func() { err = t.bolt.Prepare(t.ctx, c) })
		}
		if err = errors.Join(err, panicked); err != nil {
			errs = append(errs, fmt.Errorf("component %q task %d failed to start: %w", e.comp.ID, t.id, err))
			continue
		}
		t.opened = true
	}
	return errors.Join(errs...)
}

func (e *executor) close() {
	for _, t := range e.tasks {
		if !t.opened {
			continue
		}
		switch {
		case t.spout != nil:
			if e.spout.active {
				e.callSpout(t, "Deactivate", t.spout.Deactivate)
			}
			e.callSpout(t, "Close", t.spout.Close)
		case t.bolt != nil:
			_ = e.safely(t, "Cleanup", t.bolt.Cleanup)
		}
	}
}
