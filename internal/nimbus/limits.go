package nimbus

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/pkg/topology"
)

// APIMaxConcurrentStreams bounds the calls one client connection may have open on the
// nimbus API at once; a flood of streams on one connection waits instead of growing
// the server's goroutines.
const APIMaxConcurrentStreams = 256

// apiServerOptions are the nimbus API's limits: concurrent streams per connection,
// keepalives both ways (a client may ping at most every 5s; the server pings an idle
// connection after 30s and drops it if no answer comes in 10s), and the recovery of a
// panic in a call. Other options (TLS, authentication) are added beside these.
func (s *Server) apiServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxConcurrentStreams(APIMaxConcurrentStreams),
		grpc.ConnectionTimeout(10 * time.Second), // a client that connects and says nothing
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.ChainUnaryInterceptor(s.recoverUnary),
		grpc.ChainStreamInterceptor(s.recoverStream),
	}
}

// recoverUnary turns a panic in a call into an Internal error, logged with its stack,
// instead of a crash of the whole nimbus.
func (s *Server) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (_ any, err error) {
	defer s.recoverCall(info.FullMethod, &err)
	return handler(ctx, req)
}

// recoverStream is recoverUnary for streaming calls.
func (s *Server) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer s.recoverCall(info.FullMethod, &err)
	return handler(srv, ss)
}

func (s *Server) recoverCall(method string, err *error) {
	if p := recover(); p != nil {
		s.metrics.Panics.Inc()
		s.log.Error("an API call panicked", "method", method, "panic", p, "stack", string(debug.Stack()))
		*err = status.Errorf(codes.Internal, "nimbus %s failed on this call (a bug, logged on the nimbus): %v", s.id, p)
	}
}

// safeSummary is v.summary(r), or on a panic a summary that says so, so that one
// topology cannot break the listing of the others.
func (s *Server) safeSummary(v *clusterView, r *cluster.TopologyRecord) (sum *sparsev1.TopologySummary) {
	defer func() {
		if p := recover(); p != nil {
			s.metrics.Panics.Inc()
			s.log.Error("summarizing a topology panicked", "topology", r.ID, "panic", p, "stack", string(debug.Stack()))
			sum = &sparsev1.TopologySummary{Id: r.ID, Name: r.Name, Status: string(r.Status),
				Scheduling: fmt.Sprintf("cannot be shown: summarizing it panicked (%v)", p)}
		}
	}()
	return v.summary(r)
}

// waitSecs is the wait of a kill or rebalance (what) in seconds: wait_secs when given
// (at least 0), else the topology's message timeout. A wait_secs above --max-wait is
// refused, so that no call holds the kill or rebalance of a topology for days; a message
// timeout above it is cut to it.
func (s *Server) waitSecs(what string, requested int32, conf topology.Config) (int, error) {
	limit := int(s.cfg.MaxWait / time.Second)
	if requested < 0 {
		return min(messageTimeout(conf), limit), nil
	}
	if int(requested) > limit {
		return 0, status.Errorf(codes.InvalidArgument, "the %s wait is %ds; this nimbus waits %ds at most (nimbusd --max-wait %s); give a shorter --wait",
			what, requested, limit, s.cfg.MaxWait)
	}
	return int(requested), nil
}

// Keepalives of an artifact fetch from another nimbus: a peer that stops answering
// pings is given up within fetchKeepaliveTime+fetchKeepaliveTimeout (the API admits a
// ping every 5s).
const (
	fetchKeepaliveTime    = 10 * time.Second
	fetchKeepaliveTimeout = 5 * time.Second
)

// fetchDialOptions are the limits of a replication fetch's connection, beside its
// credentials.
func fetchDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: fetchKeepaliveTime, Timeout: fetchKeepaliveTimeout}),
	}
}

// errFetchStalled cancels a fetch that received nothing for UploadProgressTimeout.
var errFetchStalled = errors.New("stalled")

// fetchWatch cancels a fetch that makes no progress, so that one stalled peer cannot
// hold the replication pass, and with it a standby's readiness to lead, forever.
type fetchWatch struct {
	ctx     context.Context
	timer   *time.Timer
	timeout time.Duration
	cancel  context.CancelCauseFunc
}

// fetchProgress returns a context that ends UploadProgressTimeout after the last
// progress (made) unless ctx ends first.
func (s *Server) fetchProgress(ctx context.Context) (context.Context, *fetchWatch) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &fetchWatch{ctx: ctx, timeout: s.cfg.UploadProgressTimeout, cancel: cancel}
	w.timer = time.AfterFunc(w.timeout, func() { cancel(errFetchStalled) })
	return ctx, w
}

func (w *fetchWatch) made() { w.timer.Reset(w.timeout) }

func (w *fetchWatch) stop() {
	w.timer.Stop()
	w.cancel(nil)
}

// explain names the progress timeout when it is what ended the fetch.
func (w *fetchWatch) explain(err error) error {
	if errors.Is(context.Cause(w.ctx), errFetchStalled) {
		return fmt.Errorf("the fetch received nothing for %s and was dropped (nimbusd --upload-progress-timeout): %w", w.timeout, err)
	}
	return err
}
