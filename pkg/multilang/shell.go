package multilang

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/internal/retry"
	"github.com/sparsestream/sparse/pkg/topology"
)

// shell is what ShellBolt and ShellSpout share: the subprocess of one task, its
// handshake, the queue of messages to write to it, and restarts. Every method runs on the
// task's executor goroutine; the goroutines it starts never touch the collector.
type shell struct {
	kind   string // "bolt" or "spout"
	cmd    ShellCommand
	o      options
	tctx   *topology.Context
	log    hclog.Logger
	report func(error)

	ctx    context.Context // owns every goroutine and subprocess of the task
	cancel context.CancelFunc
	wg     sync.WaitGroup
	pidDir string
	hello  []byte // the framed handshake

	proc  *process
	queue [][]byte // framed messages for proc, written in order

	restart  chan startResult // non-nil while a restart is under way
	pause    retry.Backoff    // before the next restart
	restarts int

	// Set by the bolt or spout.
	apply   func(m map[string]any) error // one message from the subprocess
	onDeath func() int                   // forget the dead subprocess; returns inputs failed
	onStart func()                       // a restarted subprocess is ready
	// wake asks for pump to run on the task's goroutine soon; any goroutine may call it
	// (bolts: the context's Wake; nil for spouts, whose NextTuple runs all the time).
	wake func()

	badMetric map[string]bool // metric names whose bad params were logged
	metrics   map[shellMetricKey]*shellMetric

	flushTimer *time.Timer // flush's subprocess timeout, reused
}

type startResult struct {
	p   *process
	err error
}

// maxQueued bounds the replies waiting for a subprocess that does not read its stdin.
const maxQueued = 1 << 16

// open reads the options, prepares the handshake and starts the first subprocess; an
// error here stops the topology from starting, as a failing Prepare or Open does.
func (s *shell) open(kind string, cmd ShellCommand, tctx *topology.Context, log hclog.Logger, report func(error)) error {
	if tctx == nil {
		return fmt.Errorf("shell %s %q: no topology context", kind, cmd)
	}
	s.kind, s.cmd, s.tctx, s.log, s.report = kind, cmd, tctx, log, report
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	var err error
	if s.o, err = readOptions(tctx.Config); err != nil {
		return err
	}
	if s.pidDir, err = os.MkdirTemp("", "sparse-multilang-"); err != nil {
		return fmt.Errorf("creating the pid directory: %w", err)
	}
	hello, err := Encode(s.o.serializer, handshakeMessage(tctx, s.pidDir, s.o.batch, s.log))
	if err != nil {
		_ = os.RemoveAll(s.pidDir)
		return fmt.Errorf("encoding the handshake: %w", err)
	}
	s.hello = hello
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.pause = retry.New(minBackoff, maxBackoff)
	p, err := s.start()
	if err != nil {
		s.cancel()
		s.wg.Wait()
		_ = os.RemoveAll(s.pidDir)
		return err
	}
	s.proc = p
	return nil
}

// start starts a subprocess and does the handshake. It runs on the task's goroutine for
// the first subprocess and on a restart goroutine afterwards, so it touches nothing but
// the new process.
func (s *shell) start() (*process, error) {
	p, err := startProcess(s.ctx, &s.wg, s.cmd, s.o, s.kind == "bolt", s.wake, s.log)
	if err != nil {
		return nil, s.where(err)
	}
	t := time.NewTimer(s.o.timeout)
	defer t.Stop()
	failed := func(reason error) (*process, error) {
		p.kill(reason)
		<-p.dead
		why, exit := p.outcome()
		return nil, s.where(describeEnd(p, why, exit, "during the handshake"))
	}
	select {
	case p.out <- s.hello:
	case <-p.gone:
		return failed(errEOF)
	case <-t.C:
		return failed(fmt.Errorf("did not read the handshake within %v (config %s)", s.o.timeout, ConfSubprocessTimeoutSecs))
	}
	select {
	case m := <-p.in:
		pid, ok := intValue(m["pid"])
		if !ok {
			return failed(fmt.Errorf("broke the multi-lang protocol: %w",
				badValue(m, "the first message of a subprocess must be {\"pid\": <its pid>}, after it created an empty file named by its pid in pidDir")))
		}
		p.reported = int(pid)
		// The writer reads batch only after the handshake, which it has written.
		p.batch.Store(s.o.batch && acceptsBatch(m))
	case <-p.gone:
		return failed(errEOF)
	case <-t.C:
		return failed(fmt.Errorf("did not answer the handshake within %v (config %s)", s.o.timeout, ConfSubprocessTimeoutSecs))
	}
	if s.kind == "bolt" {
		p.lastSync.Store(time.Now().UnixNano())
		s.wg.Go(func() { p.heartbeatLoop(s.o.heartbeat, s.o.timeout) })
	}
	s.log.Debug("subprocess started", "command", p.desc, "pid", p.pid(), "reported_pid", p.reported)
	return p, nil
}

// where prefixes an error with the component and task.
func (s *shell) where(err error) error {
	return fmt.Errorf("component %q task %d: shell %s %q: %w", s.tctx.ComponentID, s.tctx.TaskID, s.kind, s.cmd.String(), err)
}

// pump applies every message the subprocess has sent so far, writes the queued replies,
// notices a dead subprocess and adopts a restarted one. It blocks only while the
// subprocess does not take its input (bounded by the subprocess timeout).
func (s *shell) pump() {
	s.adopt()
	for s.proc != nil {
		p := s.proc
		select {
		case m := <-p.in:
			s.handle(m)
			continue
		case <-p.gone:
			s.die()
			return
		default:
		}
		if len(s.queue) > 0 {
			s.flush()
			continue
		}
		return
	}
}

// handle applies one message; a message that breaks the protocol kills the subprocess.
func (s *shell) handle(m map[string]any) {
	if err := s.applyAll(m); err != nil && s.proc != nil {
		s.proc.kill(fmt.Errorf("broke the multi-lang protocol: %w", err))
	}
}

// applyAll applies a message, or each message of a batch in order.
func (s *shell) applyAll(m map[string]any) error {
	if m["command"] != "batch" {
		return s.apply(m)
	}
	msgs, err := batchMessages(m)
	if err != nil {
		return err
	}
	for _, v := range msgs {
		if err := s.apply(v.(map[string]any)); err != nil {
			return err
		}
	}
	return nil
}

// enqueue queues a framed message for the subprocess; flush writes the queue.
func (s *shell) enqueue(b []byte) {
	if s.proc == nil {
		return
	}
	s.queue = append(s.queue, b)
	if len(s.queue) > maxQueued {
		s.proc.kill(fmt.Errorf("stopped reading its stdin while %d replies were waiting for it", len(s.queue)))
	}
}

// flush writes the queued messages. While the subprocess's stdin is full it keeps
// applying what the subprocess sends (so neither side can wait for the other forever),
// and kills a subprocess that makes no progress at all for the subprocess timeout. It
// returns false when the subprocess is gone.
func (s *shell) flush() bool {
	armed := false
	defer func() {
		if armed {
			s.flushTimer.Stop()
		}
	}()
	for len(s.queue) > 0 {
		p := s.proc
		if p == nil {
			s.queue = s.queue[:0]
			return false
		}
		select {
		case p.out <- s.queue[0]:
			s.pop()
			continue
		default:
		}
		if !armed {
			// One timer for the task, reset per blocked flush: under backpressure every
			// input blocks here, and a new timer each time allocated.
			if s.flushTimer == nil {
				s.flushTimer = time.NewTimer(s.o.timeout)
			} else {
				s.flushTimer.Reset(s.o.timeout)
			}
			armed = true
		}
		timer := s.flushTimer
		select {
		case p.out <- s.queue[0]:
			s.pop()
		case m := <-p.in:
			s.handle(m)
			timer.Reset(s.o.timeout) // it is alive: it talks

		case <-p.gone:
			s.die()
			return false
		case <-timer.C:
			p.kill(fmt.Errorf("did not read its stdin for %v (config %s)", s.o.timeout, ConfSubprocessTimeoutSecs))
			s.die()
			return false
		case <-s.ctx.Done():
			return false
		}
	}
	return s.proc != nil
}

func (s *shell) pop() {
	s.queue[0] = nil
	s.queue = s.queue[1:]
	if len(s.queue) == 0 {
		s.queue = nil
	}
}

// die handles the end of the subprocess: it applies what the subprocess sent before it
// went, reaps it, fails the inputs it held (bolts), reports the error and schedules a
// restart.
func (s *shell) die() {
	p := s.proc
	s.proc = nil
	s.queue = nil
	wait := time.NewTimer(exitWait)
	defer wait.Stop()
reap:
	for {
		select {
		case m := <-p.in:
			_ = s.applyAll(m)
		case <-p.dead:
			break reap
		case <-wait.C:
			p.kill(errors.New("stopped reading its stdin"))
			for {
				select {
				case m := <-p.in:
					_ = s.applyAll(m)
				case <-p.dead:
					break reap
				}
			}
		}
	}
	for {
		select {
		case m := <-p.in:
			_ = s.applyAll(m)
			continue
		default:
		}
		break
	}
	if p.reported > 0 {
		_ = os.Remove(filepath.Join(s.pidDir, strconv.Itoa(p.reported)))
	}
	failed := s.onDeath()
	if s.ctx.Err() != nil {
		return // shutting down
	}
	lived := time.Since(p.started)
	if lived >= stableAfter {
		s.pause.Reset()
	}
	delay := s.pause.Next()
	why, exit := p.outcome()
	s.report(&SubprocessError{
		Component: s.tctx.ComponentID,
		Task:      s.tctx.TaskID,
		Kind:      s.kind,
		Command:   p.desc,
		Pid:       p.pid(),
		Reason:    why,
		Exit:      exit,
		Lived:     lived,
		Failed:    failed,
		RestartIn: delay,
		Stderr:    p.stderr.lastLines(1024),
	})
	s.scheduleRestart(delay)
}

// scheduleRestart starts a subprocess after delay on a goroutine of its own; the task's
// goroutine adopts it in pump.
func (s *shell) scheduleRestart(delay time.Duration) {
	ch := make(chan startResult, 1)
	s.restart = ch
	s.wg.Go(func() {
		if err := retry.Sleep(s.ctx, delay); err != nil {
			ch <- startResult{err: err}
			return
		}
		p, err := s.start()
		ch <- startResult{p: p, err: err}
		if s.wake != nil {
			s.wake() // adopt it, and give it the inputs held meanwhile, without waiting for one
		}
	})
}

// adopt takes a restarted subprocess if it is ready.
func (s *shell) adopt() {
	if s.restart == nil {
		return
	}
	select {
	case r := <-s.restart:
		s.adoptResult(r)
	default:
	}
}

// awaitRestart waits up to d for the subprocess being restarted.
func (s *shell) awaitRestart(d time.Duration) {
	if s.restart == nil {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-s.restart:
		s.adoptResult(r)
	case <-t.C:
	case <-s.ctx.Done():
	}
}

func (s *shell) adoptResult(r startResult) {
	s.restart = nil
	if r.err != nil {
		if s.ctx.Err() != nil {
			return
		}
		delay := s.pause.Next()
		s.report(fmt.Errorf("restarting the subprocess failed; trying again in %v: %w", delay, r.err))
		s.scheduleRestart(delay)
		return
	}
	s.proc = r.p
	s.restarts++
	s.log.Info("subprocess restarted", "command", r.p.desc, "pid", r.p.pid(), "restarts", s.restarts)
	s.onStart()
}

// shutdown stops the subprocess (stdin closed, then killed after a grace period), stops
// every goroutine and removes the pid directory.
func (s *shell) shutdown() {
	if s.cancel == nil {
		return // never opened
	}
	if s.proc != nil {
		s.proc.stop(closeGrace)
		s.proc = nil
	}
	s.cancel()
	s.wg.Wait()
	if s.restart != nil {
		select {
		case r := <-s.restart:
			if r.p != nil {
				r.p.kill(errors.New("shutting down"))
				<-r.p.dead
			}
		default:
		}
		s.restart = nil
	}
	_ = os.RemoveAll(s.pidDir)
}

// logMessage, errorMessage and metricsMessage handle the commands bolts and spouts share.
func (s *shell) logMessage(m map[string]any) error {
	msg, ok := m["msg"].(string)
	if !ok {
		return badValue(m, "a log command needs a \"msg\" string")
	}
	level := hclog.Info
	if v, ok := intValue(m["level"]); ok {
		switch v {
		case 0:
			level = hclog.Trace
		case 1:
			level = hclog.Debug
		case 3:
			level = hclog.Warn
		case 4:
			level = hclog.Error
		}
	}
	s.log.Log(level, msg, "subprocess_pid", s.reportedPid())
	return nil
}

func (s *shell) errorMessage(m map[string]any) error {
	msg, ok := m["msg"].(string)
	if !ok {
		return badValue(m, "an error command needs a \"msg\" string")
	}
	s.report(fmt.Errorf("component %q task %d: the subprocess reported an error: %s", s.tctx.ComponentID, s.tctx.TaskID, msg))
	return nil
}

func (s *shell) metricsMessage(m map[string]any) error {
	name, ok := m["name"].(string)
	if !ok {
		return badValue(m, "a metrics command needs a \"name\" string")
	}
	// Storm's shell metrics update a metric the component registered by name; here the
	// name is the metric, made on first use: a number adds to a counter (Storm's
	// CountShellMetric), {"gauge": v} sets a gauge, {"histogram": v} observes a value.
	switch p := m["params"].(type) {
	case map[string]any:
		if v, ok := floatValue(p["gauge"]); ok {
			s.userMetric(name, topology.MetricGauge).Gauge.Set(v)
			return nil
		}
		if v, ok := floatValue(p["histogram"]); ok {
			s.userMetric(name, topology.MetricHistogram).Histogram.Observe(v)
			return nil
		}
	default:
		if v, ok := floatValue(p); ok && v >= 0 && v == math.Trunc(v) && v <= math.MaxInt64 {
			s.userMetric(name, topology.MetricCounter).Counter.Add(int64(v))
			return nil
		}
	}
	// A metric is not worth restarting the subprocess for: the value is dropped, said once.
	if !s.badMetric[name] && len(s.badMetric) < shellMetricNames {
		if s.badMetric == nil {
			s.badMetric = map[string]bool{}
		}
		s.badMetric[name] = true
		s.log.Warn("dropped a metrics command: \"params\" must be a whole number to add to a counter, {\"gauge\": <number>} or {\"histogram\": <number>}",
			"name", name, "params", m["params"])
	}
	return nil
}

// shellMetricNames bounds the metric names a task remembers (the names come from the
// subprocess); past it, metrics still work, registered on each message.
const shellMetricNames = 1000

type shellMetricKey struct {
	name string
	kind topology.MetricKind
}

type shellMetric struct {
	Counter   *topology.Counter
	Gauge     *topology.Gauge
	Histogram *topology.Histogram
}

// userMetric is the task's metric name of a kind, registered once: the registry's lock
// and name check, and a refusal's log line, are not for every message.
func (s *shell) userMetric(name string, kind topology.MetricKind) *shellMetric {
	k := shellMetricKey{name, kind}
	if m, ok := s.metrics[k]; ok {
		return m
	}
	m := &shellMetric{}
	switch kind {
	case topology.MetricCounter:
		m.Counter = s.tctx.RegisterCounter(name)
	case topology.MetricGauge:
		m.Gauge = s.tctx.RegisterGauge(name)
	case topology.MetricHistogram:
		m.Histogram = s.tctx.RegisterHistogram(name)
	}
	if len(s.metrics) < shellMetricNames {
		if s.metrics == nil {
			s.metrics = map[shellMetricKey]*shellMetric{}
		}
		s.metrics[k] = m
	}
	return m
}

// floatValue reads a JSON or msgpack number.
func floatValue(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	}
	if i, ok := intValue(v); ok {
		return float64(i), true
	}
	return 0, false
}

func (s *shell) reportedPid() int {
	if s.proc == nil {
		return 0
	}
	return s.proc.reported
}

// encode frames a message; an error (a value the serializer cannot carry) is reported.
func (s *shell) encode(m map[string]any) ([]byte, bool) {
	b, err := Encode(s.o.serializer, m)
	if err != nil {
		s.report(fmt.Errorf("component %q task %d: cannot encode a message for the subprocess with the %s serializer: %w", s.tctx.ComponentID, s.tctx.TaskID, s.o.serializer, err))
		return nil, false
	}
	return b, true
}

// SubprocessError reports the end of a subprocess: what happened, and what the engine
// did about it. It unwraps to the cause (a *ProtocolError for garbage output).
type SubprocessError struct {
	Component string
	Task      int32
	Kind      string // "bolt" or "spout"
	Command   string
	Pid       int
	Reason    error // why it ended
	Exit      error // its exit status
	Lived     time.Duration
	Failed    int // in-flight inputs failed so that their spouts replay them
	RestartIn time.Duration
	Stderr    string // its last stderr lines
}

func (e *SubprocessError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "component %q task %d: the subprocess %q (pid %d) of the shell %s %s after %v",
		e.Component, e.Task, e.Command, e.Pid, e.Kind, describeEndText(e.Reason, e.Exit), e.Lived.Round(time.Millisecond))
	if e.Kind == "bolt" {
		fmt.Fprintf(&b, "; failed its %d in-flight tuple(s) so that they replay", e.Failed)
	}
	fmt.Fprintf(&b, "; restarting it in %v", e.RestartIn)
	if e.Stderr != "" {
		fmt.Fprintf(&b, "; its last stderr lines: %q", e.Stderr)
	}
	return b.String()
}

func (e *SubprocessError) Unwrap() error { return e.Reason }

// describeEnd is an error saying how a subprocess ended.
func describeEnd(p *process, why, exit error, when string) error {
	msg := fmt.Sprintf("the subprocess (pid %d) %s %s", p.pid(), describeEndText(why, exit), when)
	if tail := p.stderr.lastLines(1024); tail != "" {
		msg += fmt.Sprintf("; its last stderr lines: %q", tail)
	}
	if why != nil && !errors.Is(why, errEOF) {
		return fmt.Errorf("%s: %w", msg, why)
	}
	return errors.New(msg)
}

func describeEndText(why, exit error) string {
	status := "exit status 0"
	if exit != nil {
		status = exit.Error()
	}
	if why == nil || errors.Is(why, errEOF) {
		return "exited (" + status + ")"
	}
	return why.Error() + " and was killed (" + status + ")"
}
