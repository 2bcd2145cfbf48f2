package nimbus

import (
	"context"
	"fmt"

	"github.com/sparsestream/sparse/internal/cluster"
)

// workerProblems reads why supervisors cannot start the topology's workers, by worker
// id, for Describe. A record that does not decode is reported in the error beside the
// others; a failed read returns none and the error.
func (s *Server) workerProblems(ctx context.Context, topologyID string) (map[string]*cluster.WorkerProblem, error) {
	ps, err := s.store.ListWorkerProblems(ctx, topologyID)
	if err != nil && !invalidOnly(err) {
		return nil, fmt.Errorf("the reasons its workers cannot start could not be read: %w", err)
	}
	out := make(map[string]*cluster.WorkerProblem, len(ps))
	for _, p := range ps {
		out[p.WorkerID] = p
	}
	if err != nil {
		return out, fmt.Errorf("the reasons its workers cannot start could not be read: %w", err)
	}
	return out, nil
}
