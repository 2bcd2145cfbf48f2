// Package supervisor is the node agent, supervisord: it registers its worker slots in
// etcd under a lease, watches its assignments and their topologies, fetches and verifies
// topology artifacts from nimbus, and runs one worker process per assigned slot,
// restarting workers that die or hang and stopping the ones no longer assigned.
//
// The package has three layers. Plan and Desired (reconcile.go, wants.go) are pure:
// what should run against what runs, to actions. Manager does the process work: it
// starts, adopts, watches, restarts and stops worker processes, and tells them through
// WorkerAdmin whether their spouts should run. Supervisor connects the two to etcd and
// nimbus.
//
// On disk, under the data directory:
//
//	artifacts/<sha256>                     topology executables, verified, mode 0755
//	bundles/<sha256>/                      spec bundles, unpacked once, run by sparse-worker
//	workers/<topology-id>/<port>/          one directory per worker:
//	    assignment.json                    worker.Assignment (with parallelism)
//	    config.json                        the topology's config, a JSON object
//	    heartbeat                          touched every second by the worker
//	    worker.log                         the worker's stdout and stderr
//	    worker.pid                         PidFile: pid, identity, executable
//
// Workers run in their own process group and outlive the supervisor: a supervisor that
// starts again adopts the live workers of the current assignments (same pid, same
// executable, same assignment version) and replaces the others.
package supervisor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/metrics"
	"github.com/sparsestream/sparse/internal/retry"
	"github.com/sparsestream/sparse/internal/tlsconf"
)

// Defaults of Config.
const (
	DefaultLeaseTTL            = 10 * time.Second
	DefaultWorkerMetricsOffset = 1000
)

// Config configures a supervisor.
type Config struct {
	// ID names the supervisor in the cluster (default: the host name).
	ID string
	// Host is the address its workers are reached on by their peers (default
	// 127.0.0.1).
	Host string
	// Slots are the ports of its worker slots.
	Slots []int
	// DataDir holds the artifact cache and the workers' directories.
	DataDir string
	// GenericWorker is the program that runs spec bundles (default: sparse-worker
	// beside this program, else on PATH; see GenericWorkerPath).
	GenericWorker string
	// PipIndex is the package index (or proxy) for the virtualenvs of spec bundles.
	PipIndex string

	// EtcdEndpoints (default 127.0.0.1:2379) and EtcdRoot (default /sparse) say where
	// the cluster's state is.
	EtcdEndpoints []string
	EtcdRoot      string
	// EtcdSecurity is the TLS and user to reach etcd with (default: plain text, no user).
	EtcdSecurity cluster.Security
	// LeaseTTL is the lease of the supervisor's record and of its workers' heartbeats
	// (default 10s): they vanish that long after the supervisor dies.
	LeaseTTL time.Duration

	// WorkerTimeout: a worker whose heartbeat file is older is restarted (default 10s).
	WorkerTimeout time.Duration
	// StopGrace is how long a worker has between SIGTERM and SIGKILL (default 10s).
	StopGrace time.Duration
	// WorkerMetricsOffset: a worker on port P serves /metrics on port P+offset; negative
	// turns worker metrics off; 0 means the default, 1000.
	WorkerMetricsOffset int
	// StopWorkersOnExit stops the workers when the supervisor stops; by default they
	// keep running for the next supervisor process to adopt.
	StopWorkersOnExit bool
	// OrphanTimeout is how long a worker runs on when no supervisor vouches for it
	// (default 30s); see ManagerConfig.
	OrphanTimeout time.Duration
	// MetricsAddr, when set, is where /metrics is served (host:port); over HTTPS with
	// MetricsTLS.
	MetricsAddr string
	MetricsTLS  *tls.Config

	// TLS, when set, is the supervisor's certificate (role supervisor) for its calls to
	// nimbus and to its workers; WorkerTLSCert and WorkerTLSKey are the workers'
	// certificate (role worker), copied with the CA into each worker's directory. See
	// tls.go. Insecure lets the workers listen off loopback (Host) without TLS.
	TLS                         *tlsconf.Store
	WorkerTLSCert, WorkerTLSKey string
	Insecure                    bool
	// WorkerMetricsCert and WorkerMetricsKey are what workers serve /metrics over
	// HTTPS with (the supervisor's own --metrics-tls-cert and --metrics-tls-key: a
	// certificate for this host serves every metrics port on it).
	WorkerMetricsCert, WorkerMetricsKey string

	// BackoffMin, BackoffMax, HealthyAfter and Tick tune the restart backoff and the
	// checks (see ManagerConfig); zero values take the defaults.
	BackoffMin, BackoffMax, HealthyAfter, Tick time.Duration

	// WorkerEnv names variables of the supervisor's environment that workers get
	// beyond the base ones (see ManagerConfig.WorkerEnv).
	WorkerEnv []string
	// CleanupGrace, WorkerLogMaxSize and WorkerLogBackups keep the data directory's
	// size bounded (see ManagerConfig); zero values take the defaults.
	CleanupGrace     time.Duration
	WorkerLogMaxSize int64
	WorkerLogBackups int
	// WorkerLogFormat is the workers' --log-format (the supervisor's own).
	WorkerLogFormat string
	// LogsAddr, when set, is where the workers' logs (and OwnLogFile, the supervisor's
	// own log file, if any) are served (host:port; see logs.go), over HTTPS with TLS;
	// with ACL, every request needs an API token, checked against etcd.
	LogsAddr   string
	OwnLogFile string
	ACL        bool

	Logger hclog.Logger
}

// Supervisor is one node agent.
type Supervisor struct {
	c       Config
	etcd    cluster.ConnectConfig // from c, with the security files loaded
	log     hclog.Logger
	reg     *prometheus.Registry
	metrics *Metrics

	mu  sync.Mutex
	mgr *Manager

	logsPublic    string // the published address of the log server
	metricsPublic string // the published address of /metrics
	levels        *logLevels
}

// New checks the configuration and fills in defaults.
func New(c Config) (*Supervisor, error) {
	if c.ID == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("supervisor: no --id given and the host name is unknown: %w", err)
		}
		c.ID = h
	}
	if err := cluster.ValidateID("supervisor id", c.ID); err != nil {
		return nil, fmt.Errorf("supervisor: %w", err)
	}
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	if len(c.Slots) == 0 {
		return nil, errors.New("supervisor: no slots; pass --slots 6700,6701 or --slot-count 4 --slot-base 6700")
	}
	seen := map[int]bool{}
	for _, p := range c.Slots {
		if p <= 0 || p > 65535 {
			return nil, fmt.Errorf("supervisor: slot port %d is not a TCP port", p)
		}
		if seen[p] {
			return nil, fmt.Errorf("supervisor: slot port %d is given twice", p)
		}
		seen[p] = true
	}
	c.Slots = slices.Sorted(maps.Keys(seen))
	if c.DataDir == "" {
		return nil, errors.New("supervisor: a data directory is required (--data-dir)")
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return nil, fmt.Errorf("supervisor: data directory %s: %w", c.DataDir, err)
	}
	c.DataDir = abs
	if len(c.EtcdEndpoints) == 0 {
		c.EtcdEndpoints = []string{"127.0.0.1:2379"}
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	switch {
	case c.WorkerMetricsOffset == 0:
		c.WorkerMetricsOffset = DefaultWorkerMetricsOffset
	case c.WorkerMetricsOffset < 0:
		c.WorkerMetricsOffset = 0
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if err := c.checkTLS(); err != nil {
		return nil, err
	}
	if err := c.checkLogs(); err != nil {
		return nil, err
	}
	reg := metrics.NewRegistry()
	sm := NewMetrics(reg)
	sm.SlotsTotal.Set(float64(len(c.Slots)))
	s := &Supervisor{c: c, log: c.Logger.With("supervisor", c.ID), reg: reg, metrics: sm}
	// Load the etcd certificates and password now: a missing file is an error at start,
	// not something to retry.
	s.etcd = cluster.ConnectConfig{Endpoints: c.EtcdEndpoints, Options: cluster.Options{Root: c.EtcdRoot, Logger: s.log.Named("etcd")}}
	if err := c.EtcdSecurity.Apply(&s.etcd, nil); err != nil {
		return nil, fmt.Errorf("supervisor: %w", err)
	}
	return s, nil
}

// ID is the supervisor's id.
func (s *Supervisor) ID() string { return s.c.ID }

// Status returns what every slot holds (empty before Run has connected to etcd).
func (s *Supervisor) Status() []SlotStatus {
	s.mu.Lock()
	m := s.mgr
	s.mu.Unlock()
	if m == nil {
		return nil
	}
	return m.Status()
}

// Run connects to etcd, registers the supervisor and manages its workers until ctx
// ends. etcd may be unreachable at first or for a while later: Run waits and retries,
// and the workers keep running meanwhile.
func (s *Supervisor) Run(ctx context.Context) error {
	if err := os.MkdirAll(s.c.DataDir, privateDirMode); err != nil {
		return fmt.Errorf("supervisor: creating the data directory: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if s.c.MetricsAddr != "" {
		bound, err := metrics.ServeTLS(ctx, s.c.MetricsAddr, s.reg, s.log, s.c.MetricsTLS)
		if err != nil {
			return fmt.Errorf("supervisor: %w", err)
		}
		s.metricsPublic = s.public(bound.String())
	}
	s.etcd.ReloadTLSOnSignal(ctx, s.log)
	store, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	s.log.Info("connected to etcd", "endpoints", strings.Join(s.c.EtcdEndpoints, ","), "root", store.Keys().Root())

	heartbeats := &etcdHeartbeats{ctx: ctx, store: store, ttl: s.c.LeaseTTL, log: s.log, metrics: s.metrics}
	if warn, _ := tlsconf.CheckListen("", s.c.Host, s.c.TLS != nil, s.c.Insecure); warn {
		tlsconf.WarnInsecure(ctx, s.log, "workers at "+s.c.Host)
	}
	artifacts := NewArtifactCache(filepath.Join(s.c.DataDir, "artifacts"), &NimbusFetcher{Store: store, Creds: s.c.dialCreds(tlsconf.RoleServer)}, s.log.Named("artifacts"))
	artifacts.Metrics = s.metrics
	defer heartbeats.wg.Wait()
	mgr, err := NewManager(ManagerConfig{
		SupervisorID: s.c.ID, DataDir: s.c.DataDir,
		Nimbus:        nimbusAddrs(ctx, store),
		Artifacts:     artifacts,
		GenericWorker: s.c.GenericWorker, PipIndex: s.c.PipIndex,
		WorkerTimeout: s.c.WorkerTimeout, StopGrace: s.c.StopGrace,
		BackoffMin: s.c.BackoffMin, BackoffMax: s.c.BackoffMax, HealthyAfter: s.c.HealthyAfter, Tick: s.c.Tick,
		WorkerMetricsOffset: s.c.WorkerMetricsOffset, StopWorkersOnExit: s.c.StopWorkersOnExit, OrphanTimeout: s.c.OrphanTimeout,
		Logger:     s.log,
		Heartbeats: heartbeats, Problems: heartbeats, Metrics: s.metrics,
		AdminCreds: s.c.dialCreds(tlsconf.RoleWorker), WorkerTLS: s.c.workerFiles(), WorkerInsecure: s.c.Insecure,
		WorkerMetricsCert: s.c.WorkerMetricsCert, WorkerMetricsKey: s.c.WorkerMetricsKey,
		WorkerEnv:    s.c.WorkerEnv,
		CleanupGrace: s.c.CleanupGrace, WorkerLogMaxSize: s.c.WorkerLogMaxSize, WorkerLogBackups: s.c.WorkerLogBackups,
		WorkerLogFormat: s.c.WorkerLogFormat,
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.mgr = mgr
	s.mu.Unlock()
	if s.c.LogsAddr != "" {
		if s.logsPublic, err = s.serveLogs(ctx, store, mgr); err != nil {
			return err
		}
	}
	s.levels = newLogLevels(s.c.Host, s.c.dialCreds(tlsconf.RoleWorker))
	// On SIGHUP, beside the supervisor's own certificates (reloaded by its Store), the
	// running workers get the workers' files as they are now.
	tlsconf.OnSignal(ctx, mgr.ReloadTLS)

	var wg sync.WaitGroup
	defer wg.Wait()
	var mgrErr error
	mgrDone := make(chan struct{})
	wg.Go(func() {
		defer close(mgrDone)
		if mgrErr = mgr.Run(ctx); mgrErr != nil {
			cancel()
		}
	})
	wg.Go(func() { s.register(ctx, store, mgr) })
	wg.Go(func() { s.levels.run(ctx, mgr) })
	err = s.follow(ctx, store, mgr)
	cancel()
	<-mgrDone
	if mgrErr != nil {
		return mgrErr
	}
	return err
}

// connect dials etcd, retrying with backoff until it answers or ctx ends.
func (s *Supervisor) connect(ctx context.Context) (*cluster.Store, error) {
	pause := retry.New(time.Second, 30*time.Second)
	for {
		store, err := cluster.Connect(ctx, s.etcd)
		if err == nil {
			return store, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("supervisor: stopped before etcd answered (%v): %w", err, ctx.Err())
		}
		s.metrics.EtcdErrors.Inc()
		d := pause.Next()
		msg := "cannot reach etcd; retrying"
		if !errors.Is(err, cluster.ErrUnreachable) {
			// Retried too: etcd's users may be fixed without restarting supervisors.
			msg = "etcd refused this supervisor; retrying"
		}
		s.log.Warn(msg, "error", err, "in", d)
		if retry.Sleep(ctx, d) != nil {
			return nil, fmt.Errorf("supervisor: stopped before etcd answered (%v): %w", err, ctx.Err())
		}
	}
}

// register keeps the supervisor's record under a lease until ctx ends, and fences mgr
// while the lease has expired. The registration itself re-registers when its lease is
// lost; this only retries the first one.
func (s *Supervisor) register(ctx context.Context, store *cluster.Store, mgr *Manager) {
	rec := &cluster.SupervisorRecord{ID: s.c.ID, Host: s.c.Host, Slots: s.c.Slots, LogsAddr: s.logsPublic, LogsTLS: s.logsPublic != "" && s.c.TLS != nil,
		Metrics: s.metricsPublic, MetricsTLS: s.c.MetricsTLS != nil, WorkerMetricsOffset: max(s.c.WorkerMetricsOffset, 0)}
	pause := retry.New(time.Second, 30*time.Second)
	for {
		reg, err := store.RegisterSupervisor(ctx, rec, s.c.LeaseTTL)
		if err == nil {
			s.log.Info("registered", "host", s.c.Host, "slots", s.c.Slots, "key", reg.Key())
			s.fence(ctx, reg, mgr)
			if s.c.StopWorkersOnExit {
				// Nothing runs here any more: let nimbus know at once.
				cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				if err := reg.Close(cctx); err != nil {
					s.log.Warn("cannot remove the supervisor's record; it expires with its lease", "error", err)
				}
				cancel()
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		s.metrics.EtcdErrors.Inc()
		d := pause.Next()
		s.log.Warn("cannot register in etcd; retrying", "error", err, "in", d)
		if retry.Sleep(ctx, d) != nil {
			return
		}
	}
}

// fence watches the supervisor's lease until ctx ends. Once it has expired (etcd has
// not answered a refresh for the lease TTL), nimbus takes this supervisor for dead and
// may start its workers elsewhere, so the manager is fenced (Manager.SetFenced): its
// workers stop within the orphan timeout, and it starts none until the registration has
// a live lease again.
func (s *Supervisor) fence(ctx context.Context, reg *cluster.Registration[cluster.SupervisorRecord], mgr *Manager) {
	t := time.NewTicker(min(s.c.LeaseTTL/10, 500*time.Millisecond))
	defer t.Stop()
	fenced := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		expiry := reg.LeaseExpiry()
		if now := time.Now(); now.After(expiry) != fenced {
			fenced = !fenced
			if fenced {
				s.log.Error("etcd has not renewed this supervisor's lease in time; fencing: its workers stop within the orphan timeout unless etcd answers before", "lease_ttl", s.c.LeaseTTL, "expired", now.Sub(expiry).Round(time.Millisecond))
				s.metrics.Fenced.Set(1)
			} else {
				s.log.Info("the supervisor's lease is live again; lifting the fence")
				s.metrics.Fenced.Set(0)
			}
			mgr.SetFenced(fenced)
		}
	}
}

// follow watches the assignments that place workers on this supervisor (through the
// per-supervisor index, so that it hears nothing of the others') and the records of
// the topologies they name, and hands the manager the workers this supervisor should
// run, once both have been listed, and after every change.
func (s *Supervisor) follow(ctx context.Context, store *cluster.Store, mgr *Manager) error {
	assignCh := store.WatchSupervisorAssignments(ctx, s.c.ID)
	topoWatch := store.WatchTopologySet(ctx)
	topoCh := topoWatch.Events()
	assignments := map[string]*cluster.AssignmentRecord{}
	topologies := map[string]*cluster.TopologyRecord{}
	var assignSynced, topoSynced bool
	var watched []string // the topologies whose records are followed; nil before the first Set
	lastNotes := map[string]bool{}
	first := true
	for {
		changed := false
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-assignCh:
			if !ok {
				return watchEnded(ctx, "assignments")
			}
			switch {
			case ev.Err != nil:
				s.log.Warn("ignoring an invalid assignment record", "key", ev.Key, "error", ev.Err)
			case ev.Type == cluster.EventSync:
				assignSynced = true
			case ev.Type == cluster.EventPut:
				assignments[ev.ID] = ev.Record
			case ev.Type == cluster.EventDelete:
				delete(assignments, ev.ID)
			}
			// Once the assignments are listed, follow the records of the topologies they
			// name; the manager hears of nothing until those are read too.
			if ids := slices.Sorted(maps.Keys(assignments)); assignSynced && (watched == nil || !slices.Equal(ids, watched)) {
				watched = append([]string{}, ids...)
				topoWatch.Set(ids)
				topoSynced = false
			}
			changed = true
		case ev, ok := <-topoCh:
			if !ok {
				return watchEnded(ctx, "topologies")
			}
			switch {
			case ev.Err != nil:
				s.log.Warn("ignoring an invalid topology record", "key", ev.Key, "error", ev.Err)
			case ev.Type == cluster.EventSync:
				topoSynced = true
			case ev.Type == cluster.EventPut:
				topologies[ev.ID] = ev.Record
			case ev.Type == cluster.EventDelete:
				delete(topologies, ev.ID)
			}
			changed = true
		}
		if !changed || !assignSynced || !topoSynced {
			continue
		}
		wants, notes := Desired(s.c.ID, s.c.Slots, assignments, topologies)
		now := map[string]bool{}
		for _, n := range notes {
			now[n] = true
			if !lastNotes[n] {
				s.log.Warn(n)
			}
		}
		lastNotes = now
		if first {
			s.log.Info("assignments read; managing workers", "workers", len(wants))
			first = false
		}
		mgr.Update(wants)
		s.levels.update(topologies)
	}
}

func watchEnded(ctx context.Context, what string) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("supervisor: the etcd watch of the %s ended", what)
}

// etcdHeartbeats keeps workers' heartbeats in etcd, each under its own lease.
type etcdHeartbeats struct {
	ctx     context.Context
	store   *cluster.Store
	ttl     time.Duration
	log     hclog.Logger
	metrics *Metrics
	wg      sync.WaitGroup
}

// Keep implements HeartbeatKeeper. It retries while etcd is unreachable; stop removes
// the heartbeat at once. When the supervisor stops, heartbeats are left to expire.
func (e *etcdHeartbeats) Keep(hb cluster.WorkerHeartbeat) func() {
	ctx, cancel := context.WithCancel(e.ctx)
	log := e.log.With("topology", hb.TopologyID, "worker", hb.WorkerID)
	e.wg.Go(func() {
		pause := retry.New(500*time.Millisecond, 10*time.Second)
		for {
			reg, err := e.store.HeartbeatWorker(ctx, &hb, e.ttl)
			if err == nil {
				<-ctx.Done()
				if e.ctx.Err() == nil {
					cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Second)
					if err := reg.Close(cctx); err != nil {
						log.Debug("cannot remove the worker's heartbeat; it expires on its own", "error", err)
					}
					ccancel()
				}
				return
			}
			if ctx.Err() != nil {
				return
			}
			e.metrics.EtcdErrors.Inc()
			d := pause.Next()
			log.Warn("cannot write the worker's heartbeat to etcd; retrying", "error", err, "in", d)
			if retry.Sleep(ctx, d) != nil {
				return
			}
		}
	})
	return cancel
}

// nimbusAddrs reads the registered nimbus API addresses, for the workers' statistics
// reports; a worker started while etcd cannot say gets none and does not report.
func nimbusAddrs(ctx context.Context, store *cluster.Store) func() []string {
	return func() []string {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		recs, _ := store.ListNimbus(ctx)
		addrs := make([]string, 0, len(recs))
		for _, r := range recs {
			addrs = append(addrs, r.Address)
		}
		slices.Sort(addrs)
		return addrs
	}
}
