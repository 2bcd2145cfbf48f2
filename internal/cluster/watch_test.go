package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/sparsestream/sparse/internal/testutil"
)

// evs renders events compactly for comparison.
func evs[T any](es []Event[T], show func(*T) string) []string {
	var out []string
	for _, e := range es {
		s := strings.TrimSpace(e.Type.String() + " " + e.ID)
		if e.Record != nil {
			s += " " + show(e.Record)
		}
		if e.Err != nil {
			s += " error"
		}
		out = append(out, s)
	}
	return out
}

func take[T any](t *testing.T, ch <-chan Event[T], n int) []Event[T] {
	t.Helper()
	var out []Event[T]
	for range n {
		out = append(out, recv(t, ch))
	}
	return out
}

func expect(t *testing.T, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events:\n got %q\nwant %q", got, want)
	}
}

func showTopology(r *TopologyRecord) string { return string(r.Status) }

func TestWatchDeliversInOrderAndStops(t *testing.T) {
	e := startEtcd(t)
	s := newStore(t, e, Options{})
	ctx := testutil.Context(t, 60*time.Second)

	if err := s.PutTopology(ctx, sampleTopology("a")); err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	ch := s.WatchTopologies(wctx)
	first := take(t, ch, 2)
	expect(t, evs(first, showTopology), []string{"put a active", "sync"})
	if first[1].Revision < first[0].Revision {
		t.Errorf("sync revision %d before the put's %d", first[1].Revision, first[0].Revision)
	}

	b := sampleTopology("b")
	b.Status = StatusInactive
	steps := []func() error{
		func() error { return s.PutTopology(ctx, b) },
		func() error {
			_, err := s.UpdateTopology(ctx, "a", func(r *TopologyRecord) error { r.Status = StatusKilled; return nil })
			return err
		},
		func() error { return s.DeleteTopology(ctx, "b") },
		func() error { _, err := s.Client().Put(ctx, s.Keys().Topology("junk"), "]["); return err },
		func() error { return s.DeleteTopology(ctx, "a") },
	}
	for _, f := range steps {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	got := take(t, ch, 5)
	expect(t, evs(got, showTopology), []string{"put b inactive", "put a killed", "delete b inactive", "put junk error", "delete a killed"})
	for i := 1; i < len(got); i++ {
		if got[i].Revision <= got[i-1].Revision {
			t.Errorf("revisions not increasing: %d then %d", got[i-1].Revision, got[i].Revision)
		}
	}
	var ire *InvalidRecordError
	if !errors.As(got[3].Err, &ire) || ire.Key != s.Keys().Topology("junk") {
		t.Errorf("junk error = %v", got[3].Err)
	}

	stop()
	closed(t, ch)
}

func TestWatchWorkersOfOneTopology(t *testing.T) {
	e := startEtcd(t)
	s := newStore(t, e, Options{})
	ctx := testutil.Context(t, 60*time.Second)
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	ch := s.WatchWorkers(wctx, "t1")
	expect(t, evs(take(t, ch, 1), nil), []string{"sync"})
	for _, topo := range []string{"t10", "t1"} {
		r, err := s.HeartbeatWorker(ctx, &WorkerHeartbeat{TopologyID: topo, WorkerID: "w0", Port: 1, Version: 3}, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close(ctx)
	}
	ev := recv(t, ch)
	if ev.Type != EventPut || ev.ID != "t1/w0" || ev.Record.Version != 3 {
		t.Fatalf("event %+v", ev)
	}
	bad := s.WatchWorkers(ctx, "a/b")
	if ev := recv(t, bad); ev.Err == nil {
		t.Fatalf("watch of an invalid topology id: %+v", ev)
	}
	closed(t, bad)
}

// TestWatchRelistsAfterCompaction drives the watcher through a compaction: it follows
// from a revision that etcd no longer has, must say so, and the listing that follows
// sends exactly the difference.
func TestWatchRelistsAfterCompaction(t *testing.T) {
	e := startEtcd(t)
	s := newStore(t, e, Options{})
	ctx := testutil.Context(t, 60*time.Second)

	for _, id := range []string{"a", "b", "c"} {
		if err := s.PutTopology(ctx, sampleTopology(id)); err != nil {
			t.Fatal(err)
		}
	}
	ch := make(chan Event[TopologyRecord], 100)
	w := &watcher[TopologyRecord, *TopologyRecord]{s: s, kd: topologyKind, prefix: s.Keys().TopologiesPrefix(), ch: ch, known: map[string]known[TopologyRecord]{}}
	rev, err := w.relist(ctx)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, evs(take(t, ch, 4), showTopology), []string{"put a active", "put b active", "put c active", "sync"})

	// While nobody watches: change b, delete c, add d, then compact everything.
	if _, err := s.UpdateTopology(ctx, "b", func(r *TopologyRecord) error { r.Status = StatusInactive; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTopology(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTopology(ctx, sampleTopology("d")); err != nil {
		t.Fatal(err)
	}
	resp, err := s.Client().Get(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client().Compact(ctx, resp.Header.Revision); err != nil {
		t.Fatal(err)
	}

	err = w.follow(ctx, rev+1)
	if !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("following from a compacted revision: %v", err)
	}
	if _, err := w.relist(ctx); err != nil {
		t.Fatal(err)
	}
	expect(t, evs(take(t, ch, 4), showTopology), []string{"put b inactive", "put d active", "delete c active", "sync"})
	if len(ch) != 0 {
		t.Fatalf("%d more events", len(ch))
	}
}

// TestWatchGoesOnAfterEtcdRestarts restarts etcd under a running watch (same data
// directory, same ports): the watch must resume and see what changed meanwhile.
func TestWatchGoesOnAfterEtcdRestarts(t *testing.T) {
	ports := freePorts(t, 2)
	dir := t.TempDir()
	cfg := EmbedConfig{
		DataDir:   dir,
		ClientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
	}
	ctx := testutil.Context(t, 60*time.Second)
	e, err := StartEmbedded(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { e.Close() }()
	s := newStore(t, e, Options{})
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	ch := s.WatchTopologies(wctx)
	expect(t, evs(take(t, ch, 1), showTopology), []string{"sync"})

	e.Close()
	if e, err = StartEmbedded(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTopology(ctx, sampleTopology("after")); err != nil {
		t.Fatal(err)
	}
	for {
		ev := recv(t, ch)
		if ev.Type == EventSync {
			continue // the watch may have re-listed
		}
		expect(t, evs([]Event[TopologyRecord]{ev}, showTopology), []string{"put after active"})
		break
	}
}
