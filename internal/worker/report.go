package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/tlsconf"
	"github.com/sparsestream/sparse/internal/wire"
)

// DefaultReportEvery is how often a worker reports its statistics to nimbus.
const DefaultReportEvery = 5 * time.Second

// reportTimeout bounds one report, and one question to a nimbus about its leader.
const reportTimeout = 5 * time.Second

func newIncarnation() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// StatsReport is what the worker tells nimbus now: every executor's cumulative counters,
// latency totals, last error and receive queue.
func (w *Worker) StatsReport() *sparsev1.WorkerStats {
	self, _ := w.o.Assignment.Worker(w.o.WorkerID)
	r := &sparsev1.WorkerStats{
		TopologyId: w.o.Assignment.TopologyID, WorkerId: w.o.WorkerID, Incarnation: w.incarnation,
		StartedUnixNanos: w.started.UnixNano(), TakenUnixNanos: time.Now().UnixNano(),
		AssignmentVersion: w.o.Assignment.Version, WireProtocol: wire.ProtocolVersion, Address: self.Address(),
	}
	queues := w.rt.QueueDepths() // in the same order as Stats
	for i, st := range w.rt.Stats() {
		x := &sparsev1.ExecutorStats{
			Component: st.Component, Kind: st.Kind,
			Emitted: st.Emitted.Load(), Transferred: st.Transferred.Load(), Executed: st.Executed.Load(),
			Acked: st.Acked.Load(), Failed: st.Failed.Load(), TimedOut: st.TimedOut.Load(), Errors: st.Errors.Load(),
			Pending:         st.Pending.Load(),
			CompleteLatency: &sparsev1.LatencyTotals{Count: st.CompleteLatency.Count(), SumNanos: int64(st.CompleteLatency.Sum())},
			ExecuteLatency:  &sparsev1.LatencyTotals{Count: st.ExecuteLatency.Count(), SumNanos: int64(st.ExecuteLatency.Sum())},
			ProcessLatency:  &sparsev1.LatencyTotals{Count: st.ProcessLatency.Count(), SumNanos: int64(st.ProcessLatency.Sum())},
		}
		lastErr, lastErrAt := st.LastError()
		x.LastError = lastErr
		if len(st.Tasks) > 0 {
			x.FirstTask, x.LastTask = st.Tasks[0], st.Tasks[len(st.Tasks)-1]
		}
		if !lastErrAt.IsZero() {
			x.LastErrorUnixNanos = lastErrAt.UnixNano()
		}
		if i < len(queues) {
			x.QueueLength, x.QueueCapacity = int32(queues[i].Data), int32(queues[i].Capacity)
		}
		r.Executors = append(r.Executors, x)
	}
	return r
}

// reportStats sends a StatsReport to the leading nimbus every ReportEvery until ctx
// ends. It reports to the last nimbus that took a report; without one, to each address
// it knows in turn, and when a standby answers NOT_LEADER, to the leader it names. It
// calls nothing but ReportStats: with TLS, that is all a worker certificate may call. A
// report that fails is dropped: the next one carries the same cumulative counters, so
// nothing is lost but the interval's timeliness.
func (w *Worker) reportStats(ctx context.Context) {
	every := w.o.ReportEvery
	if every <= 0 {
		every = DefaultReportEvery
	}
	creds := insecure.NewCredentials()
	if w.o.TLS != nil {
		creds = w.o.TLS.ClientCredentials(tlsconf.RoleServer, false)
	}
	conns := map[string]*grpc.ClientConn{}
	defer func() {
		for _, cc := range conns {
			_ = cc.Close()
		}
	}()
	send := func(addr string) error {
		cc, ok := conns[addr]
		if !ok {
			var err error
			if cc, err = grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(creds)); err != nil {
				return err
			}
			conns[addr] = cc
		}
		cctx, cancel := context.WithTimeout(ctx, reportTimeout)
		defer cancel()
		_, err := sparsev1.NewNimbusClient(cc).ReportStats(cctx, w.StatsReport())
		return err
	}
	leader := ""
	failing := false
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		candidates := w.o.Nimbus
		if leader != "" {
			candidates = []string{leader}
		}
		var err error
		leader, err = w.reportOnce(candidates, send)
		switch {
		case err == nil:
			if failing {
				w.log.Info("reporting statistics to nimbus again", "nimbus", leader)
			}
			failing = false
		case ctx.Err() != nil:
			return
		default:
			switch {
			case failing:
				// Said when it began; said again when it ends.
			case status.Code(err) == codes.FailedPrecondition && leaderIn(err) == "":
				// Refused for good reason (an unsupported wire protocol): say it loudly.
				w.log.Error("nimbus refuses this worker's statistics", "error", err)
			default:
				w.log.Warn("cannot report statistics to nimbus; retrying every interval", "nimbus", strings.Join(candidates, ","), "error", err)
			}
			failing = true
		}
	}
}

// reportOnce sends one report to the first candidate that takes it, following a
// standby's NOT_LEADER to the leader it names, and returns the address that took it.
func (w *Worker) reportOnce(candidates []string, send func(string) error) (string, error) {
	err := errors.New("no nimbus address to report statistics to")
	tried := map[string]bool{}
	for _, addr := range candidates {
		for addr != "" && !tried[addr] {
			tried[addr] = true
			if err = send(addr); err == nil {
				return addr, nil
			}
			addr = leaderIn(err)
		}
	}
	return "", err
}

// leaderIn is the leader address a standby's NOT_LEADER refusal names, or "".
func leaderIn(err error) string {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.FailedPrecondition {
		return ""
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == "NOT_LEADER" {
			return info.GetMetadata()["leader_address"]
		}
	}
	return ""
}
