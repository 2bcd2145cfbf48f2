package logview

import (
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sparsestream/sparse/internal/tlsconf"
)

// TestClientTransport: the transport reaches a supervisor's log server over plain HTTP
// without TLS, and over HTTPS (HTTP/1.1) with the cluster's TLS, where it refuses a
// server that is not a supervisor of the cluster.
func TestClientTransport(t *testing.T) {
	dir := t.TempDir()
	ca, caKey, err := tlsconf.CreateCA(tlsconf.CAOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	cert := func(role tlsconf.Role) tlsconf.Files {
		o := tlsconf.CertOptions{Dir: dir, CA: ca, CAKey: caKey, Role: role}
		if role == tlsconf.RoleServer {
			o.Hosts = []string{"127.0.0.1"}
		}
		c, k, err := tlsconf.CreateCert(o)
		if err != nil {
			t.Fatal(err)
		}
		return tlsconf.Files{CA: ca, Cert: c, Key: k}
	}
	load := func(f tlsconf.Files) *tlsconf.Store {
		st, err := tlsconf.Load(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	client := load(cert(tlsconf.RoleClient))
	servers := map[tlsconf.Role]*tls.Config{}
	for _, r := range []tlsconf.Role{tlsconf.RoleSupervisor, tlsconf.RoleServer} {
		servers[r] = load(cert(r)).ServerConfig(false, tlsconf.RoleClient)
	}
	tests := []struct {
		name    string
		server  tlsconf.Role // "" for plain HTTP
		st      *tlsconf.Store
		wantErr string
	}{
		{name: "plain HTTP", st: nil},
		{name: "HTTPS to a supervisor", server: tlsconf.RoleSupervisor, st: client},
		{name: "HTTPS to a nimbus", server: tlsconf.RoleServer, st: client, wantErr: "supervisor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(r.Proto))
			}))
			srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the point
			if tt.server != "" {
				srv.TLS = servers[tt.server]
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			tr := ClientTransport(tt.st)
			defer tr.CloseIdleConnections()
			if tr.Proxy != nil {
				t.Error("the transport uses a proxy")
			}
			resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("GET: error %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			defer resp.Body.Close()
			if resp.Proto != "HTTP/1.1" {
				t.Errorf("protocol %s, want HTTP/1.1", resp.Proto)
			}
			if (resp.TLS != nil) != (tt.server != "") {
				t.Errorf("TLS %v, want %v", resp.TLS != nil, tt.server != "")
			}
		})
	}
}
