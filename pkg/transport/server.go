package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/internal/tlsconf"
	"github.com/sparsestream/sparse/internal/wire"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// Server receives peers' streams and delivers their batches to the local runtime.
type Server struct {
	sparsev1.UnimplementedWorkerTransportServer
	id    Identity
	rt    *executor.Runtime
	log   hclog.Logger
	Stats Stats
	// helloTimeout is SetHelloTimeout's, in nanoseconds.
	helloTimeout atomic.Int64
}

// NewServer returns the WorkerTransport service of a worker.
func NewServer(id Identity, rt *executor.Runtime, log hclog.Logger) *Server {
	return &Server{id: id, rt: rt, log: logger(log).Named("transport")}
}

// Register adds the service to a gRPC server.
func (s *Server) Register(g *grpc.Server) { sparsev1.RegisterWorkerTransportServer(g, s) }

// ServerOptions are the gRPC server options a worker needs for this service; the
// keepalive policy admits the senders' pings.
func ServerOptions() []grpc.ServerOption {
	return append(limitOptions(),
		grpc.MaxRecvMsgSize(maxRecvMsg),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: keepaliveTime, Timeout: keepaliveTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: keepaliveTime / 2, PermitWithoutStream: true}),
		experimental.BufferPool(framePool),
		// Its Unmarshal gathers frames without zeroing; other messages pass through.
		grpc.ForceServerCodecV2(newFrameCodec()),
	)
}

// Refused is all a peer is told when its handshake is refused; the reason goes to this
// worker's log.
const Refused = "refused"

// Transfer serves one stream from a peer. A bad handshake is answered with Refused, the
// reason logged here, and the stream closed; a malformed or misrouted batch closes the stream with an error
// naming the peer. Either way only this stream ends: the worker keeps running, and the
// sender's lost tuples time out and are replayed.
func (s *Server) Transfer(stream grpc.BidiStreamingServer[sparsev1.Frame, sparsev1.FrameReply]) error {
	ctx := stream.Context()
	from := "unknown address"
	if p, ok := peer.FromContext(ctx); ok {
		from = p.Addr.String()
	}
	first, err := s.recvHello(stream, from)
	if err != nil {
		return err
	}
	hello := first.GetHello()
	var channel sparsev1.Channel
	refusal := sparsev1.HelloRefusal_HELLO_REFUSAL_BAD_HELLO
	why := checkPeerCert(ctx)
	if why == "" {
		channel, refusal, why = s.check(hello)
	}
	if refusal != sparsev1.HelloRefusal_HELLO_REFUSAL_UNSPECIFIED {
		s.Stats.Refused.Add(1)
		who := from
		if hello != nil && hello.GetSenderWorkerId() != "" {
			who = fmt.Sprintf("worker %s at %s", hello.GetSenderWorkerId(), from)
		}
		// The reason stays here: a peer that is not one of ours learns nothing about
		// this worker's topology, id or version.
		s.log.Error("refused a transfer stream", "peer", who, "reason", why, "refusal", refusal.String())
		_ = stream.Send(&sparsev1.FrameReply{Body: &sparsev1.FrameReply_Hello{Hello: &sparsev1.HelloReply{Accepted: false, Error: Refused}}})
		return status.Error(codes.PermissionDenied, Refused)
	}
	if err := stream.Send(&sparsev1.FrameReply{Body: &sparsev1.FrameReply_Hello{Hello: &sparsev1.HelloReply{
		Accepted: true, ReceiverWorkerId: s.id.WorkerID, AssignmentVersion: s.id.Version, ProtocolVersion: wire.ProtocolVersion,
	}}}); err != nil {
		return err
	}
	who := fmt.Sprintf("worker %s at %s", hello.GetSenderWorkerId(), from)
	log := s.log.With("peer", who, "channel", channel.String())
	log.Debug("accepted a transfer stream")
	// One decoder per stream: it keeps the stream's sources and recent strings.
	dec := wire.NewDecoder(s.rt.Source)
	// The frame's batch stays in the buffer it was read into until it is decoded.
	var f inFrame
	defer f.release()
	for {
		err := stream.RecvMsg(&f)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		body := f.body()
		if body == nil {
			s.Stats.Refused.Add(1)
			msg := "a frame after the hello carries no batch; only the first frame may be a hello"
			log.Error("refused a frame", "error", msg)
			return status.Error(codes.InvalidArgument, msg)
		}
		s.Stats.FramesRecv.Add(1)
		s.Stats.BytesRecv.Add(int64(len(body)))
		if channel == sparsev1.Channel_CHANNEL_DATA {
			err = s.receiveData(stream, dec, body)
		} else {
			err = s.receiveControl(stream, dec, body)
		}
		f.release()
		if err != nil {
			if errors.Is(err, executor.ErrStopped) || ctx.Err() != nil {
				return status.Error(codes.Unavailable, "the worker is shutting down")
			}
			s.Stats.Refused.Add(1)
			log.Error("refused a batch; closing the stream", "error", err)
			return status.Error(codes.InvalidArgument, err.Error())
		}
	}
}

// checkPeerCert: over TLS, only a worker of this worker's cluster may open a transfer
// stream (the TLS handshake checked the CA and the cluster; the worker's gRPC server also
// admits its supervisor, for WorkerAdmin). Without TLS there is nothing to check.
func checkPeerCert(ctx context.Context) string {
	if !tlsconf.PeerIsTLS(ctx) {
		return ""
	}
	id, ok := tlsconf.PeerIdentity(ctx)
	switch {
	case !ok:
		return "the peer presented no worker certificate"
	case id.Role != tlsconf.RoleWorker:
		return fmt.Sprintf("the peer's certificate %s is a %s's, not a worker's", id, id.Role)
	}
	return ""
}

// check validates a handshake. It returns the stream's channel, or a refusal and why.
func (s *Server) check(h *sparsev1.Hello) (sparsev1.Channel, sparsev1.HelloRefusal, string) {
	switch {
	case h == nil:
		return 0, sparsev1.HelloRefusal_HELLO_REFUSAL_BAD_HELLO, "the first frame of a transfer stream must be a hello"
	case h.GetProtocolVersion() != wire.ProtocolVersion:
		return 0, sparsev1.HelloRefusal_HELLO_REFUSAL_PROTOCOL_VERSION,
			fmt.Sprintf("protocol version %d is not spoken here (this worker speaks %d); run the same sparse version on every worker", h.GetProtocolVersion(), wire.ProtocolVersion)
	case h.GetTopologyId() != s.id.TopologyID:
		return 0, sparsev1.HelloRefusal_HELLO_REFUSAL_UNKNOWN_TOPOLOGY,
			fmt.Sprintf("this worker runs topology %q, not %q", s.id.TopologyID, h.GetTopologyId())
	case h.GetReceiverWorkerId() != "" && h.GetReceiverWorkerId() != s.id.WorkerID:
		return 0, sparsev1.HelloRefusal_HELLO_REFUSAL_WRONG_WORKER,
			fmt.Sprintf("this is worker %q, not %q; the sender's assignment is out of date", s.id.WorkerID, h.GetReceiverWorkerId())
	case h.GetAssignmentVersion() != s.id.Version:
		return 0, sparsev1.HelloRefusal_HELLO_REFUSAL_ASSIGNMENT_VERSION,
			fmt.Sprintf("the sender runs assignment version %d, this worker runs %d; the stale side must pick up the current assignment", h.GetAssignmentVersion(), s.id.Version)
	case h.GetChannel() != sparsev1.Channel_CHANNEL_DATA && h.GetChannel() != sparsev1.Channel_CHANNEL_CONTROL:
		return 0, sparsev1.HelloRefusal_HELLO_REFUSAL_BAD_HELLO, fmt.Sprintf("unknown channel %v; use data or control", h.GetChannel())
	case h.GetSenderWorkerId() == "":
		return 0, sparsev1.HelloRefusal_HELLO_REFUSAL_BAD_HELLO, "the hello does not say which worker sends"
	}
	return h.GetChannel(), sparsev1.HelloRefusal_HELLO_REFUSAL_UNSPECIFIED, ""
}

// receiveData decodes a frame of the data channel and delivers its tuples to the runtime
// in batches of the runtime's batch size, so that its queues, bounded in batches, hold
// what topology.executor.receive.buffer.size says and not a frame's worth per batch.
func (s *Server) receiveData(stream grpc.ServerStream, dec *wire.Decoder, body []byte) error {
	ctx, most := stream.Context(), s.rt.BatchSize()
	b := s.rt.NewBatch()
	var wrong, failed error
	n := 0
	err := dec.Decode(body,
		func(dest int32, t *tuple.Tuple) {
			if failed != nil {
				return
			}
			b.Items = append(b.Items, executor.Item{Task: dest, Tuple: t})
			n++
			if len(b.Items) >= most {
				failed = s.rt.Deliver(ctx, b)
				b = s.rt.NewBatch()
			}
		},
		func(wire.Control) {
			if wrong == nil {
				wrong = errors.New("a control message arrived on the data channel")
			}
		})
	if err == nil {
		err = wrong
	}
	if err != nil {
		s.rt.Release(b)
		return fmt.Errorf("malformed batch: %w", err)
	}
	s.Stats.TuplesRecv.Add(int64(n))
	if failed != nil {
		s.rt.Release(b)
		return failed
	}
	return s.rt.Deliver(ctx, b)
}

// receiveControl decodes a frame of the control channel and delivers its acker
// messages to the runtime, in batches as receiveData does.
func (s *Server) receiveControl(stream grpc.ServerStream, dec *wire.Decoder, body []byte) error {
	ctx, most := stream.Context(), s.rt.BatchSize()
	cb := s.rt.NewControlBatch()
	var wrong, failed error
	n := 0
	err := dec.Decode(body,
		func(int32, *tuple.Tuple) {
			if wrong == nil {
				wrong = errors.New("a tuple arrived on the control channel")
			}
		},
		func(c wire.Control) {
			if failed != nil {
				return
			}
			cb.Items = append(cb.Items, executor.Control(c)) // the same fields: see executor.Control
			n++
			if len(cb.Items) >= most {
				failed = s.rt.DeliverControl(ctx, cb)
				cb = s.rt.NewControlBatch()
			}
		})
	if err == nil {
		err = wrong
	}
	if err != nil {
		s.rt.ReleaseControl(cb)
		return fmt.Errorf("malformed control batch: %w", err)
	}
	s.Stats.ControlsRecv.Add(int64(n))
	if failed != nil {
		s.rt.ReleaseControl(cb)
		return failed
	}
	return s.rt.DeliverControl(ctx, cb)
}
