package sparsev1_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
)

// receiver is a minimal WorkerTransport server: it checks the Hello, then counts batches.
type receiver struct {
	sparsev1.UnimplementedWorkerTransportServer
	batches chan []byte
}

func (r *receiver) Transfer(stream grpc.BidiStreamingServer[sparsev1.Frame, sparsev1.FrameReply]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	hello := first.GetHello()
	reply := &sparsev1.HelloReply{Accepted: true, ReceiverWorkerId: "w2", AssignmentVersion: 7, ProtocolVersion: 1}
	switch {
	case hello == nil:
		reply = &sparsev1.HelloReply{Refusal: sparsev1.HelloRefusal_HELLO_REFUSAL_BAD_HELLO, Error: "the first frame must be a Hello"}
	case hello.GetProtocolVersion() != 1:
		reply = &sparsev1.HelloReply{Refusal: sparsev1.HelloRefusal_HELLO_REFUSAL_PROTOCOL_VERSION,
			Error: fmt.Sprintf("protocol version %d is not supported; this worker speaks 1", hello.GetProtocolVersion())}
	}
	if err := stream.Send(&sparsev1.FrameReply{Body: &sparsev1.FrameReply_Hello{Hello: reply}}); err != nil || !reply.GetAccepted() {
		return err
	}
	var n uint64
	for {
		f, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		r.batches <- f.GetBatch()
		n++
		if err := stream.Send(&sparsev1.FrameReply{Body: &sparsev1.FrameReply_Progress{Progress: &sparsev1.Progress{Batches: n}}}); err != nil {
			return err
		}
	}
}

func dial(t *testing.T) (sparsev1.WorkerTransportClient, *receiver) {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	r := &receiver{batches: make(chan []byte, 16)}
	sparsev1.RegisterWorkerTransportServer(srv, r)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return sparsev1.NewWorkerTransportClient(conn), r
}

func hello(version uint32) *sparsev1.Frame {
	return &sparsev1.Frame{Body: &sparsev1.Frame_Hello{Hello: &sparsev1.Hello{
		TopologyId: "wordcount-1", AssignmentVersion: 7, SenderWorkerId: "w1", SenderAddress: "127.0.0.1:6700",
		Channel: sparsev1.Channel_CHANNEL_DATA, ProtocolVersion: version, ReceiverWorkerId: "w2",
	}}}
}

func TestTransferHandshakeAndBatches(t *testing.T) {
	client, r := dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := client.Transfer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(hello(1)); err != nil {
		t.Fatal(err)
	}
	reply, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if h := reply.GetHello(); !h.GetAccepted() || h.GetReceiverWorkerId() != "w2" || h.GetAssignmentVersion() != 7 {
		t.Fatalf("hello reply %v", reply)
	}
	for i := range 3 {
		batch := []byte{0x12, 0x02, 0x08, byte(i + 1)} // a Batch with one control of kind i+1
		if err := stream.Send(&sparsev1.Frame{Body: &sparsev1.Frame_Batch{Batch: batch}}); err != nil {
			t.Fatal(err)
		}
		got := <-r.batches
		var b sparsev1.Batch
		if err := proto.Unmarshal(got, &b); err != nil || len(b.GetControls()) != 1 || b.GetControls()[0].GetKind() != sparsev1.ControlKind(i+1) {
			t.Fatalf("batch %d arrived as %v (%v)", i, &b, err)
		}
		p, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if p.GetProgress().GetBatches() != uint64(i+1) {
			t.Fatalf("progress %v after batch %d", p, i)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("stream did not end cleanly: %v", err)
	}
}

func TestTransferRefusesProtocolVersion(t *testing.T) {
	client, _ := dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := client.Transfer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(hello(99)); err != nil {
		t.Fatal(err)
	}
	reply, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	h := reply.GetHello()
	if h.GetAccepted() || h.GetRefusal() != sparsev1.HelloRefusal_HELLO_REFUSAL_PROTOCOL_VERSION || h.GetError() == "" {
		t.Fatalf("hello reply %v", reply)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("a refused stream stays open: %v", err)
	}
}

func TestServiceName(t *testing.T) {
	if got, want := sparsev1.WorkerTransport_Transfer_FullMethodName, "/sparse.v1.WorkerTransport/Transfer"; got != want {
		t.Fatalf("method %q, want %q", got, want)
	}
}

func TestTopologySpecRoundTrip(t *testing.T) {
	str := func(s string) *sparsev1.Value {
		return &sparsev1.Value{Kind: &sparsev1.Value_StringValue{StringValue: s}}
	}
	num := func(i int64) *sparsev1.Value { return &sparsev1.Value{Kind: &sparsev1.Value_IntValue{IntValue: i}} }
	spec := &sparsev1.TopologySpec{
		Name:   "wordcount",
		Config: map[string]*sparsev1.Value{"topology.workers": num(2), "topology.message.timeout.secs": num(30), "env": str("prod")},
		Components: []*sparsev1.ComponentSpec{
			{Id: "sentences", Kind: "spout", Parallelism: 1, Tasks: 1,
				Streams: []*sparsev1.StreamSpec{{Id: "default", Fields: []string{"sentence"}}}},
			{Id: "split", Kind: "bolt", Parallelism: 2, Tasks: 4,
				Inputs:  []*sparsev1.Input{{Component: "sentences", Stream: "default", Grouping: &sparsev1.Grouping{Type: "shuffle"}}},
				Streams: []*sparsev1.StreamSpec{{Id: "default", Fields: []string{"word"}}, {Id: "direct", Fields: []string{"w"}, Direct: true}},
				Config:  map[string]*sparsev1.Value{"topology.tick.tuple.freq.secs": num(5)}},
			{Id: "count", Kind: "bolt", Parallelism: 2, Tasks: 2,
				Inputs: []*sparsev1.Input{
					{Component: "split", Stream: "default", Grouping: &sparsev1.Grouping{Type: "fields", Fields: []string{"word"}}},
					{Component: "split", Stream: "direct", Grouping: &sparsev1.Grouping{Type: "custom", CustomName: "mine"}},
				}},
		},
	}
	b, err := proto.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	var back sparsev1.TopologySpec
	if err := proto.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(spec, &back) {
		t.Fatal("TopologySpec changed in a binary round trip")
	}
	j, err := protojson.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	var fromJSON sparsev1.TopologySpec
	if err := protojson.Unmarshal(j, &fromJSON); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(spec, &fromJSON) {
		t.Fatalf("TopologySpec changed in a JSON round trip: %s", j)
	}
}
