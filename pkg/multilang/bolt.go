package multilang

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// ShellBolt is a bolt implemented by a subprocess that speaks Storm's multi-lang
// protocol, one subprocess per task. As with Storm's ShellBolt, inputs are written to the
// subprocess as they come, without waiting for it to answer the previous ones, and the
// subprocess may ack, fail and emit whenever it likes. What it sends is applied on the
// task's goroutine: at the start of every Execute, and whenever the subprocess sends
// something while no input comes (ShellBolt is topology.Wakeable).
type ShellBolt struct {
	shell
	out topology.BoltCollector

	// inflight maps the id each input was given to the input, from when it is written to
	// the subprocess until the subprocess acks or fails it.
	inflight map[string]*tuple.Tuple
	seq      uint64
	ticks    uint64
	anchors  []*tuple.Tuple
	anchorID []string
	// waiting holds the inputs that arrived while the subprocess was being restarted;
	// the restarted subprocess gets them first.
	waiting []*tuple.Tuple
	// failedDown counts inputs failed because waiting was full and the restart slow.
	failedDown int
}

// maxWaiting bounds the inputs held while the subprocess restarts.
const maxWaiting = 1024

var (
	_ topology.Bolt     = (*ShellBolt)(nil)
	_ topology.Wakeable = (*ShellBolt)(nil)
)

// NewShellBolt returns a factory of shell bolts that run cmd.
func NewShellBolt(cmd ShellCommand) topology.BoltFactory {
	return func() topology.Bolt { return &ShellBolt{shell: shell{cmd: cmd}} }
}

// Prepare starts the subprocess and does the handshake.
func (b *ShellBolt) Prepare(ctx *topology.Context, out topology.BoltCollector) error {
	b.out = out
	b.inflight = map[string]*tuple.Tuple{}
	b.shell.apply = b.apply
	b.shell.onDeath = b.failInFlight
	b.shell.onStart = b.sendWaiting
	b.shell.wake = ctx.Wake
	return b.open("bolt", b.cmd, ctx, out.Logger(), out.ReportError)
}

// Execute writes the input to the subprocess, after applying what the subprocess sent
// since the last call. A tick tuple is forwarded to the subprocess, as Storm does.
func (b *ShellBolt) Execute(in *tuple.Tuple) {
	b.pump()
	if in.IsTick() {
		if b.proc != nil {
			b.ticks++
			msg := map[string]any{"id": "tick-" + strconv.FormatUint(b.ticks, 10), "comp": in.Component(),
				"stream": in.Stream(), "task": int64(in.Task()), "tuple": values(in)}
			if data, ok := b.encode(msg); ok {
				b.enqueue(data)
				b.flush()
			}
		}
		return
	}
	if b.proc == nil {
		b.hold(in)
		return
	}
	b.send(in)
}

// Woken applies what the subprocess sent while no input came, notices its death and
// adopts a restarted one.
func (b *ShellBolt) Woken() { b.pump() }

// send writes an input to the subprocess; false when the subprocess is gone.
func (b *ShellBolt) send(in *tuple.Tuple) bool {
	b.seq++
	id := strconv.FormatUint(b.seq, 10)
	data, err := encodeTuple(b.o.serializer, id, in.Component(), in.Stream(), int64(in.Task()), values(in))
	if err != nil {
		b.report(fmt.Errorf("component %q task %d: cannot encode a message for the subprocess with the %s serializer: %w", b.tctx.ComponentID, b.tctx.TaskID, b.o.serializer, err))
		b.out.Fail(in)
		return b.proc != nil
	}
	b.inflight[id] = in
	b.enqueue(data)
	return b.flush()
}

// hold keeps an input that arrived while the subprocess is being restarted, and waits
// (at most the subprocess timeout) for the restart: the inputs cannot be processed before
// it anyway, and waiting slows the upstream down instead of failing tuples that their
// spouts would replay at once. An input that finds maxWaiting inputs held already is
// failed.
func (b *ShellBolt) hold(in *tuple.Tuple) {
	if len(b.waiting) < maxWaiting {
		b.waiting = append(b.waiting, in)
		in = nil
	}
	b.awaitRestart(b.o.timeout) // a restarted subprocess is given the held inputs at once
	if b.proc != nil {
		if in != nil {
			b.send(in)
		}
		return
	}
	if in != nil {
		b.failedDown++
		if b.failedDown == 1 || b.failedDown%1000 == 0 {
			b.log.Warn("the subprocess is still down: failing inputs so that they replay later", "failed", b.failedDown)
		}
		b.out.Fail(in)
	}
}

// sendWaiting gives a restarted subprocess the inputs held while it was down.
func (b *ShellBolt) sendWaiting() {
	b.failedDown = 0
	waiting := b.waiting
	b.waiting = nil
	for i, in := range waiting {
		if b.proc == nil { // it died again
			b.waiting = append(b.waiting, waiting[i:]...)
			return
		}
		b.send(in)
	}
}

// Cleanup stops the subprocess: its stdin is closed, and it is killed if it has not
// exited a second later. Inputs it still held time out and replay.
func (b *ShellBolt) Cleanup() { b.shutdown() }

func values(in *tuple.Tuple) []any {
	if in.Values == nil {
		return []any{}
	}
	return in.Values
}

// failInFlight fails every input the dead subprocess held, so that they replay.
func (b *ShellBolt) failInFlight() int {
	n := len(b.inflight)
	for id, t := range b.inflight {
		b.out.Fail(t)
		delete(b.inflight, id)
	}
	return n
}

// apply runs one command of the subprocess on the task's goroutine.
func (b *ShellBolt) apply(m map[string]any) error {
	cmd, _ := m["command"].(string)
	switch cmd {
	case "emit":
		return b.emit(m)
	case "ack", "fail":
		key, ok := idKey(m["id"])
		if !ok {
			return badValue(m, "an "+cmd+" command needs the \"id\" of a tuple the subprocess was given")
		}
		in := b.inflight[key]
		if in == nil {
			if !strings.HasPrefix(key, "tick-") && key != heartbeatID {
				b.log.Warn("the subprocess "+cmd+"ed a tuple that is not in flight (already acked or failed, or unknown); ignored", "id", key)
			}
			return nil
		}
		delete(b.inflight, key)
		if cmd == "ack" {
			b.out.Ack(in)
		} else {
			b.out.Fail(in)
		}
		return nil
	case "log":
		return b.logMessage(m)
	case "error":
		return b.errorMessage(m)
	case "metrics":
		return b.metricsMessage(m)
	case "sync":
		return nil // a heartbeat answer that arrived behind other messages
	}
	return badValue(m, fmt.Sprintf("unknown command %q from a bolt subprocess (want emit, ack, fail, log, error, metrics or sync)", cmd))
}

// emit emits a tuple anchored to the inputs the subprocess names. An emit the engine
// refuses (an undeclared stream, a wrong number of values, a value of an unsupported
// type) is reported and fails its anchors, so that nothing is lost silently.
func (b *ShellBolt) emit(m map[string]any) error {
	e, err := parseEmit(m)
	if err != nil {
		return err
	}
	b.anchors, b.anchorID = b.anchors[:0], b.anchorID[:0]
	for _, a := range e.anchors {
		key, ok := idKey(a)
		if !ok {
			return badValue(m, "emit anchors must be the ids of tuples the subprocess was given")
		}
		in := b.inflight[key]
		if in == nil {
			b.log.Warn("the subprocess anchored an emit to a tuple that is not in flight (already acked or failed, or unknown); the anchor is dropped", "id", key)
			continue
		}
		b.anchors = append(b.anchors, in)
		b.anchorID = append(b.anchorID, key)
	}
	var tasks []int32
	err = catch(func() {
		if e.direct {
			b.out.EmitDirect(e.task, e.stream, b.anchors, e.values)
		} else {
			tasks = b.out.EmitStream(e.stream, b.anchors, e.values)
		}
	})
	if err != nil {
		b.report(fmt.Errorf("component %q task %d: the engine refused an emit of the subprocess, so its %d anchor tuple(s) are failed: %w",
			b.tctx.ComponentID, b.tctx.TaskID, len(b.anchors), err))
		for i, in := range b.anchors {
			delete(b.inflight, b.anchorID[i])
			b.out.Fail(in)
		}
		tasks = nil
	}
	clear(b.anchors)
	if e.needTaskIDs && !e.direct {
		b.replyTasks(tasks)
	}
	return nil
}

func (s *shell) replyTasks(tasks []int32) {
	if tasks == nil {
		tasks = []int32{}
	}
	if data, err := Encode(s.o.serializer, tasks); err == nil {
		s.enqueue(data)
	}
}

// emitMsg is a parsed emit command.
type emitMsg struct {
	stream      string
	values      []any
	direct      bool
	task        int32
	needTaskIDs bool
	anchors     []any
	id          any
}

func parseEmit(m map[string]any) (emitMsg, error) {
	e := emitMsg{stream: tuple.DefaultStream, needTaskIDs: true, id: m["id"]}
	if v := m["stream"]; v != nil {
		s, ok := v.(string)
		if !ok {
			return e, badValue(m, "the \"stream\" of an emit must be a string")
		}
		e.stream = s
	}
	vals, ok := m["tuple"].([]any)
	if !ok {
		return e, badValue(m, "an emit needs a \"tuple\" list of values")
	}
	e.values = vals
	if v := m["task"]; v != nil {
		t, ok := intValue(v)
		if !ok || t < math.MinInt32 || t > math.MaxInt32 {
			return e, badValue(m, "the \"task\" of a direct emit must be a task id")
		}
		e.direct, e.task = true, int32(t)
	}
	if v, present := m["need_task_ids"]; present && v != nil {
		nb, ok := v.(bool)
		if !ok {
			return e, badValue(m, "\"need_task_ids\" must be true or false")
		}
		e.needTaskIDs = nb
	}
	if v := m["anchors"]; v != nil {
		a, ok := v.([]any)
		if !ok {
			return e, badValue(m, "the \"anchors\" of an emit must be a list of tuple ids")
		}
		e.anchors = a
	}
	return e, nil
}

// catch runs a collector call, turning the engine's panic on a bad emit into an error.
func catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = e
			} else {
				err = fmt.Errorf("%v", r)
			}
		}
	}()
	f()
	return nil
}

// intValue reads an integer the decoders produced (an int64, or a whole float64).
func intValue(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	case float64:
		if x == math.Trunc(x) && x >= math.MinInt64 && x < math.MaxInt64 {
			return int64(x), true
		}
	}
	return 0, false
}

// idKey is the map key of a tuple id: the engine sends ids as strings, and a client that
// turned one into a number still finds its tuple.
func idKey(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	}
	if n, ok := intValue(v); ok {
		return strconv.FormatInt(n, 10), true
	}
	return "", false
}
