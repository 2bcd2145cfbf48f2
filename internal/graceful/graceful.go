// Package graceful stops a gRPC server the way the daemons and workers all do.
package graceful

import (
	"time"

	"google.golang.org/grpc"
)

// Stop stops g, letting the calls in flight finish for at most grace, then closes every
// connection. It returns once the server has stopped.
func Stop(g *grpc.Server, grace time.Duration) {
	stopped := make(chan struct{})
	go func() { g.GracefulStop(); close(stopped) }()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
		g.Stop()
		<-stopped
	}
}
