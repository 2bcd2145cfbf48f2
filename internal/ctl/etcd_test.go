package ctl

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/internal/testutil/etcdtest"
)

// TestRunEtcdServesTLS: `sparsectl dev etcd` with a server certificate, its key and a
// client CA serves only TLS at the https URL it prints, says which flags the daemons need,
// and lets in only clients with a certificate of the client CA.
func TestRunEtcdServesTLS(t *testing.T) {
	p := etcdtest.NewPKI(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out testutil.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- RunEtcd(ctx, EtcdOptions{DataDir: filepath.Join(t.TempDir(), "etcd"), Listen: "127.0.0.1:0", PeerListen: "127.0.0.1:0",
			Name: "tls", TLS: p.ServerTLS()}, &out)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunEtcd: %v", err)
		}
	}()
	urlRE := regexp.MustCompile(`serving clients at (https://127\.0\.0\.1:\d+) `)
	var m []string
	testutil.Eventually(t, time.Minute, "the https client URL printed", func() bool {
		m = urlRE.FindStringSubmatch(out.String())
		return m != nil && strings.Contains(out.String(), "--etcd-cacert")
	})
	connect := func(sec cluster.Security, dial time.Duration) error {
		cfg := cluster.ConnectConfig{Endpoints: []string{m[1]}, DialTimeout: dial}
		if err := sec.Apply(&cfg, func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		s, err := cluster.Connect(testutil.Context(t, 20*time.Second), cfg)
		if err == nil {
			s.Close()
		}
		return err
	}
	if err := connect(p.Security(), 10*time.Second); err != nil {
		t.Fatalf("a client with a certificate of the client CA: %v", err)
	}
	if err := connect(cluster.Security{CACert: p.CA}, 2*time.Second); err == nil || !strings.Contains(err.Error(), "give --etcd-cert and --etcd-key") {
		t.Fatalf("a client without a certificate: %v; want a refusal naming --etcd-cert", err)
	}
}

// TestRunEtcdTLSFlagsGoTogether: half the server TLS flags is refused before anything
// starts, naming the dev etcd's flags.
func TestRunEtcdTLSFlagsGoTogether(t *testing.T) {
	p := etcdtest.NewPKI(t)
	err := RunEtcd(context.Background(), EtcdOptions{DataDir: t.TempDir(), Listen: "127.0.0.1:0", PeerListen: "127.0.0.1:0",
		TLS: cluster.ServerTLS{Cert: p.ServerCert, Key: p.ServerKey}}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "--server-cert, --server-key and --client-ca go together") {
		t.Fatalf("error %v, want one saying the three flags go together", err)
	}
}
