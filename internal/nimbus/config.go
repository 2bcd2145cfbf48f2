package nimbus

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/tlsconf"
	"github.com/sparsestream/sparse/pkg/topology"
)

// Defaults for Config.
const (
	DefaultListen           = "127.0.0.1:6627"
	DefaultEtcdListen       = "127.0.0.1:2379"
	DefaultEtcdPeerListen   = "127.0.0.1:2380"
	DefaultWorkerTimeout    = 10 * time.Second
	DefaultWorkerStartGrace = 20 * time.Second
	DefaultScheduleEvery    = 5 * time.Second
	DefaultLeaderTTL        = 10 * time.Second
	DefaultReplicateEvery   = 5 * time.Second
	DefaultArtifactGCGrace  = 10 * time.Minute
	DefaultMaxArtifactSize  = 2 << 30 // 2 GiB
	// DefaultMaxConcurrentUploads bounds the submissions that stream an artifact at
	// once: each holds a temporary file and a goroutine until it commits.
	DefaultMaxConcurrentUploads = 4
	// DefaultUploadProgressTimeout is how long a submission or an artifact fetch may go
	// without receiving a byte before it is dropped.
	DefaultUploadProgressTimeout = 30 * time.Second
	// DefaultMaxWait caps the wait of a kill or a rebalance (its wait_secs, or the
	// topology's message timeout when none is given).
	DefaultMaxWait = time.Hour
	// ChunkSize is the size of the chunks FetchArtifact sends, and what clients should
	// send to Submit.
	ChunkSize = 1 << 20
)

// Config is what a nimbus needs to run.
type Config struct {
	// ID names this nimbus in etcd and in messages (default "<hostname>:<listen port>").
	ID string
	// Listen is the gRPC API's address (default 127.0.0.1:6627; port 0 picks a free one).
	Listen string
	// Advertise is the address others reach the API on (default: the address Listen
	// bound).
	Advertise string
	// DataDir holds the artifacts (<data-dir>/blobs) and the embedded etcd
	// (<data-dir>/etcd). Required.
	DataDir string

	// EtcdEndpoints are the etcd cluster's client URLs; empty embeds a single-member etcd
	// under DataDir, serving clients on EtcdListen and peers on EtcdPeerListen.
	EtcdEndpoints  []string
	EtcdListen     string
	EtcdPeerListen string
	// EtcdRoot is the key prefix of sparse's state (default /sparse).
	EtcdRoot string
	// EtcdSecurity is the TLS and user to reach etcd with (default: plain text, no user).
	EtcdSecurity cluster.Security
	// EtcdServerTLS makes the embedded etcd serve TLS and accept only clients with a
	// certificate; this nimbus then connects with EtcdServerTLS.ClientSecurity.
	EtcdServerTLS cluster.ServerTLS

	// WorkerTimeout: a worker without a heartbeat for this long (after WorkerStartGrace
	// from its assignment) has its slot marked unhealthy and its executors moved.
	WorkerTimeout    time.Duration
	WorkerStartGrace time.Duration
	// ScheduleEvery is the period of the leader's scheduling round (it also runs on
	// every change of supervisors, topologies and worker heartbeats).
	ScheduleEvery time.Duration
	// LeaderTTL is the lease TTL of this nimbus's registration and leadership: how long
	// after a leader dies a standby can take over (default 10s).
	LeaderTTL time.Duration
	// ReplicateEvery is how often artifacts are checked and copied from other nimbus
	// instances (default 5s; topology changes trigger a check at once).
	ReplicateEvery time.Duration
	// ArtifactGCGrace is how old a stored artifact that no topology uses must be before it
	// is deleted (default 10m).
	ArtifactGCGrace time.Duration
	// MaxArtifactSize bounds what Submit accepts (default 2 GiB).
	MaxArtifactSize int64
	// Limits bounds the topologies this nimbus accepts and schedules (zero fields:
	// topology.DefaultLimits); see topology.Limits.
	Limits topology.Limits
	// MaxConcurrentUploads bounds the submissions streaming an artifact at once; more
	// are refused with ResourceExhausted (default 4).
	MaxConcurrentUploads int
	// UploadProgressTimeout drops a submission, or a replication fetch, that receives
	// nothing for this long, and removes its temporary file (default 30s).
	UploadProgressTimeout time.Duration
	// MaxWait caps the wait of a kill or a rebalance: a larger wait_secs is refused, and
	// a topology's message timeout used as the wait is cut to it (default 1h).
	MaxWait time.Duration

	// ACL, when set, makes every API call but the daemons' carry a token whose role
	// allows it (see rpcAccess), and enables token management.
	ACL bool

	// MetricsAddr, when set, serves Prometheus metrics on http://<addr>/metrics.
	MetricsAddr string

	// HTTP, when set, serves the REST API (rest.go, docs/api.md) on this host:port,
	// with the TLS and tokens of the gRPC API.
	HTTP string

	// TLS, when set, serves the API over TLS and dials other nimbus with this
	// certificate (of role server); see tls.go. Insecure lets the API listen off
	// loopback without it.
	TLS      *tlsconf.Store
	Insecure bool
	// MetricsTLS, when set, serves the metrics over HTTPS.
	MetricsTLS *tls.Config

	// Logger receives nimbus's log; nil writes to stderr at info level.
	Logger hclog.Logger
	// EtcdLogLevel is the embedded etcd's own log level (default error).
	EtcdLogLevel string
}

// withDefaults fills in defaults and checks the config.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("no data directory; pass --data-dir (artifacts and the embedded etcd live there)"))
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen %q is not host:port", c.Listen))
	}
	if c.Advertise != "" {
		if _, _, err := net.SplitHostPort(c.Advertise); err != nil {
			errs = append(errs, fmt.Errorf("--advertise %q is not host:port", c.Advertise))
		}
	}
	if c.ID != "" {
		if err := cluster.ValidateID("nimbus id", c.ID); err != nil {
			errs = append(errs, fmt.Errorf("--id: %w", err))
		}
	}
	if c.EtcdListen == "" {
		c.EtcdListen = DefaultEtcdListen
	}
	if c.EtcdPeerListen == "" {
		c.EtcdPeerListen = DefaultEtcdPeerListen
	}
	if c.EtcdRoot == "" {
		c.EtcdRoot = cluster.DefaultRoot
	}
	errs = append(errs, c.checkEtcdTLS())
	durations := []struct {
		name string
		d    *time.Duration
		def  time.Duration
	}{
		{"--worker-timeout", &c.WorkerTimeout, DefaultWorkerTimeout},
		{"--worker-start-grace", &c.WorkerStartGrace, DefaultWorkerStartGrace},
		{"--schedule-every", &c.ScheduleEvery, DefaultScheduleEvery},
		{"--leader-ttl", &c.LeaderTTL, DefaultLeaderTTL},
		{"replicate-every", &c.ReplicateEvery, DefaultReplicateEvery},
		{"artifact-gc-grace", &c.ArtifactGCGrace, DefaultArtifactGCGrace},
		{"--upload-progress-timeout", &c.UploadProgressTimeout, DefaultUploadProgressTimeout},
		{"--max-wait", &c.MaxWait, DefaultMaxWait},
	}
	for _, d := range durations {
		switch {
		case *d.d == 0:
			*d.d = d.def
		case *d.d < 0:
			errs = append(errs, fmt.Errorf("%s is %s; it must be positive", d.name, *d.d))
		}
	}
	if c.LeaderTTL > 0 && c.LeaderTTL < time.Second {
		errs = append(errs, fmt.Errorf("--leader-ttl is %s; etcd leases last whole seconds, give at least 1s", c.LeaderTTL))
	}
	errs = append(errs, c.checkTLS())
	if c.MaxArtifactSize <= 0 {
		c.MaxArtifactSize = DefaultMaxArtifactSize
	}
	if c.MaxConcurrentUploads <= 0 {
		c.MaxConcurrentUploads = DefaultMaxConcurrentUploads
	}
	c.Limits = c.Limits.WithDefaults()
	errs = append(errs, c.Limits.Check(LimitFlag)...)
	if c.Logger == nil {
		c.Logger = hclog.New(&hclog.LoggerOptions{Name: "nimbus", Level: hclog.Info, Output: os.Stderr})
	}
	return c, errors.Join(errs...)
}

// checkEtcdTLS checks that the etcd TLS flags fit the etcd in use: the server ones are
// for the embedded etcd, the client ones for a TLS etcd.
func (c Config) checkEtcdTLS() error {
	if err := c.EtcdServerTLS.Validate("--etcd-"); err != nil {
		return err
	}
	switch {
	case len(c.EtcdEndpoints) > 0 && !c.EtcdServerTLS.IsZero():
		return errors.New("--etcd-server-cert, --etcd-server-key and --etcd-client-ca are for the embedded etcd, which --etcd-endpoints turns off; drop them, or drop --etcd-endpoints")
	case len(c.EtcdEndpoints) == 0 && c.EtcdServerTLS.IsZero() && c.EtcdSecurity.UsesTLS():
		return errors.New("--etcd-cacert, --etcd-cert and --etcd-key are for an etcd that serves TLS: give its --etcd-endpoints, or make the embedded etcd serve TLS with --etcd-server-cert, --etcd-server-key and --etcd-client-ca")
	}
	return nil
}

// etcdURL turns "host:port" into "http://host:port", or "https://host:port" when secure;
// a URL is kept as it is.
func etcdURL(s string, secure bool) string {
	if strings.Contains(s, "://") {
		return s
	}
	if secure {
		return "https://" + s
	}
	return "http://" + s
}

// defaultID is "<hostname>:<port>".
func defaultID(listenAddr string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "nimbus"
	}
	host = strings.Map(func(r rune) rune {
		if r == '/' || r <= ' ' || r == 0x7f {
			return '-'
		}
		return r
	}, host)
	_, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return host
	}
	return host + ":" + port
}

// LimitFlag is the nimbusd flag that sets a topology.Limits field.
func LimitFlag(field string) string {
	switch field {
	case "TasksPerComponent":
		return "--max-tasks-per-component"
	case "Tasks":
		return "--max-tasks"
	case "Executors":
		return "--max-executors"
	case "Workers":
		return "--max-workers"
	case "Ackers":
		return "--max-ackers"
	case "ConfigBytes":
		return "--max-config-bytes"
	case "NameLength":
		return "--max-name-length"
	}
	return field
}
