package metrics

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a registry holding the Go runtime, process and build info
// collectors; add sparse's collectors to it.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
	)
	return reg
}

// Handler serves reg in the Prometheus exposition format on /metrics and answers
// /healthz with 200 while the process serves HTTP.
func Handler(reg *prometheus.Registry, log hclog.Logger) http.Handler {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      log.Named("metrics").StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Warn}),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg, // counts its own errors as promhttp_metric_handler_errors_total
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// shutdownGrace is how long in-flight scrapes may finish once the context ends.
const shutdownGrace = 5 * time.Second

// Serve listens on addr (host:port; port 0 picks a free one) and serves Handler(reg)
// until ctx ends, then shuts the server down gracefully. It returns once the listener
// is bound, with its address; serving goes on in a goroutine that ends with ctx.
func Serve(ctx context.Context, addr string, reg *prometheus.Registry, log hclog.Logger) (net.Addr, error) {
	return ServeTLS(ctx, addr, reg, log, nil)
}

// ServeTLS is Serve over HTTPS with cfg (nil: plain HTTP). The server holds nothing but
// /metrics and /healthz.
func ServeTLS(ctx context.Context, addr string, reg *prometheus.Registry, log hclog.Logger, cfg *tls.Config) (net.Addr, error) {
	if reg == nil {
		return nil, errors.New("metrics: no registry to serve; create one with metrics.NewRegistry")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("not serving metrics on %s: %w", addr, err)
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot serve metrics on %s (choose another --metrics-addr, or free the port): %w", addr, err)
	}
	srv := &http.Server{
		Handler:           Handler(reg, log),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.Named("metrics").StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Debug}),
	}
	bound := lis.Addr()
	if cfg != nil {
		lis = tls.NewListener(lis, cfg)
	}
	log.Info("serving metrics", "address", bound.String(), "tls", cfg != nil)
	go func() {
		served := make(chan error, 1)
		go func() { served <- srv.Serve(lis) }()
		select {
		case err := <-served:
			// Serve failed on its own (the listener broke): nothing more to shut down.
			log.Error("metrics server stopped", "address", bound.String(), "error", err)
			return
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			log.Warn("metrics server did not shut down in time; closing its connections", "address", bound.String(), "error", err)
			_ = srv.Close()
		}
		<-served // after Shutdown, Serve returns ErrServerClosed
		log.Debug("metrics server stopped", "address", bound.String())
	}()
	return bound, nil
}
