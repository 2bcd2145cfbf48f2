package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sparsestream/sparse/internal/testutil"
)

func TestElection(t *testing.T) {
	e := startEtcd(t)
	root := "/test/election"
	// Each nimbus has its own client, as separate processes would.
	a := newStore(t, e, Options{Root: root, SessionTTL: 2 * time.Second})
	b := newStore(t, e, Options{Root: root, SessionTTL: 2 * time.Second})
	obs := newStore(t, e, Options{Root: root})
	ctx := testutil.Context(t, 60*time.Second)

	if _, _, err := obs.Leader(ctx); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("leader before any campaign: %v", err)
	}
	octx, stopObs := context.WithCancel(ctx)
	leaders := obs.ObserveLeader(octx)
	if l := recv(t, leaders); l.ID != "" {
		t.Fatalf("first observation %+v", l)
	}

	la, err := a.Campaign(ctx, "nimbus-a", "127.0.0.1:6627")
	if err != nil {
		t.Fatal(err)
	}
	if id, addr, err := obs.Leader(ctx); err != nil || id != "nimbus-a" || addr != "127.0.0.1:6627" {
		t.Fatalf("leader = %q %q %v", id, addr, err)
	}
	if l := recv(t, leaders); l.ID != "nimbus-a" || l.Revision != la.Rev() {
		t.Fatalf("observed %+v", l)
	}

	type won struct {
		l   *Leadership
		err error
	}
	bctx, stopB := context.WithCancel(ctx)
	defer stopB()
	bWon := make(chan won, 1)
	go func() {
		l, err := b.Campaign(bctx, "nimbus-b", "127.0.0.1:6628")
		bWon <- won{l, err}
	}()
	// b queues behind a; a stays the leader.
	select {
	case w := <-bWon:
		t.Fatalf("b won while a leads: %+v", w)
	case <-time.After(500 * time.Millisecond):
	}

	// Fenced writes go through while a leads.
	fa := a.Fenced(la)
	if err := fa.PutTopology(ctx, sampleTopology("t1")); err != nil {
		t.Fatal(err)
	}

	if err := la.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	if err := la.Resign(ctx); err != nil {
		t.Fatalf("resigning twice: %v", err)
	}
	select {
	case <-la.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after Resign")
	}
	w := recv(t, bWon)
	if w.err != nil {
		t.Fatal(w.err)
	}
	lb := w.l
	if lb.ID() != "nimbus-b" {
		t.Fatalf("leader %s", lb.ID())
	}
	for l := recv(t, leaders); l.ID != "nimbus-b"; l = recv(t, leaders) {
		if l.ID != "" {
			t.Fatalf("observed %+v", l)
		}
	}

	// The deposed leader's fenced writes fail; the new leader's succeed.
	if err := fa.PutTopology(ctx, sampleTopology("t2")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("write fenced by a resigned leadership: %v", err)
	}
	if _, err := a.GetTopology(ctx, "t2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the fenced write happened: %v", err)
	}
	if err := fa.PutAssignment(ctx, &AssignmentRecord{TopologyID: "t1", Version: 1}, 0); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("fenced CAS: %v", err)
	}
	if err := b.Fenced(lb).PutAssignment(ctx, &AssignmentRecord{TopologyID: "t1", Version: 1}, 0); err != nil {
		t.Fatal(err)
	}

	// b's campaign context ends (a crash, in effect): its leadership ends at once for b,
	// and for everybody else once its lease expires.
	stopB()
	select {
	case <-lb.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after the context ended")
	}
	for l := recv(t, leaders); l.ID != ""; l = recv(t, leaders) {
	}
	if _, _, err := obs.Leader(ctx); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("leader after expiry: %v", err)
	}
	stopObs()
	closed(t, leaders)
}

func TestCampaignStopsWithContext(t *testing.T) {
	e := startEtcd(t)
	a := newStore(t, e, Options{Root: "/x", SessionTTL: 2 * time.Second})
	b := newStore(t, e, Options{Root: "/x", SessionTTL: 2 * time.Second})
	ctx := testutil.Context(t, 30*time.Second)
	la, err := a.Campaign(ctx, "a", "a:1")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = la.Resign(ctx) }() // the test ends either way; etcd drops the key with the session
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := b.Campaign(cctx, "b", "b:1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("campaign after its context ended: %v", err)
	}
	// The abandoned candidate left no key behind: only a's remains.
	resp, err := b.Client().Get(ctx, b.Keys().LeaderPrefix()+"/", clientv3.WithPrefix())
	if err != nil || resp.Count != 1 {
		t.Fatalf("election keys: %v, %v", resp, err)
	}
	// Someone deletes the leader key: the leadership ends.
	if _, err := b.Client().Delete(ctx, la.Key()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-la.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after the key was deleted")
	}
	if err := a.Fenced(la).PutTopology(ctx, sampleTopology("t")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("fenced write after the key was deleted: %v", err)
	}
	if _, err := a.Campaign(ctx, "bad/id", "x"); err == nil {
		t.Fatal("an invalid nimbus id was accepted")
	}
}
