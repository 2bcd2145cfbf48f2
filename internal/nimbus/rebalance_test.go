package nimbus

import (
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/cluster"
)

// TestFinishRebalanceRereadsTheWait: the round decides from its snapshot that a wait is
// over, but a rebalance that joined since may have moved the end; the update reads the
// record again and leaves a wait that is not over alone.
func TestFinishRebalanceRereadsTheWait(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		until       time.Time
		status      cluster.TopologyStatus
		wantWorkers int
		wantPending bool
		wantStatus  cluster.TopologyStatus
	}{
		{"wait over", now.Add(-time.Second), cluster.StatusInactive, 4, false, cluster.StatusActive},
		{"wait ends now", now, cluster.StatusInactive, 4, false, cluster.StatusActive},
		{"wait moved later", now.Add(time.Second), cluster.StatusInactive, 2, true, cluster.StatusInactive},
		{"killed meanwhile", now.Add(-time.Second), cluster.StatusKilled, 2, true, cluster.StatusKilled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &cluster.TopologyRecord{ID: "t-1", Status: tc.status, Workers: 2,
				Rebalance: &cluster.PendingRebalance{Workers: 4, Until: tc.until, Reactivate: true}}
			if err := finishRebalance(now)(r); err != nil {
				t.Fatal(err)
			}
			if r.Workers != tc.wantWorkers || (r.Rebalance != nil) != tc.wantPending || r.Status != tc.wantStatus {
				t.Fatalf("workers %d, pending %v, status %s; want %d, %v, %s",
					r.Workers, r.Rebalance != nil, r.Status, tc.wantWorkers, tc.wantPending, tc.wantStatus)
			}
		})
	}
}

// TestImmediateRebalanceWinsOverAPendingOne: `-w 30 -n 4` then `-w 0 -n 2` ends with 2
// workers, not with the pending 4 once its wait is over.
func TestImmediateRebalanceWinsOverAPendingOne(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	r := &cluster.TopologyRecord{ID: "t-1", Status: cluster.StatusInactive, Workers: 1,
		Rebalance: &cluster.PendingRebalance{Workers: 4, Executors: map[string]int{"split": 3, "count": 2}, Until: now.Add(-time.Second), Reactivate: true}}
	applyRebalance(r, 2, map[string]int{"split": 1})
	r.Rebalance.Forget(2, map[string]int{"split": 1})
	if err := finishRebalance(now)(r); err != nil {
		t.Fatal(err)
	}
	if r.Workers != 2 || r.ExecutorOverrides["split"] != 1 || r.ExecutorOverrides["count"] != 2 {
		t.Fatalf("workers %d, executors %v; want 2 workers, split 1 (the later request) and count 2 (the pending one)", r.Workers, r.ExecutorOverrides)
	}
}
