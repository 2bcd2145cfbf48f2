package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/wire"
	"github.com/sparsestream/sparse/pkg/transport"
)

var sentences = []string{
	"the cow jumped over the moon",
	"an apple a day keeps the doctor away",
	"four score and seven years ago",
	"snow white and the seven dwarfs",
	"i am at two with nature",
}

func expectedCounts(n int) map[string]int64 {
	want := map[string]int64{}
	for i := range n {
		for _, w := range strings.Fields(sentences[i%len(sentences)]) {
			want[w]++
		}
	}
	return want
}

// cluster is a static three-worker wordcount deployment.
type cluster struct {
	dir, state, assignment string
	opts                   []string
	ids                    []string
	workers                map[string]*proc
}

func newCluster(t *testing.T, n int, extra ...string) *cluster {
	t.Helper()
	c := &cluster{dir: t.TempDir(), workers: map[string]*proc{}}
	c.state = filepath.Join(c.dir, "state")
	if err := os.Mkdir(c.state, 0o755); err != nil {
		t.Fatal(err)
	}
	c.opts = append([]string{"-o", "topology.workers=3", "-o", "wordcount.state.dir=" + c.state}, extra...)
	addrs := freeAddrs(t, n)
	args := []string{"assign"}
	for i, a := range addrs {
		id := fmt.Sprintf("w%d", i+1)
		c.ids = append(c.ids, id)
		args = append(args, "--worker", id+"="+a)
	}
	out, err := exec.Command(bins.wordcount, append(args, c.opts...)...).Output()
	if err != nil {
		t.Fatalf("assign: %v", err)
	}
	c.assignment = filepath.Join(c.dir, "assignment.json")
	if err := os.WriteFile(c.assignment, out, 0o644); err != nil {
		t.Fatal(err)
	}
	// Every component must be spread over every worker for the test to mean anything.
	var a struct {
		Workers []struct{ Tasks []int32 } `json:"workers"`
	}
	if err := json.Unmarshal(out, &a); err != nil || len(a.Workers) != n {
		t.Fatalf("assignment: %v\n%s", err, out)
	}
	return c
}

func (c *cluster) start(t *testing.T, id string) *proc {
	args := append([]string{"worker", "--assignment", c.assignment, "--id", id, "--stats-every", "1s", "--log-level", "info"}, c.opts...)
	p := startProc(t, c.dir, id, bins.wordcount, args...)
	c.workers[id] = p
	return p
}

func (c *cluster) all() []*proc {
	var out []*proc
	for _, id := range c.ids {
		out = append(out, c.workers[id])
	}
	return out
}

// TestThreeWorkersExactCounts: wordcount over three worker processes, every component
// spread over all three, acking on: every sentence is acked exactly once and the word
// counts, summed over the count tasks of all workers, are exact.
func TestThreeWorkersExactCounts(t *testing.T) {
	const n = 6000
	c := newCluster(t, 3, "-o", fmt.Sprintf("wordcount.sentences=%d", n))
	for _, id := range c.ids {
		c.start(t, id)
	}
	waitAcked(t, c.state, n, 2*time.Minute, c.all()...)
	for _, p := range c.all() {
		p.stop(t)
	}
	ids, lines := ackedIDs(t, c.state)
	if len(ids) != n || lines != n {
		t.Fatalf("%d distinct ids acked in %d ack-log lines, want %d and %d", len(ids), lines, n, n)
	}
	got := map[string]int64{}
	files, _ := filepath.Glob(filepath.Join(c.state, "counts-*.json"))
	if len(files) != 3 {
		t.Fatalf("%d count files, want one per count task (3)", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]int64
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for w, k := range m {
			got[w] += k
		}
	}
	if want := expectedCounts(n); !maps.Equal(got, want) {
		t.Errorf("word counts differ:\n got %v\nwant %v", got, want)
	}
	var failed int64
	for _, p := range c.all() {
		failed += finalField(p.stdout, "sentences", "failed")
	}
	if failed != 0 {
		t.Errorf("%d spout tuples failed in a run without faults", failed)
	}
}

// TestWorkerKilledAndRestarted: SIGKILL one of three workers mid-run and start it again;
// every sentence is still acked in the end (at least once). The tuples that were in the
// dead worker, or on their way to it, time out and are replayed.
func TestWorkerKilledAndRestarted(t *testing.T) {
	const n = 30000
	c := newCluster(t, 3, "-o", fmt.Sprintf("wordcount.sentences=%d", n), "-o", "topology.message.timeout.secs=3")
	for _, id := range c.ids {
		c.start(t, id)
	}
	waitAcked(t, c.state, n/5, time.Minute, c.all()...)
	victim := c.workers["w2"]
	victim.kill()
	before, _ := ackedIDs(t, c.state)
	t.Logf("SIGKILLed w2 with %d of %d ids acked", len(before), n)
	time.Sleep(time.Second)
	c.start(t, "w2")
	waitAcked(t, c.state, n, 3*time.Minute, c.all()...)
	for _, p := range c.all() {
		p.stop(t)
	}
	ids, lines := ackedIDs(t, c.state)
	if len(ids) != n {
		t.Fatalf("%d of %d ids acked", len(ids), n)
	}
	var failed int64
	for _, id := range []string{"w1", "w3"} {
		failed += finalField(c.workers[id].stdout, "sentences", "failed")
	}
	failed += finalField(c.workers["w2"].stdout, "sentences", "failed")
	t.Logf("every one of %d ids acked; ack-log lines %d (ids acked more than once: %d); spout tuples failed and replayed by the surviving and restarted workers: %d",
		n, lines, lines-len(ids), failed)
	if failed == 0 {
		t.Errorf("no replays after killing a worker that ran a third of every component: the test did not exercise recovery")
	}
}

// TestPeerBadInput: a peer that sends a wrong topology, a stale assignment version or a
// malformed batch is refused (a bad hello is told only "refused", a malformed batch the
// reason), the refusal is logged with the reason naming the peer, and the worker keeps
// processing.
func TestPeerBadInput(t *testing.T) {
	const n = 3000
	c := newCluster(t, 1, "-o", fmt.Sprintf("wordcount.sentences=%d", n), "-o", "topology.max.spout.pending=10")
	w := c.start(t, "w1")
	b, _ := os.ReadFile(c.assignment)
	var a struct {
		Workers []struct{ Address string } `json:"workers"`
	}
	_ = json.Unmarshal(b, &a)
	conn, err := grpc.NewClient(a.Workers[0].Address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := sparsev1.NewWorkerTransportClient(conn)
	hello := func(mod func(*sparsev1.Hello)) *sparsev1.Hello {
		h := &sparsev1.Hello{TopologyId: "wordcount", AssignmentVersion: 1, SenderWorkerId: "intruder",
			Channel: sparsev1.Channel_CHANNEL_DATA, ProtocolVersion: wire.ProtocolVersion}
		mod(h)
		return h
	}
	var logWants []string // the reasons, in the worker's log
	cases := []struct {
		name    string
		hello   *sparsev1.Hello
		refusal sparsev1.HelloRefusal
		batch   []byte
		want    string
	}{
		{"wrong topology", hello(func(h *sparsev1.Hello) { h.TopologyId = "other" }), sparsev1.HelloRefusal_HELLO_REFUSAL_UNKNOWN_TOPOLOGY, nil, `not \"other\"`},
		{"stale assignment", hello(func(h *sparsev1.Hello) { h.AssignmentVersion = 0 }), sparsev1.HelloRefusal_HELLO_REFUSAL_ASSIGNMENT_VERSION, nil, "assignment version 0"},
		{"wrong protocol", hello(func(h *sparsev1.Hello) { h.ProtocolVersion = 99 }), sparsev1.HelloRefusal_HELLO_REFUSAL_PROTOCOL_VERSION, nil, "protocol version 99"},
		{"garbage batch", hello(func(*sparsev1.Hello) {}), 0, []byte{0xff, 0xff, 0xff, 0x01, 0x02}, "malformed batch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var stream grpc.BidiStreamingClient[sparsev1.Frame, sparsev1.FrameReply]
			var err error
			for {
				stream, err = client.Transfer(ctx, grpc.WaitForReady(true))
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("cannot open a stream to the worker: %v", err)
				}
			}
			if err := stream.Send(&sparsev1.Frame{Body: &sparsev1.Frame_Hello{Hello: tc.hello}}); err != nil {
				t.Fatal(err)
			}
			reply, err := stream.Recv()
			if err != nil {
				t.Fatalf("no reply to the hello: %v", err)
			}
			h := reply.GetHello()
			if tc.batch == nil {
				if h.GetAccepted() || h.GetError() != transport.Refused {
					t.Fatalf("reply %v, want only %q", h, transport.Refused)
				}
				logWants = append(logWants, tc.want, tc.refusal.String())
				return
			}
			if !h.GetAccepted() {
				t.Fatalf("a good hello was refused: %v", h)
			}
			if err := stream.Send(&sparsev1.Frame{Body: &sparsev1.Frame_Batch{Batch: tc.batch}}); err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("after a garbage batch the stream ended with %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	waitAcked(t, c.state, n, time.Minute, w)
	w.stop(t)
	log, _ := os.ReadFile(w.stderr)
	for _, want := range append([]string{"refused a transfer stream", "worker intruder at 127.0.0.1:", "refused a batch"}, logWants...) {
		if !strings.Contains(string(log), want) {
			t.Errorf("the worker's log does not contain %q:\n%s", want, tail(w.stderr, 20))
		}
	}
}
