package nimbus

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/internal/tlsconf"
	"github.com/sparsestream/sparse/internal/tlsconf/tlstest"
)

// TestAPIOverTLS: two nimbus with server certificates replicate an artifact over mutual
// TLS; the API takes operators (with a client certificate or only the CA) and
// supervisors, takes a worker's certificate for ReportStats only, and refuses another
// CA's and plaintext.
func TestAPIOverTLS(t *testing.T) {
	p := tlstest.New(t, "c1")
	root := testRoot(t)
	cfg1 := fast(t, root)
	cfg1.ID, cfg1.TLS = "n1", p.Store(tlsconf.RoleServer, "n1")
	n1 := startNimbus(t, cfg1)
	waitLeader(t, n1)
	cfg2 := fast(t, root)
	cfg2.ID, cfg2.TLS = "n2", p.Store(tlsconf.RoleServer, "n2")
	n2 := startNimbus(t, cfg2)
	ctx := testutil.Context(t, 40*time.Second)

	client := func(opt grpc.DialOption) sparsev1.NimbusClient {
		conn, err := grpc.NewClient("passthrough:///"+n1.Addr(), opt)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return sparsev1.NewNimbusClient(conn)
	}
	as := func(s *tlsconf.Store) grpc.DialOption {
		return grpc.WithTransportCredentials(s.ClientCredentials(tlsconf.RoleServer, true))
	}
	data := artifact(ChunkSize + 3)
	if _, err := submit(ctx, client(as(p.Store(tlsconf.RoleClient, "ops"))), header(t, wordcount("tls"), data, nil), data); err != nil {
		t.Fatalf("submit with a client certificate: %v", err)
	}
	digest := Digest(data)
	testutil.Eventually(t, 10*time.Second, "the standby copies the artifact over TLS", func() bool {
		hs, err := n2.Store().ListArtifactHolders(ctx, digest)
		return err == nil && len(hs) == 2
	})
	if got, err := os.ReadFile(n2.Blobs().Path(digest)); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the standby's copy differs (%v)", err)
	}
	if got, err := fetch(ctx, client(as(p.Store(tlsconf.RoleSupervisor, "s1"))), digest); err != nil || !bytes.Equal(got, data) {
		t.Errorf("FetchArtifact by a supervisor: %d bytes, %v", len(got), err)
	}
	if _, err := client(as(p.CAOnly())).List(ctx, &sparsev1.ListRequest{}); err != nil {
		t.Errorf("List by a client holding only the CA: %v", err)
	}

	other := tlstest.New(t, "c1")
	for _, tc := range []struct {
		name string
		opt  grpc.DialOption
	}{
		{"plaintext", grpc.WithTransportCredentials(insecure.NewCredentials())},
		{"a client that trusts another CA", as(other.Store(tlsconf.RoleClient, "ops"))},
	} {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := client(tc.opt).List(cctx, &sparsev1.ListRequest{})
		cancel()
		if status.Code(err) != codes.Unavailable {
			t.Errorf("List with %s: %v, want Unavailable", tc.name, err)
		}
	}

	worker := client(as(p.Store(tlsconf.RoleWorker, "w1")))
	if _, err := worker.List(ctx, &sparsev1.ListRequest{}); status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "workers may only report") {
		t.Errorf("List with a worker's certificate: %v, want PermissionDenied", err)
	}
	report := &sparsev1.WorkerStats{TopologyId: "t-1", WorkerId: "w1", Incarnation: "i1", WireProtocol: SupportedWireProtocols[0]}
	if _, err := worker.ReportStats(ctx, report); err != nil {
		t.Errorf("ReportStats with a worker's certificate: %v", err)
	}
	if _, err := client(as(p.Store(tlsconf.RoleClient, "ops"))).ReportStats(ctx, report); status.Code(err) != codes.PermissionDenied {
		t.Errorf("ReportStats with a client certificate: %v, want PermissionDenied", err)
	}
}

// TestAPIOffLoopbackNeedsTLSAndTokens: nimbusd refuses a non-loopback --listen without
// TLS and API tokens both, unless --insecure; with TLS its certificate must be a server's.
func TestAPIOffLoopbackNeedsTLSAndTokens(t *testing.T) {
	p := tlstest.New(t, "c1")
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"plaintext everywhere", func(c *Config) { c.Listen = "0.0.0.0:6627" }, "--insecure"},
		{"insecure", func(c *Config) { c.Listen = "0.0.0.0:6627"; c.Insecure = true }, ""},
		{"TLS without tokens", func(c *Config) { c.Listen = "0.0.0.0:6627"; c.TLS = p.Store(tlsconf.RoleServer, "n") }, "pass --acl"},
		{"tokens without TLS", func(c *Config) { c.Listen = "0.0.0.0:6627"; c.ACL = true }, "TLS is off"},
		{"TLS and tokens", func(c *Config) {
			c.Listen, c.ACL, c.TLS = "0.0.0.0:6627", true, p.Store(tlsconf.RoleServer, "n")
		}, ""},
		{"a client certificate", func(c *Config) { c.TLS = p.Store(tlsconf.RoleClient, "n") }, "needs a server certificate"},
		{"only the CA", func(c *Config) { c.TLS = p.CAOnly() }, "--tls-cert"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0"}
			tc.mod(&c)
			_, err := c.withDefaults()
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("withDefaults = %v, want %q", err, tc.want)
			}
		})
	}
}
