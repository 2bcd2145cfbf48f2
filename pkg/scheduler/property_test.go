package scheduler_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
)

func randomLayout(r *rand.Rand) *topology.Layout {
	var comps []comp
	for i := range 1 + r.IntN(4) {
		n := 1 + r.IntN(8)
		comps = append(comps, comp{fmt.Sprintf("c%d", i), 1 + r.IntN(n), n})
	}
	return topology.NewLayout(specOf(comps), r.IntN(4))
}

func specOf(comps []comp) *topology.Spec {
	s := &topology.Spec{Name: "random"}
	for _, c := range comps {
		s.Components = append(s.Components, &topology.ComponentSpec{ID: c.id, Kind: topology.KindBolt, Parallelism: c.parallel, Tasks: c.ntasks})
	}
	return s
}

func randomSupervisor(r *rand.Rand, i int) scheduler.Supervisor {
	s := scheduler.Supervisor{ID: fmt.Sprintf("s%02d", i), Host: fmt.Sprintf("10.0.%d.1", i), Alive: r.IntN(6) > 0}
	for p := range 1 + r.IntN(4) {
		s.Slots = append(s.Slots, 6700+p)
	}
	return s
}

// TestRandomClusters evolves seeded random clusters through supervisor deaths, unhealthy
// slots, kills, new topologies and rebalances, checking after every round that every task
// is assigned exactly once (Validate), no slot is used twice, only usable slots are used,
// scheduling again changes nothing, every shortfall has a reason, and that a death or an
// unhealthy slot moves no surviving worker.
func TestRandomClusters(t *testing.T) {
	for seed := range 300 {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(seed), 42))
			var ss []scheduler.Supervisor
			nsup := r.IntN(9)
			for i := range nsup {
				ss = append(ss, randomSupervisor(r, i))
			}
			f := newFixture(ss)
			ntopo := 0
			addTopology := func() {
				f.add(fmt.Sprintf("t%02d", ntopo), 1+r.IntN(6), randomLayout(r))
				ntopo++
			}
			for range 1 + r.IntN(5) {
				addTopology()
			}
			f.schedule(t)
			for step := range 10 {
				before := f.cluster.Assignments
				var event string
				switch k := r.IntN(9); {
				case k == 0 && len(f.cluster.Supervisors) > 0:
					s := &f.cluster.Supervisors[r.IntN(len(f.cluster.Supervisors))]
					s.Alive, event = false, "death"
				case k == 1 && len(f.cluster.Supervisors) > 0:
					s := &f.cluster.Supervisors[r.IntN(len(f.cluster.Supervisors))]
					s.Unhealthy, event = append(s.Unhealthy, s.Slots[r.IntN(len(s.Slots))]), "unhealthy"
				case k == 2 && len(f.cluster.Supervisors) > 0:
					s := &f.cluster.Supervisors[r.IntN(len(f.cluster.Supervisors))]
					s.Alive, s.Unhealthy, event = true, nil, "recovery"
				case k == 3:
					f.cluster.Supervisors = append(f.cluster.Supervisors, randomSupervisor(r, nsup))
					nsup++
					event = "new supervisor"
				case k == 4:
					addTopology()
					event = "new topology"
				case k == 5 && ntopo > 0:
					f.cluster.Topologies[r.IntN(ntopo)].Status = scheduler.Killed
					event = "kill"
				case k == 6 && ntopo > 0:
					f.cluster.Topologies[r.IntN(ntopo)].Workers = 1 + r.IntN(6)
					event = "rebalance workers"
				case k == 7 && ntopo > 0:
					tp := &f.cluster.Topologies[r.IntN(ntopo)]
					comps := slices.Sorted(maps.Keys(tp.Executors))
					c := comps[r.IntN(len(comps))]
					ntasks := 0
					for _, e := range tp.Executors[c] {
						ntasks += len(e)
					}
					tp.ExecutorOverrides = map[string]int{c: 1 + r.IntN(ntasks)}
					event = "rebalance executors"
				case k == 8 && ntopo > 0:
					f.cluster.Topologies[r.IntN(ntopo)].Generation++
					event = "rebalance"
				default:
					event = "nothing"
				}
				res := f.schedule(t)
				checkReasons(t, f, res)
				if event == "death" || event == "unhealthy" || event == "nothing" {
					checkSurvivorsStay(t, f, before, res)
				}
				if event == "nothing" && (len(res.Changed) != 0 || len(res.Removed) != 0) {
					t.Errorf("step %d: nothing happened but %v changed and %v were removed", step, res.Changed, res.Removed)
				}
			}
		})
	}
}

// checkReasons checks that a topology has a reason exactly when it is short of workers.
func checkReasons(t *testing.T, f *fixture, res scheduler.Result) {
	t.Helper()
	for _, tp := range f.cluster.Topologies {
		if tp.Status == scheduler.Killed {
			if _, ok := res.Assignments[tp.ID]; ok {
				t.Errorf("killed %s is assigned", tp.ID)
			}
			continue
		}
		execs, _ := tp.EffectiveExecutors()
		n := 0
		for _, es := range execs {
			n += len(es)
		}
		a, assigned := res.Assignments[tp.ID]
		short := !assigned || len(a.Workers) < min(tp.Workers, n)
		if _, has := res.Reasons[tp.ID]; has != short {
			t.Errorf("%s: short of workers %v but reason %q (%d workers, wants %d)", tp.ID, short, res.Reasons[tp.ID], len(a.Workers), min(tp.Workers, n))
		}
	}
}

// checkSurvivorsStay checks that every worker still on a usable slot kept that slot and
// all its executors.
func checkSurvivorsStay(t *testing.T, f *fixture, before map[string]scheduler.Assignment, res scheduler.Result) {
	t.Helper()
	usable := map[string]bool{}
	for _, s := range f.cluster.Supervisors {
		for _, p := range s.Slots {
			if s.Alive && !slices.Contains(s.Unhealthy, p) {
				usable[fmt.Sprintf("%s:%d", s.ID, p)] = true
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(before)) {
		for _, w := range before[id].Workers {
			if !usable[w.ID()] {
				continue
			}
			now, ok := workerAt(res.Assignments[id], w.ID())
			if !ok {
				t.Errorf("%s: surviving worker %s was moved", id, w.ID())
				continue
			}
			for _, e := range w.Executors {
				if !slices.ContainsFunc(now.Executors, func(x []int32) bool { return slices.Equal(x, e) }) {
					t.Errorf("%s: surviving worker %s lost executor %v", id, w.ID(), e)
				}
			}
		}
	}
}
