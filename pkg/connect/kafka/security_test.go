package kafka

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
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sparsestream/sparse/pkg/local"
	"github.com/sparsestream/sparse/pkg/topology"
)

// testTLS makes a CA and a server certificate for 127.0.0.1, and returns the server's
// TLS config and the CA's PEM file.
func testTLS(t *testing.T) (*tls.Config, string) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, srvKey := key(), key()
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "broker"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}}, MinVersion: tls.VersionTLS12}, caFile
}

// TestTLSAndSASL: a broker that serves only TLS and SASL is read with SCRAM-SHA-256 (the
// password from the environment) and written with PLAIN (the password from a file).
func TestTLSAndSASL(t *testing.T) {
	srvTLS, caFile := testTLS(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "in", "out"), kfake.TLS(srvTLS),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "reader", "r-secret"), kfake.Superuser("PLAIN", "writer", "w-secret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	t.Setenv("SPARSE_TEST_KAFKA_PASSWORD", "r-secret")
	passFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(passFile, []byte("w-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reader := Client{Brokers: brokers, TLS: &TLS{CAFile: caFile},
		SASL: &SASL{Mechanism: "SCRAM-SHA-256", Username: "reader", PasswordEnv: "SPARSE_TEST_KAFKA_PASSWORD"}}
	writer := Client{Brokers: brokers, TLS: &TLS{CAFile: caFile},
		SASL: &SASL{Mechanism: "PLAIN", Username: "writer", PasswordFile: passFile}}

	cl, err := newClient(reader, testLogger(t), kgo.DefaultProduceTopic("in"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	var recs []*kgo.Record
	for range n {
		recs = append(recs, &kgo.Record{Value: []byte("secret line")})
	}
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatalf("producing over TLS and SASL: %v", err)
	}
	cl.Close()

	b := topology.NewBuilder("secure")
	scfg := SpoutConfig{Client: reader, Topics: []string{"in"}, Group: "g", CommitPeriod: 50 * time.Millisecond}
	b.Spout("kafka", NewSpout(scfg), 1).Output(scfg.OutputFields()...)
	b.Bolt("sink", NewSink(SinkConfig{Client: writer, Topic: "out"}), 1).Shuffle("kafka")
	spec, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := local.RunUntil(t.Context(), local.Options{Spec: spec, Logger: testLogger(t), Duration: 30 * time.Second},
		func(s local.Summary) bool { return acked(s, n) }); err != nil {
		t.Fatalf("reading and writing over TLS and SASL: %v", err)
	}

	// A wrong password is refused.
	t.Setenv("SPARSE_TEST_KAFKA_PASSWORD", "wrong")
	bad, err := newClient(reader, testLogger(t), kgo.DefaultProduceTopic("in"))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	// The client retries a failed authentication; the produce ends with the context.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if err := bad.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err == nil {
		t.Error("a wrong SCRAM password was accepted")
	}
}

// TestSASLPasswordSources: a password variable that is not set, or a password file that
// is missing or empty, is an error naming it.
func TestSASLPasswordSources(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		s    SASL
		want string
	}{
		{"unset variable", SASL{Mechanism: "PLAIN", Username: "u", PasswordEnv: "SPARSE_TEST_UNSET_VARIABLE"}, "SPARSE_TEST_UNSET_VARIABLE is not set"},
		{"missing file", SASL{Mechanism: "PLAIN", Username: "u", PasswordFile: filepath.Join(t.TempDir(), "nope")}, "password file"},
		{"empty file", SASL{Mechanism: "PLAIN", Username: "u", PasswordFile: empty}, "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.s.mechanism()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
