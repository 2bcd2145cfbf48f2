// Package tlstest makes a CA and certificates for tests, written to a test's
// temporary directory.
package tlstest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/tlsconf"
)

// PKI is a test CA of one cluster.
type PKI struct {
	t       testing.TB
	Dir     string
	Cluster string
	CA      *tlsconf.KeyPair
	CAFile  string
}

// New makes a CA for cluster in a temporary directory.
func New(t testing.TB, cluster string) *PKI {
	t.Helper()
	ca, err := tlsconf.NewCA(tlsconf.CARequest{Cluster: cluster})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := &PKI{t: t, Dir: dir, Cluster: cluster, CA: ca, CAFile: filepath.Join(dir, "ca.pem")}
	if err := os.WriteFile(p.CAFile, ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Files makes a certificate of role and name, valid from notBefore (zero: now) for a
// day, and returns its files with the CA.
func (p *PKI) Files(role tlsconf.Role, name string, notBefore time.Time) tlsconf.Files {
	p.t.Helper()
	kp, err := tlsconf.NewCert(p.CA, tlsconf.CertRequest{
		Identity:  tlsconf.Identity{Cluster: p.Cluster, Role: role, Name: name},
		Validity:  24 * time.Hour,
		NotBefore: notBefore,
	})
	if err != nil {
		p.t.Fatal(err)
	}
	f, err := os.CreateTemp(p.Dir, string(role)+"-"+name+"-*.pem")
	if err != nil {
		p.t.Fatal(err)
	}
	f.Close()
	os.Remove(f.Name())
	key := f.Name()[:len(f.Name())-len(".pem")] + "-key.pem"
	if err := kp.WriteFiles(f.Name(), key); err != nil {
		p.t.Fatal(err)
	}
	return tlsconf.Files{CA: p.CAFile, Cert: f.Name(), Key: key}
}

// Store loads a certificate of role and name.
func (p *PKI) Store(role tlsconf.Role, name string) *tlsconf.Store {
	p.t.Helper()
	s, err := tlsconf.Load(p.Files(role, name, time.Time{}), nil)
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

// CAOnly is a store that holds only the CA (a client without a certificate).
func (p *PKI) CAOnly() *tlsconf.Store {
	p.t.Helper()
	s, err := tlsconf.Load(tlsconf.Files{CA: p.CAFile}, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}
