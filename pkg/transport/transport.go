// Package transport carries tuples and acker messages between the worker processes of a
// topology: every worker serves WorkerTransport, and dials each peer with two long-lived
// gRPC streams, one for data and one for control, so that acks never queue behind data.
// Batches are encoded by internal/wire. Backpressure is end to end: a receiver whose executor
// queues are full stops reading its stream, HTTP/2 flow control stops the sender, the
// sender stops draining the peer's Outbound queue, and emitters block on it.
package transport

import (
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Identity says who this worker is and what it runs: a peer's Hello must agree with it.
type Identity struct {
	TopologyID string
	WorkerID   string
	Address    string // where this worker serves WorkerTransport
	// Version is the assignment version this worker runs.
	Version int64
}

// DefaultMaxFrame bounds the encoded size of one frame; batches are coalesced up to it.
const DefaultMaxFrame = 64 << 10

// Keepalive pings find a peer whose host or network went away without closing the
// connection, within keepaliveTime+keepaliveTimeout.
const (
	keepaliveTime    = 10 * time.Second
	keepaliveTimeout = 5 * time.Second
)

// maxRecvMsg is what a receiver accepts: the frame limit plus headroom for one batch
// that alone exceeds it (a single executor batch is never split).
const maxRecvMsg = 64 << 20

// Stats count a side of the transport; all fields are updated atomically.
type Stats struct {
	FramesSent, TuplesSent, ControlsSent, BytesSent atomic.Int64
	FramesRecv, TuplesRecv, ControlsRecv, BytesRecv atomic.Int64
	// Dropped counts tuples and control messages lost with a broken stream; their spout
	// tuples time out and are replayed.
	Dropped atomic.Int64
	// Refused counts handshakes and batches refused (from peers, or by peers).
	Refused    atomic.Int64
	Reconnects atomic.Int64
}

func logger(l hclog.Logger) hclog.Logger {
	if l == nil {
		return hclog.NewNullLogger()
	}
	return l
}
