package perf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sparsestream/sparse/pkg/multilang"
	"github.com/sparsestream/sparse/pkg/topology"
)

// MultilangShapeName names the multi-lang benchmark: a Go spout feeding a Python
// pass-through bolt (one Python process), measured against the same Python code fed
// through a pipe with no engine.
const MultilangShapeName = "MultilangPassThrough"

// passThroughPy is the Python bolt of the multi-lang benchmark, run with `python3 -c`:
// a Bolt of the bundled client that emits its input anchored to it (auto_anchor) and
// acks it (auto_ack). The engine and the baseline run exactly this code.
const passThroughPy = `from sparse_multilang import Bolt


class PassThrough(Bolt):
    def process(self, tup):
        self.emit(tup.values)


PassThrough().run()
`

// multilangPending bounds the spout tuples in flight: enough to keep the pipe to the
// subprocess full, and no more, since a deeper queue only adds latency.
const multilangPending = 1024

// MultilangShapes returns the multi-lang benchmark when python3 and the bundled Python
// client (python/sparse_multilang of a source checkout) are found, and otherwise none,
// saying why on note.
func MultilangShapes(note io.Writer) []Shape {
	py, err := findMultilangPython()
	if err != nil {
		fmt.Fprintf(note, "%s: skipped: %v\n", MultilangShapeName, err)
		return nil
	}
	return []Shape{{
		Name:     MultilangShapeName,
		Build:    func(rate float64, _ *LatencySink) *topology.Builder { return multilangPassThrough(py, rate) },
		Counted:  "spout",
		Metric:   "acked",
		Unit:     "spout tuples",
		Baseline: func(d time.Duration) float64 { return baselineMultilang(py, d) },
	}}
}

// pythonCmd is how the benchmark starts the Python bolt.
type pythonCmd struct {
	exe string   // python3, looked up in PATH
	env []string // PYTHONPATH pointing at the bundled client
}

func (p pythonCmd) shell() multilang.ShellCommand {
	return multilang.ShellCommand{Command: p.exe, Args: []string{"-c", passThroughPy}, Env: p.env}
}

// sourceRoots are where a source checkout may be: above this source file, else above
// the working directory (a -trimpath build run from the checkout).
func sourceRoots() []string {
	var roots []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		roots = append(roots, filepath.Join(filepath.Dir(file), "..", ".."))
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			roots = append(roots, d)
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return roots
}

// findMultilangPython finds python3 and the directory holding the bundled client: next
// to this source file in a checkout, else above the working directory (a -trimpath
// build run from the checkout).
func findMultilangPython() (pythonCmd, error) {
	exe, err := exec.LookPath("python3")
	if err != nil {
		return pythonCmd{}, fmt.Errorf("python3 is not on PATH: %w", err)
	}
	for _, root := range sourceRoots() {
		dir := filepath.Join(root, "python")
		if _, err := os.Stat(filepath.Join(dir, "sparse_multilang", "__init__.py")); err == nil {
			dir, _ = filepath.Abs(dir)
			path := dir
			if old := os.Getenv("PYTHONPATH"); old != "" {
				path += string(os.PathListSeparator) + old
			}
			// No __pycache__ written into the source tree.
			return pythonCmd{exe: exe, env: []string{"PYTHONPATH=" + path, "PYTHONDONTWRITEBYTECODE=1"}}, nil
		}
	}
	return pythonCmd{}, errors.New("the bundled Python client (python/sparse_multilang) is not found; run sparse-bench from a source checkout")
}

// multilangPassThrough: a reliable Go const spout -> the Python pass-through bolt
// (parallelism 1) -> a Go null bolt, acking on, one acker.
func multilangPassThrough(py pythonCmd, rate float64) *topology.Builder {
	b := topology.NewBuilder(MultilangShapeName)
	b.Config(topology.ConfAckerExecutors, 1)
	b.Config(topology.ConfMaxSpoutPending, multilangPending)
	b.Spout("spout", func() topology.Spout { return &freshConstSpout{lim: limiter{rate: rate}} }, 1).Output("str")
	multilang.Bolt(b, "py", py.shell(), 1).LocalOrShuffle("spout").Output("str")
	b.Bolt("bolt", func() topology.Bolt { return &NullBolt{} }, 1).LocalOrShuffle("py")
	return b
}

// freshConstSpout is ConstSpout, reliable, with a new values slice per tuple: the engine
// owns what a spout emits (it may normalize the values in place), and the shell bolt
// encodes a tuple on its own goroutine while the spout emits the next one.
type freshConstSpout struct {
	topology.BaseSpout
	out topology.SpoutCollector
	lim limiter
	id  int64
}

// Open remembers the collector.
func (s *freshConstSpout) Open(_ *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	return nil
}

// NextTuple emits a small burst, as ConstSpout does.
func (s *freshConstSpout) NextTuple() {
	n := s.lim.allow(16)
	for range n {
		s.id++
		s.out.Emit([]any{"some data"}, s.id)
	}
	s.lim.sent += n
}

// baselineMultilang runs the pass-through bolt as a subprocess of this process, with no
// engine: it writes the handshake (offering the batch extension, which the bundled client
// accepts), then the tuple messages ShellBolt writes (same serializer, same fields, ids
// counting up) in batch messages, as fast as the subprocess reads them, reads
// and discards what it sends back, and returns the inputs it acked per second over d
// (after a short warm-up). That is the most the Python side can do. It returns NaN
// (and so does the ratio), after printing why on stderr, when the subprocess fails.
func baselineMultilang(py pythonCmd, d time.Duration) float64 {
	n, err := runMultilangBaseline(py, min(time.Second, max(d/5, 200*time.Millisecond)), d)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: baseline: %v\n", MultilangShapeName, err)
		return math.NaN()
	}
	return n
}

func runMultilangBaseline(py pythonCmd, warmup, d time.Duration) (float64, error) {
	pidDir, err := os.MkdirTemp("", "sparse-bench-multilang-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(pidDir)

	sh := py.shell()
	cmd := exec.Command(sh.Command, sh.Args...)
	cmd.Env = append(os.Environ(), sh.Env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting python3: %w", err)
	}
	var acks, emits atomic.Int64
	replies := make(chan []byte, 16) // answers to emits that ask for task ids
	readErr := make(chan error, 1)
	var stopping atomic.Bool
	stopped := make(chan struct{})
	stop := func() {
		if !stopping.Swap(true) {
			close(stopped)
		}
	}
	go func() {
		dec := multilang.NewDecoder(multilang.JSON, stdout, 0)
		for {
			v, err := dec.ReadMessage()
			if err != nil {
				if stopping.Load() {
					err = nil
				}
				readErr <- err
				return
			}
			m, _ := v.(map[string]any)
			msgs := []any{m}
			if m["command"] == "batch" {
				msgs, _ = m["msgs"].([]any)
			}
			for _, sub := range msgs {
				m, _ := sub.(map[string]any)
				switch m["command"] {
				case "ack":
					acks.Add(1)
				case "emit":
					emits.Add(1)
					// The bundled client sends need_task_ids false; a client that asks is
					// answered with the one task a local-or-shuffle grouping would pick.
					if need, ok := m["need_task_ids"].(bool); !ok || need {
						if _, direct := m["task"]; !direct {
							b, _ := multilang.Encode(multilang.JSON, []int32{3})
							select {
							case replies <- b:
							case <-stopped:
							}
						}
					}
				case "fail", "error":
					readErr <- fmt.Errorf("the bolt sent %v", m)
					return
				}
			}
		}
	}()

	// Write as fast as the subprocess reads: the pipe blocks the writer when it is full.
	writeErr := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(stdin, 64<<10)
		hello, err := multilang.Encode(multilang.JSON, baselineHandshake(pidDir))
		if err != nil {
			writeErr <- err
			return
		}
		// A bufio.Writer's error sticks: the Write in the loop below sees it and stops.
		_, _ = w.Write(hello)
		// Tuples go in batch messages of baselineBatch, as the engine's writer sends
		// them to a client that accepted the batch extension when they queue up.
		msgs := make([]any, baselineBatch)
		for i := range msgs {
			msgs[i] = map[string]any{"comp": "spout", "stream": "default", "task": int64(1), "tuple": []any{"some data"}}
		}
		batch := map[string]any{"command": "batch", "msgs": msgs}
		for seq := uint64(1); !stopping.Load(); {
			select {
			case r := <-replies:
				_, _ = w.Write(r)
			default:
			}
			for _, m := range msgs {
				m.(map[string]any)["id"] = strconv.FormatUint(seq, 10)
				seq++
			}
			b, err := multilang.Encode(multilang.JSON, batch)
			if err != nil {
				writeErr <- err
				return
			}
			if _, err := w.Write(b); err != nil {
				break
			}
		}
		w.Flush()
		stdin.Close()
		writeErr <- nil
	}()

	fail := func(err error) (float64, error) {
		stop()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if tail := strings.TrimSpace(stderr.String()); tail != "" {
			err = fmt.Errorf("%w; python3 stderr: %s", err, tail)
		}
		return 0, err
	}
	window := func(dur time.Duration) error {
		select {
		case err := <-readErr:
			if err == nil {
				err = errors.New("the bolt closed its stdout")
			}
			return err
		case <-time.After(dur):
			return nil
		}
	}
	// As for the engine, the warm-up starts once the subprocess answers: starting
	// Python can take longer than the warm-up on a loaded machine.
	for deadline := time.Now().Add(startWait); acks.Load() == 0 && time.Now().Before(deadline); {
		if err := window(10 * time.Millisecond); err != nil {
			return fail(err)
		}
	}
	if err := window(warmup); err != nil {
		return fail(err)
	}
	a0, start := acks.Load(), time.Now()
	if err := window(d); err != nil {
		return fail(err)
	}
	a1, elapsed := acks.Load(), time.Since(start)
	e1 := emits.Load()
	stop()
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	<-writeErr // the writer fails once the bolt is killed; its error says nothing new
	if a1 == a0 {
		return fail(errors.New("the bolt acked nothing"))
	}
	if e1 < a1-1 {
		return fail(fmt.Errorf("the bolt acked %d inputs but emitted only %d tuples", a1, e1))
	}
	return float64(a1-a0) / elapsed.Seconds(), nil
}

// baselineBatch is how many tuples the baseline writes per batch message: about what
// the engine's writer gathers when the subprocess is the bottleneck.
const baselineBatch = 64

// baselineHandshake is the handshake ShellBolt sends the pass-through bolt of
// multilangPassThrough: task 2 of component "py", fed by "spout" (task 1), feeding
// "bolt" (task 3).
func baselineHandshake(pidDir string) map[string]any {
	local := map[string]any{"type": "LOCAL_OR_SHUFFLE"}
	return map[string]any{
		"conf": map[string]any{"topology.name": MultilangShapeName, topology.ConfMaxSpoutPending: int64(multilangPending),
			multilang.BatchOfferKey: int64(multilang.BatchVersion)},
		"pidDir": pidDir,
		"context": map[string]any{
			"taskid":                   int64(2),
			"componentid":              "py",
			"task->component":          map[string]any{"1": "spout", "2": "py", "3": "bolt", "4": "__acker"},
			"streams":                  []any{"default"},
			"stream->outputfields":     map[string]any{"default": []any{"str"}},
			"stream->target->grouping": map[string]any{"default": map[string]any{"bolt": local}},
			"source->stream->grouping": map[string]any{"spout": map[string]any{"default": local}},
			"source->stream->fields":   map[string]any{"spout": map[string]any{"default": []any{"str"}}},
		},
	}
}
