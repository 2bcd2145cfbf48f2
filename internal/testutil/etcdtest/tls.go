package etcdtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sparsestream/sparse/internal/cluster"
)

// PKI is a throw-away CA with a server certificate for 127.0.0.1 and localhost (usable
// for client authentication too, as etcd's peers and nimbusd's own connection need), a
// client certificate, and an unrelated CA, as PEM files in Dir.
type PKI struct {
	Dir                   string
	CA                    string
	ServerCert, ServerKey string
	ClientCert, ClientKey string
	OtherCA               string // a CA that signed nothing here
	caCert                *x509.Certificate
	caKey                 *ecdsa.PrivateKey
}

// NewPKI writes a fresh PKI into a temporary directory of t.
func NewPKI(t testing.TB) PKI {
	t.Helper()
	p := PKI{Dir: t.TempDir()}
	var caDER []byte
	p.caKey, caDER = p.sign(t, true, &x509.Certificate{
		Subject: pkix.Name{CommonName: "sparse test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	})
	var err error
	if p.caCert, err = x509.ParseCertificate(caDER); err != nil {
		t.Fatal(err)
	}
	p.CA = p.write(t, "ca.pem", "CERTIFICATE", caDER)
	key, der := p.sign(t, false, &x509.Certificate{
		Subject: pkix.Name{CommonName: "etcd"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	})
	p.ServerCert, p.ServerKey = p.write(t, "server.pem", "CERTIFICATE", der), p.writeKey(t, "server-key.pem", key)
	key, der = p.sign(t, false, &x509.Certificate{
		Subject: pkix.Name{CommonName: "sparse"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	p.ClientCert, p.ClientKey = p.write(t, "client.pem", "CERTIFICATE", der), p.writeKey(t, "client-key.pem", key)
	_, der = p.sign(t, true, &x509.Certificate{
		Subject: pkix.Name{CommonName: "some other CA"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	})
	p.OtherCA = p.write(t, "other-ca.pem", "CERTIFICATE", der)
	return p
}

var serial atomic.Int64

// sign makes a key and a certificate for it from tmpl, signed by the CA or by itself.
func (p PKI) sign(t testing.TB, self bool, tmpl *x509.Certificate) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(serial.Add(1))
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	parent, parentKey := p.caCert, p.caKey
	if self {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

func (p PKI) write(t testing.TB, name, kind string, der []byte) string {
	t.Helper()
	return WriteFile(t, p.Dir, name, string(pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})))
}

func (p PKI) writeKey(t testing.TB, name string, key *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, name, "EC PRIVATE KEY", der)
}

// ServerTLS is the embedded etcd's TLS with p's server certificate, accepting p's
// client certificates.
func (p PKI) ServerTLS() cluster.ServerTLS {
	return cluster.ServerTLS{Cert: p.ServerCert, Key: p.ServerKey, ClientCA: p.CA}
}

// Security is what a daemon gives to reach an etcd of p with the client certificate.
func (p PKI) Security() cluster.Security {
	return cluster.Security{CACert: p.CA, Cert: p.ClientCert, Key: p.ClientKey}
}

// ClientTLS is the TLS configuration of a client holding p's client certificate.
func (p PKI) ClientTLS(t testing.TB) *tls.Config {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(p.ClientCert, p.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(p.caCert)
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
}

// WriteFile writes text to dir/name (mode 0600) and returns the path.
func WriteFile(t testing.TB, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// StartTLS runs a single-member etcd on loopback, as Start does, that serves clients only
// over TLS with p's server certificate and refuses clients without a certificate signed
// by p's CA. Its endpoint is https://127.0.0.1:<port>; it stops when the test ends.
func StartTLS(t testing.TB, p PKI) *cluster.Embedded {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := cluster.StartEmbedded(ctx, cluster.EmbedConfig{
		DataDir: filepath.Join(t.TempDir(), "etcd"), Name: "tls",
		ClientURL: "https://127.0.0.1:0", PeerURL: "http://127.0.0.1:0",
		TLS: p.ServerTLS(), BcryptCost: bcryptCost,
	})
	if err != nil {
		t.Fatalf("starting etcd with TLS: %v", err)
	}
	t.Cleanup(e.Close)
	return e
}

// User is an etcd user that may read and write every key under Prefix.
type User struct {
	Name, Password, Prefix string
}

// EnableAuth adds a root user and users, each with a role of its own name that may read
// and write its prefix (none when empty), and turns auth on. tc is the client TLS for an
// etcd that serves TLS, else nil.
func EnableAuth(t testing.TB, endpoints []string, tc *tls.Config, users ...User) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, TLS: tc, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	steps := []func() error{
		func() error { _, err := cli.UserAdd(ctx, "root", "root-password"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
	}
	for _, u := range users {
		steps = append(steps, func() error { _, err := cli.UserAdd(ctx, u.Name, u.Password); return err })
		if u.Prefix != "" {
			steps = append(steps,
				func() error { _, err := cli.RoleAdd(ctx, u.Name); return err },
				func() error {
					_, err := cli.RoleGrantPermission(ctx, u.Name, u.Prefix, clientv3.GetPrefixRangeEnd(u.Prefix), clientv3.PermissionType(clientv3.PermReadWrite))
					return err
				},
				func() error { _, err := cli.UserGrantRole(ctx, u.Name, u.Name); return err })
		}
	}
	steps = append(steps, func() error { _, err := cli.AuthEnable(ctx); return err })
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("setting up etcd auth: %v", err)
		}
	}
}
