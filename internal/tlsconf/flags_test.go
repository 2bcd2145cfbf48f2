package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/metrics"
)

// TestMetricsOverTLS: with --metrics-tls-cert/--metrics-tls-key the metrics server
// speaks HTTPS only, and serves nothing but /metrics and /healthz.
func TestMetricsOverTLS(t *testing.T) {
	p := newPKI(t, "c1")
	f := p.files(CertRequest{Identity: Identity{Cluster: "c1", Role: RoleServer, Name: "n1"}})
	if _, err := MetricsConfig(context.Background(), f.Cert, "", nil); err == nil {
		t.Error("MetricsConfig with a certificate and no key succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := MetricsConfig(ctx, f.Cert, f.Key, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := metrics.ServeTLS(ctx, "127.0.0.1:0", metrics.NewRegistry(), nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Cert)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(c *http.Client, url string) (int, string, error) {
		resp, err := c.Get(url)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	if code, body, err := get(client, "https://"+addr.String()+"/metrics"); err != nil || code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("GET /metrics over HTTPS: %d, %v", code, err)
	}
	if code, _, err := get(client, "https://"+addr.String()+"/healthz"); err != nil || code != 200 {
		t.Errorf("GET /healthz over HTTPS: %d, %v", code, err)
	}
	if code, _, err := get(client, "https://"+addr.String()+"/debug/pprof/"); err != nil || code != 404 {
		t.Errorf("GET /debug/pprof/: %d, %v; want 404", code, err)
	}
	if code, _, err := get(&http.Client{Timeout: 5 * time.Second}, "http://"+addr.String()+"/metrics"); err == nil && code == 200 {
		t.Error("plain HTTP to the HTTPS metrics server was served")
	}
}

// TestMetricsCertificateReloads: a reload takes a new pair from the same files, and a
// pair that does not load keeps the one in use.
func TestMetricsCertificateReloads(t *testing.T) {
	p := newPKI(t, "c1")
	first := p.files(CertRequest{Identity: Identity{Cluster: "c1", Role: RoleServer, Name: "first"}})
	second := p.files(CertRequest{Identity: Identity{Cluster: "c1", Role: RoleServer, Name: "second"}})
	kp := &keyPairFile{cert: first.Cert, key: first.Key}
	if err := kp.reload(); err != nil {
		t.Fatal(err)
	}
	name := func() string {
		c, _ := kp.get(nil)
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.URIs[0].String()
	}
	if got := name(); !strings.HasSuffix(got, "/first") {
		t.Fatalf("serving %s, want the first", got)
	}
	kp.cert, kp.key = second.Cert, second.Key
	if err := kp.reload(); err != nil {
		t.Fatal(err)
	}
	if got := name(); !strings.HasSuffix(got, "/second") {
		t.Fatalf("after a reload serving %s, want the second", got)
	}
	kp.key = first.Key // a certificate and a key that do not match
	if err := kp.reload(); err == nil {
		t.Fatal("a mismatched pair loaded")
	}
	if got := name(); !strings.HasSuffix(got, "/second") {
		t.Fatalf("after a failed reload serving %s, want the second still", got)
	}
}
