package nimbus

import (
	"errors"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
)

// submitStream is what a submission is read from.
type submitStream interface {
	Recv() (*sparsev1.SubmitRequest, error)
}

// errStalled ends a submission whose client sent nothing for UploadProgressTimeout.
var errStalled = errors.New("stalled")

// guardedStream reads a submission, noting each message as progress.
type guardedStream struct {
	stream  submitStream
	timeout time.Duration

	mu      sync.Mutex
	timer   *time.Timer
	done    bool // receiving is over: a late timer drops nothing
	fired   bool
	stalled chan struct{}
}

func (g *guardedStream) Recv() (*sparsev1.SubmitRequest, error) {
	m, err := g.stream.Recv()
	if err == nil {
		g.mu.Lock()
		if !g.fired && !g.done {
			g.timer.Reset(g.timeout)
		}
		g.mu.Unlock()
	}
	return m, err
}

// finish ends the watch once everything is received; it reports false when the upload
// was dropped meanwhile, and then nothing may be stored.
func (g *guardedStream) finish() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fired {
		return false
	}
	g.done = true
	g.timer.Stop()
	return true
}

func (g *guardedStream) fire() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done || g.fired {
		return
	}
	g.fired = true
	close(g.stalled)
}

// receiveGuarded runs receive on the submission stream and returns what it returns,
// unless the client sends nothing for UploadProgressTimeout: the call then ends at once
// with DeadlineExceeded. A blocked Recv cannot be interrupted, so receive runs in a
// goroutine of its own; ending the call cancels the stream, which fails that Recv, and
// receive then removes its temporary file as on any error (and stores nothing, see
// guardedStream.finish).
func (s *Server) receiveGuarded(stream grpc.ClientStreamingServer[sparsev1.SubmitRequest, sparsev1.SubmitReply],
	receive func(*guardedStream) (string, error)) (string, error) {
	g := &guardedStream{stream: stream, timeout: s.cfg.UploadProgressTimeout, stalled: make(chan struct{})}
	g.timer = time.AfterFunc(g.timeout, g.fire)
	defer g.timer.Stop()
	type result struct {
		id  string
		err error
	}
	done := make(chan result, 1)
	go func() {
		id, err := receive(g)
		done <- result{id, err}
	}()
	select {
	case r := <-done:
		if errors.Is(r.err, errStalled) {
			return "", s.stalledError()
		}
		return r.id, r.err
	case <-g.stalled:
		s.log.Warn("dropped a stalled submission", "timeout", s.cfg.UploadProgressTimeout)
		return "", s.stalledError()
	}
}

func (s *Server) stalledError() error {
	return status.Errorf(codes.DeadlineExceeded, "the submission sent nothing for %s and was dropped (nimbusd --upload-progress-timeout); check the network and submit again",
		s.cfg.UploadProgressTimeout)
}

// takeUploadSlot reserves one of the MaxConcurrentUploads artifact uploads, or refuses
// the submission with ResourceExhausted when all are taken: each upload holds a
// temporary file until it commits. The returned func frees the slot.
func (s *Server) takeUploadSlot(sub *submission) (func(), error) {
	select {
	case s.uploads <- struct{}{}:
		return func() { <-s.uploads }, nil
	default:
		s.log.Warn("refused a submission: too many uploads at once", "topology", sub.name, "limit", s.cfg.MaxConcurrentUploads)
		return nil, status.Errorf(codes.ResourceExhausted, "nimbus %s is receiving %d artifacts already, its limit (nimbusd --max-concurrent-uploads); submit again in a moment",
			s.id, s.cfg.MaxConcurrentUploads)
	}
}
