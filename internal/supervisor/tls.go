package supervisor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"google.golang.org/grpc/credentials"

	"github.com/sparsestream/sparse/internal/tlsconf"
	"github.com/sparsestream/sparse/internal/worker"
)

// checkTLS checks the supervisor's TLS settings: its own certificate is a supervisor's,
// the workers' (which it hands them) a worker's of the same CA; without TLS the workers
// listen on loopback only, unless --insecure.
func (c *Config) checkTLS() error {
	if c.TLS == nil {
		if c.WorkerTLSCert != "" || c.WorkerTLSKey != "" {
			return errors.New("supervisor: --worker-tls-cert and --worker-tls-key need TLS on: pass --tls-ca, --tls-cert and --tls-key too")
		}
		_, err := tlsconf.CheckListen("supervisord --host (where its workers listen)", c.Host, false, c.Insecure)
		return err
	}
	if id := c.TLS.Identity(); !c.TLS.HasCert() || id.Role != tlsconf.RoleSupervisor {
		return fmt.Errorf("supervisor: --tls-cert must be a supervisor certificate (sparsectl tls cert create --supervisor), not %q", id.String())
	}
	if c.WorkerTLSCert == "" || c.WorkerTLSKey == "" {
		return errors.New("supervisor: with TLS on, workers need their certificate: pass --worker-tls-cert and --worker-tls-key (sparsectl tls cert create --worker)")
	}
	files := c.workerFiles()
	st, err := tlsconf.Load(files, nil)
	if err != nil {
		return fmt.Errorf("supervisor: the workers' certificate: %w", err)
	}
	if id := st.Identity(); id.Role != tlsconf.RoleWorker || id.Cluster != c.TLS.Identity().Cluster {
		return fmt.Errorf("supervisor: --worker-tls-cert names %s; it must be a worker certificate of cluster %q (sparsectl tls cert create --worker)", id, c.TLS.Identity().Cluster)
	}
	return nil
}

// workerFiles are the files handed to the workers: the CA of the supervisor's own TLS
// and the worker certificate.
func (c *Config) workerFiles() tlsconf.Files {
	if c.TLS == nil {
		return tlsconf.Files{}
	}
	return tlsconf.Files{CA: c.TLS.Files().CA, Cert: c.WorkerTLSCert, Key: c.WorkerTLSKey}
}

// dialCreds are the credentials of the supervisor's calls: to nimbus (a server
// certificate of the cluster) and to its workers (a worker certificate).
func (c *Config) dialCreds(server tlsconf.Role) credentials.TransportCredentials {
	if c.TLS == nil {
		return nil
	}
	return c.TLS.ClientCredentials(server, false)
}

// workerSecurity copies the workers' TLS files into a worker's directory (mode 0600:
// the key never appears on a command line or in another user's reach) and returns the
// worker flags that point at them, or --insecure.
func (m *Manager) workerSecurity(dir string) ([]string, error) {
	f := worker.Flags{Insecure: m.c.WorkerInsecure}
	if err := m.giveTLSFiles(dir); err != nil {
		return nil, err
	}
	if m.c.WorkerTLS.Enabled() {
		f.TLSDir = dir
	}
	if m.workerMetricsTLS() {
		f.MetricsTLSDir = dir
	}
	return f.Args()[1:], nil // without the subcommand
}

func (m *Manager) workerMetricsTLS() bool { return m.c.WorkerMetricsCert != "" }

// giveTLSFiles copies the workers' TLS files, and their metrics certificate, into a
// worker's directory.
func (m *Manager) giveTLSFiles(dir string) error {
	type pair struct{ from, to string }
	var files []pair
	if m.c.WorkerTLS.Enabled() {
		dst := tlsconf.WorkerFiles(dir)
		files = append(files, pair{m.c.WorkerTLS.CA, dst.CA}, pair{m.c.WorkerTLS.Cert, dst.Cert}, pair{m.c.WorkerTLS.Key, dst.Key})
	}
	if m.workerMetricsTLS() {
		files = append(files, pair{m.c.WorkerMetricsCert, filepath.Join(dir, tlsconf.WorkerMetricsCertFile)},
			pair{m.c.WorkerMetricsKey, filepath.Join(dir, tlsconf.WorkerMetricsKeyFile)})
	}
	for _, c := range files {
		if err := copyPrivate(c.from, c.to); err != nil {
			return fmt.Errorf("giving the worker its TLS files: %w", err)
		}
	}
	return nil
}

// reloadTLS event: the supervisor got SIGHUP.
type reloadTLS struct{}

// ReloadTLS hands the running workers the TLS files as they are now (after a
// certificate rotation) and tells them to read them again, without a restart. Workers
// not yet running get them when they start.
func (m *Manager) ReloadTLS() { m.send(reloadTLS{}) }

func (m *Manager) reloadTLS() {
	if !m.c.WorkerTLS.Enabled() && !m.workerMetricsTLS() {
		return
	}
	for _, s := range m.slots {
		// Only a worker seen running has its SIGHUP handler in place; one still
		// starting reads the files just copied.
		if s.proc == nil || s.phase != Running {
			continue
		}
		log := m.slotLog(s)
		if err := m.giveTLSFiles(s.proc.dir); err != nil {
			log.Error("cannot hand the worker its new TLS files; it keeps the ones it has", "error", err)
			continue
		}
		if err := s.proc.signal(syscall.SIGHUP); err != nil {
			log.Error("cannot tell the worker to reload its TLS files", "error", err)
			continue
		}
		log.Info("handed the worker new TLS files and told it to reload them")
	}
}

// copyPrivate copies from to a file to of mode 0600, replacing it whole.
func copyPrivate(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(to), ".tmp-tls-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), to)
}
