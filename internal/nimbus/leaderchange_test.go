package nimbus

import (
	"context"
	"errors"
	"testing"
	"time"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/internal/testutil/etcdtest"
	"github.com/sparsestream/sparse/pkg/topology"
)

// twoNimbus starts a leader and a standby on one root, a store to look at etcd with,
// and submits a topology through the leader; it returns once the standby holds the
// topology's artifact, so that it can lead.
func twoNimbus(t *testing.T, name string, workers int) (n1, n2 *Server, st *cluster.Store, id string) {
	t.Helper()
	root := testRoot(t)
	cfg1, cfg2 := fast(t, root), fast(t, root)
	cfg1.ID, cfg2.ID = "n1", "n2"
	n1 = startNimbus(t, cfg1)
	waitLeader(t, n1)
	n2 = startNimbus(t, cfg2)
	ctx := testutil.Context(t, 30*time.Second)
	st, err := etcdtest.Shared(t).Connect(ctx, cluster.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	data := artifact(1000)
	id, err = submit(ctx, dial(t, n1.Addr()), header(t, wordcount(name), data, topology.Config{topology.ConfWorkers: int64(workers)}), data)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "n2 holds the artifact", func() bool {
		_, ok := n2.Blobs().Has(Digest(data))
		return ok
	})
	return n1, n2, st, id
}

// TestReassignedTopologyGetsAHigherVersionUnderANewLeader: a topology that loses its
// assignment (no slot left) and is assigned again by another leader gets a version above
// every version it ran before, so that a worker of the old placement can never pass the
// transport handshake with a worker of the new one.
func TestReassignedTopologyGetsAHigherVersionUnderANewLeader(t *testing.T) {
	n1, n2, st, id := twoNimbus(t, "again", 1)
	ctx := testutil.Context(t, 60*time.Second)
	sup := supervisor(t, st, "sup-a", 6700)
	var rec *cluster.AssignmentRecord
	testutil.Eventually(t, 10*time.Second, "an assignment", func() bool {
		var err error
		rec, err = st.GetAssignment(ctx, id)
		return err == nil
	})
	before := rec.Version

	// The only supervisor goes: the assignment is removed.
	if err := sup.Close(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the assignment removed", func() bool {
		_, err := st.GetAssignment(ctx, id)
		return errors.Is(err, cluster.ErrNotFound)
	})

	// Another nimbus leads when a slot comes back.
	n1.Close()
	waitLeader(t, n2)
	supervisor(t, st, "sup-a", 6700)
	testutil.Eventually(t, 10*time.Second, "assigned again", func() bool {
		var err error
		rec, err = st.GetAssignment(ctx, id)
		return err == nil
	})
	if rec.Version <= before {
		t.Fatalf("the topology was assigned again at version %d by the new leader; it ran version %d before", rec.Version, before)
	}
}

// TestRebalanceWaitSurvivesALeaderChange: a rebalance whose wait the leader began is
// finished by the next leader: the new workers and generation applied, and the topology
// active again.
func TestRebalanceWaitSurvivesALeaderChange(t *testing.T) {
	n1, n2, st, id := twoNimbus(t, "waits", 1)
	ctx := testutil.Context(t, 60*time.Second)
	supervisor(t, st, "sup-a", 6700, 6701)
	testutil.Eventually(t, 10*time.Second, "an assignment", func() bool {
		_, err := st.GetAssignment(ctx, id)
		return err == nil
	})

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_, _ = dial(t, n1.Addr()).Rebalance(rctx, &sparsev1.RebalanceRequest{Name: id, Workers: 2, WaitSecs: 2})
	}()
	testutil.Eventually(t, 5*time.Second, "deactivated for the rebalance", func() bool {
		topo, err := st.GetTopology(ctx, id)
		return err == nil && topo.Status == cluster.StatusInactive
	})
	n1.Close()
	waitLeader(t, n2)
	testutil.Eventually(t, 15*time.Second, "the rebalance finished by the new leader", func() bool {
		topo, err := st.GetTopology(ctx, id)
		return err == nil && topo.Workers == 2 && topo.Generation == 1 && topo.Status == cluster.StatusActive
	})
	testutil.Eventually(t, 10*time.Second, "two workers", func() bool {
		rec, err := st.GetAssignment(ctx, id)
		return err == nil && len(rec.Workers) == 2 && rec.Generation == 1
	})
}

// TestDeactivateDuringRebalanceWaitStaysInactive: the operator's deactivation during a
// rebalance's wait wins: the rebalance is applied, and the topology stays inactive.
func TestDeactivateDuringRebalanceWaitStaysInactive(t *testing.T) {
	cfg := fast(t, testRoot(t))
	n := startNimbus(t, cfg)
	waitLeader(t, n)
	c := dial(t, n.Addr())
	ctx := testutil.Context(t, 30*time.Second)
	st := n.Store()
	supervisor(t, st, "sup-a", 6700, 6701)
	data := artifact(100)
	id, err := submit(ctx, c, header(t, wordcount("paused"), data, nil), data)
	if err != nil {
		t.Fatal(err)
	}

	rebalanced := make(chan error, 1)
	go func() {
		_, err := c.Rebalance(ctx, &sparsev1.RebalanceRequest{Name: id, Workers: 2, WaitSecs: 1})
		rebalanced <- err
	}()
	testutil.Eventually(t, 5*time.Second, "deactivated for the rebalance", func() bool {
		topo, err := st.GetTopology(ctx, id)
		return err == nil && topo.Status == cluster.StatusInactive
	})
	if _, err := c.Deactivate(ctx, &sparsev1.TopologyRef{Name: id}); err != nil {
		t.Fatal(err)
	}
	if err := <-rebalanced; err != nil {
		t.Fatal(err)
	}
	topo, err := st.GetTopology(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if topo.Workers != 2 || topo.Generation != 1 {
		t.Errorf("the rebalance was not applied: workers %d, generation %d", topo.Workers, topo.Generation)
	}
	if topo.Status != cluster.StatusInactive {
		t.Errorf("the topology the operator deactivated during the rebalance is %s after it", topo.Status)
	}
	time.Sleep(3 * cfg.ScheduleEvery)
	if topo, err := st.GetTopology(ctx, id); err != nil || topo.Status != cluster.StatusInactive {
		t.Errorf("later the topology is %+v, %v; want it inactive", topo, err)
	}
}

// TestLeaderKeepsAndRepairsThePlacementIndex: the leader indexes each assignment under
// the supervisors it places workers on, and a new leader repairs an index left wrong
// (a key lost, a stale key of a gone assignment) at the start of its term.
func TestLeaderKeepsAndRepairsThePlacementIndex(t *testing.T) {
	n1, n2, st, id := twoNimbus(t, "indexed", 1)
	ctx := testutil.Context(t, 60*time.Second)
	supervisor(t, st, "sup-a", 6700)
	k := st.Keys()
	placement := func(sup, topo string) *cluster.PlacementRecord {
		resp, err := st.Client().Get(ctx, k.Placement(sup, topo))
		if err != nil || len(resp.Kvs) == 0 {
			return nil
		}
		r, err := k.DecodePlacement(string(resp.Kvs[0].Key), resp.Kvs[0].Value)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	var rec *cluster.AssignmentRecord
	testutil.Eventually(t, 10*time.Second, "an assignment and its index key", func() bool {
		var err error
		rec, err = st.GetAssignment(ctx, id)
		return err == nil && placement("sup-a", id) != nil
	})
	if p := placement("sup-a", id); p.Version != rec.Version {
		t.Fatalf("the index key says version %d, the assignment %d", p.Version, rec.Version)
	}
	if n := countKeys(t, st, k.PlacementsIndexed()); n != 1 {
		t.Fatalf("%d keys PlacementsIndexed; the leader writes it", n)
	}

	// The index goes wrong behind the leader's back; the next leader repairs it.
	if _, err := st.Client().Delete(ctx, k.Placement("sup-a", id)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Client().Put(ctx, k.Placement("sup-a", "gone"), `{"supervisor":"sup-a","topology_id":"gone","version":1}`); err != nil {
		t.Fatal(err)
	}
	n1.Close()
	waitLeader(t, n2)
	testutil.Eventually(t, 10*time.Second, "the index repaired", func() bool {
		return placement("sup-a", id) != nil && placement("sup-a", "gone") == nil
	})
}
