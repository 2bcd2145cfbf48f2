package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Defaults for EmbedConfig.
const (
	DefaultEmbedName      = "sparse"
	DefaultClientURL      = "http://127.0.0.1:2379"
	DefaultPeerURL        = "http://127.0.0.1:2380"
	DefaultClusterToken   = "sparse"
	DefaultStartTimeout   = time.Minute
	DefaultEmbedLogLevel  = "error"
	DefaultCompactionKeep = "1h"
)

// EmbedConfig configures an etcd member run inside this process.
type EmbedConfig struct {
	// DataDir holds the member's data; it is created (mode 0700) if missing. Required.
	DataDir string
	// Name is the member's name (default "sparse"); unique within a cluster.
	Name string
	// ClientURL is where clients connect (default http://127.0.0.1:2379). Port 0 picks a
	// free port for a single-member cluster; Endpoints tells which.
	ClientURL string
	// PeerURL is where the other members connect (default http://127.0.0.1:2380).
	PeerURL string
	// InitialCluster lists every member of a new cluster as "name=peerURL,..."; empty
	// means this member alone. It is read only when DataDir holds no member yet.
	InitialCluster string
	// InitialClusterToken tells clusters apart (default "sparse").
	InitialClusterToken string
	// Logger receives etcd's own log at LogLevel and above; nil writes it to stderr. The
	// errors etcd logs about its listeners while it is being closed are left out.
	Logger hclog.Logger
	// LogLevel is etcd's log level: debug, info, warn or error (default error, so that
	// etcd stays quiet beside sparse's own log).
	LogLevel string
	// StartTimeout bounds the wait for the member to serve (default 1m). The members of a
	// new multi-member cluster only serve once a majority runs: start them concurrently.
	StartTimeout time.Duration
	// CompactionRetention is how much history etcd keeps, as a duration (default "1h";
	// "0" keeps everything).
	CompactionRetention string
	// TLS, when set, makes the member serve clients only over TLS (ClientURL must then be
	// https://) and accept only clients whose certificate ClientCA signed. A PeerURL with
	// https:// uses the same files for the peers, who then need a certificate that allows
	// both server and client authentication.
	TLS ServerTLS
	// BcryptCost is the cost of hashing etcd users' passwords (default etcd's own);
	// tests lower it, since the race detector makes each hash take seconds.
	BcryptCost uint
}

// Embedded is an etcd member running in this process.
type Embedded struct {
	etcd      *embed.Etcd
	name      string
	endpoints []string
	once      sync.Once
	closing   *atomic.Bool // mutes the errors etcd logs about its own listeners closing
}

// StartEmbedded starts an etcd member and waits until it serves clients.
func StartEmbedded(ctx context.Context, c EmbedConfig) (*Embedded, error) {
	if c.DataDir == "" {
		return nil, errors.New("the embedded etcd needs a data directory")
	}
	name := cmp.Or(c.Name, DefaultEmbedName)
	clientURL, err := parseURL("client", cmp.Or(c.ClientURL, DefaultClientURL))
	if err != nil {
		return nil, err
	}
	peerURL, err := parseURL("peer", cmp.Or(c.PeerURL, DefaultPeerURL))
	if err != nil {
		return nil, err
	}
	if err := checkEmbedTLS(c.TLS, clientURL, peerURL); err != nil {
		return nil, err
	}
	level := strings.ToLower(cmp.Or(c.LogLevel, DefaultEmbedLogLevel))
	var zl zapcore.Level
	if err := zl.Set(level); err != nil {
		return nil, fmt.Errorf("etcd log level %q: use debug, info, warn or error", c.LogLevel)
	}

	cfg := embed.NewConfig()
	cfg.Name = name
	cfg.Dir = c.DataDir
	cfg.ListenClientUrls = []url.URL{*clientURL}
	cfg.AdvertiseClientUrls = []url.URL{*clientURL}
	cfg.ListenPeerUrls = []url.URL{*peerURL}
	cfg.AdvertisePeerUrls = []url.URL{*peerURL}
	cfg.InitialCluster = cmp.Or(c.InitialCluster, name+"="+peerURL.String())
	cfg.InitialClusterToken = cmp.Or(c.InitialClusterToken, DefaultClusterToken)
	cfg.ClusterState = embed.ClusterStateFlagNew
	cfg.LogLevel = level
	cfg.EnableGRPCGateway = false
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = cmp.Or(c.CompactionRetention, DefaultCompactionKeep)
	if c.BcryptCost > 0 {
		cfg.BcryptCost = c.BcryptCost
	}
	if !c.TLS.IsZero() {
		info := &cfg.ClientTLSInfo
		info.CertFile, info.KeyFile, info.TrustedCAFile, info.ClientCertAuth = c.TLS.Cert, c.TLS.Key, c.TLS.ClientCA, true
		if peerURL.Scheme == "https" {
			cfg.PeerTLSInfo = cfg.ClientTLSInfo
		}
	}
	log := c.Logger
	if log == nil {
		log = hclog.New(&hclog.LoggerOptions{Output: os.Stderr, Level: hclogLevel(zl)})
	}
	closing := new(atomic.Bool)
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.New(&hclogCore{log: log.Named("etcd"), min: zl, mute: closing}))

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting the embedded etcd %q (data dir %s, client %s, peer %s): %w; check that the ports are free and the data directory is writable",
			name, c.DataDir, clientURL, peerURL, err)
	}
	timeout := c.StartTimeout
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		closing.Store(true)
		e.Close()
		return nil, fmt.Errorf("the embedded etcd %q failed while starting: %w", name, err)
	case <-t.C:
		closing.Store(true)
		e.Server.Stop()
		e.Close()
		hint := "check the data directory and the log"
		if strings.Contains(cfg.InitialCluster, ",") {
			hint = "a new multi-member cluster serves only once a majority of its members run: start them concurrently, and check that every peer URL in the initial cluster is reachable"
		}
		return nil, fmt.Errorf("the embedded etcd %q did not become ready within %s; %s", name, timeout, hint)
	case <-ctx.Done():
		closing.Store(true)
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("starting the embedded etcd %q: %w", name, ctx.Err())
	}
	emb := &Embedded{etcd: e, name: name, closing: closing}
	for _, l := range e.Clients {
		emb.endpoints = append(emb.endpoints, clientURL.Scheme+"://"+l.Addr().String())
	}
	return emb, nil
}

// checkEmbedTLS refuses URLs whose scheme does not match whether certificates are given:
// etcd would otherwise serve plain text beside the certificates, or fail obscurely.
func checkEmbedTLS(t ServerTLS, client, peer *url.URL) error {
	switch {
	case !t.IsZero() && (t.Cert == "" || t.Key == "" || t.ClientCA == ""):
		return errors.New("the embedded etcd's TLS needs a server certificate, its key and a client CA, all three")
	case !t.IsZero() && client.Scheme != "https":
		return fmt.Errorf("the embedded etcd has TLS certificates but its client URL %s is plain http; write it as https://%s", client, client.Host)
	case t.IsZero() && client.Scheme == "https":
		return fmt.Errorf("the embedded etcd's client URL %s is https but no server certificate is given; give one (with its key and a client CA), or write http://%s", client, client.Host)
	case t.IsZero() && peer.Scheme == "https":
		return fmt.Errorf("the embedded etcd's peer URL %s is https but no server certificate is given; give one (with its key and a client CA), or write http://%s", peer, peer.Host)
	}
	return nil
}

func parseURL(what, s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("etcd %s URL %q is not of the form http://host:port or https://host:port", what, s)
	}
	return u, nil
}

// Endpoints are the client URLs to connect to, with the real port when 0 was asked.
func (e *Embedded) Endpoints() []string { return append([]string(nil), e.endpoints...) }

// Name is the member's name.
func (e *Embedded) Name() string { return e.name }

// Etcd is the underlying embedded server, for what this package does not wrap.
func (e *Embedded) Etcd() *embed.Etcd { return e.etcd }

// Connect opens a Store on this member. A member that serves TLS needs the package's
// Connect with a client certificate instead.
func (e *Embedded) Connect(ctx context.Context, opts Options) (*Store, error) {
	return Connect(ctx, ConnectConfig{Endpoints: e.Endpoints(), Options: opts})
}

// Close stops the member and waits until it has stopped. It is safe to call more than
// once.
func (e *Embedded) Close() {
	e.once.Do(func() {
		e.closing.Store(true)
		e.etcd.Close()
	})
}
