package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/sparsestream/sparse/internal/tlsconf"
)

// PasswordEnv is the environment variable read for the etcd password when neither
// --etcd-password-file nor --etcd-password is given.
const PasswordEnv = "SPARSE_ETCD_PASSWORD"

// Security is how a daemon proves itself to etcd, as etcdctl's flags of the same names
// do: the CA that signed etcd's server certificate, a client certificate for an etcd run
// with --client-cert-auth, and a user for an etcd with auth enabled. The zero value
// connects in plain text with no user.
type Security struct {
	CACert string // PEM file of the CA to trust (default with https://: the system's roots)
	Cert   string // PEM file of the client certificate; needs Key
	Key    string // PEM file of the client certificate's private key
	User   string
	// Password is User's password given on the command line, where every local user can
	// read it in the process list: Apply logs a warning. PasswordFile or $PasswordEnv
	// are preferred.
	Password string
	// PasswordFile holds User's password (trailing newlines are dropped).
	PasswordFile string
}

// IsZero reports whether no security setting is given.
func (s Security) IsZero() bool { return s == Security{} }

// UsesTLS reports whether any TLS setting is given.
func (s Security) UsesTLS() bool {
	return s.CACert != "" || s.Cert != "" || s.Key != ""
}

// Apply loads the files s names into cfg, whose Endpoints must already be set, and sets
// cfg.ReloadTLS to read them again (on SIGHUP) for the connections made after; getenv
// reads the environment (os.Getenv when nil). Every error names the flag to fix and none
// holds the password. Endpoints with an https:// scheme get TLS with the system's roots
// even when s sets nothing; TLS settings with an http:// endpoint are refused, since
// etcd's client would send that endpoint's traffic in plain text.
func (s Security) Apply(cfg *ConnectConfig, getenv func(string) string) error {
	if getenv == nil {
		getenv = os.Getenv
	}
	https := false
	for _, e := range cfg.Endpoints {
		switch {
		case strings.HasPrefix(e, "https://"):
			https = true
		case strings.HasPrefix(e, "http://") && s.UsesTLS():
			return fmt.Errorf("etcd endpoint %s is plain http but TLS is configured (--etcd-cacert, --etcd-cert or --etcd-key); write it as https://%s",
				e, strings.TrimPrefix(e, "http://"))
		}
	}
	if s.UsesTLS() || https {
		c := &clientTLS{s: s}
		if err := c.reload(); err != nil {
			return err
		}
		cfg.TLS = c.config()
		cfg.ReloadTLS = c.reload
	}
	password, err := s.password(getenv)
	if err != nil || s.User == "" {
		return err
	}
	if s.Password != "" && cfg.Logger != nil {
		cfg.Logger.Warn("the etcd password was given with --etcd-password, where every local user can read it in the process list; prefer --etcd-password-file or $" + PasswordEnv)
	}
	cfg.Username, cfg.Password = s.User, password
	return nil
}

// password finds User's password: from PasswordFile, Password or the environment, in
// that order. Its errors never quote a value that might be the password.
func (s Security) password(getenv func(string) string) (string, error) {
	switch {
	case s.PasswordFile != "" && s.Password != "":
		return "", errors.New("both --etcd-password-file and --etcd-password are given; keep --etcd-password-file")
	case s.User == "" && (s.PasswordFile != "" || s.Password != ""):
		return "", errors.New("an etcd password is given without --etcd-user; give the user it belongs to")
	case s.User == "":
		return "", nil
	case strings.Contains(s.User, ":"):
		// etcdctl's --user takes user:password; never echo what may be a password.
		return "", fmt.Errorf("--etcd-user holds a colon; give only the user name there, and the password with --etcd-password-file or $%s", PasswordEnv)
	}
	password := s.Password
	if s.PasswordFile != "" {
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("reading --etcd-password-file: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
		if password == "" {
			return "", fmt.Errorf("--etcd-password-file %s is empty; write the password of etcd user %q into it", s.PasswordFile, s.User)
		}
	}
	if password == "" {
		password = getenv(PasswordEnv)
	}
	if password == "" {
		return "", fmt.Errorf("--etcd-user %s has no password: put it in a file named by --etcd-password-file, or in $%s", s.User, PasswordEnv)
	}
	return password, nil
}

// clientTLS is the etcd client's CA and certificate, read from Security's files and
// read again by reload, so that a daemon takes new certificates on SIGHUP without
// reconnecting: each new connection to etcd uses the ones of the moment.
type clientTLS struct {
	s   Security
	cur atomic.Pointer[clientTLSFiles]
}

type clientTLSFiles struct {
	roots *x509.CertPool   // nil: the system's roots
	cert  *tls.Certificate // nil: no client certificate
}

func (c *clientTLS) reload() error {
	var f clientTLSFiles
	if c.s.CACert != "" {
		pool, err := tlsconf.ReadCAPool("--etcd-cacert", c.s.CACert)
		if err != nil {
			return err
		}
		f.roots = pool
	}
	switch {
	case (c.s.Cert == "") != (c.s.Key == ""):
		return errors.New("--etcd-cert and --etcd-key go together: give both, or neither")
	case c.s.Cert != "":
		pair, err := tls.LoadX509KeyPair(c.s.Cert, c.s.Key)
		if err != nil {
			return fmt.Errorf("loading the client certificate --etcd-cert %s with --etcd-key %s: %w", c.s.Cert, c.s.Key, err)
		}
		f.cert = &pair
	}
	c.cur.Store(&f)
	return nil
}

// config verifies etcd's certificate itself, against the CA of the moment, with the
// checks the standard library makes (chain, server usage, the host dialled).
func (c *clientTLS) config() *tls.Config {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // verified in VerifyConnection, against the current CA
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("etcd presented no certificate")
			}
			inter := x509.NewCertPool()
			for _, ic := range cs.PeerCertificates[1:] {
				inter.AddCert(ic)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
				Roots: c.cur.Load().roots, Intermediates: inter, DNSName: cs.ServerName,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			if err != nil {
				return fmt.Errorf("tls: %w", err)
			}
			return nil
		},
	}
	if c.s.Cert != "" {
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return c.cur.Load().cert, nil
		}
	}
	return tc
}

// ServerTLS makes an embedded etcd serve its clients over TLS and accept only clients
// with a certificate signed by ClientCA. The zero value serves plain text.
type ServerTLS struct {
	Cert     string // PEM file of the server certificate; it must name the client URL's host
	Key      string // PEM file of its private key
	ClientCA string // PEM file of the CA whose client certificates are accepted
}

// IsZero reports whether no file is given.
func (t ServerTLS) IsZero() bool { return t == ServerTLS{} }

// Validate checks that the three files are all given (or none) and load; flagPrefix
// ("--etcd-" on nimbusd, "--" on sparsectl dev etcd) names the flags in its errors.
func (t ServerTLS) Validate(flagPrefix string) error {
	if t.IsZero() {
		return nil
	}
	cert, key, ca := flagPrefix+"server-cert", flagPrefix+"server-key", flagPrefix+"client-ca"
	if t.Cert == "" || t.Key == "" || t.ClientCA == "" {
		return fmt.Errorf("%s, %s and %s go together: the embedded etcd serves TLS and checks client certificates with all three, or plain text with none", cert, key, ca)
	}
	if _, err := tls.LoadX509KeyPair(t.Cert, t.Key); err != nil {
		return fmt.Errorf("loading the etcd server certificate %s %s with %s %s: %w", cert, t.Cert, key, t.Key, err)
	}
	_, err := tlsconf.ReadCAPool(ca, t.ClientCA)
	return err
}

// ClientSecurity is how a process reaches the embedded etcd that t makes serve TLS: with
// s where it names a CA or a client certificate, else trusting ClientCA (one CA signs
// both sides in a small cluster) and presenting the server certificate, which must then
// allow client authentication too.
func (t ServerTLS) ClientSecurity(s Security) Security {
	if t.IsZero() {
		return s
	}
	if s.CACert == "" {
		s.CACert = t.ClientCA
	}
	if s.Cert == "" && s.Key == "" {
		s.Cert, s.Key = t.Cert, t.Key
	}
	return s
}

// refusedError explains an etcd that answered Connect with a refusal.
func refusedError(cfg ConnectConfig, root string, err error) error {
	at := strings.Join(cfg.Endpoints, ", ")
	err = rpctypes.Error(err) // a gRPC status from the server as the error etcd names
	switch {
	case errors.Is(err, rpctypes.ErrAuthFailed):
		return fmt.Errorf("etcd at [%s] refused user %q: %w; check --etcd-user and its password (--etcd-password-file or $%s)", at, cfg.Username, err, PasswordEnv)
	case errors.Is(err, rpctypes.ErrUserEmpty) || (errors.Is(err, rpctypes.ErrPermissionDenied) && cfg.Username == ""):
		return fmt.Errorf("etcd at [%s] has auth enabled and refused a client with no user: %w; give --etcd-user and its password (--etcd-password-file or $%s)", at, err, PasswordEnv)
	case errors.Is(err, rpctypes.ErrPermissionDenied):
		return fmt.Errorf("etcd at [%s] does not let user %q read %s/: %w; grant it a role with readwrite on that prefix (etcdctl role grant-permission --prefix <role> readwrite %s/)", at, cfg.Username, root, err, root)
	case errors.Is(err, rpctypes.ErrAuthNotEnabled):
		return fmt.Errorf("etcd at [%s]: %w; drop --etcd-user, or enable auth in etcd", at, err)
	}
	return fmt.Errorf("etcd at [%s] refused the first read under %s/: %w", at, root, err)
}

// unreachableError is an etcd that did not answer, with the reason diagnoseTLS finds.
func unreachableError(ctx context.Context, cfg ConnectConfig, err error) error {
	return &UnreachableError{Endpoints: cfg.Endpoints, Err: err, Hint: diagnoseTLS(ctx, cfg.Endpoints, cfg.TLS)}
}

// diagnoseTLS looks for the usual reason an etcd does not answer although it listens: a
// TLS set-up that does not match the server's. etcd's client reports such a failure only
// as a timeout. It returns a hint, or "" when it finds none.
func diagnoseTLS(ctx context.Context, endpoints []string, tc *tls.Config) string {
	for _, e := range endpoints {
		host := e
		for _, scheme := range []string{"https://", "http://"} {
			host = strings.TrimPrefix(host, scheme)
		}
		if _, _, err := net.SplitHostPort(host); err != nil {
			continue
		}
		if hint := probeTLS(ctx, e, host, tc); hint != "" {
			return hint
		}
	}
	return ""
}

// probeTLS makes one TLS handshake with the endpoint at host:port. Without tc it only
// asks whether the server speaks TLS at all.
func probeTLS(ctx context.Context, endpoint, host string, tc *tls.Config) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return "" // nothing listens: the plain "cannot reach" says it
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(2 * time.Second))
	if tc == nil {
		// Only asks whether the server speaks TLS; nothing is sent over this connection.
		c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
		if c.HandshakeContext(ctx) == nil {
			return fmt.Sprintf("etcd at %s serves TLS: write the endpoint as https://%s and give --etcd-cacert", endpoint, host)
		}
		return ""
	}
	cfg := tc.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(host)
	}
	c := tls.Client(raw, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		var unknown x509.UnknownAuthorityError
		var hostname x509.HostnameError
		switch {
		case errors.As(err, &unknown):
			return fmt.Sprintf("the TLS handshake with %s failed: %v; --etcd-cacert must be the CA that signed etcd's server certificate", endpoint, err)
		case errors.As(err, &hostname):
			return fmt.Sprintf("the TLS handshake with %s failed: %v; etcd's server certificate must name the endpoint's host, or use an endpoint the certificate names", endpoint, err)
		}
		return fmt.Sprintf("the TLS handshake with %s failed: %v; check that etcd serves TLS there, that --etcd-cacert signed its certificate, and --etcd-cert and --etcd-key", endpoint, err)
	}
	// With TLS 1.3 a server that wants a client certificate says so only after the
	// handshake; a healthy gRPC server sends its settings frame instead.
	_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	var b [1]byte
	if _, err := c.Read(b[:]); err != nil {
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			if len(cfg.Certificates) == 0 && cfg.GetClientCertificate == nil {
				return fmt.Sprintf("etcd at %s closed the TLS connection: %v; it checks client certificates: give --etcd-cert and --etcd-key signed by its client CA", endpoint, err)
			}
			return fmt.Sprintf("etcd at %s refused the client certificate: %v; --etcd-cert must be signed by the CA etcd trusts for clients (its --trusted-ca-file) and allow client authentication", endpoint, err)
		}
	}
	return ""
}

// ReloadTLSOnSignal reads the etcd client's TLS files again on every SIGHUP until ctx
// ends (nothing to do without them); a file that does not load keeps the ones in use.
func (c ConnectConfig) ReloadTLSOnSignal(ctx context.Context, log hclog.Logger) {
	if c.ReloadTLS == nil {
		return
	}
	tlsconf.OnSignal(ctx, func() {
		if err := c.ReloadTLS(); err != nil {
			log.Error("kept the etcd client certificates in use: the new files do not load", "error", err)
			return
		}
		log.Info("reloaded the etcd client certificates")
	})
}
