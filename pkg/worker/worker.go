package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"

	"github.com/sparsestream/sparse/pkg/executor"
	"github.com/sparsestream/sparse/pkg/local"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/transport"
)

// Options configure one worker.
type Options struct {
	Spec *topology.Spec
	// Config overrides the spec's topology config; every worker of a topology must be
	// given the same.
	Config     topology.Config
	Assignment *Assignment
	WorkerID   string
	Logger     hclog.Logger
	// StatsEvery prints a summary line per component this often to Out (0: never).
	StatsEvery time.Duration
	Out        io.Writer
	// Listener, when set, is used instead of listening on the assignment's address
	// (tests pass one bound to port 0).
	Listener net.Listener
}

// Worker is a running worker process's core.
type Worker struct {
	o       Options
	rt      *executor.Runtime
	server  *transport.Server
	senders []*transport.Sender
	log     hclog.Logger
}

// New prepares a worker: it checks the assignment against the topology and builds the
// runtime for this worker's tasks.
func New(o Options) (*Worker, error) {
	if o.Assignment == nil || o.Spec == nil {
		return nil, errors.New("worker: a spec and an assignment are required")
	}
	log := o.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	// Unless told otherwise, a topology has as many workers as its assignment: that is
	// what sizes the ackers (one per worker), and every worker must agree on it.
	if _, set := o.Spec.Config.Merge(o.Config)[topology.ConfWorkers]; !set {
		o.Config = o.Config.Merge(topology.Config{topology.ConfWorkers: int64(len(o.Assignment.Workers))})
	}
	conf := o.Spec.Config.Merge(o.Config)
	layout := topology.NewLayout(o.Spec, conf.AckerTasks())
	if err := o.Assignment.Validate(layout); err != nil {
		return nil, fmt.Errorf("the assignment does not fit topology %q: %w", o.Spec.Name, err)
	}
	self, ok := o.Assignment.Worker(o.WorkerID)
	if !ok {
		return nil, fmt.Errorf("worker %q is not in the assignment of %s; pass one of its worker ids", o.WorkerID, o.Assignment.TopologyID)
	}
	owner := map[int32]string{}
	addr := map[string]string{}
	for _, w := range o.Assignment.Workers {
		addr[w.ID] = w.Address
		for _, t := range w.Tasks {
			owner[t] = w.ID
		}
	}
	rt, err := executor.New(executor.Options{
		TopologyID: o.Assignment.TopologyID, Spec: o.Spec, Config: o.Config, Logger: log,
		LocalTasks: append([]int32{}, self.Tasks...), PeerOf: func(t int32) string { return owner[t] },
		Inactive: true,
	})
	if err != nil {
		return nil, err
	}
	id := transport.Identity{TopologyID: o.Assignment.TopologyID, WorkerID: o.WorkerID, Address: self.Address, Version: o.Assignment.Version}
	w := &Worker{o: o, rt: rt, server: transport.NewServer(id, rt, log), log: log}
	for _, ob := range rt.Outbound() {
		w.senders = append(w.senders, transport.NewSender(id, ob.Peer, addr[ob.Peer], ob, log))
	}
	return w, nil
}

// Runtime is the worker's executor runtime (stats, activation).
func (w *Worker) Runtime() *executor.Runtime { return w.rt }

// Run serves the transport, dials the peers and runs the executors until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	self, _ := w.o.Assignment.Worker(w.o.WorkerID)
	lis := w.o.Listener
	if lis == nil {
		var err error
		lis, err = net.Listen("tcp", self.Address)
		if err != nil {
			return fmt.Errorf("worker %s cannot listen on %s: %w", w.o.WorkerID, self.Address, err)
		}
	}
	g := grpc.NewServer(transport.ServerOptions()...)
	w.server.Register(g)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := g.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			w.log.Error("transport server stopped", "error", err)
			cancel()
		}
	})
	for _, s := range w.senders {
		wg.Go(func() {
			if err := s.Run(ctx); err != nil {
				w.log.Error("cannot send to a peer", "error", err)
				cancel()
			}
		})
	}
	w.log.Info("worker running", "address", lis.Addr().String(), "tasks", len(self.Tasks), "peers", len(w.senders))
	wg.Go(func() { w.activateWhenConnected(ctx) })
	err := local.RunRuntime(ctx, w.rt, local.Options{StatsEvery: w.o.StatsEvery, Out: w.o.Out})
	cancel()
	// Handlers blocked delivering to the stopped runtime return at once; give in-flight
	// frames a moment, then close every connection.
	stopped := make(chan struct{})
	go func() { g.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(2 * time.Second):
		g.Stop()
		<-stopped
	}
	wg.Wait()
	return err
}

// activateWhenConnected starts the spouts once every peer has accepted our streams, as
// Storm's workers do: tuples emitted earlier would only wait in queues and time out.
func (w *Worker) activateWhenConnected(ctx context.Context) {
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for _, s := range w.senders {
		for waiting := true; waiting; {
			select {
			case <-s.Ready():
				waiting = false
			case <-tick.C:
				w.log.Warn("waiting for a peer worker before activating the spouts", "peer", s.Peer())
			case <-ctx.Done():
				return
			}
		}
	}
	w.log.Info("every peer is connected; activating the spouts", "peers", len(w.senders))
	w.rt.Activate()
}

// TransportTotals adds up what this worker's senders and server moved so far.
type TransportTotals struct {
	TuplesSent, ControlsSent, BytesSent, FramesSent int64
	TuplesRecv, ControlsRecv, BytesRecv, FramesRecv int64
	Dropped, Refused, Reconnects                    int64
}

// Transport returns the worker's transport counters.
func (w *Worker) Transport() TransportTotals {
	var t TransportTotals
	for _, s := range w.senders {
		t.TuplesSent += s.Stats.TuplesSent.Load()
		t.ControlsSent += s.Stats.ControlsSent.Load()
		t.BytesSent += s.Stats.BytesSent.Load()
		t.FramesSent += s.Stats.FramesSent.Load()
		t.Dropped += s.Stats.Dropped.Load()
		t.Refused += s.Stats.Refused.Load()
		t.Reconnects += s.Stats.Reconnects.Load()
	}
	st := &w.server.Stats
	t.TuplesRecv, t.ControlsRecv = st.TuplesRecv.Load(), st.ControlsRecv.Load()
	t.BytesRecv, t.FramesRecv = st.BytesRecv.Load(), st.FramesRecv.Load()
	t.Refused += st.Refused.Load()
	return t
}
