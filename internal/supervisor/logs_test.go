package supervisor

import (
	"context"
	"sync"
	"testing"
	"time"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/cluster"
)

// TestLogLevelsPush: running workers get their topology's overrides once per change,
// a restarted worker (new pid) gets them again, and workers not yet answering get none.
func TestLogLevelsPush(t *testing.T) {
	var mu sync.Mutex
	calls := map[string][]*sparsev1.LogLevelOverride{}
	l := newLogLevels("127.0.0.1", nil)
	l.call = func(_ context.Context, addr string, req *sparsev1.SetLogLevelsRequest) error {
		mu.Lock()
		defer mu.Unlock()
		calls[addr] = req.GetOverrides()
		return nil
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := len(calls)
		clear(calls)
		return n
	}
	exp := time.Now().Add(time.Minute).UTC()
	topo := &cluster.TopologyRecord{ID: "wc-1"}
	slots := []SlotStatus{
		{Port: 6700, Phase: Running, PID: 10, ActiveKnown: true, Identity: Identity{TopologyID: "wc-1"}},
		{Port: 6701, Phase: Running, PID: 11, Identity: Identity{TopologyID: "wc-1"}}, // not answering yet
	}
	ctx := context.Background()
	l.update(map[string]*cluster.TopologyRecord{"wc-1": topo})
	l.push(ctx, slots)
	if n := count(); n != 1 {
		t.Fatalf("first sight: %d calls, want 1 (to the answering worker)", n)
	}
	l.push(ctx, slots)
	if n := count(); n != 0 {
		t.Fatalf("no change: %d calls", n)
	}
	topo = &cluster.TopologyRecord{ID: "wc-1", LogLevels: []cluster.LogOverride{{Component: "count", Level: "debug", Expires: exp}}}
	l.update(map[string]*cluster.TopologyRecord{"wc-1": topo})
	l.push(ctx, slots)
	mu.Lock()
	got := calls["127.0.0.1:6700"]
	mu.Unlock()
	if len(got) != 1 || got[0].GetLevel() != "debug" || got[0].GetComponent() != "count" || got[0].GetExpiresUnixMs() != exp.UnixMilli() {
		t.Fatalf("pushed %v", got)
	}
	count()
	slots[0].PID = 12 // restarted
	l.push(ctx, slots)
	if n := count(); n != 1 {
		t.Fatalf("a restarted worker: %d calls, want 1", n)
	}
}
