package graceful

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// A server with a stream that never ends stops after the grace period, not never; an
// idle one stops at once.
func TestStop(t *testing.T) {
	for _, tc := range []struct {
		name string
		busy bool
	}{{"idle", false}, {"a stream that never ends", true}} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			g := grpc.NewServer()
			healthpb.RegisterHealthServer(g, health.NewServer())
			go g.Serve(l) //nolint:errcheck // ends with Stop
			if tc.busy {
				conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				w, err := healthpb.NewHealthClient(conn).Watch(context.Background(), &healthpb.HealthCheckRequest{})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.Recv(); err != nil { // the stream is open at the server
					t.Fatal(err)
				}
			}
			done := make(chan struct{})
			go func() { Stop(g, 100*time.Millisecond); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Stop did not return")
			}
		})
	}
}
