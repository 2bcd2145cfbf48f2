package multilang

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// ShellCommand is how to start the subprocess of a shell component, as Storm's
// ShellBolt and ShellSpout take it: a command and its arguments, run in a resources
// folder.
type ShellCommand struct {
	// Command is the program, looked up in PATH unless it contains a path separator
	// (a relative path is then relative to Dir). For example "python3".
	Command string
	// Args are its arguments, for example ["split.py"].
	Args []string
	// Dir is the working directory: the resources folder holding the scripts (default:
	// the worker's working directory).
	Dir string
	// Env is added to the worker's environment, as "KEY=value" entries.
	Env []string
}

func (c ShellCommand) String() string {
	return strings.Join(append([]string{c.Command}, c.Args...), " ")
}

// inboxSize bounds the messages read from a subprocess and not yet applied; outboxSize
// the messages waiting to be written to it. Together with the per-message size limit they
// bound the memory a subprocess can make the engine hold.
const (
	inboxSize  = 256
	outboxSize = 256
)

// exitWait is how long the engine lets a subprocess that closed its stdout or stdin
// exit on its own (so that its exit status explains what happened) before it kills it.
const exitWait = time.Second

// errEOF is the reason of a subprocess that closed its stdout: it exited or is exiting.
var errEOF = errors.New("closed its stdout")

// process is one running subprocess and the goroutines that serve it: a reader that
// decodes its stdout into in, a writer that feeds out (and heartbeats) to its stdin, and
// for bolts a heartbeat monitor. Only the goroutine of the shell component's task sends
// to out and receives from in.
type process struct {
	cmd      *exec.Cmd
	ownGroup bool // the subprocess leads a process group of its own (setProcessGroup)
	desc     string
	started  time.Time
	reported int // the pid the subprocess reported in the handshake

	in chan map[string]any
	// notify, when set, is called after a message is put in in and when the process is
	// gone, so that the task's goroutine comes to handle it (see topology.Wakeable).
	notify func()
	out    chan []byte
	hb     chan struct{} // a heartbeat is due (bolts)

	heartbeat []byte // the framed heartbeat tuple

	ser   Serializer
	batch atomic.Bool // the subprocess accepted the batch extension in the handshake

	gone    chan struct{} // closed when the subprocess is dying or dead: stop using it
	dead    chan struct{} // closed once it has been reaped
	killed  chan struct{} // closed by kill
	closing chan struct{} // closed to ask the writer to close stdin

	goneOnce, killOnce, closeOnce sync.Once

	mu      sync.Mutex
	reason  error // the first known cause of its end
	exitErr error // what Wait returned

	lastSync atomic.Int64 // unix nanoseconds of the last message, heartbeat answer or not (bolts)
	blocked  atomic.Bool  // the reader is waiting for room in in: the engine is behind

	stderr *stderrLog
}

// startProcess starts the subprocess and its reader and writer goroutines, which wg
// counts. It does not do the handshake. Cancelling ctx kills the subprocess.
func startProcess(ctx context.Context, wg *sync.WaitGroup, c ShellCommand, o options, bolt bool, notify func(), log hclog.Logger) (*process, error) {
	if c.Command == "" {
		return nil, errors.New("the shell command is empty; set ShellCommand.Command, for example to \"python3\"")
	}
	cmd := exec.CommandContext(ctx, c.Command, c.Args...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), c.Env...)
	ownGroup := setProcessGroup(cmd)
	cmd.Cancel = func() error { return killTree(cmd, ownGroup) }
	// Wait must not hang on a grandchild that inherited stderr.
	cmd.WaitDelay = 2 * time.Second
	p := &process{
		cmd:      cmd,
		ownGroup: ownGroup,
		desc:     c.String(),
		in:       make(chan map[string]any, inboxSize),
		notify:   notify,
		out:      make(chan []byte, outboxSize),
		hb:       make(chan struct{}, 1),
		gone:     make(chan struct{}),
		dead:     make(chan struct{}),
		killed:   make(chan struct{}),
		closing:  make(chan struct{}),
		stderr:   &stderrLog{log: log},
		ser:      o.serializer,
	}
	cmd.Stderr = p.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if bolt {
		hb := map[string]any{"id": heartbeatID, "comp": "__system", "stream": heartbeatStream, "task": int64(-1), "tuple": []any{}}
		if p.heartbeat, err = Encode(o.serializer, hb); err != nil {
			return nil, err
		}
	}
	if err := cmd.Start(); err != nil {
		where := ""
		if c.Dir != "" {
			where = " in " + c.Dir
		}
		return nil, fmt.Errorf("cannot start %q%s: %w", p.desc, where, err)
	}
	p.started = time.Now()
	p.lastSync.Store(p.started.UnixNano())
	dec := NewDecoder(o.serializer, stdout, o.maxBytes)
	wg.Go(func() { p.readLoop(dec, bolt) })
	wg.Go(func() { p.writeLoop(stdin) })
	return p, nil
}

// The heartbeat tuple of bolts, as Storm sends it.
const (
	heartbeatStream = "__heartbeat"
	heartbeatID     = "heartbeat"
)

func (p *process) pid() int {
	if p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *process) setReason(err error) {
	p.mu.Lock()
	if p.reason == nil {
		p.reason = err
	}
	p.mu.Unlock()
}

func (p *process) markGone() {
	p.goneOnce.Do(func() {
		close(p.gone)
		p.wake()
	})
}

func (p *process) wake() {
	if p.notify != nil {
		p.notify()
	}
}

// kill ends the subprocess (and its process group, when it has one) at once; reason says why.
func (p *process) kill(reason error) {
	p.killOnce.Do(func() {
		p.setReason(reason)
		close(p.killed)
		p.markGone()
		select {
		case <-p.dead: // reaped already: its pid may belong to another process by now
		default:
			_ = killTree(p.cmd, p.ownGroup)
		}
	})
}

// outcome returns why the subprocess ended and its exit status; call after dead.
func (p *process) outcome() (reason, exit error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reason, p.exitErr
}

// readLoop decodes messages until the subprocess closes its stdout or breaks the
// protocol, then reaps it. For bolts every message records the time for the heartbeat
// check, and a "sync" does nothing else.
func (p *process) readLoop(dec Decoder, bolt bool) {
	var err error
read:
	for {
		var v any
		if v, err = dec.ReadMessage(); err != nil {
			break
		}
		m, ok := v.(map[string]any)
		if !ok {
			pe := badValue(v, "every message from a subprocess must be a map (a JSON object); a stray print to stdout looks like this")
			if raw, ok := dec.(interface{ lastBytes() []byte }); ok {
				pe.Head = raw.lastBytes()
			}
			err = pe
			break
		}
		if bolt {
			// Any message shows the subprocess is alive, as in Storm's ShellBolt. Inputs
			// are pipelined, so the heartbeat tuple waits behind every input already
			// written to stdin: a slow but healthy bolt answers it late.
			p.lastSync.Store(time.Now().UnixNano())
			if m["command"] == "sync" {
				continue
			}
		}
		select {
		case p.in <- m:
			p.wake()
			continue
		default:
		}
		// The engine is behind (its collector is backpressured): that is not the
		// subprocess's fault, so the heartbeat clock stops while the reader waits.
		p.blocked.Store(true)
		select {
		case p.in <- m:
		case <-p.killed:
			p.blocked.Store(false)
			err = errEOF
			break read
		}
		p.lastSync.Store(time.Now().UnixNano())
		p.blocked.Store(false)
		p.wake()
	}
	var pe *ProtocolError
	switch {
	case errors.As(err, &pe):
		p.kill(fmt.Errorf("broke the multi-lang protocol: %w", err))
	case err == errEOF || errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed):
		p.setReason(errEOF)
	default:
		p.setReason(fmt.Errorf("reading its stdout failed: %w", err))
	}
	p.markGone()
	// It closed its stdout, so it is exiting; give it a moment, then make sure.
	t := time.AfterFunc(exitWait, func() {
		p.kill(fmt.Errorf("closed its stdout but did not exit within %v", exitWait))
	})
	werr := p.cmd.Wait()
	t.Stop()
	p.mu.Lock()
	p.exitErr = werr
	p.mu.Unlock()
	close(p.dead)
}

// writeLoop writes framed messages to stdin, heartbeats first, flushing whenever it
// has nothing more to write. With the batch extension, the messages waiting when it
// wakes go out as one batch message: one frame, one write, and one read for the
// subprocess, however many tuples.
func (p *process) writeLoop(stdin io.WriteCloser) {
	w := bufio.NewWriterSize(stdin, 64<<10)
	var pending [][]byte
	var frame []byte
	write := func(b []byte) bool {
		if p.batch.Load() {
			pending = append(pending[:0], b)
			size := len(b)
		gather:
			for len(pending) < maxBatchMsgs && size < maxBatchBytes {
				select {
				case <-p.hb:
					pending = append(pending, p.heartbeat)
				case m := <-p.out:
					pending = append(pending, m)
					size += len(m)
				default:
					break gather
				}
			}
			if len(pending) > 1 {
				frame = appendBatch(frame[:0], p.ser, pending)
				b = frame
			}
			clear(pending)
		}
		if _, err := w.Write(b); err != nil {
			p.markGone()
			return false
		}
		if len(p.out) == 0 && len(p.hb) == 0 {
			if err := w.Flush(); err != nil {
				p.markGone()
				return false
			}
		}
		return true
	}
	for {
		select {
		case <-p.hb:
			if !write(p.heartbeat) {
				return
			}
			continue
		default:
		}
		select {
		case <-p.hb:
			if !write(p.heartbeat) {
				return
			}
		case b := <-p.out:
			if !write(b) {
				return
			}
		case <-p.closing:
			_ = w.Flush()
			_ = stdin.Close()
			return
		case <-p.gone:
			return
		}
	}
}

// heartbeatLoop asks the writer for a heartbeat every interval and kills the subprocess
// when its last message (a heartbeat answer or any other) is older than timeout.
func (p *process) heartbeatLoop(every, timeout time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			last := time.Unix(0, p.lastSync.Load())
			if !p.blocked.Load() && time.Since(last) > timeout {
				p.kill(fmt.Errorf("did not answer a heartbeat for %v (config %s)", time.Since(last).Round(time.Millisecond), ConfSubprocessTimeoutSecs))
				return
			}
			select {
			case p.hb <- struct{}{}:
			default:
			}
		case <-p.gone:
			return
		}
	}
}

// stop closes the subprocess's stdin, lets it exit for up to grace, then kills it, and
// returns once it is reaped. Messages it still sends are dropped.
func (p *process) stop(grace time.Duration) {
	p.closeOnce.Do(func() { close(p.closing) })
	t := time.NewTimer(grace)
	defer t.Stop()
	for {
		select {
		case <-p.in:
		case <-p.dead:
			return
		case <-t.C:
			p.kill(errors.New("did not exit after its stdin was closed"))
			for {
				select {
				case <-p.in:
				case <-p.dead:
					return
				}
			}
		}
	}
}

// badValue is a protocol error for a decoded message, quoting it as JSON.
func badValue(v any, reason string) *ProtocolError {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf("%v", v))
	}
	return &ProtocolError{Reason: reason, Head: b[:min(len(b), headBytes)], Size: int64(len(b))}
}

// stderrLog logs what a subprocess writes to stderr, line by line, and keeps the last
// lines to explain a crash.
type stderrLog struct {
	log     hclog.Logger
	mu      sync.Mutex
	partial []byte
	tail    []string
}

const (
	stderrLineMax  = 4 << 10
	stderrTailKeep = 10
)

func (s *stderrLog) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		i := strings.IndexByte(string(b), '\n')
		if i < 0 {
			s.partial = append(s.partial, b...)
			if len(s.partial) > stderrLineMax {
				s.line(string(s.partial))
				s.partial = s.partial[:0]
			}
			break
		}
		s.partial = append(s.partial, b[:i]...)
		s.line(string(s.partial))
		s.partial = s.partial[:0]
		b = b[i+1:]
	}
	return n, nil
}

func (s *stderrLog) line(l string) {
	l = strings.TrimRight(l, "\r")
	if len(l) > stderrLineMax {
		l = l[:stderrLineMax] + "..."
	}
	s.log.Info("subprocess stderr", "line", l)
	s.tail = append(s.tail, l)
	if len(s.tail) > stderrTailKeep {
		s.tail = s.tail[len(s.tail)-stderrTailKeep:]
	}
}

// lastLines returns the last lines written to stderr, at most max bytes.
func (s *stderrLog) lastLines(max int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := append([]string(nil), s.tail...)
	if len(s.partial) > 0 {
		lines = append(lines, string(s.partial))
	}
	out := strings.Join(lines, "\n")
	if len(out) > max {
		out = "..." + out[len(out)-max+3:]
	}
	return out
}
