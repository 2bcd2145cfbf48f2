package supervisor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/tlsconf"
	"github.com/sparsestream/sparse/pkg/topology"
)

// Defaults of ManagerConfig.
const (
	DefaultWorkerTimeout = 10 * time.Second
	DefaultStopGrace     = 10 * time.Second
	DefaultBackoffMin    = time.Second
	DefaultBackoffMax    = 30 * time.Second
	DefaultHealthyAfter  = time.Minute
	DefaultTick          = 500 * time.Millisecond
)

// HeartbeatKeeper keeps the heartbeat of a healthy worker where nimbus sees it (etcd).
type HeartbeatKeeper interface {
	// Keep starts keeping hb alive; stop ends it and removes the heartbeat.
	Keep(hb cluster.WorkerHeartbeat) (stop func())
}

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	// SupervisorID names this supervisor in heartbeats and logs.
	SupervisorID string
	// Nimbus, when set, gives the nimbus API addresses a worker reports its statistics
	// to, read when the worker starts (worker.Flags.Nimbus); the worker follows the
	// leader from there.
	Nimbus func() []string
	// DataDir holds workers/<topology-id>/<port>/ for each worker: its assignment.json,
	// config.json, heartbeat, worker.log and worker.pid.
	DataDir string
	// Artifacts gives the path of a topology's executable by digest.
	Artifacts Artifacts
	// GenericWorker is the program that runs spec bundles (see GenericWorkerPath).
	GenericWorker string
	// WorkerTimeout: a worker whose heartbeat file is older is restarted (default 10s).
	WorkerTimeout time.Duration
	// StopGrace is how long a worker has to stop after SIGTERM before SIGKILL (default
	// 10s).
	StopGrace time.Duration
	// BackoffMin and BackoffMax bound the pause before a failed worker is started
	// again: BackoffMin after the first failure, doubling up to BackoffMax (defaults 1s
	// and 30s). A worker that ran for HealthyAfter (default 1m) starts a new count.
	BackoffMin, BackoffMax, HealthyAfter time.Duration
	// Tick is how often heartbeats and timers are checked (default 500ms).
	Tick time.Duration
	// WorkerMetricsOffset: a worker on port P serves /metrics on its host at port
	// P+offset; 0 gives workers no --metrics-addr.
	WorkerMetricsOffset int
	// StopWorkersOnExit stops every worker when Run returns. By default they keep
	// running, and the next supervisor process adopts them.
	StopWorkersOnExit bool
	// OrphanTimeout: a worker stops itself when no supervisor has touched its
	// supervised file for this long (default 30s), so that the workers of a supervisor
	// that never comes back do not run on with a stale assignment. A supervisor that
	// restarts within it adopts them.
	OrphanTimeout time.Duration
	Logger        hclog.Logger
	// Admin tells a worker whether its spouts should run; nil calls WorkerAdmin.SetActive
	// over gRPC at the worker's address, with AdminCreds (nil: plaintext).
	Admin      func(ctx context.Context, address string, active bool) error
	AdminCreds credentials.TransportCredentials
	// WorkerTLS, when set, are the CA, certificate and key copied into each worker's
	// directory (mode 0600) for it to serve and dial with; see tls.go. WorkerInsecure
	// lets workers listen off loopback without TLS.
	WorkerTLS      tlsconf.Files
	WorkerInsecure bool
	// WorkerMetricsCert and WorkerMetricsKey, when set, are copied into each worker's
	// directory (mode 0600) for it to serve /metrics over HTTPS with.
	WorkerMetricsCert, WorkerMetricsKey string
	// Heartbeats, when set, keeps each healthy worker's heartbeat in etcd.
	Heartbeats HeartbeatKeeper
	// Metrics, when set, gets the used slots, the running workers and the restarts.
	Metrics *Metrics
	// WorkerEnv names variables of the supervisor's environment that workers get
	// beyond the base ones (PATH, HOME, LANG, LC_*, TZ, TMPDIR, PYTHONPATH and the Go
	// runtime's); nothing else of it reaches them.
	WorkerEnv []string
	// CleanupGrace: the worker directories, artifacts and bundles of topologies no
	// longer assigned here are removed once unused this long (default 10m).
	CleanupGrace time.Duration
	// WorkerLogMaxSize: a worker.log larger than this many bytes is rotated (default
	// 100 MiB; negative: never), keeping WorkerLogBackups older copies (default 3;
	// negative: none).
	WorkerLogMaxSize int64
	WorkerLogBackups int
	// Problems, when set, publishes why workers cannot start (see problems.go).
	Problems ProblemReporter
	// PipIndex is the package index (or proxy) the virtualenvs of spec bundles install
	// from (see venv.go); empty: pip's default, or only the bundle's wheels when it has
	// some.
	PipIndex string
	// WorkerLogFormat is the workers' --log-format (empty: text).
	WorkerLogFormat string
}

// Manager runs the worker processes of one supervisor: it starts what Update asks for,
// restarts workers that die or hang (with backoff), stops the ones no longer wanted,
// adopts live workers left by an earlier supervisor process, and tells workers whether
// their spouts should run. All decisions come from Plan; Manager does the I/O.
type Manager struct {
	c   ManagerConfig
	log hclog.Logger

	updates chan []Want
	events  chan event
	quit    chan struct{} // closed when Run starts to return
	done    chan struct{} // closed when Run has returned
	ops     sync.WaitGroup

	// Owned by Run.
	janitor   *janitor
	slots     map[int]*slot
	problems  map[int]*reportedProblem
	wants     []Want
	haveWants bool

	mu       sync.Mutex
	statuses []SlotStatus

	fenced    atomic.Bool // set by SetFenced, read by Run
	wasFenced bool        // owned by Run
	fencedAt  time.Time   // owned by Run
}

// slot is the state of one port.
type slot struct {
	port        int
	phase       Phase
	want        Want // what it runs or was last asked to run
	proc        *proc
	startedAt   time.Time
	heartbeatAt time.Time
	failures    int // in a row
	restarts    int // in all
	retryAt     time.Time
	op          int // the current start; results of older ones are ignored
	cancel      context.CancelFunc
	restart     bool // stopping to be started again (a failure)
	killAt      time.Time
	killed      bool

	activeKnown, active bool
	adminPending        bool
	adminRetryAt        time.Time
	adminFailures       int
	hbStop              func()
}

// SlotStatus is what a slot holds, for tests, logs and metrics.
type SlotStatus struct {
	Port     int
	Phase    Phase
	Identity Identity
	PID      int
	Adopted  bool
	// Restarts counts the starts after a failure; Failures the failures in a row.
	Restarts, Failures int
	// ActiveKnown says a SetActive was confirmed by the worker, Active what it said.
	ActiveKnown, Active bool
	Registered          bool
}

type event interface{}

type startDone struct {
	port, op int
	proc     *proc
	err      error
}

type procExited struct {
	port int
	proc *proc
}

type adminDone struct {
	port   int
	proc   *proc
	active bool
	err    error
}

// NewManager returns a manager; Run starts it.
func NewManager(c ManagerConfig) (*Manager, error) {
	if c.DataDir == "" {
		return nil, errors.New("supervisor: a data directory is required")
	}
	if c.Artifacts == nil {
		return nil, errors.New("supervisor: an artifact source is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.WorkerTimeout, DefaultWorkerTimeout)
	def(&c.StopGrace, DefaultStopGrace)
	def(&c.BackoffMin, DefaultBackoffMin)
	def(&c.BackoffMax, DefaultBackoffMax)
	def(&c.HealthyAfter, DefaultHealthyAfter)
	def(&c.Tick, DefaultTick)
	def(&c.OrphanTimeout, DefaultOrphanTimeout)
	def(&c.CleanupGrace, DefaultCleanupGrace)
	if c.WorkerLogMaxSize == 0 {
		c.WorkerLogMaxSize = DefaultWorkerLogMaxSize
	}
	if c.WorkerLogBackups == 0 {
		c.WorkerLogBackups = DefaultWorkerLogBackups
	}
	if c.Admin == nil {
		c.Admin = setActiveGRPC(c.AdminCreds)
	}
	log := c.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Manager{c: c, log: log, updates: make(chan []Want, 1), events: make(chan event, 64),
		quit: make(chan struct{}), done: make(chan struct{}), slots: map[int]*slot{}, problems: map[int]*reportedProblem{},
		janitor: &janitor{dataDir: c.DataDir, grace: c.CleanupGrace, log: log, unused: map[string]time.Time{}}}, nil
}

// Update sets the workers that should run. Nothing is started or stopped before the
// first Update (live workers found at start wait for it), so call it only once the
// assignments are known.
func (m *Manager) Update(wants []Want) {
	for {
		select {
		case m.updates <- wants:
			return
		default:
		}
		select {
		case <-m.updates: // replace a value not read yet
		default:
		}
	}
}

// Status returns what every slot holds, sorted by port.
func (m *Manager) Status() []SlotStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]SlotStatus(nil), m.statuses...)
}

// Run manages the workers until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	defer close(m.done)
	defer m.closeQuit()
	if err := makePrivateDir(filepath.Join(m.c.DataDir, "workers")); err != nil {
		return fmt.Errorf("supervisor: creating the data directory: %w", err)
	}
	removeLeftovers(m.c.DataDir, m.log)
	m.findLiveWorkers()
	m.publish()
	tick := time.NewTicker(m.c.Tick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			m.shutdown()
			return nil
		case w := <-m.updates:
			m.wants, m.haveWants = w, true
		case ev := <-m.events:
			m.handle(ev, time.Now())
		case <-tick.C:
		}
		now := time.Now()
		fenced := m.fenced.Load()
		if fenced != m.wasFenced {
			m.wasFenced = fenced
			if fenced {
				m.fencedAt = now
				m.log.Warn("fenced: this supervisor's lease in etcd has expired, so the cluster may already run its workers elsewhere; no longer vouching for them (they stop themselves after the orphan timeout unless etcd answers before) and starting none",
					"workers", len(m.slots), "orphan_timeout", m.c.OrphanTimeout)
			} else {
				m.log.Info("no longer fenced: etcd answers again; running the assigned workers")
			}
		}
		m.observe(now, !fenced)
		if fenced {
			m.fence(ctx, now)
		} else if m.haveWants {
			for _, a := range Plan(m.wants, m.haves(), now, PlanParams{WorkerTimeout: m.c.WorkerTimeout}) {
				m.do(ctx, a, now)
			}
		}
		m.escalate(now)
		m.upkeep(now)
		m.withdrawProblems()
		m.publish()
	}
}

// upkeep keeps the data directory from growing: it rotates the workers' logs and
// removes what unassigned topologies left.
func (m *Manager) upkeep(now time.Time) {
	topologies, digests := map[string]bool{}, map[string]bool{}
	for _, w := range m.wants {
		topologies[w.TopologyID], digests[w.Digest] = true, true
	}
	for _, s := range m.slots {
		topologies[s.want.TopologyID], digests[s.want.Digest] = true, true
		if s.proc == nil || m.c.WorkerLogMaxSize < 0 {
			continue
		}
		path := filepath.Join(s.proc.dir, logFile)
		if rotated, err := rotateLog(path, m.c.WorkerLogMaxSize, max(m.c.WorkerLogBackups, 0)); err != nil {
			m.slotLog(s).Warn("cannot rotate the worker's log", "path", path, "error", err)
		} else if rotated {
			m.slotLog(s).Debug("rotated the worker's log", "path", path)
		}
	}
	if m.haveWants { // before the first assignments, everything looks unassigned
		m.janitor.sweep(now, topologies, digests)
	}
}

// send delivers an event to Run, or drops it once Run is returning.
func (m *Manager) send(ev event) {
	select {
	case m.events <- ev:
	case <-m.quit:
	}
}

func (m *Manager) closeQuit() {
	select {
	case <-m.quit:
	default:
		close(m.quit)
	}
}

// findLiveWorkers reads the pid files left by an earlier supervisor process: live
// workers that are verifiably ours wait, as Found, for Plan to adopt or stop them; the
// pid files of dead ones are removed.
func (m *Manager) findLiveWorkers() {
	paths, err := scanPidFiles(m.c.DataDir)
	if err != nil {
		m.log.Error("cannot look for workers left by an earlier supervisor", "error", err)
		return
	}
	for _, path := range paths {
		dir := filepath.Dir(path)
		pf, err := readPidFile(path)
		if err != nil {
			m.log.Warn("removing an unreadable pid file", "path", path, "error", err)
			os.Remove(path)
			continue
		}
		if ok, why := sameProcess(pf, dir); !ok {
			m.log.Info("not adopting the worker of an old pid file; removing the file", "path", path, "pid", pf.PID, "reason", why)
			os.Remove(path)
			continue
		}
		log := m.log.With("slot", pf.Port, "topology", pf.TopologyID, "worker", pf.WorkerID, "pid", pf.PID)
		if _, taken := m.slots[pf.Port]; taken {
			log.Warn("a second live worker claims this port; stopping it")
			_ = syscall.Kill(-pf.PID, syscall.SIGKILL)
			os.Remove(path)
			continue
		}
		p := adopt(pf, dir, m.done)
		s := &slot{port: pf.Port, phase: Found, proc: p, startedAt: time.Now(),
			want: Want{Port: pf.Port, TopologyID: pf.TopologyID, WorkerID: pf.WorkerID, Version: pf.Version, Digest: pf.Digest}}
		m.slots[pf.Port] = s
		m.watchExit(s.port, p)
		log.Info("found a live worker from an earlier supervisor process; it waits for the assignments")
	}
}

func (m *Manager) watchExit(port int, p *proc) {
	go func() {
		select {
		case <-p.exited:
			m.send(procExited{port: port, proc: p})
		case <-m.quit:
		}
	}()
}

// haves describes the slots for Plan.
func (m *Manager) haves() []Have {
	out := make([]Have, 0, len(m.slots))
	for _, s := range m.slots {
		out = append(out, Have{
			Port: s.port, Phase: s.phase, Identity: s.want.Identity(),
			StartedAt: s.startedAt, HeartbeatAt: s.heartbeatAt, RetryAt: s.retryAt,
			ActiveKnown: s.activeKnown, Active: s.active,
			AdminPending: s.adminPending, AdminRetryAt: s.adminRetryAt,
			Registered: s.hbStop != nil,
		})
	}
	return out
}

// DefaultOrphanTimeout is how long a worker runs on without a supervisor vouching for it.
const DefaultOrphanTimeout = 30 * time.Second

// observe reads the heartbeat files of the running workers, and unless fenced vouches
// for each by touching its supervised file.
func (m *Manager) observe(now time.Time, vouch bool) {
	for _, s := range m.slots {
		if s.phase != Running || s.proc == nil {
			continue
		}
		if st, err := os.Stat(filepath.Join(s.proc.dir, heartbeatFile)); err == nil {
			s.heartbeatAt = st.ModTime()
		}
		if vouch {
			touch(filepath.Join(s.proc.dir, supervisedFile), now)
		}
	}
}

// SetFenced fences the manager (true) or lifts the fence (false). A supervisor whose
// lease in etcd has expired is fenced: nimbus takes it for dead and may already run its
// workers on other nodes. The fenced manager starts no worker and no longer vouches for
// its workers, which stop themselves after the orphan timeout; the ones still running a
// little later (the orphan check is once a second) it stops itself, SIGKILL following
// after the stop grace. A short etcd outage, lifted before the orphan timeout, thus
// stops nothing. Once lifted, the manager runs the assigned workers again.
func (m *Manager) SetFenced(fenced bool) { m.fenced.Store(fenced) }

// fence cancels the starts in progress and, once the workers have had the orphan
// timeout (and a little more) to stop themselves, stops the ones still running.
func (m *Manager) fence(ctx context.Context, now time.Time) {
	late := now.Sub(m.fencedAt) > m.c.OrphanTimeout+2*time.Second
	for port, s := range m.slots {
		switch {
		case s.phase == Starting:
			m.do(ctx, Action{Kind: Stop, Port: port, Reason: "the supervisor is fenced"}, now)
		case late && s.phase != Stopping && s.proc != nil && s.proc.alive():
			s.restart = false
			m.slotLog(s).Warn("stopping the worker, which did not stop itself: the supervisor is fenced", "fenced_for", now.Sub(m.fencedAt).Round(time.Second))
			m.stop(s, now)
		}
	}
}

// touch sets a file's modification time, creating it if needed.
func touch(path string, now time.Time) {
	if err := os.Chtimes(path, now, now); err != nil {
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, privateFileMode); err == nil {
			f.Close()
		}
	}
}

func (m *Manager) slotLog(s *slot) hclog.Logger {
	l := m.log.With("slot", s.port, "topology", s.want.TopologyID, "worker", s.want.WorkerID, "version", s.want.Version)
	if s.proc != nil {
		l = l.With("pid", s.proc.pid)
	}
	return l
}

// do carries out one action of Plan.
func (m *Manager) do(ctx context.Context, a Action, now time.Time) {
	s := m.slots[a.Port]
	switch a.Kind {
	case Start:
		if s == nil || s.want.Identity() != a.Want.Identity() {
			s = &slot{port: a.Port}
			m.slots[a.Port] = s
		} else {
			s.restarts++
			if m.c.Metrics != nil {
				m.c.Metrics.WorkerRestarts.Inc()
			}
		}
		s.phase, s.want, s.proc = Starting, *a.Want, nil
		s.heartbeatAt, s.activeKnown, s.adminPending, s.adminFailures = time.Time{}, false, false, 0
		s.restart, s.killed = false, false
		s.op++
		opCtx, cancel := context.WithCancel(ctx)
		s.cancel = cancel
		op, want := s.op, *a.Want
		m.slotLog(s).Info("starting the worker", "reason", a.Reason)
		m.ops.Go(func() {
			p, err := m.start(opCtx, want)
			cancel()
			m.send(startDone{port: want.Port, op: op, proc: p, err: err})
		})
	case Adopt:
		s.phase, s.want, s.startedAt = Running, *a.Want, now
		s.heartbeatAt, s.activeKnown = time.Time{}, false
		m.slotLog(s).Info("adopted a live worker of the current assignment", "reason", a.Reason)
	case Stop, Restart:
		if s.phase == Starting {
			m.slotLog(s).Info("cancelling the worker's start", "reason", a.Reason)
			s.cancel()
			s.phase = Stopping
			return
		}
		s.restart = a.Kind == Restart
		if s.restart {
			m.slotLog(s).Warn("restarting an unhealthy worker", "reason", a.Reason)
		} else {
			m.slotLog(s).Info("stopping the worker", "reason", a.Reason)
		}
		m.stop(s, now)
	case Forget:
		m.slotLog(s).Info("the worker will not be restarted", "reason", a.Reason)
		delete(m.slots, a.Port)
	case SetActive:
		s.adminPending = true
		p, addr, on := s.proc, a.Want.Address, a.Active
		m.ops.Go(func() {
			actx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := m.c.Admin(actx, addr, on)
			cancel()
			m.send(adminDone{port: a.Port, proc: p, active: on, err: err})
		})
	case Register:
		if m.c.Heartbeats != nil {
			s.hbStop = m.c.Heartbeats.Keep(cluster.WorkerHeartbeat{
				TopologyID: s.want.TopologyID, WorkerID: s.want.WorkerID, Supervisor: m.c.SupervisorID,
				Port: s.port, PID: s.proc.pid, Version: s.want.Version,
			})
		} else {
			s.hbStop = func() {}
		}
		m.slotLog(s).Debug("the worker is healthy; keeping its heartbeat in etcd")
	}
}

// stop asks a worker to stop: SIGTERM now, SIGKILL after the grace period (escalate).
func (m *Manager) stop(s *slot, now time.Time) {
	m.unregister(s)
	s.phase = Stopping
	s.killAt = now.Add(m.c.StopGrace)
	if s.proc == nil {
		return
	}
	if err := s.proc.signal(syscall.SIGTERM); err != nil {
		m.slotLog(s).Error("cannot signal the worker", "error", err)
	}
}

func (m *Manager) unregister(s *slot) {
	if s.hbStop != nil {
		s.hbStop()
		s.hbStop = nil
	}
}

// escalate kills the workers that did not stop within the grace period.
func (m *Manager) escalate(now time.Time) {
	for _, s := range m.slots {
		if s.phase == Stopping && s.proc != nil && !s.killed && now.After(s.killAt) {
			m.slotLog(s).Warn("the worker did not stop in time; killing it", "grace", m.c.StopGrace)
			s.killed = true
			_ = s.proc.signal(syscall.SIGKILL)
		}
	}
}

// handle applies what a goroutine reports.
func (m *Manager) handle(ev event, now time.Time) {
	switch ev := ev.(type) {
	case startDone:
		m.finishStart(ev, now)
	case procExited:
		m.reap(ev, now)
	case adminDone:
		m.confirmActive(ev, now)
	case reloadTLS:
		m.reloadTLS()
	}
}

// finishStart takes the outcome of a worker's start: the slot runs the worker, or
// retries after a backoff if the start failed, or stops the worker if the slot was
// told to stop while it started.
func (m *Manager) finishStart(ev startDone, now time.Time) {
	s := m.slots[ev.port]
	if s == nil || s.op != ev.op {
		if ev.proc != nil { // cannot happen: a slot's op only changes after its start is done
			_ = ev.proc.signal(syscall.SIGKILL)
		}
		return
	}
	s.cancel = nil
	if s.phase == Stopping { // cancelled while starting
		if ev.proc == nil {
			delete(m.slots, ev.port)
			return
		}
		s.proc, s.startedAt = ev.proc, now
		m.watchExit(s.port, ev.proc)
		m.stop(s, now)
		return
	}
	if ev.err != nil {
		s.phase = Exited
		s.failures = NextFailures(s.failures, 0, m.c.HealthyAfter)
		s.retryAt = now.Add(Backoff(s.failures, m.c.BackoffMin, m.c.BackoffMax))
		m.slotLog(s).Error("cannot start the worker", "error", ev.err, "retry_in", s.retryAt.Sub(now).Round(time.Millisecond))
		m.reportStartFailure(s, ev.err)
		return
	}
	s.phase, s.proc, s.startedAt = Running, ev.proc, now
	m.watchExit(s.port, ev.proc)
	m.slotLog(s).Info("worker started", "log", filepath.Join(ev.proc.dir, logFile))
}

// reap takes a worker's exit: a worker that was meant to stop frees its slot; one
// that failed (or was stopped to be restarted) waits out a backoff before Plan
// starts it again.
func (m *Manager) reap(ev procExited, now time.Time) {
	s := m.slots[ev.port]
	if s == nil || s.proc != ev.proc {
		return
	}
	m.unregister(s)
	removePidFile(ev.proc)
	log := m.slotLog(s)
	how := "gone"
	if !ev.proc.adopted {
		how = exitDescription(ev.proc.err)
	}
	if (s.phase == Stopping && !s.restart) || s.phase == Found {
		log.Info("worker stopped", "exit", how)
		delete(m.slots, ev.port)
		return
	}
	if m.wasFenced { // it stopped itself, as it should: nobody vouches for it
		log.Info("worker stopped while the supervisor is fenced; it starts again once etcd answers", "exit", how)
		delete(m.slots, ev.port)
		return
	}
	ranFor := now.Sub(s.startedAt)
	s.phase, s.proc = Exited, nil
	s.failures = NextFailures(s.failures, ranFor, m.c.HealthyAfter)
	s.retryAt = now.Add(Backoff(s.failures, m.c.BackoffMin, m.c.BackoffMax))
	if s.restart {
		log.Warn("unhealthy worker stopped", "exit", how, "restart_in", s.retryAt.Sub(now).Round(time.Millisecond))
	} else {
		log.Error("worker exited unexpectedly; see its log", "exit", how, "ran_for", ranFor.Round(time.Millisecond),
			"failures_in_a_row", s.failures, "restart_in", s.retryAt.Sub(now).Round(time.Millisecond),
			"log", filepath.Join(workerDir(m.c.DataDir, s.want.TopologyID, s.port), logFile))
	}
}

// confirmActive takes the worker's answer to SetActive: on success the slot knows
// whether the spouts run; on failure it retries after a growing delay.
func (m *Manager) confirmActive(ev adminDone, now time.Time) {
	s := m.slots[ev.port]
	if s == nil || s.proc != ev.proc {
		return
	}
	s.adminPending = false
	if ev.err != nil {
		s.adminFailures++
		s.adminRetryAt = now.Add(min(time.Duration(s.adminFailures)*200*time.Millisecond, 5*time.Second))
		// A worker that just started is not listening yet: only a persistent failure
		// is worth a warning.
		if s.adminFailures%25 == 0 {
			m.slotLog(s).Warn("cannot tell the worker whether its spouts should run; retrying", "active", ev.active, "attempts", s.adminFailures, "error", ev.err)
		} else {
			m.slotLog(s).Debug("SetActive failed; retrying", "active", ev.active, "error", ev.err)
		}
		return
	}
	s.adminFailures = 0
	if !s.activeKnown || s.active != ev.active {
		if ev.active {
			m.slotLog(s).Info("spouts activated")
		} else {
			m.slotLog(s).Info("spouts deactivated")
		}
	}
	s.activeKnown, s.active = true, ev.active
}

// removePidFile removes a worker's pid file if it still names that process.
func removePidFile(p *proc) {
	path := filepath.Join(p.dir, pidFile)
	if pf, err := readPidFile(path); err == nil && pf.PID == p.pid {
		os.Remove(path)
	}
}

// start prepares a worker's directory and launches it.
func (m *Manager) start(ctx context.Context, w Want) (*proc, error) {
	if w.Problem != "" {
		return nil, errors.New(w.Problem)
	}
	exe, err := m.c.Artifacts.Path(ctx, w.Digest, w.ArtifactSize)
	if err != nil {
		return nil, err
	}
	dir := workerDir(m.c.DataDir, w.TopologyID, w.Port)
	if err := makePrivateDir(filepath.Dir(dir)); err != nil {
		return nil, fmt.Errorf("creating the topology's directory: %w", err)
	}
	if err := makePrivateDir(dir); err != nil {
		return nil, fmt.Errorf("creating the worker's directory: %w", err)
	}
	// A heartbeat file left by an earlier process must not vouch for this one.
	if err := os.Remove(filepath.Join(dir, heartbeatFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing an old heartbeat file: %w", err)
	}
	if w.Assignment == nil {
		return nil, errors.New("no assignment to start the worker with")
	}
	if err := writeJSON(filepath.Join(dir, assignmentFile), w.Assignment); err != nil {
		return nil, fmt.Errorf("writing the worker's assignment: %w", err)
	}
	conf := w.Config
	if conf == nil {
		conf = topology.Config{}
	}
	if err := writeJSON(filepath.Join(dir, configFile), conf); err != nil {
		return nil, fmt.Errorf("writing the worker's config: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	metricsAddr := ""
	if m.c.WorkerMetricsOffset != 0 {
		host, _, err := net.SplitHostPort(w.Address)
		if port := w.Port + m.c.WorkerMetricsOffset; err == nil && port > 0 && port < 65536 {
			metricsAddr = net.JoinHostPort(host, strconv.Itoa(port))
		}
	}
	sec, err := m.workerSecurity(dir)
	if err != nil {
		return nil, err
	}
	if m.c.Nimbus != nil {
		if addrs := m.c.Nimbus(); len(addrs) > 0 {
			sec = append(sec, nimbusArgs(addrs)...)
		}
	}
	exe, args, err := m.workerCommand(w, exe, append(workerArgs(dir, w.WorkerID, metricsAddr, m.c.OrphanTimeout, m.c.WorkerLogFormat), sec...))
	if err != nil {
		return nil, err
	}
	env, err := workerEnv(supervisorEnviron(), m.c.WorkerEnv, conf)
	if err != nil {
		return nil, fmt.Errorf("topology %s: %w", w.TopologyID, err)
	}
	if env, err = m.bundleVenv(ctx, w, env); err != nil {
		return nil, err
	}
	return launch(exe, args, dir, env, PidFile{Port: w.Port, Identity: w.Identity()})
}

// shutdown ends Run: starts in progress are cancelled; workers keep running unless
// StopWorkersOnExit.
func (m *Manager) shutdown() {
	m.closeQuit()
	for _, s := range m.slots {
		if s.cancel != nil {
			s.cancel()
		}
	}
	if m.c.StopWorkersOnExit {
		var procs []*proc
		for _, s := range m.slots {
			if s.proc != nil && s.proc.alive() {
				m.slotLog(s).Info("stopping the worker: the supervisor is stopping")
				_ = s.proc.signal(syscall.SIGTERM)
				procs = append(procs, s.proc)
			}
		}
		deadline := time.After(m.c.StopGrace)
		for _, p := range procs {
			select {
			case <-p.exited:
			case <-deadline:
				_ = p.signal(syscall.SIGKILL)
			}
		}
		for _, p := range procs {
			select {
			case <-p.exited:
				removePidFile(p)
			case <-time.After(5 * time.Second):
				m.log.Error("a worker outlived SIGKILL", "pid", p.pid)
			}
		}
	} else if len(m.slots) > 0 {
		m.log.Info("the supervisor is stopping; its workers keep running and the next supervisor adopts them", "workers", len(m.slots))
	}
	m.ops.Wait()
}

// publish records the slots' status for Status.
func (m *Manager) publish() {
	out := make([]SlotStatus, 0, len(m.slots))
	for _, s := range m.slots {
		st := SlotStatus{Port: s.port, Phase: s.phase, Identity: s.want.Identity(), Restarts: s.restarts, Failures: s.failures,
			ActiveKnown: s.activeKnown, Active: s.active, Registered: s.hbStop != nil}
		if s.proc != nil {
			st.PID, st.Adopted = s.proc.pid, s.proc.adopted
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b SlotStatus) int { return a.Port - b.Port })
	if m.c.Metrics != nil {
		running := 0
		for _, s := range m.slots {
			if s.proc != nil && s.proc.alive() {
				running++
			}
		}
		m.c.Metrics.WorkersRunning.Set(float64(running))
		m.c.Metrics.SlotsUsed.Set(float64(len(m.wants)))
	}
	m.mu.Lock()
	m.statuses = out
	m.mu.Unlock()
}

// setActiveGRPC calls WorkerAdmin.SetActive on the worker at address over creds (nil:
// plaintext).
func setActiveGRPC(creds credentials.TransportCredentials) func(ctx context.Context, address string, active bool) error {
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	return func(ctx context.Context, address string, active bool) error {
		conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(creds))
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = sparsev1.NewWorkerAdminClient(conn).SetActive(ctx, &sparsev1.SetActiveRequest{Active: active})
		return err
	}
}
