package transport

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/wire"
)

// TestSilentPeerIsDropped: a peer that opens a transfer stream and never says hello is
// dropped after the hello timeout; one that says hello in time is served.
func TestSilentPeerIsDropped(t *testing.T) {
	s, addr := serve(t, Identity{TopologyID: "t", WorkerID: "w1", Version: 3})
	s.SetHelloTimeout(300 * time.Millisecond)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	silent, err := sparsev1.NewWorkerTransportClient(conn).Transfer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = silent.Recv()
	if status.Code(err) != codes.DeadlineExceeded || !strings.Contains(status.Convert(err).Message(), "no hello within 300ms") {
		t.Fatalf("a silent peer got %v, want DeadlineExceeded: no hello within 300ms", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("dropped after %s", d)
	}
	if got := s.Stats.Refused.Load(); got != 1 {
		t.Errorf("refused %d streams, want 1", got)
	}

	polite, err := sparsev1.NewWorkerTransportClient(conn).Transfer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := &sparsev1.Hello{TopologyId: "t", AssignmentVersion: 3, SenderWorkerId: "w2", ReceiverWorkerId: "w1",
		Channel: sparsev1.Channel_CHANNEL_DATA, ProtocolVersion: wire.ProtocolVersion}
	if err := polite.Send(&sparsev1.Frame{Body: &sparsev1.Frame_Hello{Hello: h}}); err != nil {
		t.Fatal(err)
	}
	r, err := polite.Recv()
	if err != nil || !r.GetHello().GetAccepted() {
		t.Fatalf("a hello in time got %v, %v", r, err)
	}
	// Past the hello timeout, the accepted stream still reads frames: an empty one is
	// refused for what it is, not for a missing hello.
	time.Sleep(500 * time.Millisecond)
	if err := polite.Send(&sparsev1.Frame{}); err != nil {
		t.Fatal(err)
	}
	if _, err := polite.Recv(); status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "carries no batch") {
		t.Fatalf("a frame without a batch got %v, want InvalidArgument", err)
	}
}
