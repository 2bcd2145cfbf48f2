package supervisor

import (
	"context"
	"time"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/retry"
)

// ProblemReporter publishes why a worker cannot start, for describe; stop withdraws it.
type ProblemReporter interface {
	Report(p cluster.WorkerProblem) (stop func())
}

// reportedProblem is a problem published for the worker of a slot.
type reportedProblem struct {
	workerID string
	problem  string
	stop     func()
}

// reportStartFailure publishes (or replaces) the problem of a slot whose worker could
// not start. It runs on Run's goroutine.
func (m *Manager) reportStartFailure(s *slot, err error) {
	if m.c.Problems == nil {
		return
	}
	msg := err.Error()
	if r := m.problems[s.port]; r != nil {
		if r.workerID == s.want.WorkerID && r.problem == msg {
			return
		}
		r.stop()
	}
	m.problems[s.port] = &reportedProblem{workerID: s.want.WorkerID, problem: msg, stop: m.c.Problems.Report(cluster.WorkerProblem{
		TopologyID: s.want.TopologyID, WorkerID: s.want.WorkerID, Supervisor: m.c.SupervisorID, Problem: msg,
	})}
}

// withdrawProblems withdraws the problems of slots that now run their worker, or no
// longer hold it.
func (m *Manager) withdrawProblems() {
	for port, r := range m.problems {
		s := m.slots[port]
		if s != nil && s.want.WorkerID == r.workerID && s.phase != Running {
			continue
		}
		r.stop()
		delete(m.problems, port)
	}
}

// Report implements ProblemReporter with a record in etcd kept under a lease, like a
// heartbeat: it expires when the supervisor dies.
func (e *etcdHeartbeats) Report(p cluster.WorkerProblem) func() {
	ctx, cancel := context.WithCancel(e.ctx)
	log := e.log.With("topology", p.TopologyID, "worker", p.WorkerID)
	e.wg.Go(func() {
		pause := retry.New(500*time.Millisecond, 10*time.Second)
		for {
			reg, err := e.store.ReportWorkerProblem(ctx, &p, e.ttl)
			if err == nil {
				<-ctx.Done()
				if e.ctx.Err() == nil {
					cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Second)
					_ = reg.Close(cctx)
					ccancel()
				}
				return
			}
			if ctx.Err() != nil {
				return
			}
			d := pause.Next()
			log.Debug("cannot report the worker's problem to etcd; retrying", "error", err, "in", d)
			if retry.Sleep(ctx, d) != nil {
				return
			}
		}
	})
	return cancel
}
