package httpapi

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/tlsconf"
	"github.com/sparsestream/sparse/internal/tlsconf/tlstest"
)

func TestListenRefusesPlaintextOffLoopback(t *testing.T) {
	p := tlstest.New(t, "c1")
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"plaintext", Options{Addr: "0.0.0.0:0", ACL: true}, "TLS is off"},
		{"no tokens", Options{Addr: "0.0.0.0:0", TLS: p.Store(tlsconf.RoleServer, "n")}, "API tokens are off"},
		{"insecure", Options{Addr: "0.0.0.0:0", Insecure: true}, ""},
		{"loopback", Options{Addr: "127.0.0.1:0"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Listen(t.Context(), tc.o)
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Listen = %v, want %q", err, tc.want)
			}
			if s != nil {
				s.lis.Close()
			}
		})
	}
}

// TestServeTLS: with TLS, a client that trusts the CA gets JSON over HTTPS (HTTP/2 or
// 1.1); plaintext gets nothing; an unknown path gets a JSON 404.
func TestServeTLS(t *testing.T) {
	p := tlstest.New(t, "c1")
	s, err := Listen(t.Context(), Options{Addr: "127.0.0.1:0", TLS: p.Store(tlsconf.RoleServer, "n"), AcceptRoles: []tlsconf.Role{tlsconf.RoleClient}})
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("GET /api/v1/ping", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { WriteJSON(w, 200, map[string]string{"pong": "yes"}) }))
	go func() { _ = s.Serve(t.Context()) }()
	for _, h2 := range []bool{true, false} {
		cfg := p.CAOnly().ClientConfig(tlsconf.RoleServer, false)
		tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: h2}
		if !h2 {
			cfg.NextProtos = []string{"http/1.1"}
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		for path, want := range map[string]string{"/api/v1/ping": `"pong": "yes"`, "/nope": `"error": "Not Found"`} {
			resp, err := c.Get(s.URL() + path)
			if err != nil {
				t.Fatalf("GET %s (h2 %v): %v", path, h2, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(b), want) {
				t.Errorf("GET %s (h2 %v) = %s, want %s", path, h2, b, want)
			}
		}
	}
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + s.Addr() + "/api/v1/ping"); err == nil && resp.StatusCode == 200 {
		t.Error("plaintext to the TLS port was answered")
	}
}
