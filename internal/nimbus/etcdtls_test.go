package nimbus

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/internal/testutil/etcdtest"
)

// TestEmbeddedEtcdServesTLS: given a server certificate, its key and a client CA, the
// embedded etcd serves only TLS and only to clients with a certificate of that CA; the
// nimbus itself connects with its server certificate and leads.
func TestEmbeddedEtcdServesTLS(t *testing.T) {
	p := etcdtest.NewPKI(t)
	cfg := fast(t, "")
	cfg.EtcdEndpoints = nil
	cfg.EtcdListen = "127.0.0.1:0"
	cfg.EtcdPeerListen = "127.0.0.1:0"
	cfg.EtcdServerTLS = p.ServerTLS()
	n := startNimbus(t, cfg)
	waitLeader(t, n)
	endpoints := n.Store().Endpoints()
	if len(endpoints) != 1 || !strings.HasPrefix(endpoints[0], "https://127.0.0.1:") {
		t.Fatalf("embedded etcd endpoints %v, want one https://127.0.0.1:<port>", endpoints)
	}

	// A refused client waits out its dial timeout; one let in gets longer on a busy host.
	connect := func(sec cluster.Security, dial time.Duration) (*cluster.Store, error) {
		c := cluster.ConnectConfig{Endpoints: endpoints, DialTimeout: dial, Options: cluster.Options{Root: cluster.DefaultRoot}}
		if err := sec.Apply(&c, func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		return cluster.Connect(testutil.Context(t, 20*time.Second), c)
	}
	s, err := connect(p.Security(), 10*time.Second)
	if err != nil {
		t.Fatalf("a client with a certificate of the client CA: %v", err)
	}
	defer s.Close()
	if id, _, err := s.Leader(testutil.Context(t, 10*time.Second)); err != nil || id != n.ID() {
		t.Fatalf("leader read over TLS = %q, %v; want nimbus %s", id, err, n.ID())
	}
	if s, err := connect(cluster.Security{CACert: p.CA}, 2*time.Second); err == nil {
		s.Close()
		t.Fatal("a client without a certificate connected")
	} else if !errors.Is(err, cluster.ErrUnreachable) || !strings.Contains(err.Error(), "--etcd-cert") {
		t.Fatalf("a client without a certificate: %v; want a hint to give --etcd-cert", err)
	}
}

// TestEtcdTLSFlagsFitTheEtcd: the server flags are for the embedded etcd, the client TLS
// flags for an etcd that serves TLS; a mix that cannot work is refused at start.
func TestEtcdTLSFlagsFitTheEtcd(t *testing.T) {
	p := etcdtest.NewPKI(t)
	cases := []struct {
		name      string
		endpoints []string
		client    cluster.Security
		server    cluster.ServerTLS
		want      string // "" for no error
	}{
		{name: "plain embedded"},
		{name: "TLS embedded", server: p.ServerTLS()},
		{name: "TLS embedded with its own client certificate", server: p.ServerTLS(), client: p.Security()},
		{name: "external with TLS", endpoints: []string{"https://10.0.0.1:2379"}, client: p.Security()},
		{name: "server certificate with an external etcd", endpoints: []string{"https://10.0.0.1:2379"}, server: p.ServerTLS(),
			want: "are for the embedded etcd, which --etcd-endpoints turns off"},
		{name: "client TLS with a plain embedded etcd", client: cluster.Security{CACert: p.CA},
			want: "give its --etcd-endpoints, or make the embedded etcd serve TLS"},
		{name: "half a server TLS", server: cluster.ServerTLS{Cert: p.ServerCert},
			want: "--etcd-server-cert, --etcd-server-key and --etcd-client-ca go together"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{DataDir: t.TempDir(), EtcdEndpoints: c.endpoints, EtcdSecurity: c.client, EtcdServerTLS: c.server}
			_, err := cfg.withDefaults()
			if c.want == "" && err != nil {
				t.Fatal(err)
			}
			if c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}
