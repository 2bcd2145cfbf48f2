package executor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/pkg/acker"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// New builds a runtime: it validates the effective configuration, numbers the tasks,
// creates one instance of a component per task through its factory and prepares the
// groupings. Nothing runs until Run.
func New(o Options) (*Runtime, error) {
	r, err := newRuntime(o)
	if err != nil {
		return nil, err
	}
	r.numberTasks()
	local, err := r.localTasks(o)
	if err != nil {
		return nil, err
	}
	if err := r.placeExecutors(local, o.PeerOf); err != nil {
		return nil, err
	}
	if err := r.buildOutboxes(); err != nil {
		return nil, err
	}
	r.inputInbox = make([]int, len(r.tasks))
	r.spoutTask = make([]bool, len(r.tasks))
	for id, t := range r.tasks {
		r.inputInbox[id] = -1
		if t != nil && t.bolt != nil {
			r.inputInbox[id] = r.taskInbox[id]
		}
		if c := r.spec.Component(r.layout.TaskComponent(int32(id))); id > 0 && c != nil && c.Kind == topology.KindSpout {
			r.spoutTask[id] = true
		}
	}
	return r, nil
}

// newRuntime validates the spec under the effective configuration (the spec's merged
// with the overrides) and sets up what does not depend on the tasks.
func newRuntime(o Options) (*Runtime, error) {
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
		compLog: o.ComponentLogger,
		epoch:   time.Now(),
		ctx:     context.Background(),
		ackers:  conf.AckerTasks(),
		timeout: time.Duration(timeoutSecs) * time.Second,
		stopped: make(chan struct{}),

		userMetrics: topology.NewUserMetrics(),
	}
	if r.id == "" {
		r.id = eff.Name
	}
	if r.compLog == nil {
		r.compLog = func(id string) hclog.Logger { return log.Named(id).With("component", id) }
	}
	r.active.Store(!o.Inactive)
	batchSize, _ := conf.Int(topology.ConfProducerBatchSize, topology.DefaultProducerBatchSize)
	r.data.pool.init(int(batchSize), true)
	r.ctl.pool.init(int(batchSize), false)
	return r, nil
}

// numberTasks lays the tasks out (ackers included) and makes the shared Source of every
// task's streams.
func (r *Runtime) numberTasks() {
	r.layout = topology.NewLayout(r.spec, r.ackers)
	r.sources = map[sourceKey]*tuple.Source{}
	for _, c := range r.spec.Components {
		for _, st := range c.Streams {
			for _, task := range r.layout.Tasks[c.ID] {
				r.sources[sourceKey{task, st.ID}] = &tuple.Source{Component: c.ID, Stream: st.ID, Task: task, Fields: r.layout.Fields(c.ID, st.ID)}
			}
		}
	}
	r.ackerTasks = r.layout.Tasks[tuple.AckerID]
	r.taskInbox = make([]int, r.layout.NumTasks()+1)
	r.tasks = make([]*task, r.layout.NumTasks()+1)
}

// localTasks says which tasks run here: all of them unless Options.LocalTasks names some.
func (r *Runtime) localTasks(o Options) (func(int32) bool, error) {
	if o.LocalTasks == nil {
		return func(int32) bool { return true }, nil
	}
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
	return func(t int32) bool { return set[t] }, nil
}

// placeExecutors creates each executor whose tasks run here, and routes the tasks of
// every other executor to the Outbound of the worker that runs them, component by
// component in a stable order.
func (r *Runtime) placeExecutors(local func(int32) bool, peerOf func(int32) string) error {
	peers := map[string]*Outbound{}
	for _, id := range slices.Sorted(maps.Keys(r.layout.Executors)) {
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
					return err
				}
			case n == 0:
				if err := r.addRemote(peers, taskIDs, peerOf); err != nil {
					return err
				}
			default:
				return fmt.Errorf("executor: tasks %v of %q form one executor but only some of them are local; assign whole executors", taskIDs, id)
			}
		}
	}
	return nil
}

// buildOutboxes gives every executor an outbox towards every inbox, and each of its
// tasks a routing table.
func (r *Runtime) buildOutboxes() error {
	r.isOutbound = make([]bool, len(r.data.queues))
	for _, ob := range r.outbound {
		r.isOutbound[ob.idx] = true
	}
	for _, e := range r.executors {
		e.outData.init(&r.data)
		e.outCtl.init(&r.ctl)
		e.isDirty = make([]bool, len(r.data.queues))
		for _, t := range e.tasks {
			if err := r.buildRoutes(e, t); err != nil {
				return err
			}
		}
	}
	return nil
}

// addInbox makes in's queues reachable by inbox index, and returns its index.
func (r *Runtime) addInbox(in *inbox) int {
	r.data.queues = append(r.data.queues, in.data)
	r.ctl.queues = append(r.ctl.queues, in.ctl)
	return len(r.data.queues) - 1
}

// addExecutor creates the executor that runs taskIDs of component compID here.
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
	e := r.newExecutor(comp, kind, conf, taskIDs)
	idx := r.addInbox(e.self) // remote peers' inboxes are interleaved with executors'
	for _, id := range taskIDs {
		t, err := r.newTask(comp, conf, id, e.self)
		if err != nil {
			return err
		}
		e.tasks = append(e.tasks, t)
		r.tasks[id] = t
		r.taskInbox[id] = idx
	}
	if comp.Kind == topology.KindSpout {
		e.spout = r.newSpoutState(conf)
	}
	r.executors = append(r.executors, e)
	return nil
}

// newExecutor creates an executor, with its inbox, under its component's configuration.
func (r *Runtime) newExecutor(comp *topology.ComponentSpec, kind string, conf topology.Config, taskIDs []int32) *executor {
	batchSize, _ := conf.Int(topology.ConfProducerBatchSize, topology.DefaultProducerBatchSize)
	bufSize, _ := conf.Int(topology.ConfReceiveBufferSize, topology.DefaultReceiveBufferSize)
	flushMs, _ := conf.Int(topology.ConfFlushIntervalMillis, int64(topology.DefaultFlushInterval/time.Millisecond))
	tickSecs, _ := conf.Int(topology.ConfTickTupleFreqSecs, 0)
	debug, _ := conf.Bool(topology.ConfDebug, false)
	return &executor{
		rt:            r,
		ids:           acker.NewIDs(),
		comp:          comp,
		kind:          kind,
		self:          newInbox(max(1, int(bufSize/max(batchSize, 1)))),
		stats:         &Stats{Component: comp.ID, Kind: kind, Tasks: taskIDs},
		log:           r.compLog(comp.ID),
		batchSize:     int(batchSize),
		flushInterval: time.Duration(flushMs) * time.Millisecond,
		tickEvery:     time.Duration(tickSecs) * time.Second,
		debug:         debug,
		sampled:       map[*tuple.Tuple]time.Duration{},
	}
}

// newTask creates task id of comp: its context, and its instance from the component's
// factory (or its XOR ledger, for an acker task). in is its executor's inbox, which a
// Wakeable bolt nudges.
func (r *Runtime) newTask(comp *topology.ComponentSpec, conf topology.Config, id int32, in *inbox) (*task, error) {
	t := &task{id: id, log: r.compLog(comp.ID).With("task", id)}
	t.ctx = topology.NewContext(r.id, r.layout, comp.ID, id, conf, t.log)
	t.ctx.SetMetrics(r.userMetrics)
	switch comp.Kind {
	case topology.KindSpout:
		t.spout = comp.Spout()
		if t.spout == nil {
			return nil, fmt.Errorf("the spout factory of %q returned nil; return a new spout from it", comp.ID)
		}
	case topology.KindBolt:
		t.bolt = comp.Bolt()
		if t.bolt == nil {
			return nil, fmt.Errorf("the bolt factory of %q returned nil; return a new bolt from it", comp.ID)
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
	return t, nil
}

// newSpoutState is a spout executor's pending map and pacing, under its configuration.
func (r *Runtime) newSpoutState(conf topology.Config) *spoutState {
	maxPending, _ := conf.Int(topology.ConfMaxSpoutPending, 0)
	waitMs, _ := conf.Int(topology.ConfSpoutWaitMaxMillis, int64(topology.DefaultSpoutWaitMax/time.Millisecond))
	rot := r.timeout / (pendingBuckets - 1)
	return &spoutState{
		pending:     acker.NewInFlight[pendingTuple](pendingBuckets),
		maxPending:  int(maxPending),
		rotateEvery: rot,
		nextRotate:  rot,
		waitMax:     max(time.Duration(waitMs)*time.Millisecond, 50*time.Microsecond),
	}
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
			ob = &Outbound{Peer: peer, in: newInbox(max(1, int(bufSize)/r.data.pool.size)), rt: r}
			ob.idx = r.addInbox(ob.in)
			peers[peer] = ob
			r.outbound = append(r.outbound, ob)
		}
		r.taskInbox[t] = ob.idx
	}
	return nil
}
