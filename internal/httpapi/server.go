// Package httpapi serves nimbusd's HTTP listener (--http): the REST API, and whatever
// other packages add with Handle. It owns the listener, TLS, the rule that plaintext
// stays on loopback, JSON answers and errors, and the graceful stop; who may call what
// is the handlers' business (nimbus checks tokens and roles as on its gRPC API).
package httpapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/internal/tlsconf"
)

// Options configure a Server.
type Options struct {
	// Addr is host:port to listen on (port 0 picks a free one).
	Addr string
	// TLS, when set, serves HTTPS with its certificate; clients may present a
	// certificate of one of AcceptRoles, or none (callers are identified by tokens).
	TLS         *tlsconf.Store
	AcceptRoles []tlsconf.Role
	// ACL says whether the handlers require tokens: off loopback, plaintext or no
	// tokens is refused unless Insecure (tlsconf.CheckAPIListen).
	ACL, Insecure bool
	// What names the listener in errors and warnings (e.g. "nimbusd --http").
	What   string
	Logger hclog.Logger
}

// Server is one HTTP listener and its routes.
type Server struct {
	o   Options
	mux *http.ServeMux
	lis net.Listener
	srv *http.Server
	log hclog.Logger
}

// Listen checks the address's security and listens on it; Serve then serves.
func Listen(ctx context.Context, o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.What == "" {
		o.What = "http"
	}
	warn, err := tlsconf.CheckAPIListen(o.What, o.Addr, o.TLS != nil, o.ACL, o.Insecure)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s (choose another address, or free the port): %w", o.Addr, err)
	}
	s := &Server{o: o, mux: http.NewServeMux(), lis: lis, log: o.Logger}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s; see docs/api.md for the endpoints", r.Method, r.URL.Path))
	})
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: o.Logger.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})}
	if o.TLS != nil {
		base := o.TLS.ServerConfig(false, o.AcceptRoles...)
		s.srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"},
			GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
				c, err := base.GetConfigForClient(hello)
				if c != nil {
					c.NextProtos = []string{"h2", "http/1.1"}
				}
				return c, err
			}}
		s.lis = tls.NewListener(lis, s.srv.TLSConfig)
	}
	if warn {
		tlsconf.WarnInsecure(ctx, s.log, o.What+" "+o.Addr)
	}
	return s, nil
}

// Handle adds a route, with a Go ServeMux pattern ("GET /api/v1/things/{id}").
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// URL is the base URL of the server (https when TLS is on).
func (s *Server) URL() string {
	if s.o.TLS != nil {
		return "https://" + s.Addr()
	}
	return "http://" + s.Addr()
}

// Serve serves until ctx ends, then stops, letting requests in flight finish for a few
// seconds.
func (s *Server) Serve(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.srv.Serve(s.lis) }()
	select {
	case err := <-done:
		return fmt.Errorf("%s stopped serving: %w", s.o.What, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		_ = s.srv.Close()
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Error is the body of every error answer: Storm's UI API has the same two fields.
type Error struct {
	// Error is the status text ("Not Found"); ErrorMessage says what went wrong and
	// what to do.
	Error        string `json:"error"`
	ErrorMessage string `json:"errorMessage"`
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// WriteError answers with an Error.
func WriteError(w http.ResponseWriter, code int, msg string) {
	WriteJSON(w, code, Error{Error: http.StatusText(code), ErrorMessage: msg})
}
