package transport

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/internal/tlsconf"
	"github.com/sparsestream/sparse/internal/tlsconf/tlstest"
	"github.com/sparsestream/sparse/internal/wire"
)

// TestTLSTransportAdmitsOnlyWorkers: over TLS a worker's transport takes streams from
// workers of its cluster only. Its gRPC server also admits the supervisor's certificate
// (for WorkerAdmin), so the transport itself refuses it; any other role fails the TLS
// handshake, and plaintext gets nowhere.
func TestTLSTransportAdmitsOnlyWorkers(t *testing.T) {
	p := tlstest.New(t, "c1")
	logs := &testutil.SyncBuffer{}
	log := hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug})
	srv, err := tlsconf.Load(p.Files(tlsconf.RoleWorker, "w1", time.Time{}), log)
	if err != nil {
		t.Fatal(err)
	}
	id := Identity{TopologyID: "t", WorkerID: "w1", Version: 1}
	_, addr := serveLogged(t, id, log, grpc.Creds(srv.ServerCredentials(true, tlsconf.RoleWorker, tlsconf.RoleSupervisor)))

	hello := func(opts ...grpc.DialOption) (*sparsev1.HelloReply, error) {
		conn, err := grpc.NewClient(addr, opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := sparsev1.NewWorkerTransportClient(conn).Transfer(ctx)
		if err != nil {
			return nil, err
		}
		if err := st.Send(&sparsev1.Frame{Body: &sparsev1.Frame_Hello{Hello: &sparsev1.Hello{TopologyId: "t", AssignmentVersion: 1,
			SenderWorkerId: "w2", Channel: sparsev1.Channel_CHANNEL_DATA, ProtocolVersion: wire.ProtocolVersion}}}); err != nil {
			return nil, err
		}
		r, err := st.Recv()
		return r.GetHello(), err
	}
	creds := func(s *tlsconf.Store) grpc.DialOption {
		return grpc.WithTransportCredentials(s.ClientCredentials(tlsconf.RoleWorker, false))
	}

	if h, err := hello(creds(p.Store(tlsconf.RoleWorker, "w2"))); err != nil || !h.GetAccepted() {
		t.Fatalf("a worker's hello: %v, %v", h, err)
	}
	if h, err := hello(creds(p.Store(tlsconf.RoleSupervisor, "s1"))); err != nil || h.GetAccepted() || h.GetError() != Refused {
		t.Fatalf("a supervisor's hello: %v, %v; want only %q", h, err, Refused)
	}
	if !strings.Contains(logs.String(), "is a supervisor's, not a worker's") {
		t.Errorf("the log does not say why the supervisor was refused:\n%s", logs)
	}
	if _, err := hello(creds(p.Store(tlsconf.RoleClient, "ops"))); status.Code(err) != codes.Unavailable {
		t.Fatalf("a client certificate's hello: %v, want the connection refused", err)
	}
	// The server logs a failed handshake on its own goroutine, after the client has
	// already seen the connection fail.
	testutil.Eventually(t, 5*time.Second, "the log says why the client certificate was refused", func() bool {
		return strings.Contains(logs.String(), "only worker, supervisor may connect")
	})
	if _, err := hello(grpc.WithTransportCredentials(insecure.NewCredentials())); status.Code(err) != codes.Unavailable {
		t.Fatalf("a plaintext hello to a TLS port: %v, want Unavailable", err)
	}
}
