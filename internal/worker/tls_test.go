package worker

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/tlsconf"
	"github.com/sparsestream/sparse/internal/tlsconf/tlstest"
	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/transport"
)

// TestTwoWorkersOverMutualTLS: two workers with worker certificates of one cluster
// exchange every tuple over mutual TLS, and only their supervisor may call WorkerAdmin.
func TestTwoWorkersOverMutualTLS(t *testing.T) {
	const n = 5000
	p := tlstest.New(t, "c1")
	f := newFixture(t, n)
	l1, l2 := listen(t), listen(t)
	a := Spread("pair", 1, topology.NewLayout(f.spec, f.spec.Config.AckerTasks()),
		[]scheduler.WorkerSlot{Static("w1", l1.Addr().String()), Static("w2", l2.Addr().String())})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var workers []*Worker
	for _, x := range []struct {
		id string
		l  net.Listener
	}{{"w1", l1}, {"w2", l2}} {
		w, err := New(Options{Spec: f.spec, Assignment: a, WorkerID: x.id, Listener: x.l, TLS: p.Store(tlsconf.RoleWorker, "worker")})
		if err != nil {
			t.Fatal(err)
		}
		workers = append(workers, w)
		wg.Go(func() {
			if err := w.Run(ctx); err != nil {
				t.Errorf("%s: %v", x.id, err)
			}
		})
	}

	// WorkerAdmin: the supervisor's certificate is taken, a worker's refused at the call,
	// a client's at the handshake, plaintext not at all.
	admin := func(opt grpc.DialOption) error {
		conn, err := grpc.NewClient(l1.Addr().String(), opt)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		defer ccancel()
		_, err = sparsev1.NewWorkerAdminClient(conn).SetActive(cctx, &sparsev1.SetActiveRequest{Active: true})
		return err
	}
	as := func(r tlsconf.Role) grpc.DialOption {
		return grpc.WithTransportCredentials(p.Store(r, "x").ClientCredentials(tlsconf.RoleWorker, false))
	}
	if err := admin(as(tlsconf.RoleSupervisor)); err != nil {
		t.Errorf("SetActive by the supervisor: %v", err)
	}
	if err := admin(as(tlsconf.RoleWorker)); status.Code(err) != codes.PermissionDenied || status.Convert(err).Message() != transport.Refused {
		t.Errorf("SetActive by a worker: %v, want PermissionDenied %q", err, transport.Refused)
	}
	if err := admin(as(tlsconf.RoleClient)); status.Code(err) != codes.Unavailable {
		t.Errorf("SetActive with a client certificate: %v, want the handshake refused", err)
	}
	if err := admin(grpc.WithTransportCredentials(insecure.NewCredentials())); status.Code(err) != codes.Unavailable {
		t.Errorf("SetActive in plaintext: %v, want Unavailable", err)
	}

	deadline := time.Now().Add(time.Minute)
	for f.acked.Load() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if f.acked.Load() != n || f.fails.Load() != 0 {
		t.Fatalf("acked %d of %d, %d failed", f.acked.Load(), n, f.fails.Load())
	}
	var recv int64
	for _, w := range workers {
		recv += w.Transport().TuplesRecv
	}
	if recv == 0 {
		t.Error("no tuple crossed between the workers")
	}
}

// TestWorkerOffLoopbackNeedsTLS: a worker assigned a non-loopback address refuses to
// start without TLS unless --insecure.
func TestWorkerOffLoopbackNeedsTLS(t *testing.T) {
	f := newFixture(t, 1)
	a := Spread("pair", 1, topology.NewLayout(f.spec, f.spec.Config.AckerTasks()),
		[]scheduler.WorkerSlot{Static("w1", "10.1.2.3:7000"), Static("w2", "10.1.2.4:7000")})
	_, err := New(Options{Spec: f.spec, Assignment: a, WorkerID: "w1"})
	if err == nil || !strings.Contains(err.Error(), "--insecure") || !strings.Contains(err.Error(), "TLS is off") {
		t.Fatalf("New off loopback without TLS: %v, want a refusal naming --insecure", err)
	}
	if _, err := New(Options{Spec: f.spec, Assignment: a, WorkerID: "w1", Insecure: true}); err != nil {
		t.Fatalf("New with Insecure: %v", err)
	}
	p := tlstest.New(t, "c1")
	if _, err := New(Options{Spec: f.spec, Assignment: a, WorkerID: "w1", TLS: p.Store(tlsconf.RoleWorker, "w")}); err != nil {
		t.Fatalf("New with TLS: %v", err)
	}
	if _, err := New(Options{Spec: f.spec, Assignment: a, WorkerID: "w1", TLS: p.Store(tlsconf.RoleClient, "c")}); err == nil || !strings.Contains(err.Error(), "--worker") {
		t.Fatalf("New with a client certificate: %v, want a refusal", err)
	}
}
