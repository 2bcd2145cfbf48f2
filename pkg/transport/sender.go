package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/keepalive"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/internal/retry"
	"github.com/sparsestream/sparse/internal/wire"
)

// Backoff bounds for reconnecting to a peer: short, because a peer that restarts is
// back within a second or two and every moment without it stalls the topology.
const (
	minBackoff = 20 * time.Millisecond
	maxBackoff = time.Second
)

// A frame smaller than maxFrame/lingerBelow, on a stream that sent a frame less than
// lingerFor ago, waits up to lingerFor for more batches (see pump), unless a producer
// marked one of them idle. 100µs adds little to a delivery latency of a few hundred µs,
// and at 10% of full load (330k tuples/s in 32-byte tuples) it turns frames of about 5
// tuples into frames of about 60.
const (
	lingerFor   = 100 * time.Microsecond
	lingerBelow = 8
)

// Sender drains one peer's Outbound over a data stream and a control stream, reconnecting
// with backoff when the peer goes away. While it is disconnected it stops draining, so the
// Outbound fills and emitters wait (backpressure) rather than tuples being thrown away;
// only what was in flight on a broken stream is lost, and replayed after its timeout.
type Sender struct {
	id       Identity
	peerID   string
	peerAddr string
	ob       *executor.Outbound
	log      hclog.Logger
	maxFrame int
	linger   time.Duration // see pump
	creds    credentials.TransportCredentials
	Stats    Stats

	readyOnce [2]sync.Once
	readyLeft atomic.Int32 // streams not yet accepted; the last one closes ready
	ready     chan struct{}
}

// NewSender prepares a sender to the peer worker peerID serving at peerAddr.
func NewSender(id Identity, peerID, peerAddr string, ob *executor.Outbound, log hclog.Logger) *Sender {
	s := &Sender{id: id, peerID: peerID, peerAddr: peerAddr, ob: ob, maxFrame: DefaultMaxFrame, linger: lingerFor,
		log: logger(log).Named("transport").With("peer", peerID, "address", peerAddr), ready: make(chan struct{})}
	s.readyLeft.Store(2)
	return s
}

// UseCredentials makes Run dial the peer over creds (TLS) instead of plaintext; call it
// before Run.
func (s *Sender) UseCredentials(creds credentials.TransportCredentials) { s.creds = creds }

// streamReady counts one stream accepted (once per channel) and closes ready with the
// second.
func (s *Sender) streamReady() {
	if s.readyLeft.Add(-1) == 0 {
		close(s.ready)
	}
}

// Peer is the id of the worker this sender sends to.
func (s *Sender) Peer() string { return s.peerID }

// Ready is closed once both streams to the peer have been accepted.
func (s *Sender) Ready() <-chan struct{} { return s.ready }

// DialOptions are the gRPC client options for worker-to-worker connections. gRPC's own
// reconnect backoff (1s growing to 2 minutes by default) is shortened to ours: a peer that
// restarts must be found again within a second, not minutes. Keepalives notice a peer
// that vanished without closing its connection.
func DialOptions() []grpc.DialOption { return DialOptionsWith(nil) }

// DialOptionsWith are DialOptions over creds (nil: plaintext).
func DialOptionsWith(creds credentials.TransportCredentials) []grpc.DialOption {
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	return []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvMsg), grpc.MaxCallSendMsgSize(maxRecvMsg), sendCodec),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: minBackoff, Multiplier: 2, Jitter: 0.2, MaxDelay: maxBackoff},
			MinConnectTimeout: 2 * time.Second,
		}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: keepaliveTime, Timeout: keepaliveTimeout, PermitWithoutStream: true}),
		experimental.WithBufferPool(framePool),
	}
}

// Run sends until ctx ends. It returns an error only when the peer address is unusable.
func (s *Sender) Run(ctx context.Context) error {
	conn, err := grpc.NewClient(s.peerAddr, DialOptionsWith(s.creds)...)
	if err != nil {
		return fmt.Errorf("peer worker %s: address %q is unusable: %w", s.peerID, s.peerAddr, err)
	}
	defer conn.Close()
	var wg sync.WaitGroup
	for _, ch := range []sparsev1.Channel{sparsev1.Channel_CHANNEL_DATA, sparsev1.Channel_CHANNEL_CONTROL} {
		wg.Go(func() { s.loop(ctx, conn, ch) })
	}
	wg.Wait()
	return nil
}

// loop keeps one stream open and pumps it, reconnecting with exponential backoff.
func (s *Sender) loop(ctx context.Context, conn *grpc.ClientConn, ch sparsev1.Channel) {
	log := s.log.With("channel", ch.String())
	// Jitter keeps the workers of a restarted peer from dialling in lockstep.
	pause := retry.New(minBackoff, maxBackoff)
	failures := 0
	for ctx.Err() == nil {
		worked, err := s.session(ctx, conn, ch)
		if ctx.Err() != nil {
			return
		}
		if worked {
			// A stream that had been working broke: reconnect at once, and say so.
			log.Warn("stream to peer broke; reconnecting", "error", err)
			pause.Reset()
			failures = 0
		}
		failures++
		s.Stats.Reconnects.Add(1)
		d := pause.Next()
		// The first failures of a run are expected while peers start; say so quietly,
		// and loudly once it persists.
		if failures > 20 {
			log.Warn("cannot send to peer; retrying", "error", err, "backoff", d)
		} else {
			log.Debug("cannot send to peer; retrying", "error", err, "backoff", d)
		}
		if retry.Sleep(ctx, d) != nil {
			return
		}
	}
}

// session opens a stream, shakes hands, and pumps batches until the stream breaks. worked
// says whether the handshake succeeded.
func (s *Sender) session(ctx context.Context, conn *grpc.ClientConn, ch sparsev1.Channel) (worked bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := sparsev1.NewWorkerTransportClient(conn).Transfer(sctx)
	if err != nil {
		return false, err
	}
	if err := stream.Send(&sparsev1.Frame{Body: &sparsev1.Frame_Hello{Hello: &sparsev1.Hello{
		TopologyId: s.id.TopologyID, AssignmentVersion: s.id.Version, SenderWorkerId: s.id.WorkerID,
		SenderAddress: s.id.Address, Channel: ch, ProtocolVersion: wire.ProtocolVersion, ReceiverWorkerId: s.peerID,
	}}}); err != nil {
		return false, err
	}
	reply, err := stream.Recv()
	if err != nil {
		return false, err
	}
	h := reply.GetHello()
	if h == nil {
		return false, errors.New("the peer answered the hello with something else")
	}
	if !h.GetAccepted() {
		s.Stats.Refused.Add(1)
		return false, fmt.Errorf("the peer refused the stream (%s); its log says why", h.GetError())
	}
	s.readyOnce[ch-sparsev1.Channel_CHANNEL_DATA].Do(s.streamReady)
	// Read replies until the stream ends, so that a peer that dies or closes the stream
	// is noticed even while there is nothing to send.
	broken := make(chan error, 1)
	go func() {
		for {
			if _, err := stream.Recv(); err != nil {
				broken <- err
				cancel()
				return
			}
		}
	}()
	var perr error
	if ch == sparsev1.Channel_CHANNEL_DATA {
		perr = s.pumpData(sctx, stream)
	} else {
		perr = s.pumpControl(sctx, stream)
	}
	cancel()
	rerr := <-broken
	if perr == nil {
		perr = rerr
	}
	return true, perr
}

type frameSender interface {
	SendMsg(m any) error
}

// frame is the frame pump is filling.
type frame struct {
	s      *Sender
	stream frameSender
	sent   *atomic.Int64
	enc    wire.Encoder
	buf    *[]byte
	n      int   // entries encoded into it
	err    error // a send failed: the stream is broken
}

func (f *frame) open() {
	f.buf = framePool.Get(f.s.maxFrame + f.s.maxFrame/4) // room for the entry that fills it
	f.enc.ResetTo(*f.buf)
	f.n = 0
}

func (f *frame) full() bool { return f.enc.Size() >= f.s.maxFrame }

// room is called before each entry of a batch: a frame the batch filled is sent and a
// new one opened, so that a batch of large tuples is spread over frames rather than
// sent as one frame of up to a batch times tuple.MaxBytes, which the receiver refuses.
// It returns false once a send has failed.
func (f *frame) room() bool {
	if f.err == nil && (f.n == 0 || !f.full()) {
		return true // the common case, inlined
	}
	return f.next()
}

// next sends the full frame and opens another; false if the send failed (or had).
func (f *frame) next() bool {
	if f.err != nil {
		return false
	}
	if f.err = f.send(); f.err != nil {
		return false
	}
	f.open()
	return true
}

// add counts an entry encoded.
func (f *frame) add() { f.n++ }

// discard gives back the buffer of a frame that holds no entry, unsent.
func (f *frame) discard() {
	f.enc.ResetTo(nil)
	framePool.Put(f.buf)
	f.buf = nil
}

func (f *frame) send() error {
	*f.buf = f.enc.Bytes() // the same array, unless an entry outgrew it
	size := len(*f.buf)
	// gRPC owns buf from here on and puts it back in framePool once written.
	err := f.stream.SendMsg(&batchFrame{buf: f.buf, pool: framePool})
	f.enc.ResetTo(nil) // enc must not keep pointing into the buffer gRPC now owns
	f.buf = nil
	if err != nil {
		f.s.Stats.Dropped.Add(int64(f.n))
		return err
	}
	f.s.Stats.FramesSent.Add(1)
	f.sent.Add(int64(f.n))
	f.s.Stats.BytesSent.Add(int64(size))
	return nil
}

// pump sends the batches of one queue as frames until ctx ends or a send fails. It
// coalesces whatever else is already queued into the frame, up to maxFrame bytes, so that
// a busy stream sends few large frames and a quiet one sends at once. add encodes a batch
// entry by entry, calling f.room before each and f.add after, releases it, and returns
// whether it was marked idle (executor.Batch.Idle); sent counts the entries sent.
func pump[B any](ctx context.Context, s *Sender, stream frameSender, queue <-chan B, add func(*frame, B) (idle bool), sent *atomic.Int64) error {
	f := &frame{s: s, stream: stream, sent: sent}
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	defer linger.Stop()
	var lastSend time.Time
	for {
		var b B
		select {
		case b = <-queue:
		case <-ctx.Done():
			return nil
		}
		f.open()
		idle := add(f, b)
		idle = coalesce(f, queue, add) || idle
		// A small frame on a stream that sent one moments ago means batches trickle in
		// faster than frames are worth sending one by one: each frame costs a write, a
		// read and a wake-up on both sides, far more than a tuple. Wait up to s.linger
		// for more to share the frame, unless a producer said it has gone idle: then
		// nothing more is coming soon, and the timer, in a process gone idle, would fire
		// a millisecond late. A stream that was quiet sends at once.
		if !idle && f.err == nil && f.enc.Size() < s.maxFrame/lingerBelow && !lastSend.IsZero() {
			if now := time.Now(); now.Sub(lastSend) < s.linger {
				linger.Reset(s.linger)
			wait:
				for !f.full() && f.err == nil {
					select {
					case b = <-queue:
						if add(f, b) {
							coalesce(f, queue, add) // what queued behind the mark shares its frame
							break wait
						}
					case <-linger.C:
						break wait
					case <-ctx.Done():
						break wait
					}
				}
				linger.Stop()
			}
		}
		if f.err != nil {
			return f.err
		}
		if f.n == 0 {
			f.discard() // idle marks alone, after their batches went out
			continue
		}
		lastSend = time.Now()
		if err := f.send(); err != nil {
			return err
		}
	}
}

// coalesce adds the batches already queued to f, up to a full frame, and says whether
// any of them was marked idle.
func coalesce[B any](f *frame, queue <-chan B, add func(*frame, B) bool) (idle bool) {
	for !f.full() && f.err == nil {
		select {
		case b := <-queue:
			idle = add(f, b) || idle
		default:
			return idle
		}
	}
	return idle
}

func (s *Sender) pumpData(ctx context.Context, stream frameSender) error {
	return pump(ctx, s, stream, s.ob.Data(), func(f *frame, b *executor.TupleBatch) bool {
		for i, it := range b.Items {
			if !f.room() {
				s.Stats.Dropped.Add(int64(len(b.Items) - i)) // the stream broke mid-batch
				break
			}
			if err := f.enc.AddTuple(it.Task, it.Tuple); err != nil {
				// Values are normalized at emit, so this is a bug; the tuple's tree times
				// out and replays rather than the stream failing for every tuple.
				s.log.Error("dropped a tuple that cannot be encoded", "task", it.Task, "error", err)
				s.Stats.Dropped.Add(1)
				continue
			}
			f.add()
		}
		idle := b.Idle
		s.ob.Release(b)
		return idle
	}, &s.Stats.TuplesSent)
}

func (s *Sender) pumpControl(ctx context.Context, stream frameSender) error {
	return pump(ctx, s, stream, s.ob.Control(), func(f *frame, cb *executor.ControlBatch) bool {
		for i, m := range cb.Items {
			if !f.room() {
				s.Stats.Dropped.Add(int64(len(cb.Items) - i))
				break
			}
			f.enc.AddControl(wire.Control(m)) // the same fields: see executor.Control
			f.add()
		}
		idle := cb.Idle
		s.ob.ReleaseControl(cb)
		return idle
	}, &s.Stats.ControlsSent)
}
