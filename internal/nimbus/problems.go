package nimbus

import (
	"context"

	"github.com/sparsestream/sparse/internal/cluster"
)

// workerProblems reads why supervisors cannot start the topology's workers, by worker
// id, for Describe; a failed read leaves describe as it was without them.
func (s *Server) workerProblems(ctx context.Context, topologyID string) map[string]*cluster.WorkerProblem {
	ps, err := s.store.ListWorkerProblems(ctx, topologyID)
	if err != nil {
		return nil
	}
	out := make(map[string]*cluster.WorkerProblem, len(ps))
	for _, p := range ps {
		out[p.WorkerID] = p
	}
	return out
}
