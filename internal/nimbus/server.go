package nimbus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/graceful"
	"github.com/sparsestream/sparse/internal/httpapi"
	"github.com/sparsestream/sparse/internal/metrics"
)

// Version is reported in this nimbus's registration.
const Version = "dev"

// Server is one running nimbus: its gRPC API, its registration in etcd, the election it
// takes part in, artifact replication and, while it leads, the scheduler.
type Server struct {
	sparsev1.UnimplementedNimbusServer

	cfg     Config
	log     hclog.Logger
	id      string
	addr    string // advertised
	store   *cluster.Store
	emb     *cluster.Embedded // nil with external etcd
	blobs   *BlobStore
	metrics *Metrics

	lis  net.Listener
	grpc *grpc.Server
	// http serves the REST API (--http; nil without), see rest.go.
	http *httpapi.Server
	// metricsAddr is where /metrics is served ("" without --metrics-addr).
	metricsAddr string
	started     time.Time
	reg         *cluster.Registration[cluster.NimbusRecord]

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	term *term // non-nil while this nimbus leads

	// kick asks the leader's scheduling loop for a round; replKick the replication loop
	// for a pass. Both hold at most one pending request.
	kick, replKick chan struct{}
	// repl is what the last replication pass found.
	replMu sync.Mutex
	repl   replState
	// replDone is closed and replaced after each replication pass.
	replDone chan struct{}

	// submitMu serializes the final checks and writes of submissions, so that two
	// submissions of one name cannot both pass the uniqueness check.
	submitMu sync.Mutex
	// uploads holds one token per artifact upload in progress (see takeUploadSlot).
	uploads chan struct{}

	closeOnce sync.Once
}

// Run starts a nimbus and serves until ctx ends, then shuts it down gracefully: it
// resigns leadership, stops the API and closes the embedded etcd.
func Run(ctx context.Context, cfg Config) error {
	s, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	<-ctx.Done()
	s.log.Info("shutting down")
	s.Close()
	return nil
}

// Start starts a nimbus and returns once it serves its API; ctx bounds only the start.
// Close stops it.
func Start(ctx context.Context, cfg Config) (_ *Server, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the data directory %s: %w", cfg.DataDir, err)
	}
	s := &Server{cfg: cfg, started: time.Now(), kick: make(chan struct{}, 1), replKick: make(chan struct{}, 1), replDone: make(chan struct{}),
		uploads: make(chan struct{}, cfg.MaxConcurrentUploads)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			s.cancel()
			s.release()
		}
	}()
	bound, err := s.listen(ctx)
	if err != nil {
		return nil, err
	}
	s.warnInsecure()
	s.blobs, err = OpenBlobStore(filepath.Join(cfg.DataDir, "blobs"))
	if err != nil {
		return nil, err
	}
	endpoints, err := s.connectEtcd(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.startMetrics(); err != nil {
		return nil, err
	}
	if err := s.startHTTP(); err != nil {
		return nil, err
	}
	s.reg, err = s.store.RegisterNimbus(s.ctx, &cluster.NimbusRecord{ID: s.id, Address: s.addr, HTTP: s.httpAdvertise(),
		Metrics: s.advertised(s.metricsAddr), MetricsTLS: s.cfg.MetricsTLS != nil, Version: Version}, cfg.LeaderTTL)
	if err != nil {
		return nil, fmt.Errorf("registering nimbus %s: %w", s.id, err)
	}
	s.serveAPI()
	s.serveHTTP()
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.replicationLoop(s.ctx) }()
	go func() { defer s.wg.Done(); s.electionLoop(s.ctx) }()

	s.log.Info("nimbus started", "address", s.addr, "listen", bound, "etcd", endpoints, "root", cfg.EtcdRoot, "data_dir", cfg.DataDir, "acl", cfg.ACL)
	return s, nil
}

// listen opens the API listener first: its port gives the default id and address. It
// sets the id, the address and the logger, and returns the bound address.
func (s *Server) listen(ctx context.Context) (string, error) {
	var lc net.ListenConfig
	var err error
	s.lis, err = lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return "", fmt.Errorf("cannot listen on %s (choose another --listen, or free the port): %w", s.cfg.Listen, err)
	}
	bound := s.lis.Addr().String()
	s.addr = s.cfg.Advertise
	if s.addr == "" {
		s.addr = bound
	}
	s.id = s.cfg.ID
	if s.id == "" {
		s.id = defaultID(bound)
	}
	if err := cluster.ValidateID("nimbus id", s.id); err != nil {
		return "", fmt.Errorf("the nimbus id: %w; pass --id", err)
	}
	s.log = s.cfg.Logger.With("nimbus", s.id)
	return bound, nil
}

// connectEtcd connects the store to the configured etcd, or to an embedded one started
// here when no endpoints are configured, and returns the endpoints.
func (s *Server) connectEtcd(ctx context.Context) ([]string, error) {
	cfg := s.cfg
	endpoints := cfg.EtcdEndpoints
	sec := cfg.EtcdSecurity
	if len(endpoints) == 0 {
		var err error
		secure := !cfg.EtcdServerTLS.IsZero()
		s.emb, err = cluster.StartEmbedded(ctx, cluster.EmbedConfig{
			DataDir:   filepath.Join(cfg.DataDir, "etcd"),
			Name:      "sparse",
			ClientURL: etcdURL(cfg.EtcdListen, secure),
			PeerURL:   etcdURL(cfg.EtcdPeerListen, secure),
			Logger:    s.log,
			LogLevel:  cfg.EtcdLogLevel,
			TLS:       cfg.EtcdServerTLS,
		})
		if err != nil {
			return nil, err
		}
		endpoints = s.emb.Endpoints()
		sec = cfg.EtcdServerTLS.ClientSecurity(sec)
		s.log.Info("embedded etcd serving", "endpoints", endpoints, "tls", secure, "data_dir", filepath.Join(cfg.DataDir, "etcd"))
	}
	etcd := cluster.ConnectConfig{
		Endpoints: endpoints,
		Options:   cluster.Options{Root: cfg.EtcdRoot, SessionTTL: cfg.LeaderTTL, Logger: s.log.Named("etcd")},
	}
	if err := sec.Apply(&etcd, nil); err != nil {
		return nil, err
	}
	etcd.ReloadTLSOnSignal(s.ctx, s.log)
	var err error
	s.store, err = cluster.Connect(ctx, etcd)
	if err != nil {
		return nil, fmt.Errorf("connecting to etcd: %w", err)
	}
	return endpoints, nil
}

// startMetrics makes the nimbus's metrics: a registry served on --metrics-addr, or
// unregistered collectors when off.
func (s *Server) startMetrics() error {
	if s.cfg.MetricsAddr != "" {
		reg := metrics.NewRegistry()
		s.metrics = NewMetrics(reg)
		bound, err := metrics.ServeTLS(s.ctx, s.cfg.MetricsAddr, reg, s.log, s.cfg.MetricsTLS)
		if err != nil {
			return err
		}
		s.metricsAddr = bound.String()
	} else {
		s.metrics = NewMetrics(nil)
	}
	return nil
}

// serveAPI serves the gRPC API on the listener until Close.
func (s *Server) serveAPI() {
	// The panic recovery of apiServerOptions is chained first, so it also covers the
	// ACL check.
	s.grpc = grpc.NewServer(append(append([]grpc.ServerOption{s.serverCreds()}, s.apiServerOptions()...), s.aclServerOptions()...)...)
	sparsev1.RegisterNimbusServer(s.grpc, s)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.grpc.Serve(s.lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.log.Error("the API stopped serving", "error", err)
		}
	}()
}

// ID is this nimbus's id.
func (s *Server) ID() string { return s.id }

// Addr is the address this nimbus advertises.
func (s *Server) Addr() string { return s.addr }

// Store is the etcd store this nimbus uses (not fenced).
func (s *Server) Store() *cluster.Store { return s.store }

// Blobs is this nimbus's artifact store.
func (s *Server) Blobs() *BlobStore { return s.blobs }

// IsLeader reports whether this nimbus leads now.
func (s *Server) IsLeader() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.term != nil
}

// Close stops the nimbus: it resigns leadership, stops the API (letting calls in flight
// finish for a few seconds), removes its registration and closes etcd. It is safe to call
// more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.cancel() // ends the loops; the election loop resigns
		if s.grpc != nil {
			graceful.Stop(s.grpc, 5*time.Second)
		}
		s.wg.Wait()
		s.release()
		s.log.Info("nimbus stopped")
	})
}

// release frees what Start acquired, in reverse order.
func (s *Server) release() {
	if s.reg != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := s.reg.Close(ctx); err != nil {
			s.log.Warn("cannot remove the registration; it expires with its lease", "error", err)
		}
		cancel()
	}
	if s.store != nil {
		_ = s.store.Close()
	}
	if s.emb != nil {
		s.emb.Close()
	}
	if s.lis != nil && s.grpc == nil {
		_ = s.lis.Close()
	}
}

// trigger makes a pending request on a kick channel.
func trigger(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
