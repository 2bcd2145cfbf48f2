package multilang

import (
	"fmt"
	"time"

	"github.com/sparsestream/sparse/pkg/topology"
)

// ShellSpout is a spout implemented by a subprocess that speaks Storm's multi-lang
// protocol, one subprocess per task. As in Storm it is synchronous: NextTuple sends
// "next" and applies the subprocess's emits until it answers "sync". Ack and Fail are
// written without waiting; NextTuple collects their "sync" answers too.
type ShellSpout struct {
	shell
	out topology.SpoutCollector
	// awaiting counts the "sync" answers the subprocess owes.
	awaiting int
	active   bool
}

var _ topology.Spout = (*ShellSpout)(nil)

// NewShellSpout returns a factory of shell spouts that run cmd.
func NewShellSpout(cmd ShellCommand) topology.SpoutFactory {
	return func() topology.Spout { return &ShellSpout{shell: shell{cmd: cmd}} }
}

var (
	cmdNext       = map[string]any{"command": "next"}
	cmdActivate   = map[string]any{"command": "activate"}
	cmdDeactivate = map[string]any{"command": "deactivate"}
)

// Open starts the subprocess and does the handshake.
func (s *ShellSpout) Open(ctx *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	s.shell.apply = s.apply
	s.shell.onDeath = func() int { s.awaiting = 0; return 0 }
	s.shell.onStart = func() {
		s.awaiting = 0
		if s.active {
			s.request(cmdActivate)
		}
	}
	return s.open("spout", s.cmd, ctx, out.Logger(), out.ReportError)
}

// NextTuple asks the subprocess for tuples and waits, at most the subprocess timeout,
// for its "sync". A subprocess that does not answer in time is killed and restarted.
func (s *ShellSpout) NextTuple() {
	s.pump()
	if s.proc == nil {
		return
	}
	s.request(cmdNext)
	s.awaitSync("next")
}

// Ack tells the subprocess that the tuple tree of id completed.
func (s *ShellSpout) Ack(id any) { s.tell("ack", id) }

// Fail tells the subprocess that the tuple tree of id failed or timed out.
func (s *ShellSpout) Fail(id any) { s.tell("fail", id) }

func (s *ShellSpout) tell(cmd string, id any) {
	s.pump()
	if s.proc == nil {
		// The subprocess that emitted it is gone; a restarted one replays from its source.
		s.log.Debug("dropped an "+cmd+" while the subprocess is restarting", "id", id)
		return
	}
	s.request(map[string]any{"command": cmd, "id": id})
}

// Activate is forwarded to the subprocess.
func (s *ShellSpout) Activate() {
	s.active = true
	s.pump()
	if s.proc != nil {
		s.request(cmdActivate)
	}
}

// Deactivate is forwarded to the subprocess.
func (s *ShellSpout) Deactivate() {
	s.active = false
	s.pump()
	if s.proc != nil {
		s.request(cmdDeactivate)
		s.awaitSync("deactivate")
	}
}

// Close stops the subprocess.
func (s *ShellSpout) Close() { s.shutdown() }

// request writes a command the subprocess answers with "sync".
func (s *ShellSpout) request(m map[string]any) {
	if data, ok := s.encode(m); ok {
		s.enqueue(data)
		s.awaiting++
		s.flush()
	}
}

// awaitSync applies the subprocess's messages until it owes no "sync".
func (s *ShellSpout) awaitSync(what string) {
	if s.awaiting == 0 || s.proc == nil {
		return
	}
	t := time.NewTimer(s.o.timeout)
	defer t.Stop()
	for s.awaiting > 0 && s.proc != nil {
		p := s.proc
		select {
		case m := <-p.in:
			s.handle(m)
			if len(s.queue) > 0 {
				s.flush()
			}
		case <-p.gone:
			s.die()
		case <-t.C:
			p.kill(fmt.Errorf("did not answer %q with \"sync\" within %v (config %s)", what, s.o.timeout, ConfSubprocessTimeoutSecs))
			s.die()
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *ShellSpout) apply(m map[string]any) error {
	cmd, _ := m["command"].(string)
	switch cmd {
	case "sync":
		if s.awaiting > 0 {
			s.awaiting--
		}
		return nil
	case "emit":
		return s.emit(m)
	case "log":
		return s.logMessage(m)
	case "error":
		return s.errorMessage(m)
	case "metrics":
		return s.metricsMessage(m)
	}
	return badValue(m, fmt.Sprintf("unknown command %q from a spout subprocess (want emit, sync, log, error or metrics)", cmd))
}

// emit emits a tuple; an "id" makes it reliable. An emit the engine refuses is reported,
// and a reliable one is failed back to the subprocess so that it can replay or drop it.
func (s *ShellSpout) emit(m map[string]any) error {
	e, err := parseEmit(m)
	if err != nil {
		return err
	}
	var tasks []int32
	err = catch(func() {
		if e.direct {
			s.out.EmitDirect(e.task, e.stream, e.values, e.id)
		} else {
			tasks = s.out.EmitStream(e.stream, e.values, e.id)
		}
	})
	if err != nil {
		s.report(fmt.Errorf("component %q task %d: the engine refused an emit of the subprocess: %w", s.tctx.ComponentID, s.tctx.TaskID, err))
		tasks = nil
	}
	if e.needTaskIDs && !e.direct {
		s.replyTasks(tasks)
	}
	if err != nil && e.id != nil {
		if data, ok := s.encode(map[string]any{"command": "fail", "id": e.id}); ok {
			s.enqueue(data)
			s.awaiting++
		}
	}
	return nil
}
