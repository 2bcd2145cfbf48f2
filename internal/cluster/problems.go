package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// dirProblems holds, per topology, why a supervisor cannot start a worker.
const dirProblems = "worker-problems"

// maxProblemBytes bounds a problem's text (pip's last lines, say).
const maxProblemBytes = 8 << 10

// WorkerProblem says why a supervisor cannot start one of a topology's workers (its
// virtualenv cannot be installed, its artifact cannot be fetched, ...), under
// <root>/worker-problems/<topology-id>/<worker-id>, kept under the supervisor's lease
// while the problem lasts, so that describe shows it instead of a worker that merely has
// no heartbeat.
type WorkerProblem struct {
	TopologyID string    `json:"topology_id"`
	WorkerID   string    `json:"worker_id"`
	Supervisor string    `json:"supervisor"`
	Problem    string    `json:"problem"`
	Time       time.Time `json:"time"`
}

// Validate checks the record's own consistency.
func (r *WorkerProblem) Validate() error {
	var errs []error
	if err := ValidateID("topology id", r.TopologyID); err != nil {
		errs = append(errs, err)
	}
	if err := ValidateID("worker id", r.WorkerID); err != nil {
		errs = append(errs, err)
	}
	if r.Problem == "" {
		errs = append(errs, errors.New("the problem is empty"))
	}
	if len(r.Problem) > maxProblemBytes {
		errs = append(errs, fmt.Errorf("the problem has %d bytes, more than %d", len(r.Problem), maxProblemBytes))
	}
	return errors.Join(errs...)
}

// WorkerProblemsPrefix holds the worker problems of every topology.
func (k Keys) WorkerProblemsPrefix() string { return k.dir(dirProblems) }

// TopologyWorkerProblemsPrefix holds the worker problems of one topology.
func (k Keys) TopologyWorkerProblemsPrefix(topologyID string) string {
	return k.WorkerProblemsPrefix() + topologyID + "/"
}

// WorkerProblemKey is the key of one worker's problem.
func (k Keys) WorkerProblemKey(topologyID, workerID string) string {
	return k.TopologyWorkerProblemsPrefix(topologyID) + workerID
}

var problemKind = kind[WorkerProblem]{
	name:   "worker problem",
	prefix: Keys.WorkerProblemsPrefix,
	key:    func(k Keys, r *WorkerProblem) string { return k.WorkerProblemKey(r.TopologyID, r.WorkerID) },
	match: func(rest string, r *WorkerProblem) error {
		topo, worker, _ := strings.Cut(rest, "/")
		return errors.Join(sameID("topology_id", r.TopologyID, topo), sameID("worker_id", r.WorkerID, worker))
	},
}

// ReportWorkerProblem keeps a worker's problem under a lease of the given TTL until ctx
// ends or the registration is closed (the worker started, or is no longer wanted). The
// problem is cut to its last 8 KiB.
func (s *Store) ReportWorkerProblem(ctx context.Context, p *WorkerProblem, ttl time.Duration) (*Registration[WorkerProblem], error) {
	if len(p.Problem) > maxProblemBytes {
		p.Problem = "..." + p.Problem[len(p.Problem)-maxProblemBytes+3:]
	}
	return register(ctx, s, problemKind, p, ttl, func(r *WorkerProblem) { r.Time = time.Now().UTC() })
}

// ListWorkerProblems reads the problems of one topology's workers.
func (s *Store) ListWorkerProblems(ctx context.Context, topologyID string) ([]*WorkerProblem, error) {
	if err := ValidateID("topology id", topologyID); err != nil {
		return nil, err
	}
	return list(ctx, s, problemKind, s.keys.TopologyWorkerProblemsPrefix(topologyID))
}
