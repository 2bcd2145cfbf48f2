//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparsestream/sparse/internal/tlsconf"
)

// TestTLSCreate: `sparsectl tls ca create` and `tls cert create` write a CA and
// certificates of the CA's cluster with private keys, and refuse to overwrite.
func TestTLSCreate(t *testing.T) {
	isolate(t)
	mustRun(t, "tls", "ca", "create", "--cluster", "prod")
	mustFail(t, []string{"prod-ca.pem already exists"}, "tls", "ca", "create", "--cluster", "prod")
	ca := []string{"--ca", "prod-ca.pem", "--ca-key", "prod-ca-key.pem"}
	out := mustRun(t, append([]string{"tls", "cert", "create", "--server", "--host", "nimbus1.example", "--host", "10.0.0.5"}, ca...)...)
	if !strings.Contains(out, "prod-server-server-0.pem") {
		t.Errorf("output %q does not name the certificate", out)
	}
	mustRun(t, append([]string{"tls", "cert", "create", "--server"}, ca...)...) // the next name: server-1
	mustRun(t, append([]string{"tls", "cert", "create", "--worker", "--days", "30"}, ca...)...)
	mustRun(t, append([]string{"tls", "cert", "create", "--client", "--name", "alice"}, ca...)...)
	mustFail(t, []string{"already exists"}, append([]string{"tls", "cert", "create", "--client", "--name", "alice"}, ca...)...)
	mustFail(t, []string{"exactly one of --server"}, append([]string{"tls", "cert", "create"}, ca...)...)
	mustFail(t, []string{"exactly one of --server"}, append([]string{"tls", "cert", "create", "--server", "--client"}, ca...)...)
	mustFail(t, []string{"--host is for --server and --worker"}, append([]string{"tls", "cert", "create", "--client", "--host", "x"}, ca...)...)
	mustFail(t, []string{"reading the certificate"}, "tls", "cert", "create", "--worker") // no sparse-ca.pem here

	for _, tc := range []struct {
		file string
		id   tlsconf.Identity
	}{
		{"prod-server-server-0", tlsconf.Identity{Cluster: "prod", Role: tlsconf.RoleServer, Name: "server-0"}},
		{"prod-server-server-1", tlsconf.Identity{Cluster: "prod", Role: tlsconf.RoleServer, Name: "server-1"}},
		{"prod-worker-worker-0", tlsconf.Identity{Cluster: "prod", Role: tlsconf.RoleWorker, Name: "worker-0"}},
		{"prod-client-alice", tlsconf.Identity{Cluster: "prod", Role: tlsconf.RoleClient, Name: "alice"}},
	} {
		kp, err := tlsconf.LoadKeyPair(tc.file+".pem", tc.file+"-key.pem")
		if err != nil {
			t.Fatal(err)
		}
		if id, err := tlsconf.IdentityOf(kp.Cert); err != nil || id != tc.id {
			t.Errorf("%s: identity %v, %v; want %v", tc.file, id, err, tc.id)
		}
		if st, err := os.Stat(tc.file + "-key.pem"); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: key mode %v, %v; want 0600", tc.file, st.Mode(), err)
		}
		if _, err := tlsconf.Load(tlsconf.Files{CA: "prod-ca.pem", Cert: tc.file + ".pem", Key: tc.file + "-key.pem"}, nil); err != nil {
			t.Errorf("%s does not load with the CA: %v", tc.file, err)
		}
	}
	if st, err := os.Stat(filepath.Join(".", "prod-ca-key.pem")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("CA key mode %v, %v; want 0600", st.Mode(), err)
	}
	kp, _ := tlsconf.LoadKeyPair("prod-server-server-0.pem", "prod-server-server-0-key.pem")
	if err := kp.Cert.VerifyHostname("nimbus1.example"); err != nil {
		t.Error(err)
	}
	if err := kp.Cert.VerifyHostname("10.0.0.5"); err != nil {
		t.Error(err)
	}
	if err := kp.Cert.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}
}
