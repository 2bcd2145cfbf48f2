package supervisor

import (
	"crypto/tls"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/testutil"
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

// TestManagerReloadsWorkerTLS: a worker serves its transport with its mTLS certificate
// and /metrics over HTTPS with the metrics certificate, both handed over by the
// supervisor; after the files are replaced, ReloadTLS (the supervisor's SIGHUP) makes the
// running worker serve the new ones without a restart.
func TestManagerReloadsWorkerTLS(t *testing.T) {
	f := newManagerFixture(t)
	p := tlstest.New(t, "c1")
	dir := t.TempDir()
	workerCert, workerKey := filepath.Join(dir, "worker.pem"), filepath.Join(dir, "worker-key.pem")
	metricsCert, metricsKey := filepath.Join(dir, "metrics.pem"), filepath.Join(dir, "metrics-key.pem")
	install := func() (worker, metrics *big.Int) {
		w := p.Files(tlsconf.RoleWorker, "worker", time.Time{})
		m := p.Files(tlsconf.RoleSupervisor, "metrics", time.Time{})
		for _, c := range []struct{ from, to string }{{w.Cert, workerCert}, {w.Key, workerKey}, {m.Cert, metricsCert}, {m.Key, metricsKey}} {
			if err := copyPrivate(c.from, c.to); err != nil {
				t.Fatal(err)
			}
		}
		return serialOf(t, w.Cert), serialOf(t, m.Cert)
	}
	workerSerial, metricsSerial := install()
	metricsPort := freePort(t)
	sup := p.Store(tlsconf.RoleSupervisor, "s1")
	m := f.start(func(c *ManagerConfig) {
		c.WorkerTLS = tlsconf.Files{CA: p.CAFile, Cert: workerCert, Key: workerKey}
		c.AdminCreds = sup.ClientCredentials(tlsconf.RoleWorker, false)
		c.WorkerMetricsOffset = metricsPort - f.port
		c.WorkerMetricsCert, c.WorkerMetricsKey = metricsCert, metricsKey
	})
	m.Update([]Want{f.want})
	testutil.Eventually(t, 20*time.Second, "the worker to run and be activated over mTLS", func() bool {
		s := m.slot()
		return s.Phase == Running && s.ActiveKnown && s.Active
	})
	pid := m.slot().PID
	clientPair, err := tls.LoadX509KeyPair(workerCert, workerKey)
	if err != nil {
		t.Fatal(err)
	}
	metricsAt := "127.0.0.1:" + strconv.Itoa(metricsPort)
	served := func(addr string, cert *tls.Certificate) *big.Int {
		tc := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS12} // only reads which certificate is served
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, tc)
		if err != nil {
			return nil
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber
	}
	testutil.Eventually(t, 10*time.Second, "/metrics over HTTPS with the metrics certificate", func() bool {
		s := served(metricsAt, nil)
		return s != nil && s.Cmp(metricsSerial) == 0
	})
	if s := served(f.want.Address, &clientPair); s == nil || s.Cmp(workerSerial) != 0 {
		t.Fatalf("the worker's transport serves certificate %v, want the worker certificate %v", s, workerSerial)
	}

	workerSerial, metricsSerial = install()
	m.ReloadTLS()
	testutil.Eventually(t, 10*time.Second, "the new certificates served", func() bool {
		ms, ws := served(metricsAt, nil), served(f.want.Address, &clientPair)
		return ms != nil && ms.Cmp(metricsSerial) == 0 && ws != nil && ws.Cmp(workerSerial) == 0
	})
	if s := m.slot(); s.PID != pid || s.Phase != Running {
		t.Fatalf("the worker was restarted (pid %d → %d, %v); a reload must keep it", pid, s.PID, s.Phase)
	}
}

func serialOf(t *testing.T, certFile string) *big.Int {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(certFile, strings.TrimSuffix(certFile, ".pem")+"-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	return pair.Leaf.SerialNumber
}
