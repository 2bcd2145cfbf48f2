package supervisor

import (
	"fmt"
	"maps"
	"slices"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/worker"
	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
)

// Desired works out, from the cluster's records, the workers that supervisor
// supervisorID should run in its slots. It is pure. notes says what it had to leave
// out or decide (a worker on a port this supervisor does not offer, a topology record
// not seen yet, two topologies claiming one port), for the log.
func Desired(supervisorID string, slots []int, assignments map[string]*scheduler.Assignment, topologies map[string]*cluster.TopologyRecord) (wants []Want, notes []string) {
	offered := make(map[int]bool, len(slots))
	for _, p := range slots {
		offered[p] = true
	}
	byPort := map[int]Want{}
	ids := slices.Sorted(maps.Keys(assignments))
	for _, tid := range ids {
		a := assignments[tid]
		if a == nil {
			continue
		}
		mine := a.OnSupervisor(supervisorID)
		if len(mine) == 0 {
			continue
		}
		t := topologies[tid]
		if t == nil {
			notes = append(notes, fmt.Sprintf("topology %s has workers on this supervisor but no topology record yet; waiting for it", tid))
			continue
		}
		wa := workerAssignment(a, t)
		problem := ""
		if err := checkAssignment(wa, t); err != nil {
			problem = err.Error()
		}
		for _, aw := range mine {
			if !offered[aw.Port] {
				notes = append(notes, fmt.Sprintf("worker %s of topology %s is assigned to port %d, which this supervisor does not offer (slots %v); not starting it", aw.ID(), tid, aw.Port, slots))
				continue
			}
			if prev, taken := byPort[aw.Port]; taken {
				// Assignments are visited in order of topology id: the first keeps the port
				// until the scheduler's next write settles the conflict.
				notes = append(notes, fmt.Sprintf("port %d is assigned to both %s and %s; keeping %s until the assignments agree", aw.Port, prev.TopologyID, tid, prev.TopologyID))
				continue
			}
			byPort[aw.Port] = Want{
				Port: aw.Port, TopologyID: tid, WorkerID: aw.ID(), Address: aw.Address(),
				Version: a.Version, Digest: t.ArtifactDigest, ArtifactSize: t.ArtifactSize,
				Active:     t.Status == cluster.StatusActive,
				Assignment: wa, Config: t.Config.Clone(), Problem: problem,
				SpecBundle:     t.ArtifactKind == cluster.ArtifactSpecBundle,
				VenvGeneration: t.VenvGeneration,
			}
		}
	}
	for _, p := range slices.Sorted(maps.Keys(byPort)) {
		wants = append(wants, byPort[p])
	}
	return wants, notes
}

// workerAssignment is the assignment file of a topology's workers: the assignment as
// stored, with the parallelism its placement was made for (a topology record that has
// moved on to a rebalance not placed yet does not change what the workers of this version
// run). A record written before assignments kept their parallelism takes the topology's
// executor overrides.
func workerAssignment(a *scheduler.Assignment, t *cluster.TopologyRecord) *scheduler.Assignment {
	wa := a.Clone()
	if !a.KeepsRequest() {
		wa.Parallelism = maps.Clone(t.ExecutorOverrides)
	}
	if len(wa.Parallelism) == 0 {
		wa.Parallelism = nil
	}
	return &wa
}

// checkAssignment checks an assignment against the topology's spec the way the worker
// will, so that an assignment that does not fit (a topology record that lags behind a
// rebalance) is not started only to crash.
func checkAssignment(a *scheduler.Assignment, t *cluster.TopologyRecord) error {
	if t.Spec == nil {
		return nil
	}
	if t.ArtifactDigest == "" {
		return fmt.Errorf("topology %s has no artifact digest", t.ID)
	}
	spec, err := worker.ApplyParallelism(t.Spec, a.Parallelism)
	if err != nil {
		return err
	}
	conf := spec.Config.Merge(t.Config)
	if _, set := conf[topology.ConfWorkers]; !set {
		conf[topology.ConfWorkers] = int64(len(a.Workers))
	}
	// The record comes from etcd: within the ceiling of every nimbus's limits it can be
	// laid out without exhausting this supervisor's memory.
	sized := *spec
	sized.Config = conf
	if err := topology.ValidateShapeWithin(&sized, topology.MaxLimits); err != nil {
		return fmt.Errorf("topology %s cannot run here: %w", t.ID, err)
	}
	if err := a.CheckLayout(topology.NewLayout(spec, conf.AckerTasks())); err != nil {
		return fmt.Errorf("assignment version %d does not fit topology %s: %w", a.Version, t.ID, err)
	}
	return nil
}
