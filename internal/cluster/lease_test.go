package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/testutil"
)

// TestLeaseExpiresAfterKeepAliveStops: a registered supervisor stays while its context
// lives (longer than its TTL), and disappears about a TTL after the context ends, as it
// would if the process died.
func TestLeaseExpiresAfterKeepAliveStops(t *testing.T) {
	e := startEtcd(t)
	s := newStore(t, e, Options{})
	ctx := testutil.Context(t, 60*time.Second)

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	events := s.WatchSupervisors(watchCtx)
	if ev := recv(t, events); ev.Type != EventSync {
		t.Fatalf("first event %v", ev.Type)
	}

	regCtx, stop := context.WithCancel(ctx)
	reg, err := s.RegisterSupervisor(regCtx, &SupervisorRecord{ID: "s1", Host: "a", Slots: []int{6700}}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, events); ev.Type != EventPut || ev.ID != "s1" || ev.Record.Host != "a" {
		t.Fatalf("event %+v", ev)
	}

	// Kept alive past several TTLs (etcd's minimum lease is about 2s here).
	time.Sleep(3 * time.Second)
	if _, err := s.GetSupervisor(ctx, "s1"); err != nil {
		t.Fatalf("the registration lapsed while kept alive: %v", err)
	}

	stop()
	select {
	case <-reg.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the keep-alive did not stop with its context")
	}
	ev := recv(t, events)
	if ev.Type != EventDelete || ev.ID != "s1" || ev.Record == nil || ev.Record.Host != "a" {
		t.Fatalf("event %+v", ev)
	}
	if _, err := s.GetSupervisor(ctx, "s1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after expiry: %v", err)
	}
	if reg.registrations() != 1 {
		t.Errorf("registered %d times", reg.registrations())
	}
}

// TestRegistrationComesBackAfterLeaseLoss: when the lease is lost (revoked here), the
// record is written again under a new lease, with the latest update.
func TestRegistrationComesBackAfterLeaseLoss(t *testing.T) {
	e := startEtcd(t)
	s := newStore(t, e, Options{})
	ctx := testutil.Context(t, 60*time.Second)

	hb := &WorkerHeartbeat{TopologyID: "t", WorkerID: "w", Supervisor: "s1", Port: 6700, PID: 7, Version: 1}
	reg, err := s.HeartbeatWorker(ctx, hb, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close(ctx)
	hb.Version = 2
	if err := reg.Update(ctx, hb); err != nil {
		t.Fatal(err)
	}
	reg.mu.Lock()
	lease := reg.lease
	reg.mu.Unlock()
	if _, err := s.Client().Revoke(ctx, lease); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, "registered again", func() bool { return reg.registrations() == 2 })
	got, err := s.GetWorker(ctx, "t", "w")
	if err != nil || got.Version != 2 {
		t.Fatalf("after re-registration: %+v, %v", got, err)
	}
	if rec := reg.Record(); rec.Version != 2 || rec.Time.IsZero() {
		t.Errorf("Record() = %+v", rec)
	}
	if err := reg.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetWorker(ctx, "t", "w"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after Close: %v", err)
	}
}
