package perf

import (
	"fmt"
	"os"

	"github.com/sparsestream/sparse/internal/tlsconf"
)

// NewTLSDir makes a CA and one worker certificate in a new temporary directory, laid
// out as a supervisor lays out a worker's files (tlsconf.WorkerFiles): both workers of a
// two-worker benchmark then run the transport over mutual TLS. Remove the directory
// when done.
func NewTLSDir() (string, error) {
	dir, err := os.MkdirTemp("", "sparse-bench-tls-")
	if err != nil {
		return "", err
	}
	ca, err := tlsconf.NewCA(tlsconf.CARequest{Cluster: "bench"})
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	kp, err := tlsconf.NewCert(ca, tlsconf.CertRequest{Identity: tlsconf.Identity{Cluster: "bench", Role: tlsconf.RoleWorker, Name: "bench"}})
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	f := tlsconf.WorkerFiles(dir)
	if err := os.WriteFile(f.CA, ca.CertPEM, 0o600); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	if err := kp.WriteFiles(f.Cert, f.Key); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// loadTLS reads the worker files in dir; "" is plaintext.
func loadTLS(dir string) (*tlsconf.Store, error) {
	if dir == "" {
		return nil, nil
	}
	s, err := tlsconf.Load(tlsconf.WorkerFiles(dir), nil)
	if err != nil {
		return nil, fmt.Errorf("the benchmark's TLS files: %w", err)
	}
	return s, nil
}
