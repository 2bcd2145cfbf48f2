package tlsconf

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/sparsestream/sparse/internal/testutil"
)

// pki is a CA and a way to write certificates it signs into a test's directory.
type pki struct {
	t   *testing.T
	dir string
	ca  *KeyPair
}

func newPKI(t *testing.T, cluster string) *pki {
	t.Helper()
	ca, err := NewCA(CARequest{Cluster: cluster})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return &pki{t: t, dir: dir, ca: ca}
}

// cert makes a certificate for req.
func (p *pki) cert(req CertRequest) *KeyPair {
	p.t.Helper()
	kp, err := NewCert(p.ca, req)
	if err != nil {
		p.t.Fatal(err)
	}
	return kp
}

// files makes a certificate for req and returns the files naming it with this CA.
func (p *pki) files(req CertRequest) Files {
	p.t.Helper()
	kp, err := NewCert(p.ca, req)
	if err != nil {
		p.t.Fatal(err)
	}
	base := filepath.Join(p.dir, string(req.Identity.Role)+"-"+req.Identity.Name+"-"+time.Now().Format("150405.000000000"))
	if err := kp.WriteFiles(base+".pem", base+"-key.pem"); err != nil {
		p.t.Fatal(err)
	}
	return Files{CA: filepath.Join(p.dir, "ca.pem"), Cert: base + ".pem", Key: base + "-key.pem"}
}

func role(r Role, name string) CertRequest {
	return CertRequest{Identity: Identity{Cluster: "c1", Role: r, Name: name}}
}

func mustLoad(t *testing.T, f Files, log hclog.Logger) *Store {
	t.Helper()
	s, err := Load(f, log)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// serve runs a gRPC health server with creds on loopback and returns its address.
func serve(t *testing.T, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(g, health.NewServer())
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	return lis.Addr().String()
}

func call(t *testing.T, addr string, opt grpc.DialOption) error {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+addr, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

func TestMutualTLSRefusals(t *testing.T) {
	p := newPKI(t, "c1")
	other := newPKI(t, "c1")
	logs := &testutil.SyncBuffer{}
	log := hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug})
	// A worker transport: only workers of cluster c1, with a certificate.
	srv := mustLoad(t, p.files(role(RoleWorker, "w1")), log)
	addr := serve(t, grpc.Creds(srv.ServerCredentials(true, RoleWorker)))

	expired := role(RoleWorker, "old")
	expired.NotBefore = time.Now().Add(-48 * time.Hour)
	expired.Validity = 24 * time.Hour
	otherCluster := CertRequest{Identity: Identity{Cluster: "c2", Role: RoleWorker, Name: "w2"}}

	// The refused clients are made by hand, as an intruder would: they trust any server.
	cases := []struct {
		name   string
		client *KeyPair // nil: no certificate
		want   string   // in the server's log; empty: the call succeeds
	}{
		{"worker of the cluster", p.cert(role(RoleWorker, "w2")), ""},
		{"no client certificate", nil, "certificate"},
		{"certificate from another CA", other.cert(role(RoleWorker, "w2")), "unknown authority"},
		{"expired certificate", p.cert(expired), "expired"},
		{"client certificate", p.cert(role(RoleClient, "ops")), "only worker may connect"},
		{"worker of another cluster", p.cert(otherCluster), "sparse://c2/worker/w2 belongs to cluster"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
			if tc.client != nil {
				c, err := tls.X509KeyPair(tc.client.CertPEM, tc.client.KeyPEM)
				if err != nil {
					t.Fatal(err)
				}
				cfg.Certificates = []tls.Certificate{c}
			}
			err := call(t, addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("call: %v", err)
				}
				return
			}
			// The peer learns only that the handshake failed (in TLS 1.3 the client may
			// see its connection closed rather than the alert); the reason is logged here.
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("call error = %v, want Unavailable", err)
			}
			testutil.Eventually(t, 5*time.Second, "the server logs "+tc.want,
				func() bool { return strings.Contains(logs.String(), tc.want) })
		})
	}
	// The real client of this package checks the server too.
	t.Run("worker client", func(t *testing.T) {
		cl := mustLoad(t, p.files(role(RoleWorker, "w2")), nil)
		if err := call(t, addr, grpc.WithTransportCredentials(cl.ClientCredentials(RoleWorker, false))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("server of another cluster", func(t *testing.T) {
		cl := mustLoad(t, p.files(otherCluster), nil)
		err := call(t, addr, grpc.WithTransportCredentials(cl.ClientCredentials(RoleWorker, false)))
		if err == nil || !strings.Contains(err.Error(), "sparse://c1/worker/w1 belongs to cluster") {
			t.Fatalf("call error = %v, want the server's cluster refused", err)
		}
	})
	t.Run("plaintext to a TLS port", func(t *testing.T) {
		err := call(t, addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err == nil {
			t.Fatal("a plaintext call to a TLS port succeeded")
		}
	})
	t.Run("server of the wrong role", func(t *testing.T) {
		cl := mustLoad(t, p.files(role(RoleWorker, "w3")), nil)
		err := call(t, addr, grpc.WithTransportCredentials(cl.ClientCredentials(RoleServer, false)))
		if err == nil || !strings.Contains(err.Error(), "only server may connect") {
			t.Fatalf("call error = %v, want the server's role refused", err)
		}
	})
	t.Run("server from another CA", func(t *testing.T) {
		cl := mustLoad(t, other.files(role(RoleWorker, "w3")), nil)
		err := call(t, addr, grpc.WithTransportCredentials(cl.ClientCredentials(RoleWorker, false)))
		if err == nil || !strings.Contains(err.Error(), "not trusted") {
			t.Fatalf("call error = %v, want the server's certificate not trusted", err)
		}
	})
}

// An API server (nimbus) lets a client in without a certificate, checks the host name
// it was dialled by, and refuses a worker's certificate.
func TestAPIServerRoles(t *testing.T) {
	p := newPKI(t, "c1")
	srv := mustLoad(t, p.files(role(RoleServer, "n1")), nil)
	addr := serve(t, grpc.Creds(srv.ServerCredentials(false, RoleServer, RoleSupervisor, RoleClient)))
	caOnly := Files{CA: filepath.Join(p.dir, "ca.pem")}
	for _, tc := range []struct {
		name   string
		client Files
		want   string
	}{
		{"CA only", caOnly, ""},
		{"client", p.files(role(RoleClient, "ops")), ""},
		{"supervisor", p.files(role(RoleSupervisor, "s1")), ""},
		{"other nimbus", p.files(role(RoleServer, "n2")), ""},
		{"worker", p.files(role(RoleWorker, "w1")), "Unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := mustLoad(t, tc.client, nil)
			err := call(t, addr, grpc.WithTransportCredentials(cl.ClientCredentials(RoleServer, true)))
			if (tc.want == "") != (err == nil) || (err != nil && status.Code(err).String() != tc.want) {
				t.Fatalf("call error = %v, want %q", err, tc.want)
			}
		})
	}
	// Dialled by a name the certificate does not hold.
	cl := mustLoad(t, caOnly, nil)
	_, port, _ := net.SplitHostPort(addr)
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(cl.ClientCredentials(RoleServer, true)),
		grpc.WithAuthority("nimbus.example:"+port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err == nil || !strings.Contains(err.Error(), "nimbus.example") {
		t.Fatalf("call by a wrong host name: %v, want it refused naming the host", err)
	}
}

// A reload takes new certificates for new connections, keeps existing connections,
// and keeps the old certificates when the new files are bad.
func TestReload(t *testing.T) {
	p := newPKI(t, "c1")
	logs := &testutil.SyncBuffer{}
	log := hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug})
	f := p.files(role(RoleWorker, "w1"))
	srv := mustLoad(t, f, log)
	addr := serve(t, grpc.Creds(srv.ServerCredentials(true, RoleWorker)))
	cl := mustLoad(t, p.files(role(RoleWorker, "w2")), nil)
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(cl.ClientCredentials(RoleWorker, false)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	check := func(c *grpc.ClientConn) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := healthpb.NewHealthClient(c).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	if err := check(conn); err != nil {
		t.Fatal(err)
	}

	// A bad file: the old certificate stays.
	if err := os.WriteFile(f.Cert, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(); err == nil {
		t.Fatal("Reload of a broken certificate succeeded")
	}
	if !strings.Contains(logs.String(), "kept the certificates in use") {
		t.Errorf("no log of the kept certificates:\n%s", logs)
	}
	if srv.Identity().Name != "w1" {
		t.Errorf("identity after a failed reload = %v", srv.Identity())
	}

	// A new certificate under the same names.
	kp, err := NewCert(p.ca, role(RoleWorker, "w1b"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.Cert, kp.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.Key, kp.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if srv.Identity().Name != "w1b" {
		t.Errorf("identity after reload = %v, want w1b", srv.Identity())
	}
	if err := check(conn); err != nil {
		t.Errorf("the existing connection failed after a reload: %v", err)
	}
	fresh, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(cl.ClientCredentials(RoleWorker, false)))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if err := check(fresh); err != nil {
		t.Errorf("a new connection after a reload: %v", err)
	}
}

func TestLoadRefusals(t *testing.T) {
	p := newPKI(t, "c1")
	other := newPKI(t, "c1")
	good := p.files(role(RoleWorker, "w1"))
	expiredReq := role(RoleWorker, "old")
	expiredReq.NotBefore = time.Now().Add(-48 * time.Hour)
	expiredReq.Validity = time.Hour
	expired := p.files(expiredReq)
	foreign := other.files(role(RoleWorker, "w1"))
	for _, tc := range []struct {
		name string
		f    Files
		want string
	}{
		{"no CA", Files{Cert: good.Cert, Key: good.Key}, "--tls-ca is missing"},
		{"cert without key", Files{CA: good.CA, Cert: good.Cert}, "together"},
		{"missing CA file", Files{CA: good.CA + ".gone"}, "reading the CA"},
		{"another CA's certificate", Files{CA: good.CA, Cert: foreign.Cert, Key: foreign.Key}, "does not verify against the CA"},
		{"expired certificate", expired, "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Load(tc.f, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestIdentityRoundTrip(t *testing.T) {
	p := newPKI(t, "prod")
	for _, r := range Roles {
		kp, err := NewCert(p.ca, CertRequest{Identity: Identity{Cluster: "prod", Role: r, Name: "n-1"}, Hosts: []string{"h.example", "10.0.0.1"}})
		if err != nil {
			t.Fatal(err)
		}
		id, err := IdentityOf(kp.Cert)
		if err != nil || id != (Identity{Cluster: "prod", Role: r, Name: "n-1"}) {
			t.Errorf("%s: IdentityOf = %v, %v", r, id, err)
		}
		if got := kp.Cert.URIs[0].String(); got != "sparse://prod/"+string(r)+"/n-1" {
			t.Errorf("URI = %s", got)
		}
	}
	if _, err := IdentityOf(p.ca.Cert); err == nil {
		t.Error("the CA certificate has an identity")
	}
	if _, err := NewCert(p.ca, CertRequest{Identity: Identity{Role: "admin"}}); err == nil {
		t.Error("a certificate with an unknown role was made")
	}
	if _, err := NewCert(p.ca, CertRequest{Identity: Identity{Role: RoleWorker, Name: "a/b"}}); err == nil {
		t.Error("a certificate with a slash in its name was made")
	}
}

func TestWriteFilesRefusesOverwriteAndKeepsKeyPrivate(t *testing.T) {
	p := newPKI(t, "c1")
	kp, err := NewCert(p.ca, role(RoleClient, "ops"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "c-key.pem")
	if err := kp.WriteFiles(cert, key); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(key)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key mode = %v, %v; want 0600", st.Mode(), err)
	}
	if err := kp.WriteFiles(cert, key); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second WriteFiles = %v, want a refusal to overwrite", err)
	}
	back, err := LoadKeyPair(cert, key)
	if err != nil || !back.Cert.Equal(kp.Cert) {
		t.Errorf("LoadKeyPair = %v", err)
	}
}

// TestCheckAPIListen: off loopback, the nimbus API needs TLS and tokens both, and the
// error names what is missing.
func TestCheckAPIListen(t *testing.T) {
	for _, tc := range []struct {
		addr               string
		tls, acl, insecure bool
		warn               bool
		errHas             string
	}{
		{"127.0.0.1:6627", false, false, false, false, ""},
		{"10.1.2.3:6627", true, true, false, false, ""},
		{"10.1.2.3:6627", true, false, false, false, "API tokens are off: anyone who reaches it could run code on the cluster; pass --acl (see"},
		{"10.1.2.3:6627", false, true, false, false, "TLS is off: anyone"},
		{"10.1.2.3:6627", false, false, false, false, "TLS is off and API tokens are off"},
		{"10.1.2.3:6627", true, false, true, true, ""},
	} {
		warn, err := CheckAPIListen("nimbusd --listen", tc.addr, tc.tls, tc.acl, tc.insecure)
		if warn != tc.warn || (err != nil) != (tc.errHas != "") || (err != nil && !strings.Contains(err.Error(), tc.errHas)) {
			t.Errorf("CheckAPIListen(%q, tls=%v, acl=%v, insecure=%v) = %v, %v; want warn %v, an error with %q",
				tc.addr, tc.tls, tc.acl, tc.insecure, warn, err, tc.warn, tc.errHas)
		}
	}
}

func TestCheckListen(t *testing.T) {
	for _, tc := range []struct {
		addr          string
		tls, insecure bool
		warn          bool
		err           bool
	}{
		{"127.0.0.1:6627", false, false, false, false},
		{"localhost:6627", false, false, false, false},
		{"[::1]:6627", false, false, false, false},
		{"0.0.0.0:6627", false, false, false, true},
		{":6627", false, false, false, true},
		{"10.1.2.3:6627", true, false, false, false},
		{"10.1.2.3:6627", false, true, true, false},
		{"10.1.2.3", false, false, false, true},
	} {
		warn, err := CheckListen("nimbusd --listen", tc.addr, tc.tls, tc.insecure)
		if warn != tc.warn || (err != nil) != tc.err {
			t.Errorf("CheckListen(%q, tls=%v, insecure=%v) = %v, %v", tc.addr, tc.tls, tc.insecure, warn, err)
		}
		if err != nil && !strings.Contains(err.Error(), "--insecure") {
			t.Errorf("error %q does not name --insecure", err)
		}
	}
}
