package multilang_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/pkg/grouping"
	"github.com/sparsestream/sparse/pkg/local"
	"github.com/sparsestream/sparse/pkg/multilang"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

var sentences = []string{
	"the cow jumped over the moon",
	"an apple a day keeps the doctor away",
	"four score and seven years ago",
	"snow white and the seven dwarfs",
	"i am at two with nature",
}

var serializers = []multilang.Serializer{multilang.JSON, multilang.Msgpack}

// TestWordCountPython runs wordcount with a Go spout and the Python split and count bolts
// of examples/wordcount-python, with acking, and checks every count exactly: nothing
// lost, nothing counted twice. Then it checks that every subprocess was reaped and every
// goroutine ended.
func TestWordCountPython(t *testing.T) {
	needPython(t)
	for _, ser := range serializers {
		t.Run(string(ser), func(t *testing.T) {
			before := runtime.NumGoroutine()
			const n = 1000
			l := newLedger(n)
			counts := map[string]int64{}
			s := &sink{f: func(in *tuple.Tuple) { counts[in.String(0)] = max(counts[in.String(0)], in.Int(1)) }}

			b := topology.NewBuilder("wordcount-python")
			b.Config(topology.ConfMaxSpoutPending, 200)
			b.Config(multilang.ConfSerializer, string(ser))
			b.Spout("sentences", func() topology.Spout {
				return &replaySpout{l: l, values: func(id int64) []any { return []any{sentences[id%int64(len(sentences))]} }}
			}, 1).Output("sentence")
			multilang.Bolt(b, "split", py(t, examples(t), "split.py"), 2).Shuffle("sentences").Output("word")
			multilang.Bolt(b, "count", py(t, examples(t), "count.py"), 2).Fields("split", "word").Output("word", "count")
			b.Bolt("sink", s.factory(), 1).Global("count")

			start := time.Now()
			rt, stop := run(t, b, nil)
			l.wait(t, 90*time.Second)
			took := time.Since(start)
			stop()

			want := map[string]int64{}
			words := 0
			for id := range n {
				for _, w := range strings.Fields(sentences[id%len(sentences)]) {
					want[w]++
					words++
				}
			}
			s.mu.Lock()
			if !reflect.DeepEqual(counts, want) {
				t.Errorf("counts differ:\n got %v\nwant %v", counts, want)
			}
			s.mu.Unlock()
			acked, dup, failed := l.snapshot()
			if acked != n || dup != 0 || failed != 0 {
				t.Errorf("spout: %d acked, %d duplicate acks, %d fails; want %d, 0, 0", acked, dup, failed, n)
			}
			for _, c := range []string{"split", "count"} {
				if sum := summary(rt, c); sum.Errors != 0 || sum.Failed != 0 {
					t.Errorf("%s: %d errors (last %q), %d failed", c, sum.Errors, sum.LastError, sum.Failed)
				}
			}
			t.Logf("%s: %d sentences, %d words through 2 Python split and 2 Python count subprocesses in %v (%.0f words/s)",
				ser, n, words, took.Round(time.Millisecond), float64(words)/took.Seconds())
			checkClean(t, before)
		})
	}
}

// TestPythonSpoutReplaysWhatAPythonBoltFails: a reliable Python spout emits 50 items; a
// Python bolt fails each the first time it sees it; the spout is told Fail, replays, and
// every item reaches the sink exactly once.
func TestPythonSpoutReplaysWhatAPythonBoltFails(t *testing.T) {
	needPython(t)
	for _, ser := range serializers {
		t.Run(string(ser), func(t *testing.T) {
			before := runtime.NumGoroutine()
			const n = 50
			got := map[string]int{}
			s := &sink{f: func(in *tuple.Tuple) { got[in.String(0)]++ }}
			b := topology.NewBuilder("replay")
			b.Config(multilang.ConfSerializer, string(ser))
			b.Config("test.items", n)
			multilang.Spout(b, "items", py(t, testdata(t), "items.py"), 1).Output("item")
			multilang.Bolt(b, "failonce", py(t, testdata(t), "failonce.py"), 2).Fields("items", "item").Output("item")
			b.Bolt("sink", s.factory(), 1).Shuffle("failonce")
			rt, stop := run(t, b, nil)
			testutil.Eventually(t, 60*time.Second, "the spout was not acked for every item", func() bool { return summary(rt, "items").Acked >= n })
			stop()
			sp := summary(rt, "items")
			if sp.Acked != n || sp.Failed != n {
				t.Errorf("spout: acked %d, failed %d; want %d and %d (each item failed once, then acked)", sp.Acked, sp.Failed, n, n)
			}
			s.mu.Lock()
			for i := range n {
				if item := "item-" + strconv.Itoa(i); got[item] != 1 {
					t.Errorf("%s reached the sink %d times, want once", item, got[item])
				}
			}
			s.mu.Unlock()
			checkClean(t, before)
		})
	}
}

// faultTopology runs a Go spout of n ids through faulty.py into a sink.
func faultTopology(t *testing.T, n int, fault string, after int, conf topology.Config) (*executor.Runtime, *ledger, func()) {
	t.Helper()
	l := newLedger(n)
	marker := filepath.Join(t.TempDir(), "marker")
	b := topology.NewBuilder("fault-" + fault)
	b.Config(topology.ConfMaxSpoutPending, 20)
	b.Spout("spout", func() topology.Spout {
		return &replaySpout{l: l, values: func(id int64) []any { return []any{id} }}
	}, 1).Output("id")
	multilang.Bolt(b, "faulty", py(t, testdata(t), "faulty.py", "FAULT="+fault, "FAULT_AFTER="+strconv.Itoa(after), "FAULT_MARKER="+marker), 1).
		Shuffle("spout").Output("id")
	b.Bolt("sink", (&sink{}).factory(), 1).Shuffle("faulty")
	rt, stop := run(t, b, conf)
	return rt, l, stop
}

// TestBoltCrashReplaysAndRestarts: a Python bolt exits with status 3 after 50 tuples; the
// tuples it held are failed and replayed, it is restarted, and every id ends acked. The
// error names the component, the task, the exit status and the last stderr line.
func TestBoltCrashReplaysAndRestarts(t *testing.T) {
	needPython(t)
	before := runtime.NumGoroutine()
	start := time.Now()
	rt, l, stop := faultTopology(t, 300, "crash", 50, nil)
	l.wait(t, 60*time.Second)
	took := time.Since(start)
	stop()
	_, dup, failed := l.snapshot()
	if failed == 0 {
		t.Error("no tuple was failed back to the spout, but the crash must have lost some")
	}
	if dup != 0 {
		t.Errorf("%d duplicate acks", dup)
	}
	sum := summary(rt, "faulty")
	for _, frag := range []string{`component "faulty" task`, "faulty.py", "exited (exit status 3)", "in-flight tuple(s) so that they replay", "restarting it in", "crashing on purpose"} {
		if !strings.Contains(sum.LastError, frag) {
			t.Errorf("the reported error %q does not mention %q", sum.LastError, frag)
		}
	}
	if sum.Errors != 1 {
		t.Errorf("%d errors reported, want 1 (the crash)", sum.Errors)
	}
	t.Logf("crash: all 300 ids acked in %v with %d replays; error: %s", took.Round(time.Millisecond), failed, sum.LastError)
	checkClean(t, before)
}

// TestGarbageOutputIsReportedAndRestarted: a Python bolt prints a line that is not a
// message; the error quotes it, the subprocess is killed and restarted, the worker lives
// on and every id ends acked.
func TestGarbageOutputIsReportedAndRestarted(t *testing.T) {
	needPython(t)
	before := runtime.NumGoroutine()
	rt, l, stop := faultTopology(t, 100, "garbage", 10, nil)
	l.wait(t, 60*time.Second)
	stop()
	sum := summary(rt, "faulty")
	for _, frag := range []string{"broke the multi-lang protocol", `starts with "this is not JSON, it is a stray print\n"`, "must not print to stdout", "was killed"} {
		if !strings.Contains(sum.LastError, frag) {
			t.Errorf("the reported error %q does not mention %q", sum.LastError, frag)
		}
	}
	t.Logf("garbage: %s", sum.LastError)
	checkClean(t, before)
}

// TestHeartbeatTimeoutKillsAndRestarts: a Python bolt stops answering (it sleeps); with a
// 2s subprocess timeout it is killed for missing heartbeats and restarted.
func TestHeartbeatTimeoutKillsAndRestarts(t *testing.T) {
	needPython(t)
	before := runtime.NumGoroutine()
	start := time.Now()
	rt, l, stop := faultTopology(t, 100, "hang", 10, topology.Config{multilang.ConfSubprocessTimeoutSecs: 2})
	l.wait(t, 60*time.Second)
	took := time.Since(start)
	stop()
	sum := summary(rt, "faulty")
	for _, frag := range []string{"did not answer a heartbeat for 2", multilang.ConfSubprocessTimeoutSecs, "was killed (signal: killed)"} {
		if !strings.Contains(sum.LastError, frag) {
			t.Errorf("the reported error %q does not mention %q", sum.LastError, frag)
		}
	}
	if took < 2*time.Second {
		t.Errorf("done in %v, before the subprocess timeout could pass", took)
	}
	t.Logf("hang: all acked in %v; error: %s", took.Round(time.Millisecond), sum.LastError)
	checkClean(t, before)
}

// TestValuesRoundTrip sends every kind of tuple value through a Python bolt that emits it
// back, with both serializers, and checks the task ids the bolt asked for.
func TestValuesRoundTrip(t *testing.T) {
	needPython(t)
	values := func(int64) []any {
		return []any{"héllo ☃ \nend\n", int64(1 << 62), int64(-7), 3.25, true, nil, []byte{0, 1, 2, 255},
			[]any{"a", int64(1), []any{}}, map[string]any{"k": "v", "n": int64(2), "l": []any{false}}}
	}
	fields := []string{"s", "big", "neg", "f", "b", "null", "raw", "list", "map"}
	for _, ser := range serializers {
		t.Run(string(ser), func(t *testing.T) {
			l := newLedger(3)
			out, tasks := &sink{}, &sink{}
			b := topology.NewBuilder("roundtrip")
			b.Config(multilang.ConfSerializer, string(ser))
			b.Spout("spout", func() topology.Spout { return &replaySpout{l: l, values: values} }, 1).Output(fields...)
			multilang.Bolt(b, "echo", py(t, testdata(t), "echo.py"), 1).Shuffle("spout").
				Output(fields...).OutputStream("tasks", "tasks")
			b.Bolt("out", out.factory(), 1).Shuffle("echo")
			b.Bolt("tasks", tasks.factory(), 1).InputStream("echo", "tasks", grouping.Spec{Type: grouping.Shuffle})
			rt, stop := run(t, b, nil)
			l.wait(t, 30*time.Second)
			stop()
			want := values(0)
			if ser == multilang.JSON {
				want[6] = base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 255}) // JSON has no bytes
			}
			got := out.all()
			if len(got) != 3 {
				t.Fatalf("the sink got %d tuples, want 3", len(got))
			}
			for _, in := range got {
				if !reflect.DeepEqual(in.Values, want) {
					t.Errorf("round trip through Python with %s:\n got %#v\nwant %#v", ser, in.Values, want)
				}
			}
			outTask := rt.Layout().Tasks["out"][0]
			for _, in := range tasks.all() {
				if want := []any{int64(outTask)}; !reflect.DeepEqual(in.Values[0], want) {
					t.Errorf("need_task_ids answered %#v, want %v (the task of \"out\")", in.Values[0], want)
				}
			}
		})
	}
}

// TestBadHandshakeStopsTheTopology: a script that prints instead of answering the
// handshake makes the topology fail to start, with an error quoting what it printed.
func TestBadHandshakeStopsTheTopology(t *testing.T) {
	needPython(t)
	before := runtime.NumGoroutine()
	b := topology.NewBuilder("bad")
	b.Spout("spout", func() topology.Spout {
		return &replaySpout{l: newLedger(1), values: func(id int64) []any { return []any{id} }}
	}, 1).Output("id")
	multilang.Bolt(b, "bad", py(t, testdata(t), "badhandshake.py"), 1).Shuffle("spout")
	spec, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	rt, err := executor.New(executor.Options{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	err = local.RunRuntime(context.Background(), rt, local.Options{})
	if err == nil {
		t.Fatal("the topology started with a subprocess that does not speak the protocol")
	}
	for _, frag := range []string{`component "bad" task`, "badhandshake.py", "during the handshake", `starts with "hello from a script that does not speak multi-lang\n"`} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error %q does not mention %q", err, frag)
		}
	}
	checkClean(t, before)
}

// TestMissingCommand: a command that does not exist fails Prepare with the command named.
func TestMissingCommand(t *testing.T) {
	bolt := multilang.NewShellBolt(multilang.ShellCommand{Command: "sparse-no-such-command-xyz"})()
	l := topology.NewLayout(&topology.Spec{Name: "t"}, 0)
	err := bolt.Prepare(topology.NewContext("t", l, "c", 1, topology.Config{}, nil), nullCollector{})
	if err == nil || !strings.Contains(err.Error(), "sparse-no-such-command-xyz") {
		t.Fatalf("Prepare = %v, want an error naming the command", err)
	}
}

// nullCollector is a BoltCollector that does nothing.
type nullCollector struct{}

func (nullCollector) Emit(*tuple.Tuple, []any)                         {}
func (nullCollector) EmitStream(string, []*tuple.Tuple, []any) []int32 { return nil }
func (nullCollector) EmitDirect(int32, string, []*tuple.Tuple, []any)  {}
func (nullCollector) Ack(*tuple.Tuple)                                 {}
func (nullCollector) Fail(*tuple.Tuple)                                {}
func (nullCollector) ResetTimeout(*tuple.Tuple)                        {}
func (nullCollector) ReportError(error)                                {}
func (nullCollector) Logger() hclog.Logger                             { return hclog.NewNullLogger() }

// TestSpoutTimeoutKillsAndRestarts: a Python spout that stops answering "next" is killed
// after the subprocess timeout and restarted, and the restarted one emits again.
func TestSpoutTimeoutKillsAndRestarts(t *testing.T) {
	needPython(t)
	before := runtime.NumGoroutine()
	const n = 20
	got := map[string]int{}
	s := &sink{f: func(in *tuple.Tuple) { got[in.String(0)]++ }}
	b := topology.NewBuilder("spout-hang")
	b.Config("test.items", n)
	b.Config(multilang.ConfSubprocessTimeoutSecs, 2)
	multilang.Spout(b, "items", py(t, testdata(t), "hangspout.py", "FAULT_MARKER="+filepath.Join(t.TempDir(), "marker")), 1).Output("item")
	b.Bolt("sink", s.factory(), 1).Shuffle("items")
	start := time.Now()
	rt, stop := run(t, b, nil)
	testutil.Eventually(t, 30*time.Second, "the restarted spout did not emit every item", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(got) == n
	})
	took := time.Since(start)
	stop()
	sum := summary(rt, "items")
	for _, frag := range []string{`component "items" task`, "shell spout", `did not answer "next" with "sync" within 2s`, "was killed"} {
		if !strings.Contains(sum.LastError, frag) {
			t.Errorf("the reported error %q does not mention %q", sum.LastError, frag)
		}
	}
	if took < 2*time.Second {
		t.Errorf("done in %v, before the subprocess timeout could pass", took)
	}
	t.Logf("spout hang: all %d items in %v; error: %s", n, took.Round(time.Millisecond), sum.LastError)
	checkClean(t, before)
}

// TestCleanupKillsAStubbornSubprocess: a subprocess that ignores the end of its stdin is
// killed a second later, reaped, and nothing is left running.
func TestCleanupKillsAStubbornSubprocess(t *testing.T) {
	needPython(t)
	before := runtime.NumGoroutine()
	b := topology.NewBuilder("stubborn")
	b.Spout("spout", func() topology.Spout {
		return &replaySpout{l: newLedger(0), values: func(id int64) []any { return []any{id} }}
	}, 1).Output("id")
	multilang.Bolt(b, "stubborn", py(t, testdata(t), "stubborn.py"), 2).Shuffle("spout")
	_, stop := run(t, b, nil)
	time.Sleep(300 * time.Millisecond)
	if n := len(children(t)); runtime.GOOS == "linux" && n != 2 {
		t.Errorf("%d subprocesses running, want 2", n)
	}
	start := time.Now()
	stop()
	took := time.Since(start)
	if took < 900*time.Millisecond || took > 10*time.Second {
		t.Errorf("stopping took %v; want the one-second grace, then a kill", took)
	}
	checkClean(t, before)
}

// TestBatchingBolt: a Python BatchingBolt holds its inputs until a tick, emits one count
// per key, and acks the whole batch; every id ends acked and every input is counted once.
func TestBatchingBolt(t *testing.T) {
	needPython(t)
	const n = 200
	l := newLedger(n)
	total := map[string]int64{}
	s := &sink{f: func(in *tuple.Tuple) { total[in.String(0)] += in.Int(1) }}
	b := topology.NewBuilder("batching")
	b.Spout("spout", func() topology.Spout {
		return &replaySpout{l: l, values: func(id int64) []any { return []any{"k" + strconv.Itoa(int(id%3))} }}
	}, 1).Output("key")
	// A batching bolt answers on ticks.
	multilang.Bolt(b, "batcher", py(t, testdata(t), "batcher.py"), 1).Shuffle("spout").Output("key", "count").
		Config(topology.ConfTickTupleFreqSecs, 1)
	b.Bolt("sink", s.factory(), 1).Shuffle("batcher")
	start := time.Now()
	_, stop := run(t, b, nil)
	l.wait(t, 30*time.Second)
	took := time.Since(start)
	stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if want := map[string]int64{"k0": 67, "k1": 67, "k2": 66}; !reflect.DeepEqual(total, want) {
		t.Errorf("counts %v, want %v", total, want)
	}
	if _, dup, failed := l.snapshot(); dup != 0 || failed != 0 {
		t.Errorf("%d duplicate acks, %d fails", dup, failed)
	}
	t.Logf("batching: %d ids acked in %v", n, took.Round(time.Millisecond))
}

// TestPipelinedInputsWithoutTicks: a bolt that answers only once it holds five inputs
// gets them all (inputs are written without waiting for answers), and its answers are
// applied as they come, with no tick tuples: the last five would otherwise wait forever.
func TestPipelinedInputsWithoutTicks(t *testing.T) {
	needPython(t)
	const n = 500
	l := newLedger(n)
	var got sync.Map
	s := &sink{f: func(in *tuple.Tuple) { got.Store(in.Int(0), true) }}
	b := topology.NewBuilder("pipelined")
	b.Spout("spout", func() topology.Spout {
		return &replaySpout{l: l, values: func(id int64) []any { return []any{id} }}
	}, 1).Output("id")
	multilang.Bolt(b, "hold", py(t, testdata(t), "holdfive.py"), 1).Shuffle("spout").Output("id")
	b.Bolt("sink", s.factory(), 1).Shuffle("hold")
	_, stop := run(t, b, nil)
	l.wait(t, 30*time.Second)
	stop()
	if _, dup, failed := l.snapshot(); dup != 0 || failed != 0 {
		t.Errorf("%d duplicate acks, %d fails", dup, failed)
	}
	for id := range int64(n) {
		if _, ok := got.Load(id); !ok {
			t.Errorf("id %d never reached the sink", id)
		}
	}
}

// TestSlowBoltWithABacklogIsNotKilled: a bolt that takes 10ms per input, fed 500-byte
// inputs as fast as the pipe takes them, has a few hundred inputs written ahead of each
// heartbeat, more than the 1s subprocess timeout's worth. It answers every input, so it
// is alive: as in Storm's ShellBolt, any message counts as a heartbeat answer, and it
// must not be killed.
func TestSlowBoltWithABacklogIsNotKilled(t *testing.T) {
	needPython(t)
	const n = 400
	l := newLedger(n)
	pad := strings.Repeat("x", 500)
	b := topology.NewBuilder("slow")
	b.Spout("spout", func() topology.Spout {
		return &replaySpout{l: l, values: func(id int64) []any { return []any{pad + strconv.FormatInt(id, 10)} }}
	}, 1).Output("v")
	multilang.Bolt(b, "slow", py(t, testdata(t), "slow.py", "SLOW_MS=10"), 1).Shuffle("spout").Output("v").
		Config(multilang.ConfSubprocessTimeoutSecs, 1)
	b.Bolt("sink", (&sink{}).factory(), 1).Shuffle("slow")
	rt, stop := run(t, b, nil)
	l.wait(t, 60*time.Second)
	stop()
	if _, dup, failed := l.snapshot(); dup != 0 || failed != 0 {
		t.Errorf("%d duplicate acks, %d fails", dup, failed)
	}
	if sum := summary(rt, "slow"); sum.Errors != 0 {
		t.Errorf("%d errors reported, want none; last: %s", sum.Errors, sum.LastError)
	}
}

// TestShellMetrics: the metrics command of a Python bolt feeds the runtime's user
// metrics: a whole number adds to a counter, {"gauge": v} sets a gauge, {"histogram": v}
// observes; a malformed one is dropped without restarting the subprocess.
func TestShellMetrics(t *testing.T) {
	needPython(t)
	const n = 40
	l := newLedger(n)
	b := topology.NewBuilder("metrics")
	b.Spout("spout", func() topology.Spout {
		return &replaySpout{l: l, values: func(id int64) []any { return []any{id} }}
	}, 1).Output("id")
	multilang.Bolt(b, "metered", py(t, testdata(t), "metrics.py"), 1).Shuffle("spout").Output("id")
	b.Bolt("sink", (&sink{}).factory(), 1).Shuffle("metered")
	rt, stop := run(t, b, nil)
	l.wait(t, 60*time.Second)
	stop()
	got := map[string]*topology.UserMetric{}
	rt.UserMetrics().Each(func(um *topology.UserMetric) { got[um.Name] = um })
	if um := got["items"]; um == nil || um.Kind != topology.MetricCounter || um.Counter.Value() != 2*n || um.Component != "metered" {
		t.Errorf("counter items: %+v; want %d from component metered", um, 2*n)
	}
	if um := got["last_item"]; um == nil || um.Kind != topology.MetricGauge || um.Gauge.Value() < 0 || um.Gauge.Value() >= n {
		t.Errorf("gauge last_item: %+v", um)
	}
	if um := got["item_size"]; um == nil || um.Kind != topology.MetricHistogram {
		t.Errorf("histogram item_size: %+v", um)
	} else if _, _, count, sum := um.Histogram.Snapshot(); count != n || sum < 0.003*n*0.99 {
		t.Errorf("histogram item_size: %d observations summing to %v; want %d of 0.003", count, sum, n)
	}
	if sum := summary(rt, "metered"); sum.Errors != 0 {
		t.Errorf("the malformed metrics command counted as an error (%q); it should only be logged", sum.LastError)
	}
}

// TestBatchNegotiation: the bundled client accepts the batch extension the engine offers,
// and declines it when ConfBatch is false; a client that knows only Storm's protocol (no
// answer to the offer) is never sent a batch. Every input is acked in each case.
func TestBatchNegotiation(t *testing.T) {
	needPython(t)
	for _, tt := range []struct {
		name   string
		script string
		batch  any // config ConfBatch (nil: unset)
		want   string
	}{
		{"bundled", "batchprobe.py", nil, "true"},
		{"bundled-off", "batchprobe.py", false, "false"},
		{"plain", "plainclient.py", nil, "plain"},
	} {
		for _, ser := range serializers {
			if tt.script == "plainclient.py" && ser != multilang.JSON {
				continue // it speaks JSON only, as storm.py does
			}
			t.Run(tt.name+"/"+string(ser), func(t *testing.T) {
				const n = 300
				l := newLedger(n)
				var mu sync.Mutex
				seen := map[string]int{}
				s := &sink{f: func(in *tuple.Tuple) {
					mu.Lock()
					defer mu.Unlock()
					if len(in.Values) > 1 {
						seen[fmt.Sprint(in.Values[1])]++
					}
				}}
				b := topology.NewBuilder("negotiation")
				b.Config(multilang.ConfSerializer, string(ser))
				if tt.batch != nil {
					b.Config(multilang.ConfBatch, tt.batch)
				}
				b.Spout("spout", func() topology.Spout {
					return &replaySpout{l: l, values: func(id int64) []any { return []any{id} }}
				}, 1).Output("id")
				multilang.Bolt(b, "py", py(t, testdata(t), tt.script), 1).Shuffle("spout").Output("id", "batch")
				b.Bolt("sink", s.factory(), 1).Shuffle("py")
				rt, stop := run(t, b, nil)
				l.wait(t, 60*time.Second)
				stop()
				if _, dup, failed := l.snapshot(); dup != 0 || failed != 0 {
					t.Errorf("%d duplicate acks, %d fails", dup, failed)
				}
				if sum := summary(rt, "py"); sum.Errors != 0 {
					t.Errorf("%d errors; last: %s", sum.Errors, sum.LastError)
				}
				mu.Lock()
				defer mu.Unlock()
				if len(seen) != 1 || seen[tt.want] != n {
					t.Errorf("the bolt saw batching = %v, want %s for all %d", seen, tt.want, n)
				}
			})
		}
	}
}
