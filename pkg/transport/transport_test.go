package transport

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/internal/wire"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

type nopSpout struct{ topology.BaseSpout }

func (nopSpout) Open(*topology.Context, topology.SpoutCollector) error { return nil }
func (nopSpout) NextTuple()                                            {}

type nopBolt struct{ topology.BaseBolt }

func (nopBolt) Prepare(*topology.Context, topology.BoltCollector) error { return nil }
func (nopBolt) Execute(*tuple.Tuple)                                    {}

// serve starts a transport server for a runtime that runs only the bolt's task.
func serve(t *testing.T, id Identity, opts ...grpc.ServerOption) (*Server, string) {
	t.Helper()
	return serveLogged(t, id, nil, opts...)
}

// serveLogged is serve with the server's log going to log.
func serveLogged(t *testing.T, id Identity, log hclog.Logger, opts ...grpc.ServerOption) (*Server, string) {
	t.Helper()
	b := topology.NewBuilder("t")
	b.Config(topology.ConfAckerExecutors, 0)
	b.Spout("spout", func() topology.Spout { return nopSpout{} }, 1).Output("x")
	b.Bolt("bolt", func() topology.Bolt { return nopBolt{} }, 1).Shuffle("spout")
	spec, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	l := topology.NewLayout(spec, 0)
	rt, err := executor.New(executor.Options{Spec: spec, LocalTasks: l.Tasks["bolt"], PeerOf: func(int32) string { return "other" }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = rt.Run(ctx) })
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(append(ServerOptions(), opts...)...)
	s := NewServer(id, rt, log)
	s.Register(g)
	wg.Go(func() { _ = g.Serve(lis) })
	t.Cleanup(func() {
		cancel()
		g.Stop()
		wg.Wait()
	})
	return s, lis.Addr().String()
}

// TestHandshakeRefusals: a bad hello is answered with only "refused"; the reason is in
// the receiving worker's log.
func TestHandshakeRefusals(t *testing.T) {
	id := Identity{TopologyID: "t", WorkerID: "w1", Version: 3}
	logs := &testutil.SyncBuffer{}
	s, addr := serveLogged(t, id, hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug}))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	good := func() *sparsev1.Hello {
		return &sparsev1.Hello{TopologyId: "t", AssignmentVersion: 3, SenderWorkerId: "w2", ReceiverWorkerId: "w1",
			Channel: sparsev1.Channel_CHANNEL_DATA, ProtocolVersion: wire.ProtocolVersion}
	}
	cases := []struct {
		name    string
		mod     func(*sparsev1.Hello)
		refusal sparsev1.HelloRefusal
		want    string
	}{
		{"accepted", func(*sparsev1.Hello) {}, 0, ""},
		{"topology", func(h *sparsev1.Hello) { h.TopologyId = "u" }, sparsev1.HelloRefusal_HELLO_REFUSAL_UNKNOWN_TOPOLOGY, `not \"u\"`},
		{"version", func(h *sparsev1.Hello) { h.AssignmentVersion = 2 }, sparsev1.HelloRefusal_HELLO_REFUSAL_ASSIGNMENT_VERSION, "version 2"},
		{"receiver", func(h *sparsev1.Hello) { h.ReceiverWorkerId = "w9" }, sparsev1.HelloRefusal_HELLO_REFUSAL_WRONG_WORKER, `not \"w9\"`},
		{"protocol", func(h *sparsev1.Hello) { h.ProtocolVersion = 0 }, sparsev1.HelloRefusal_HELLO_REFUSAL_PROTOCOL_VERSION, "protocol version 0"},
		{"channel", func(h *sparsev1.Hello) { h.Channel = 0 }, sparsev1.HelloRefusal_HELLO_REFUSAL_BAD_HELLO, "unknown channel"},
		{"sender", func(h *sparsev1.Hello) { h.SenderWorkerId = "" }, sparsev1.HelloRefusal_HELLO_REFUSAL_BAD_HELLO, "which worker sends"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			st, err := sparsev1.NewWorkerTransportClient(conn).Transfer(ctx)
			if err != nil {
				t.Fatal(err)
			}
			h := good()
			tc.mod(h)
			if err := st.Send(&sparsev1.Frame{Body: &sparsev1.Frame_Hello{Hello: h}}); err != nil {
				t.Fatal(err)
			}
			r, err := st.Recv()
			if err != nil {
				t.Fatal(err)
			}
			got := r.GetHello()
			if tc.want == "" {
				if !got.GetAccepted() || got.GetReceiverWorkerId() != "w1" || got.GetAssignmentVersion() != 3 {
					t.Fatalf("a good hello got %v", got)
				}
				return
			}
			if got.GetAccepted() || got.GetError() != Refused || got.GetRefusal() != 0 || got.GetReceiverWorkerId() != "" || got.GetAssignmentVersion() != 0 {
				t.Fatalf("got %v, want only %q", got, Refused)
			}
			if _, err := st.Recv(); status.Code(err) != codes.PermissionDenied || !strings.HasSuffix(err.Error(), "desc = "+Refused) {
				t.Fatalf("stream ended with %v, want PermissionDenied %q", err, Refused)
			}
			// The detail is logged here, with the refusal's kind.
			if l := logs.String(); !strings.Contains(l, tc.want) || !strings.Contains(l, tc.refusal.String()) {
				t.Fatalf("the log does not say %q (%v):\n%s", tc.want, tc.refusal, l)
			}
		})
	}
	if s.Stats.Refused.Load() != int64(len(cases)-1) {
		t.Errorf("refused %d, want %d", s.Stats.Refused.Load(), len(cases)-1)
	}
}

func TestMisroutedBatchResetsOnlyThatStream(t *testing.T) {
	id := Identity{TopologyID: "t", WorkerID: "w1", Version: 1}
	s, addr := serve(t, id)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	open := func(ch sparsev1.Channel) grpc.BidiStreamingClient[sparsev1.Frame, sparsev1.FrameReply] {
		st, err := sparsev1.NewWorkerTransportClient(conn).Transfer(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		_ = st.Send(&sparsev1.Frame{Body: &sparsev1.Frame_Hello{Hello: &sparsev1.Hello{TopologyId: "t", AssignmentVersion: 1,
			SenderWorkerId: "w2", Channel: ch, ProtocolVersion: wire.ProtocolVersion}}})
		if r, err := st.Recv(); err != nil || !r.GetHello().GetAccepted() {
			t.Fatalf("hello: %v %v", r, err)
		}
		return st
	}
	// Tasks are numbered in component order: bolt is task 1, spout task 2.
	// A control message for the bolt task, on the control channel: refused.
	ctl := open(sparsev1.Channel_CHANNEL_CONTROL)
	var enc wire.Encoder
	enc.AddControl(wire.Control{Kind: wire.ControlAck, Task: 1, Root: 1})
	_ = ctl.Send(&sparsev1.Frame{Body: &sparsev1.Frame_Batch{Batch: enc.Bytes()}})
	if _, err := ctl.Recv(); err == nil || !strings.Contains(err.Error(), "not an acker") {
		t.Fatalf("control stream ended with %v", err)
	}
	// A tuple on the data channel still goes through on a new stream.
	data := open(sparsev1.Channel_CHANNEL_DATA)
	enc.Reset()
	src := &tuple.Source{Component: "spout", Stream: tuple.DefaultStream, Task: 2, Fields: tuple.NewFields("x")}
	if err := enc.AddTuple(1, tuple.New(src, "hello")); err != nil {
		t.Fatal(err)
	}
	if err := data.Send(&sparsev1.Frame{Body: &sparsev1.Frame_Batch{Batch: enc.Bytes()}}); err != nil {
		t.Fatal(err)
	}
	_ = data.CloseSend()
	if _, err := data.Recv(); err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Logf("data stream ended with %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats.TuplesRecv.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if s.Stats.TuplesRecv.Load() != 1 {
		t.Fatalf("tuples received %d, want 1", s.Stats.TuplesRecv.Load())
	}
}
