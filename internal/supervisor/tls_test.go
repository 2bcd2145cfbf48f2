package supervisor

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/tlsconf"
	"github.com/sparsestream/sparse/internal/tlsconf/tlstest"
)

func TestConfigTLS(t *testing.T) {
	p := tlstest.New(t, "c1")
	other := tlstest.New(t, "c2")
	worker := p.Files(tlsconf.RoleWorker, "worker", time.Time{})
	foreign := other.Files(tlsconf.RoleWorker, "worker", time.Time{})
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"loopback without TLS", func(*Config) {}, ""},
		{"off loopback without TLS", func(c *Config) { c.Host = "10.0.0.7" }, "--insecure"},
		{"off loopback, insecure", func(c *Config) { c.Host = "10.0.0.7"; c.Insecure = true }, ""},
		{"worker files without TLS", func(c *Config) { c.WorkerTLSCert, c.WorkerTLSKey = worker.Cert, worker.Key }, "need TLS on"},
		{"TLS without worker files", func(c *Config) { c.TLS = p.Store(tlsconf.RoleSupervisor, "s") }, "--worker-tls-cert"},
		{"TLS", func(c *Config) {
			c.Host = "10.0.0.7"
			c.TLS = p.Store(tlsconf.RoleSupervisor, "s")
			c.WorkerTLSCert, c.WorkerTLSKey = worker.Cert, worker.Key
		}, ""},
		{"a worker certificate as its own", func(c *Config) {
			c.TLS = p.Store(tlsconf.RoleWorker, "s")
			c.WorkerTLSCert, c.WorkerTLSKey = worker.Cert, worker.Key
		}, "must be a supervisor certificate"},
		{"a worker certificate of another CA", func(c *Config) {
			c.TLS = p.Store(tlsconf.RoleSupervisor, "s")
			c.WorkerTLSCert, c.WorkerTLSKey = foreign.Cert, foreign.Key
		}, "does not verify against the CA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{ID: "s1", Host: "127.0.0.1", Slots: []int{6700}, DataDir: t.TempDir()}
			tc.mod(&c)
			_, err := New(c)
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("New = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestWorkerGetsTLSFiles: the supervisor copies the CA and the workers' certificate and
// key into the worker's directory, mode 0600, and names only the directory on the
// command line.
func TestWorkerGetsTLSFiles(t *testing.T) {
	p := tlstest.New(t, "c1")
	files := p.Files(tlsconf.RoleWorker, "worker", time.Time{})
	m := &Manager{c: ManagerConfig{WorkerTLS: files}}
	dir := t.TempDir()
	args, err := m.workerSecurity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(args, []string{"--tls-dir", dir}) {
		t.Errorf("args = %v", args)
	}
	got := tlsconf.WorkerFiles(dir)
	for _, f := range []string{got.CA, got.Cert, got.Key} {
		st, err := os.Stat(f)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 0600", filepath.Base(f), st.Mode(), err)
		}
	}
	if _, err := tlsconf.Load(got, nil); err != nil {
		t.Errorf("the worker cannot load its files: %v", err)
	}
	m.c = ManagerConfig{WorkerInsecure: true}
	if args, _ := m.workerSecurity(dir); !slices.Equal(args, []string{"--insecure"}) {
		t.Errorf("insecure args = %v", args)
	}
}
