package nimbus

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/stats"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/internal/wire"
)

func workerStats(acked int64) *sparsev1.WorkerStats {
	return &sparsev1.WorkerStats{TopologyId: "t-1", WorkerId: "w1", Incarnation: "i1", StartedUnixNanos: time.Now().UnixNano(),
		WireProtocol: wire.ProtocolVersion, Executors: []*sparsev1.ExecutorStats{
			{Component: "sentences", Kind: "spout", FirstTask: 1, LastTask: 1, Acked: acked, Emitted: acked},
		}}
}

// TestReportStats: the leader keeps what workers report; a standby names the leader;
// a worker of another wire protocol and a malformed report are refused with what to do.
func TestReportStats(t *testing.T) {
	root := testRoot(t)
	cfg := fast(t, root)
	cfg.ID = "n1"
	n1 := startNimbus(t, cfg)
	waitLeader(t, n1)
	cfg2 := fast(t, root)
	cfg2.ID = "n2"
	n2 := startNimbus(t, cfg2)
	ctx := testutil.Context(t, 20*time.Second)
	leader, standby := dial(t, n1.Addr()), dial(t, n2.Addr())

	for _, n := range []int64{10, 25} {
		if _, err := leader.ReportStats(ctx, workerStats(n)); err != nil {
			t.Fatalf("ReportStats to the leader: %v", err)
		}
	}
	ts, ok := n1.TopologyStats("t-1", stats.WindowAllTime)
	if !ok || ts.Spouts.Acked != 25 {
		t.Errorf("the leader keeps acked %d (ok %v), want 25", ts.Spouts.Acked, ok)
	}

	// Stats answers the REST API's JSON; the topology is unknown here, so only the
	// overview has something to say, and a standby sends the caller to the leader.
	over, err := leader.Stats(ctx, &sparsev1.StatsRequest{Window: "all"})
	if err != nil || !strings.Contains(string(over.GetJson()), `"windowHint":"all time"`) {
		t.Errorf("Stats overview: %s, %v", over.GetJson(), err)
	}
	if _, err := leader.Stats(ctx, &sparsev1.StatsRequest{Name: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("Stats of an unknown topology: %v, want NotFound", err)
	}
	if _, err := leader.Stats(ctx, &sparsev1.StatsRequest{Window: "5m"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("Stats with a bad window: %v, want InvalidArgument", err)
	}
	if _, err := standby.Stats(ctx, &sparsev1.StatsRequest{}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("Stats on a standby: %v, want FailedPrecondition naming the leader", err)
	}

	_, err = standby.ReportStats(ctx, workerStats(30))
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), n1.Addr()) {
		t.Errorf("ReportStats to a standby: %v, want FailedPrecondition naming %s", err, n1.Addr())
	}

	old := workerStats(1)
	old.WireProtocol = wire.ProtocolVersion + 1
	if _, err := leader.ReportStats(ctx, old); status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "wire protocol") {
		t.Errorf("a worker of another wire protocol: %v, want FailedPrecondition naming the wire protocol", err)
	}
	bad := workerStats(1)
	bad.Incarnation = ""
	if _, err := leader.ReportStats(ctx, bad); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a report without an incarnation: %v, want InvalidArgument", err)
	}
}

// FuzzReportStats: whatever bytes a worker sends as a report, nimbus decodes, checks
// and ingests them without panicking, and the windows can be read afterwards.
func FuzzReportStats(f *testing.F) {
	seed, _ := proto.Marshal(workerStats(5))
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r sparsev1.WorkerStats
		if proto.Unmarshal(b, &r) != nil {
			return
		}
		rep, err := reportFrom(&r)
		if err != nil {
			return
		}
		st := stats.NewStore(time.Unix(0, 0))
		st.Ingest(time.Now(), rep)
		st.Ingest(time.Now(), rep)
		for _, w := range stats.Windows {
			st.Topology(rep.Topology, w, time.Now())
		}
	})
}

// TestSubmitRefusesAnotherWireProtocol: a topology binary whose workers would speak a
// wire protocol this nimbus cannot run is refused at submit, saying how to fix it.
func TestSubmitRefusesAnotherWireProtocol(t *testing.T) {
	s := startNimbus(t, fast(t, testRoot(t)))
	waitLeader(t, s)
	ctx := testutil.Context(t, 20*time.Second)
	data := artifact(100)
	for _, tc := range []struct {
		wire uint32
		ok   bool
	}{{wire.ProtocolVersion + 1, false}, {0, true}, {wire.ProtocolVersion, true}} {
		h := header(t, wordcount(fmt.Sprintf("wire-%d", tc.wire)), data, nil)
		h.WireProtocol = tc.wire
		_, err := submit(ctx, dial(t, s.Addr()), h, data)
		if tc.ok != (err == nil) || (err != nil && (status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "rebuild the topology"))) {
			t.Errorf("submit of a binary of wire protocol %d: %v", tc.wire, err)
		}
	}
}
