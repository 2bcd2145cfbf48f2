package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/credentials"
)

// Files names a process's PEM files: the CA that signs every peer, and this process's
// own certificate and key (optional for sparsectl, which may hold only the CA).
type Files struct {
	CA, Cert, Key string
}

// Enabled reports whether any file is named: TLS is on.
func (f Files) Enabled() bool { return f.CA != "" || f.Cert != "" || f.Key != "" }

// Check says what is missing from a partial set of files.
func (f Files) Check(needCert bool) error {
	switch {
	case !f.Enabled():
		return nil
	case f.CA == "":
		return errors.New("--tls-ca is missing: TLS needs the CA that signs the peers' certificates")
	case (f.Cert == "") != (f.Key == ""):
		return errors.New("give --tls-cert and --tls-key together")
	case needCert && f.Cert == "":
		return errors.New("--tls-cert and --tls-key are missing: this process presents a certificate")
	}
	return nil
}

// The file names in a worker's directory, written there by its supervisor.
const (
	WorkerCAFile   = "tls-ca.pem"
	WorkerCertFile = "tls-cert.pem"
	WorkerKeyFile  = "tls-key.pem"
	// The certificate and key a worker serves /metrics over HTTPS with.
	WorkerMetricsCertFile = "metrics-tls-cert.pem"
	WorkerMetricsKeyFile  = "metrics-tls-key.pem"
)

// WorkerFiles are the files a supervisor writes into a worker's directory dir.
func WorkerFiles(dir string) Files {
	return Files{CA: filepath.Join(dir, WorkerCAFile), Cert: filepath.Join(dir, WorkerCertFile), Key: filepath.Join(dir, WorkerKeyFile)}
}

// state is one loaded set of files; a reload swaps it whole.
type state struct {
	pool *x509.CertPool
	cert *tls.Certificate // nil: no certificate of our own
	self Identity         // zero without a certificate
}

// Store holds a process's CA and certificate and hands out TLS configurations that
// read the current ones at every handshake, so a reload takes effect for new
// connections while existing ones keep running.
type Store struct {
	files Files
	log   hclog.Logger
	st    atomic.Pointer[state]
}

// Load reads f. A certificate must carry a sparse identity and be signed by the CA.
func Load(f Files, log hclog.Logger) (*Store, error) {
	if !f.Enabled() {
		return nil, errors.New("TLS is off: no --tls-ca, --tls-cert or --tls-key")
	}
	if err := f.Check(false); err != nil {
		return nil, err
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	s := &Store{files: f, log: log.Named("tls")}
	st, err := load(f)
	if err != nil {
		return nil, err
	}
	s.st.Store(st)
	return s, nil
}

// Files are the files s reads.
func (s *Store) Files() Files { return s.files }

// Identity is who this process's certificate names (zero without one).
func (s *Store) Identity() Identity { return s.st.Load().self }

// HasCert reports whether this process has a certificate of its own.
func (s *Store) HasCert() bool { return s.st.Load().cert != nil }

// ReadCAPool reads a PEM file of CA certificates, named in errors by the flag that
// gave it.
func ReadCAPool(flag, path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the CA (%s): %w", flag, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s %s holds no PEM certificate (a file starting with -----BEGIN CERTIFICATE-----)", flag, path)
	}
	return pool, nil
}

func load(f Files) (*state, error) {
	pool, err := ReadCAPool("--tls-ca", f.CA)
	if err != nil {
		return nil, err
	}
	st := &state{pool: pool}
	if f.Cert == "" {
		return st, nil
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("reading the certificate (--tls-cert %s, --tls-key %s): %w", f.Cert, f.Key, err)
	}
	leaf := cert.Leaf
	if st.self, err = IdentityOf(leaf); err != nil {
		return nil, fmt.Errorf("certificate %s: %w", f.Cert, err)
	}
	inter := x509.NewCertPool()
	for _, der := range cert.Certificate[1:] {
		if c, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(c)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("certificate %s does not verify against the CA %s: %w", f.Cert, f.CA, err)
	}
	st.cert = &cert
	return st, nil
}

// Reload reads the files again. On any error the certificates in use are kept, and the
// error (also logged) says why.
func (s *Store) Reload() error {
	st, err := load(s.files)
	if err != nil {
		s.log.Error("kept the certificates in use: the new files do not load", "error", err)
		return err
	}
	s.st.Store(st)
	s.log.Info("reloaded the TLS certificates", "identity", st.self.String(), "expires", certExpiry(st))
	return nil
}

func certExpiry(st *state) string {
	if st.cert == nil {
		return "no certificate"
	}
	return st.cert.Leaf.NotAfter.UTC().Format("2006-01-02T15:04:05Z")
}

// ReloadOnSignal reloads the files on every SIGHUP until ctx ends.
func (s *Store) ReloadOnSignal(ctx context.Context) {
	OnSignal(ctx, func() { _ = s.Reload() })
}

// OnSignal calls reload on every SIGHUP until ctx ends: the one way a process reloads
// its certificates.
func OnSignal(ctx context.Context, reload func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				reload()
			}
		}
	}()
}

// ServerConfig is the TLS configuration of a server whose clients present a
// certificate with one of the accept roles, of this server's cluster. With
// requireClientCert false a client may come without one (sparsectl holding only the
// CA); one that presents a certificate is checked all the same.
func (s *Store) ServerConfig(requireClientCert bool, accept ...Role) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			st := s.st.Load()
			if st.cert == nil {
				return nil, errors.New("this server has no certificate; pass --tls-cert and --tls-key")
			}
			c := &tls.Config{
				MinVersion:   tls.VersionTLS12,
				NextProtos:   []string{"h2"},
				Certificates: []tls.Certificate{*st.cert},
				ClientCAs:    st.pool,
				ClientAuth:   tls.VerifyClientCertIfGiven,
			}
			if requireClientCert {
				c.ClientAuth = tls.RequireAndVerifyClientCert
			}
			c.VerifyConnection = func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return nil // allowed by ClientAuth
				}
				_, err := CheckPeer(cs.PeerCertificates[0], st.self.Cluster, accept...)
				return err
			}
			return c, nil
		},
	}
}

// ClientConfig is the TLS configuration of a client of a server with role server:
// the server's certificate must chain to the CA and name that role and this side's
// cluster; with verifyHost it must also name the host dialled (sparsectl checks the
// nimbus address it was given; daemons, which learn addresses from etcd, check roles).
// The client presents its own certificate when it has one.
func (s *Store) ClientConfig(server Role, verifyHost bool) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2"},
		// Verified in VerifyConnection against the CA of the moment, so that a reload
		// reaches connections made afterwards.
		InsecureSkipVerify: true,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if st := s.st.Load(); st.cert != nil {
				return st.cert, nil
			}
			return &tls.Certificate{}, nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			st := s.st.Load()
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server presented no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			opts := x509.VerifyOptions{Roots: st.pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
			if verifyHost {
				opts.DNSName = cs.ServerName
			}
			if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
				return fmt.Errorf("the server's certificate is not trusted (check --tls-ca and the server's --tls-cert): %w", err)
			}
			_, err := CheckPeer(cs.PeerCertificates[0], st.self.Cluster, server)
			return err
		},
	}
}

// ServerCredentials are gRPC server credentials for ServerConfig; every refused
// handshake is logged here with its reason, since the client only learns that its
// certificate was refused.
func (s *Store) ServerCredentials(requireClientCert bool, accept ...Role) credentials.TransportCredentials {
	return &loggedCreds{TransportCredentials: credentials.NewTLS(s.ServerConfig(requireClientCert, accept...)), log: s.log}
}

// ClientCredentials are gRPC client credentials for ClientConfig.
func (s *Store) ClientCredentials(server Role, verifyHost bool) credentials.TransportCredentials {
	return credentials.NewTLS(s.ClientConfig(server, verifyHost))
}

type loggedCreds struct {
	credentials.TransportCredentials
	log hclog.Logger
}

func (c *loggedCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	out, info, err := c.TransportCredentials.ServerHandshake(conn)
	if err != nil && !errors.Is(err, io.EOF) {
		c.log.Warn("refused a connection: TLS handshake failed", "peer", conn.RemoteAddr().String(), "reason", err)
	}
	return out, info, err
}

func (c *loggedCreds) Clone() credentials.TransportCredentials {
	return &loggedCreds{TransportCredentials: c.TransportCredentials.Clone(), log: c.log}
}
