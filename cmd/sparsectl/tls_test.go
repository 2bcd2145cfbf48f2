//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"

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

// TestClusterCommandsOverTLS: sparsectl reaches a nimbus that serves TLS with --tls-ca
// (and a client certificate, or from its config file environment), and fails clearly
// without it.
func TestClusterCommandsOverTLS(t *testing.T) {
	isolate(t)
	mustRun(t, "tls", "ca", "create")
	mustRun(t, "tls", "cert", "create", "--server")
	mustRun(t, "tls", "cert", "create", "--client", "--name", "ops")
	srv, err := tlsconf.Load(tlsconf.Files{CA: "sparse-ca.pem", Cert: "sparse-server-server-0.pem", Key: "sparse-server-server-0-key.pem"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := &fakeNimbus{id: "nimbus-1"}
	addr := startNimbus(t, n, grpc.Creds(srv.ServerCredentials(false, tlsconf.RoleServer, tlsconf.RoleSupervisor, tlsconf.RoleClient)))
	mustRun(t, "leader", "--nimbus", addr, "--tls-ca", "sparse-ca.pem")
	mustRun(t, "leader", "--nimbus", addr, "--tls-ca", "sparse-ca.pem", "--tls-cert", "sparse-client-ops.pem", "--tls-key", "sparse-client-ops-key.pem")
	mustFail(t, []string{"give --tls-cert and --tls-key together"}, "leader", "--nimbus", addr, "--tls-ca", "sparse-ca.pem", "--tls-cert", "sparse-client-ops.pem")
	mustFail(t, []string{"if the cluster runs TLS, pass --tls-ca"}, "leader", "--nimbus", addr, "--connect-timeout", "2s", "--timeout", "5s")
	// From the config file's environment; its paths are relative to the file.
	if err := os.Mkdir("conf", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"sparse-ca.pem", "sparse-client-ops.pem", "sparse-client-ops-key.pem"} {
		if err := os.Rename(f, filepath.Join("conf", f)); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`{"envs": {"tls": {"nimbus": %q, "tls_ca": "sparse-ca.pem", "tls_cert": "sparse-client-ops.pem", "tls_key": "sparse-client-ops-key.pem"}}}`, addr)
	if err := os.WriteFile(filepath.Join("conf", "sparse.json"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "leader", "--config", filepath.Join("conf", "sparse.json"))
}
