package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/internal/graceful"
	"github.com/sparsestream/sparse/internal/logging"
	"github.com/sparsestream/sparse/internal/tlsconf"
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
	// StartInactive keeps the spouts paused until a WorkerAdmin.SetActive(true) arrives:
	// a supervisor's worker starts so, and its supervisor activates it when the
	// topology is active. Without it the worker activates itself (static assignments).
	// Either way the spouts also wait until every peer is connected.
	StartInactive bool
	// SupervisedFile and OrphanTimeout: when both are set, the worker stops itself once
	// the file has not been touched (by its supervisor) for OrphanTimeout, so a worker
	// whose supervisor died and never came back does not run on with a stale
	// assignment.
	SupervisedFile string
	OrphanTimeout  time.Duration
	// HeartbeatFile, when set, is created when Run starts, touched every second while
	// the worker runs, and removed when Run returns: a supervisor reads its age.
	HeartbeatFile string
	// TLS, when set, serves the transport and WorkerAdmin with mutual TLS (workers and
	// the supervisor of this cluster only) and dials peers with it. Insecure lets the
	// worker listen off loopback without it.
	TLS      *tlsconf.Store
	Insecure bool
	// Nimbus are nimbus API addresses: the worker reports its executors' statistics to
	// the leader among them every ReportEvery (default DefaultReportEvery), following
	// the leader when it changes (see report.go). Empty: no reports.
	Nimbus      []string
	ReportEvery time.Duration
	// Levels, when set, makes the components' loggers, whose levels WorkerAdmin's
	// SetLogLevels changes while the worker runs (default: Logger for all).
	Levels *logging.Levels
}

// HeartbeatInterval is how often a worker touches its heartbeat file.
const HeartbeatInterval = time.Second

// Worker is a running worker process's core.
type Worker struct {
	o       Options
	rt      *executor.Runtime
	server  *transport.Server
	senders []*transport.Sender
	log     hclog.Logger

	// The spouts run while the admin (the supervisor) wants them active and every peer
	// is connected.
	mu          sync.Mutex
	adminActive bool
	peersReady  bool

	// incarnation and started name this process in its statistics reports.
	incarnation string
	started     time.Time
	logs        logOverrides
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
	spec, err := ApplyParallelism(o.Spec, o.Assignment.Parallelism)
	if err != nil {
		return nil, err
	}
	o.Spec = spec
	conf := o.Spec.Config.Merge(o.Config)
	layout := topology.NewLayout(o.Spec, conf.AckerTasks())
	if err := o.Assignment.CheckLayout(layout); err != nil {
		return nil, fmt.Errorf("the assignment does not fit topology %q: %w", o.Spec.Name, err)
	}
	self, ok := o.Assignment.Worker(o.WorkerID)
	if !ok {
		return nil, fmt.Errorf("worker %q is not in the assignment of %s; pass one of its worker ids", o.WorkerID, o.Assignment.TopologyID)
	}
	owner := map[int32]string{}
	addr := map[string]string{}
	for _, w := range o.Assignment.Workers {
		addr[w.ID()] = w.Address()
		for _, t := range w.Tasks() {
			owner[t] = w.ID()
		}
	}
	rt, err := executor.New(executor.Options{
		TopologyID: o.Assignment.TopologyID, Spec: o.Spec, Config: o.Config, Logger: log,
		ComponentLogger: componentLogger(o.Levels),
		LocalTasks:      self.Tasks(), PeerOf: func(t int32) string { return owner[t] },
		Inactive: true,
	})
	if err != nil {
		return nil, err
	}
	id := transport.Identity{TopologyID: o.Assignment.TopologyID, WorkerID: o.WorkerID, Address: self.Address(), Version: o.Assignment.Version}
	w := &Worker{o: o, rt: rt, server: transport.NewServer(id, rt, log), log: log, adminActive: !o.StartInactive,
		incarnation: newIncarnation(), started: time.Now()}
	if o.TLS != nil && o.TLS.Identity().Role != tlsconf.RoleWorker {
		return nil, fmt.Errorf("worker: its certificate names %s, not a worker; give the supervisor a certificate made with sparsectl tls cert create --worker", o.TLS.Identity())
	}
	if _, err := tlsconf.CheckListen("worker "+o.WorkerID+" at", self.Address(), o.TLS != nil, o.Insecure); err != nil {
		return nil, err
	}
	for _, ob := range rt.Outbound() {
		snd := transport.NewSender(id, ob.Peer, addr[ob.Peer], ob, log)
		if o.TLS != nil {
			snd.UseCredentials(o.TLS.ClientCredentials(tlsconf.RoleWorker, false))
		}
		w.senders = append(w.senders, snd)
	}
	return w, nil
}

// Runtime is the worker's executor runtime (stats, activation).
func (w *Worker) Runtime() *executor.Runtime { return w.rt }

// Run serves the transport, dials the peers and runs the executors until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	// The lapse timer lives as long as the worker's context, or Run if that ends first.
	stopTimer := context.AfterFunc(ctx, w.stopLogTimer)
	defer func() { stopTimer(); w.stopLogTimer() }()
	self, _ := w.o.Assignment.Worker(w.o.WorkerID)
	lis := w.o.Listener
	if lis == nil {
		var err error
		lis, err = net.Listen("tcp", self.Address())
		if err != nil {
			return fmt.Errorf("worker %s cannot listen on %s: %w", w.o.WorkerID, self.Address(), err)
		}
	}
	if w.o.HeartbeatFile != "" {
		if err := os.WriteFile(w.o.HeartbeatFile, fmt.Appendf(nil, "%d\n", os.Getpid()), 0o644); err != nil {
			lis.Close()
			return fmt.Errorf("worker %s cannot write its heartbeat file: %w", w.o.WorkerID, err)
		}
		defer os.Remove(w.o.HeartbeatFile)
	}
	opts := transport.ServerOptions()
	if w.o.TLS != nil {
		// The transport takes workers only (transport.Server checks), WorkerAdmin the
		// supervisor only (adminServer checks).
		opts = append(opts, grpc.Creds(w.o.TLS.ServerCredentials(true, tlsconf.RoleWorker, tlsconf.RoleSupervisor)))
	}
	g := grpc.NewServer(opts...)
	w.server.Register(g)
	sparsev1.RegisterWorkerAdminServer(g, adminServer{w: w})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// New checked the address; here only the hourly warning, which ends with the worker.
	if warn, _ := tlsconf.CheckListen("", self.Address(), w.o.TLS != nil, w.o.Insecure); warn {
		tlsconf.WarnInsecure(ctx, w.log, "worker transport at "+self.Address())
	}
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
	w.log.Info("worker running", "address", lis.Addr().String(), "tasks", len(self.Tasks()), "peers", len(w.senders))
	wg.Go(func() { w.activateWhenConnected(ctx) })
	if w.o.HeartbeatFile != "" {
		wg.Go(func() { w.heartbeat(ctx) })
	}
	if w.o.SupervisedFile != "" && w.o.OrphanTimeout > 0 {
		wg.Go(func() { w.watchSupervisor(ctx, cancel) })
	}
	if len(w.o.Nimbus) > 0 {
		wg.Go(func() { w.reportStats(ctx) })
	}
	err := local.RunRuntime(ctx, w.rt, local.Options{StatsEvery: w.o.StatsEvery, Out: w.o.Out})
	cancel()
	// Handlers blocked delivering to the stopped runtime return at once; give in-flight
	// frames a moment, then close every connection.
	graceful.Stop(g, 2*time.Second)
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
	w.mu.Lock()
	defer w.mu.Unlock()
	w.peersReady = true
	if w.adminActive {
		w.log.Info("every peer is connected; activating the spouts", "peers", len(w.senders))
	} else {
		w.log.Info("every peer is connected; the spouts wait for the supervisor to activate them", "peers", len(w.senders))
	}
	w.applyActive()
}

// SetActive activates or deactivates the spouts, as the supervisor does through
// WorkerAdmin when the topology is activated or deactivated. The spouts only run once
// every peer is connected as well.
func (w *Worker) SetActive(on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.adminActive != on {
		w.log.Info("spouts set active by the supervisor", "active", on, "peers_connected", w.peersReady)
	}
	w.adminActive = on
	w.applyActive()
}

// Active reports whether the spouts run: activated and every peer connected.
func (w *Worker) Active() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.adminActive && w.peersReady
}

// applyActive tells the runtime what the two conditions say; w.mu is held.
func (w *Worker) applyActive() {
	if w.adminActive && w.peersReady {
		w.rt.Activate()
	} else {
		w.rt.Deactivate()
	}
}

// watchSupervisor stops the worker when its supervised file goes stale. A missing file
// counts from the worker's start, so a supervisor that dies before its first touch is
// noticed too.
func (w *Worker) watchSupervisor(ctx context.Context, stop context.CancelFunc) {
	started := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		seen := started
		if st, err := os.Stat(w.o.SupervisedFile); err == nil && st.ModTime().After(seen) {
			seen = st.ModTime()
		}
		if gone := time.Since(seen); gone > w.o.OrphanTimeout {
			w.log.Error("no supervisor has vouched for this worker; it stops rather than run on with a stale assignment",
				"silent_for", gone.Round(time.Second), "orphan_timeout", w.o.OrphanTimeout, "file", w.o.SupervisedFile)
			stop()
			return
		}
	}
}

// heartbeat touches the heartbeat file every second until ctx ends.
func (w *Worker) heartbeat(ctx context.Context) {
	tick := time.NewTicker(HeartbeatInterval)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := touch(w.o.HeartbeatFile); err != nil {
			if !failing {
				w.log.Error("cannot touch the heartbeat file; the supervisor will think this worker hangs", "path", w.o.HeartbeatFile, "error", err)
			}
			failing = true
			continue
		}
		failing = false
	}
}

// touch sets a file's modification time to now, creating it if needed.
func touch(path string) error {
	now := time.Now()
	if err := os.Chtimes(path, now, now); err == nil {
		return nil
	}
	return os.WriteFile(path, fmt.Appendf(nil, "%d\n", os.Getpid()), 0o644)
}

// adminServer serves WorkerAdmin for the worker's supervisor.
type adminServer struct {
	sparsev1.UnimplementedWorkerAdminServer
	w *Worker
}

func (s adminServer) SetActive(ctx context.Context, req *sparsev1.SetActiveRequest) (*sparsev1.SetActiveReply, error) {
	if tlsconf.PeerIsTLS(ctx) {
		if id, ok := tlsconf.PeerIdentity(ctx); !ok || id.Role != tlsconf.RoleSupervisor {
			s.w.log.Error("refused a WorkerAdmin call: only the supervisor may call it", "peer", id.String())
			return nil, status.Error(codes.PermissionDenied, transport.Refused)
		}
	}
	s.w.SetActive(req.GetActive())
	return &sparsev1.SetActiveReply{}, nil
}

// Transport adds up what this worker's senders and server moved so far.
func (w *Worker) Transport() transport.Totals {
	var t transport.Totals
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
