package transport

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
)

// DefaultHelloTimeout is how long a peer has, once it opened a transfer stream, to send
// its hello; a peer that says nothing is dropped instead of holding a stream and a
// goroutine for as long as it keeps the connection.
const DefaultHelloTimeout = 10 * time.Second

// maxConcurrentStreams bounds the streams of one connection to a worker: a peer worker
// opens two (data and control) and a supervisor a few WorkerAdmin calls.
const maxConcurrentStreams = 64

// connectionTimeout bounds the start of a connection (the HTTP/2 preface and settings):
// a client that connects and sends nothing is closed.
const connectionTimeout = 10 * time.Second

// limitOptions are the limits of a worker's gRPC server (WorkerTransport and
// WorkerAdmin), beside the keepalive policy of ServerOptions.
func limitOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxConcurrentStreams(maxConcurrentStreams),
		grpc.ConnectionTimeout(connectionTimeout),
	}
}

// SetHelloTimeout sets how long a peer has to send its hello (DefaultHelloTimeout when
// d is 0 or below).
func (s *Server) SetHelloTimeout(d time.Duration) { s.helloTimeout.Store(int64(d)) }

// recvHello receives a stream's first frame within the hello timeout. A blocked Recv
// cannot be interrupted, so it runs in a goroutine; when the time is up, the handler
// returns, which cancels the stream and ends that Recv.
func (s *Server) recvHello(stream interface {
	Recv() (*sparsev1.Frame, error)
}, from string) (*sparsev1.Frame, error) {
	d := time.Duration(s.helloTimeout.Load())
	if d <= 0 {
		d = DefaultHelloTimeout
	}
	type result struct {
		f   *sparsev1.Frame
		err error
	}
	got := make(chan result, 1)
	go func() {
		f, err := stream.Recv()
		got <- result{f, err}
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case r := <-got:
		return r.f, r.err
	case <-timer.C:
		s.Stats.Refused.Add(1)
		s.log.Error("dropped a transfer stream: no hello", "peer", from, "timeout", d)
		return nil, status.Errorf(codes.DeadlineExceeded, "no hello within %s", d)
	}
}
