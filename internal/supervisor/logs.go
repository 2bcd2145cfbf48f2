package supervisor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/logview"
	"github.com/sparsestream/sparse/internal/tlsconf"
)

// checkLogs checks --logs-addr: off loopback it needs TLS and tokens (--acl), as the
// nimbus API does, unless --insecure: a log may show any data the topology handles.
func (c *Config) checkLogs() error {
	if c.LogsAddr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(c.LogsAddr); err != nil {
		return fmt.Errorf("supervisor: --logs-addr %q is not host:port: %w", c.LogsAddr, err)
	}
	_, err := tlsconf.CheckAPIListen("supervisord --logs-addr", c.LogsAddr, c.TLS != nil, c.ACL, c.Insecure)
	if err != nil {
		return fmt.Errorf("supervisor: %w", err)
	}
	if c.TLS != nil {
		return checkServerCert(c.TLS.Files().Cert)
	}
	return nil
}

// checkServerCert refuses a certificate that clients would refuse to serve logs with:
// supervisor certificates made before supervisors served logs are for TLS clients only.
func checkServerCert(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("supervisor: --tls-cert: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return fmt.Errorf("supervisor: --tls-cert %s holds no PEM certificate", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("supervisor: --tls-cert %s: %w", path, err)
	}
	if !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageServerAuth) && !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return fmt.Errorf("supervisor: --tls-cert %s may not serve TLS (it was made for TLS clients only, before supervisors served logs); make it again with sparsectl tls cert create --supervisor to serve --logs-addr", path)
	}
	return nil
}

// serveLogs serves the workers' logs, and the supervisor's own, on --logs-addr until
// ctx ends, and returns the address to publish (the listener's port on --host when it
// listens on every interface).
func (s *Supervisor) serveLogs(ctx context.Context, store *cluster.Store, mgr *Manager) (string, error) {
	c := logview.Config{DataDir: s.c.DataDir, OwnLogFile: s.c.OwnLogFile, Logger: s.log.Named("logs"),
		Running: func(ctx context.Context, topology string) (bool, error) {
			for _, st := range mgr.Status() {
				if st.Identity.TopologyID == topology && st.PID != 0 {
					return true, nil
				}
			}
			_, err := store.GetTopology(ctx, topology)
			switch {
			case err == nil:
				return true, nil
			case errors.Is(err, cluster.ErrNotFound):
				return false, nil
			}
			return false, err
		}}
	if s.c.ACL {
		c.Auth = func(ctx context.Context, secret string) (string, cluster.Role, error) {
			rec, err := store.GetToken(ctx, cluster.HashSecret(secret))
			if err != nil {
				return "", "", err
			}
			return rec.Name, rec.Role, nil
		}
	}
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", s.c.LogsAddr)
	if err != nil {
		return "", fmt.Errorf("supervisor: cannot serve logs on %s (choose another --logs-addr, or free the port): %w", s.c.LogsAddr, err)
	}
	// No write timeout: a follow streams for as long as its client reads.
	srv := &http.Server{Handler: logview.New(c), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: s.log.Named("logs").StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Debug})}
	if s.c.TLS != nil {
		lis = tls.NewListener(lis, logsTLSConfig(s.c.TLS))
	}
	if warn, _ := tlsconf.CheckAPIListen("", s.c.LogsAddr, s.c.TLS != nil, s.c.ACL, s.c.Insecure); warn {
		tlsconf.WarnInsecure(ctx, s.log, "logs at "+s.c.LogsAddr)
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx) // followers end with their requests' contexts
		_ = srv.Close()
	}()
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("the log server stopped", "error", err)
		}
	}()
	public := s.public(lis.Addr().String())
	s.log.Info("serving logs", "address", public, "tls", s.c.TLS != nil, "acl", s.c.ACL)
	return public, nil
}

// public is a bound address as others reach it: on --host when it binds every
// interface.
func (s *Supervisor) public(bound string) string {
	host, port, err := net.SplitHostPort(bound)
	if err != nil {
		return bound
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = s.c.Host
	}
	return net.JoinHostPort(host, port)
}

// logsTLSConfig is the log server's TLS: the supervisor's certificate; clients
// (sparsectl, nimbus) may present theirs. HTTP/1.1 only: a follow is one long response.
func logsTLSConfig(st *tlsconf.Store) *tls.Config {
	base := st.ServerConfig(false, tlsconf.RoleClient, tlsconf.RoleServer)
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			c, err := base.GetConfigForClient(hello)
			if err != nil || c == nil {
				return c, err
			}
			c = c.Clone()
			c.NextProtos = []string{"http/1.1"}
			return c, nil
		},
	}
}

// logLevels hands the running workers the log levels and debug samples set on their
// topologies (TopologyRecord.LogLevels): again after every change, and to every worker
// that starts or restarts. Each worker lets them lapse by itself.
type logLevels struct {
	host  string
	call  func(ctx context.Context, address string, req *sparsev1.SetLogLevelsRequest) error
	mu    sync.Mutex
	want  map[string][]cluster.LogOverride // by topology
	gen   map[string]int64
	sent  map[logSent]int64
	ticks time.Duration
}

type logSent struct {
	topology string
	port     int
	pid      int
}

func newLogLevels(host string, creds credentials.TransportCredentials) *logLevels {
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	return &logLevels{host: host, want: map[string][]cluster.LogOverride{}, gen: map[string]int64{}, sent: map[logSent]int64{},
		ticks: 500 * time.Millisecond,
		call: func(ctx context.Context, address string, req *sparsev1.SetLogLevelsRequest) error {
			conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(creds))
			if err != nil {
				return err
			}
			defer conn.Close()
			_, err = sparsev1.NewWorkerAdminClient(conn).SetLogLevels(ctx, req)
			return err
		}}
}

// update records the overrides of every topology, as the topology records say now.
func (l *logLevels) update(topologies map[string]*cluster.TopologyRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, r := range topologies {
		// A topology seen for the first time is pushed once even without overrides: an
		// adopted worker may hold some that were reset while no supervisor looked.
		if _, seen := l.gen[id]; !seen || !sameOverrides(l.want[id], r.LogLevels) {
			l.want[id] = r.LogLevels
			l.gen[id]++
		}
	}
	for id := range l.want {
		if topologies[id] == nil {
			delete(l.want, id)
			delete(l.gen, id)
		}
	}
}

func sameOverrides(a, b []cluster.LogOverride) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// run pushes the overrides to the workers that lack them until ctx ends.
func (l *logLevels) run(ctx context.Context, mgr *Manager) {
	t := time.NewTicker(l.ticks)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l.push(ctx, mgr.Status())
	}
}

func (l *logLevels) push(ctx context.Context, slots []SlotStatus) {
	type job struct {
		key logSent
		gen int64
		req *sparsev1.SetLogLevelsRequest
	}
	var jobs []job
	live := map[logSent]bool{}
	l.mu.Lock()
	for _, st := range slots {
		// A confirmed SetActive says the worker's WorkerAdmin answers.
		if st.Phase != Running || st.PID == 0 || !st.ActiveKnown {
			continue
		}
		key := logSent{topology: st.Identity.TopologyID, port: st.Port, pid: st.PID}
		live[key] = true
		gen := l.gen[key.topology]
		if gen == 0 || l.sent[key] == gen {
			continue // the topology is unknown yet, or the worker has its overrides
		}
		req := &sparsev1.SetLogLevelsRequest{}
		for _, o := range l.want[key.topology] {
			req.Overrides = append(req.Overrides, &sparsev1.LogLevelOverride{Component: o.Component, Level: o.Level,
				DebugSample: o.DebugSample, ExpiresUnixMs: o.Expires.UnixMilli()})
		}
		jobs = append(jobs, job{key, gen, req})
	}
	for k := range l.sent {
		if !live[k] {
			delete(l.sent, k)
		}
	}
	l.mu.Unlock()
	for _, j := range jobs {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := l.call(cctx, net.JoinHostPort(l.host, strconv.Itoa(j.key.port)), j.req)
		cancel()
		if err != nil {
			continue // tried again on the next tick
		}
		l.mu.Lock()
		l.sent[j.key] = j.gen
		l.mu.Unlock()
	}
}
