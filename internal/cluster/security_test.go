package cluster_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/internal/testutil/etcdtest"
)

// These tests are in package cluster_test: they use etcdtest, which imports cluster.

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestSecurityApply(t *testing.T) {
	p := etcdtest.NewPKI(t)
	pwFile := etcdtest.WriteFile(t, p.Dir, "pw", "s3cret\n")
	emptyPW := etcdtest.WriteFile(t, p.Dir, "empty", "\n")
	notPEM := etcdtest.WriteFile(t, p.Dir, "not.pem", "hello")
	cases := []struct {
		name      string
		endpoints []string
		sec       cluster.Security
		env       string
		wantErr   string // substring; empty means success
		wantTLS   bool
		wantCerts int
		wantUser  string
		wantPW    string
		wantWarn  bool // a warning about the password on the command line
	}{
		{name: "zero is plain text", endpoints: []string{"127.0.0.1:2379"}},
		{name: "https alone trusts the system roots", endpoints: []string{"https://etcd:2379"}, wantTLS: true},
		{name: "CA and client certificate", endpoints: []string{"https://127.0.0.1:2379"},
			sec: p.Security(), wantTLS: true, wantCerts: 1},
		{name: "schemeless endpoint with TLS", endpoints: []string{"127.0.0.1:2379"}, sec: cluster.Security{CACert: p.CA}, wantTLS: true},
		{name: "TLS with an http endpoint", endpoints: []string{"https://a:2379", "http://b:2379"}, sec: cluster.Security{CACert: p.CA},
			wantErr: "etcd endpoint http://b:2379 is plain http but TLS is configured"},
		{name: "cert without key", endpoints: []string{"https://a:2379"}, sec: cluster.Security{Cert: p.ClientCert},
			wantErr: "--etcd-cert and --etcd-key go together"},
		{name: "key without cert", endpoints: []string{"https://a:2379"}, sec: cluster.Security{Key: p.ClientKey},
			wantErr: "--etcd-cert and --etcd-key go together"},
		{name: "mismatched key", endpoints: []string{"https://a:2379"}, sec: cluster.Security{Cert: p.ClientCert, Key: p.ServerKey},
			wantErr: "loading the client certificate --etcd-cert"},
		{name: "missing CA file", endpoints: []string{"https://a:2379"}, sec: cluster.Security{CACert: filepath.Join(p.Dir, "nope.pem")},
			wantErr: "reading the CA (--etcd-cacert)"},
		{name: "CA file not PEM", endpoints: []string{"https://a:2379"}, sec: cluster.Security{CACert: notPEM},
			wantErr: "holds no PEM certificate"},
		{name: "password from file", endpoints: []string{"a:2379"}, sec: cluster.Security{User: "sparse", PasswordFile: pwFile},
			wantUser: "sparse", wantPW: "s3cret"},
		{name: "password from the environment", endpoints: []string{"a:2379"}, sec: cluster.Security{User: "sparse"}, env: "from-env",
			wantUser: "sparse", wantPW: "from-env"},
		{name: "the file wins over the environment", endpoints: []string{"a:2379"}, sec: cluster.Security{User: "sparse", PasswordFile: pwFile}, env: "from-env",
			wantUser: "sparse", wantPW: "s3cret"},
		{name: "password on the command line works, with a warning", endpoints: []string{"a:2379"}, sec: cluster.Security{User: "sparse", Password: "flag-pw"}, env: "from-env",
			wantUser: "sparse", wantPW: "flag-pw", wantWarn: true},
		{name: "password file and flag together", endpoints: []string{"a:2379"}, sec: cluster.Security{User: "sparse", Password: "flag-pw", PasswordFile: pwFile},
			wantErr: "both --etcd-password-file and --etcd-password"},
		{name: "user without password", endpoints: []string{"a:2379"}, sec: cluster.Security{User: "sparse"},
			wantErr: "--etcd-user sparse has no password"},
		{name: "empty password file", endpoints: []string{"a:2379"}, sec: cluster.Security{User: "sparse", PasswordFile: emptyPW},
			wantErr: "is empty"},
		{name: "missing password file", endpoints: []string{"a:2379"}, sec: cluster.Security{User: "sparse", PasswordFile: filepath.Join(p.Dir, "nope")},
			wantErr: "reading --etcd-password-file"},
		{name: "password file without user", endpoints: []string{"a:2379"}, sec: cluster.Security{PasswordFile: pwFile},
			wantErr: "without --etcd-user"},
		{name: "password without user", endpoints: []string{"a:2379"}, sec: cluster.Security{Password: "flag-pw"},
			wantErr: "without --etcd-user"},
		{name: "user:password in the user flag", endpoints: []string{"a:2379"}, sec: cluster.Security{User: "sparse:s3cret"},
			wantErr: "--etcd-user holds a colon"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var log testutil.SyncBuffer
			cfg := cluster.ConnectConfig{Endpoints: c.endpoints, Options: cluster.Options{Logger: hclog.New(&hclog.LoggerOptions{Output: &log})}}
			err := c.sec.Apply(&cfg, func(k string) string {
				if k == cluster.PasswordEnv {
					return c.env
				}
				return ""
			})
			for _, secret := range []string{"s3cret", "flag-pw", "from-env"} {
				if strings.Contains(log.String(), secret) || (err != nil && strings.Contains(err.Error(), secret)) {
					t.Fatalf("a password shows in the log or the error: %v\n%s", err, log.String())
				}
			}
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (cfg.TLS != nil) != c.wantTLS {
				t.Fatalf("TLS set %v, want %v", cfg.TLS != nil, c.wantTLS)
			}
			if cfg.TLS != nil {
				certs := 0
				if cfg.TLS.GetClientCertificate != nil {
					if cert, err := cfg.TLS.GetClientCertificate(nil); err == nil && cert != nil && len(cert.Certificate) > 0 {
						certs = 1
					}
				}
				if certs != c.wantCerts {
					t.Fatalf("%d client certificates, want %d", certs, c.wantCerts)
				}
			}
			if cfg.Username != c.wantUser || cfg.Password != c.wantPW {
				t.Fatalf("user %q password %q, want %q %q", cfg.Username, cfg.Password, c.wantUser, c.wantPW)
			}
			if warned := strings.Contains(log.String(), "process list"); warned != c.wantWarn {
				t.Fatalf("warned about the command-line password: %v, want %v\n%s", warned, c.wantWarn, log.String())
			}
		})
	}
}

func TestServerTLSValidate(t *testing.T) {
	p := etcdtest.NewPKI(t)
	cases := []struct {
		name    string
		tls     cluster.ServerTLS
		wantErr string
	}{
		{name: "none is plain text"},
		{name: "all three", tls: p.ServerTLS()},
		{name: "no client CA", tls: cluster.ServerTLS{Cert: p.ServerCert, Key: p.ServerKey}, wantErr: "--etcd-server-cert, --etcd-server-key and --etcd-client-ca go together"},
		{name: "only a CA", tls: cluster.ServerTLS{ClientCA: p.CA}, wantErr: "go together"},
		{name: "a key of another certificate", tls: cluster.ServerTLS{Cert: p.ServerCert, Key: p.ClientKey, ClientCA: p.CA}, wantErr: "loading the etcd server certificate --etcd-server-cert"},
		{name: "a CA that is no PEM", tls: cluster.ServerTLS{Cert: p.ServerCert, Key: p.ServerKey, ClientCA: p.ServerKey}, wantErr: "--etcd-client-ca " + p.ServerKey + " holds no PEM certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.tls.Validate("--etcd-")
			if c.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

// connectWith connects with sec. A refused client waits out the 2s dial timeout, since
// etcd's client sees most refusals as a timeout; pass want=true for a client that should
// get in, which gets longer on a busy host.
func connectWith(t *testing.T, endpoints []string, root string, sec cluster.Security, want bool) (*cluster.Store, error) {
	t.Helper()
	dial := 2 * time.Second
	if want {
		dial = 10 * time.Second
	}
	cfg := cluster.ConnectConfig{Endpoints: endpoints, DialTimeout: dial,
		Options: cluster.Options{Root: root, Logger: hclog.New(&hclog.LoggerOptions{Output: testutil.LogWriter(t)})}}
	if err := sec.Apply(&cfg, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	return cluster.Connect(ctxT(t, 20*time.Second), cfg)
}

// TestEmbeddedServesTLS: an embedded etcd given certificates serves only TLS, accepts a
// client with a certificate of its client CA, and refuses the rest; Connect says what is
// wrong in each case, where etcd's client reports only a timeout.
func TestEmbeddedServesTLS(t *testing.T) {
	p := etcdtest.NewPKI(t)
	e := etcdtest.StartTLS(t, p)
	endpoint := e.Endpoints()[0]
	if !strings.HasPrefix(endpoint, "https://127.0.0.1:") {
		t.Fatalf("endpoint %s, want https://127.0.0.1:<port>", endpoint)
	}
	s, err := connectWith(t, []string{endpoint}, "/tls", p.Security(), true)
	if err != nil {
		t.Fatalf("connecting with the CA and a client certificate: %v", err)
	}
	defer s.Close()
	ctx := ctxT(t, 10*time.Second)
	if _, err := s.Client().Put(ctx, "/tls/k", "v"); err != nil {
		t.Fatalf("put over TLS: %v", err)
	}
	if r, err := s.Client().Get(ctx, "/tls/k"); err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "v" {
		t.Fatalf("get over TLS: %v %v", r, err)
	}
	// The server certificate allows client authentication too, as nimbusd's own
	// connection to its embedded etcd uses it by default.
	s2, err := connectWith(t, []string{endpoint}, "/tls", cluster.Security{CACert: p.CA, Cert: p.ServerCert, Key: p.ServerKey}, true)
	if err != nil {
		t.Fatalf("connecting with the server certificate as the client's: %v", err)
	}
	s2.Close()

	other := etcdtest.NewPKI(t) // a client certificate of another CA
	refused := []struct {
		name     string
		endpoint string
		sec      cluster.Security
		want     string
	}{
		{"no client certificate", endpoint, cluster.Security{CACert: p.CA}, "give --etcd-cert and --etcd-key"},
		{"a client certificate of another CA", endpoint, cluster.Security{CACert: p.CA, Cert: other.ClientCert, Key: other.ClientKey}, "refused the client certificate"},
		{"a CA that did not sign the server", endpoint, cluster.Security{CACert: p.OtherCA, Cert: p.ClientCert, Key: p.ClientKey}, "certificate signed by unknown authority"},
		{"plain http to a TLS etcd", "http://" + strings.TrimPrefix(endpoint, "https://"), cluster.Security{}, "serves TLS: write the endpoint as " + endpoint},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			s, err := connectWith(t, []string{c.endpoint}, "/tls", c.sec, false)
			if err == nil {
				s.Close()
				t.Fatal("connected; want a refusal")
			}
			if !strings.Contains(err.Error(), c.endpoint) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("the error should name %s and say %q: %v", c.endpoint, c.want, err)
			}
		})
	}
}

// TestEmbedTLSURLs: the embedded etcd refuses URLs whose scheme does not match whether
// it has certificates.
func TestEmbedTLSURLs(t *testing.T) {
	p := etcdtest.NewPKI(t)
	cases := []struct {
		name         string
		client, peer string
		tls          cluster.ServerTLS
		want         string
	}{
		{"certificates with an http client URL", "http://127.0.0.1:0", "http://127.0.0.1:0", p.ServerTLS(), "is plain http; write it as https://127.0.0.1:0"},
		{"https without certificates", "https://127.0.0.1:0", "http://127.0.0.1:0", cluster.ServerTLS{}, "no server certificate is given"},
		{"https peers without certificates", "http://127.0.0.1:0", "https://127.0.0.1:0", cluster.ServerTLS{}, "peer URL https://127.0.0.1:0 is https"},
		{"a certificate without a client CA", "https://127.0.0.1:0", "http://127.0.0.1:0", cluster.ServerTLS{Cert: p.ServerCert, Key: p.ServerKey}, "all three"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := cluster.StartEmbedded(ctxT(t, 30*time.Second), cluster.EmbedConfig{
				DataDir: filepath.Join(t.TempDir(), "etcd"), ClientURL: c.client, PeerURL: c.peer, TLS: c.tls})
			if err == nil {
				e.Close()
				t.Fatal("started; want a refusal")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// TestConnectWithEtcdUser: with auth enabled, the right user connects; a wrong password,
// a user without rights on the root and no user at all are refused with errors that say
// which, and never as an unreachable etcd.
func TestConnectWithEtcdUser(t *testing.T) {
	e := etcdtest.Start(t)
	etcdtest.EnableAuth(t, e.Endpoints(), nil,
		etcdtest.User{Name: "sparse", Password: "s3cret", Prefix: "/sparse/"},
		etcdtest.User{Name: "nobody", Password: "pw"})
	dir := t.TempDir()
	s, err := connectWith(t, e.Endpoints(), "/sparse", cluster.Security{User: "sparse", PasswordFile: etcdtest.WriteFile(t, dir, "pw", "s3cret\n")}, true)
	if err != nil {
		t.Fatalf("connecting as the sparse user: %v", err)
	}
	defer s.Close()
	if _, err := s.Client().Put(ctxT(t, 10*time.Second), "/sparse/k", "v"); err != nil {
		t.Fatalf("put as the sparse user: %v", err)
	}
	refused := []struct {
		name string
		sec  cluster.Security
		want string
	}{
		{"a wrong password", cluster.Security{User: "sparse", PasswordFile: etcdtest.WriteFile(t, dir, "bad", "wrong")}, `refused user "sparse"`},
		{"a user with no rights", cluster.Security{User: "nobody", PasswordFile: etcdtest.WriteFile(t, dir, "nobody", "pw")}, `does not let user "nobody" read /sparse/`},
		{"no user", cluster.Security{}, "refused a client with no user"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			s, err := connectWith(t, e.Endpoints(), "/sparse", c.sec, false)
			if err == nil {
				s.Close()
				t.Fatal("connected; want a refusal")
			}
			if errors.Is(err, cluster.ErrUnreachable) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want a refusal saying %q, not an unreachable etcd: %v", c.want, err)
			}
			if strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("the error shows a password: %v", err)
			}
		})
	}
}

// TestEtcdClientTLSReload: ReloadTLS (a daemon's SIGHUP) makes the connections made
// afterwards use the CA and client certificate now in the files, and files that do not
// load keep the ones in use.
func TestEtcdClientTLSReload(t *testing.T) {
	p := etcdtest.NewPKI(t)
	e := etcdtest.StartTLS(t, p)
	other := etcdtest.NewPKI(t)
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// The files start wrong: a CA that did not sign etcd, a client certificate of
	// another CA.
	dir := t.TempDir()
	sec := cluster.Security{
		CACert: etcdtest.WriteFile(t, dir, "ca.pem", read(p.OtherCA)),
		Cert:   etcdtest.WriteFile(t, dir, "cert.pem", read(other.ClientCert)),
		Key:    etcdtest.WriteFile(t, dir, "key.pem", read(other.ClientKey)),
	}
	cfg := cluster.ConnectConfig{Endpoints: e.Endpoints(), DialTimeout: 2 * time.Second,
		Options: cluster.Options{Root: "/reload", Logger: hclog.New(&hclog.LoggerOptions{Output: testutil.LogWriter(t)})}}
	if err := sec.Apply(&cfg, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if cfg.ReloadTLS == nil {
		t.Fatal("Apply with TLS files set no ReloadTLS")
	}
	connect := func() error {
		s, err := cluster.Connect(ctxT(t, 20*time.Second), cfg)
		if err == nil {
			s.Close()
		}
		return err
	}
	if err := connect(); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("with the wrong CA: %v; want a refusal of etcd's certificate", err)
	}

	etcdtest.WriteFile(t, dir, "ca.pem", read(p.CA))
	if err := cfg.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if err := connect(); err == nil || !strings.Contains(err.Error(), "refused the client certificate") {
		t.Fatalf("with the right CA and a client certificate of another CA: %v; want the client certificate refused", err)
	}

	etcdtest.WriteFile(t, dir, "cert.pem", read(p.ClientCert))
	etcdtest.WriteFile(t, dir, "key.pem", read(p.ClientKey))
	if err := cfg.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	cfg.DialTimeout = 10 * time.Second
	if err := connect(); err != nil {
		t.Fatalf("after reloading the right files: %v", err)
	}

	etcdtest.WriteFile(t, dir, "ca.pem", "not a certificate")
	if err := cfg.ReloadTLS(); err == nil || !strings.Contains(err.Error(), "--etcd-cacert") {
		t.Fatalf("reloading a broken CA file: %v; want an error naming --etcd-cacert", err)
	}
	if err := connect(); err != nil {
		t.Fatalf("a failed reload should keep the certificates in use: %v", err)
	}
}
