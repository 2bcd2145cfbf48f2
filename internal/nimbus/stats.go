package nimbus

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/stats"
	"github.com/sparsestream/sparse/internal/tlsconf"
	"github.com/sparsestream/sparse/internal/wire"
)

// Bounds on one statistics report: far above what a worker sends, low enough that a
// report cannot make nimbus keep much.
const (
	maxReportExecutors = 10000
	maxReportString    = 4096
)

// SupportedWireProtocols are the wire protocol versions of the workers this nimbus runs:
// a worker that speaks another is refused when it reports.
var SupportedWireProtocols = []uint32{wire.ProtocolVersion}

// CheckWireProtocol refuses a wire protocol this nimbus cannot run, naming the fix.
func CheckWireProtocol(v uint32, what string) error {
	for _, ok := range SupportedWireProtocols {
		if v == ok {
			return nil
		}
	}
	return fmt.Errorf("%s speaks wire protocol %d, and this nimbus runs only workers of wire protocol %v; rebuild the topology with the sparse version of the cluster (sparsectl version shows both)",
		what, v, SupportedWireProtocols)
}

// ReportStats takes a worker's statistics into the leader's windows.
func (s *Server) ReportStats(ctx context.Context, r *sparsev1.WorkerStats) (*sparsev1.ReportStatsReply, error) {
	if tlsconf.PeerIsTLS(ctx) {
		if id, ok := tlsconf.PeerIdentity(ctx); !ok || id.Role != tlsconf.RoleWorker {
			return nil, status.Errorf(codes.PermissionDenied, "only workers report statistics; the caller's certificate names %s", id)
		}
	}
	t, err := s.leading(ctx)
	if err != nil {
		return nil, err
	}
	rep, err := reportFrom(r)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "statistics of worker %q: %v", r.GetWorkerId(), err)
	}
	if err := CheckWireProtocol(r.GetWireProtocol(), fmt.Sprintf("worker %s of topology %s", r.GetWorkerId(), r.GetTopologyId())); err != nil {
		s.log.Error("refused a worker's statistics", "error", err)
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	t.stats.Ingest(time.Now(), rep)
	s.metrics.StatsReports.Inc()
	return &sparsev1.ReportStatsReply{}, nil
}

// reportFrom checks a report and converts it.
func reportFrom(r *sparsev1.WorkerStats) (stats.Report, error) {
	switch {
	case r.GetTopologyId() == "" || r.GetWorkerId() == "" || r.GetIncarnation() == "":
		return stats.Report{}, fmt.Errorf("the report needs a topology id, a worker id and an incarnation")
	case len(r.GetExecutors()) > maxReportExecutors:
		return stats.Report{}, fmt.Errorf("%d executors; a worker runs at most %d", len(r.GetExecutors()), maxReportExecutors)
	}
	for _, str := range []string{r.GetTopologyId(), r.GetWorkerId(), r.GetIncarnation(), r.GetAddress()} {
		if len(str) > maxReportString {
			return stats.Report{}, fmt.Errorf("a name of %d bytes; the limit is %d", len(str), maxReportString)
		}
	}
	rep := stats.Report{Topology: r.GetTopologyId(), Worker: r.GetWorkerId(), Address: r.GetAddress(), Incarnation: r.GetIncarnation(),
		Started: time.Unix(0, r.GetStartedUnixNanos()), Executors: make([]stats.Sample, 0, len(r.GetExecutors()))}
	for _, x := range r.GetExecutors() {
		if len(x.GetComponent()) > maxReportString || len(x.GetKind()) > maxReportString {
			return stats.Report{}, fmt.Errorf("a component name of %d bytes; the limit is %d", len(x.GetComponent()), maxReportString)
		}
		last := x.GetLastError()
		if len(last) > maxReportString {
			last = last[:maxReportString]
		}
		smp := stats.Sample{Component: x.GetComponent(), Kind: x.GetKind(), FirstTask: x.GetFirstTask(), LastTask: x.GetLastTask(),
			Counters: stats.Counters{
				Emitted: x.GetEmitted(), Transferred: x.GetTransferred(), Executed: x.GetExecuted(), Acked: x.GetAcked(),
				Failed: x.GetFailed(), TimedOut: x.GetTimedOut(), Errors: x.GetErrors(),
				CompleteCount: x.GetCompleteLatency().GetCount(), CompleteSumNanos: x.GetCompleteLatency().GetSumNanos(),
				ExecuteCount: x.GetExecuteLatency().GetCount(), ExecuteSumNanos: x.GetExecuteLatency().GetSumNanos(),
				ProcessCount: x.GetProcessLatency().GetCount(), ProcessSumNanos: x.GetProcessLatency().GetSumNanos(),
			},
			LastError: last, QueueLength: int(x.GetQueueLength()), QueueCap: int(x.GetQueueCapacity()), Pending: x.GetPending()}
		if n := x.GetLastErrorUnixNanos(); n != 0 {
			smp.LastErrorAt = time.Unix(0, n)
		}
		rep.Executors = append(rep.Executors, smp)
	}
	return rep, nil
}

// pruneStatsEvery is how often the leader forgets the statistics of removed topologies.
const pruneStatsEvery = time.Minute

// pruneStatsLoop forgets, while the term lasts, the statistics of topologies that are
// gone from etcd.
func (s *Server) pruneStatsLoop(t *term) {
	tick := time.NewTicker(pruneStatsEvery)
	defer tick.Stop()
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-tick.C:
		}
		topos, err := s.store.ListTopologies(t.ctx)
		if err != nil && !invalidOnly(err) {
			continue
		}
		live := map[string]bool{}
		for _, r := range topos {
			live[r.ID] = true
		}
		t.stats.Prune(time.Now(), func(id string) bool { return live[id] })
	}
}

// TopologyStats are the statistics of a topology in a window, and whether this nimbus
// has any: only the leader keeps them.
func (s *Server) TopologyStats(id string, w stats.Window) (stats.TopologyStats, bool) {
	t := s.currentTerm()
	if t == nil {
		return stats.TopologyStats{}, false
	}
	return t.stats.Topology(id, w, time.Now())
}
