package nimbus

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/wire"
)

// benchExecutorsPerWorker is the executors of one simulated worker: a wordcount-sized
// worker (a spout, two bolts, an acker, each a few executors).
const benchExecutorsPerWorker = 12

// simulatedWorker is the report of worker i after n reports, with figures of a busy one
// (large counters, errors, latencies), so that the varints are as long as in real life.
func simulatedWorker(i, n int) *sparsev1.WorkerStats {
	r := &sparsev1.WorkerStats{TopologyId: fmt.Sprintf("bench-%d-1700000000", i%50), WorkerId: fmt.Sprintf("node%d:%d", i/4, 6700+i%4),
		Incarnation: fmt.Sprintf("%016x", i), StartedUnixNanos: time.Now().UnixNano(), TakenUnixNanos: time.Now().UnixNano(),
		AssignmentVersion: 3, WireProtocol: wire.ProtocolVersion, Address: fmt.Sprintf("10.0.%d.%d:%d", i/250, i%250, 6700+i%4)}
	kinds := []string{"spout", "bolt", "bolt", "acker"}
	comps := []string{"sentences", "split", "count", "__acker"}
	for e := range benchExecutorsPerWorker {
		v := int64(n)*10000 + int64(e)*1000003
		r.Executors = append(r.Executors, &sparsev1.ExecutorStats{
			Component: comps[e%4], Kind: kinds[e%4], FirstTask: int32(i*100 + e*2), LastTask: int32(i*100 + e*2 + 1),
			Emitted: v, Transferred: v * 2, Executed: v, Acked: v, Failed: v / 1000, TimedOut: v / 5000, Errors: 3,
			CompleteLatency: &sparsev1.LatencyTotals{Count: v / 20, SumNanos: v * 50000},
			ExecuteLatency:  &sparsev1.LatencyTotals{Count: v / 20, SumNanos: v * 20000},
			ProcessLatency:  &sparsev1.LatencyTotals{Count: v / 20, SumNanos: v * 30000},
			LastError:       "a short error message from user code", LastErrorUnixNanos: time.Now().UnixNano(),
			QueueLength: 3, QueueCapacity: 64, Pending: 500,
		})
	}
	return r
}

// BenchmarkReportStats measures what nimbus spends on the workers' statistics: one op is
// one worker's report, decoded from its wire bytes (as gRPC does) and taken into the
// leader's windows, for 4,000 simulated workers reporting in turn. It reports the bytes
// of a report, the CPU per report, the CPU share of one core that 4,000 workers reporting
// every DefaultReportEvery (5 s) would take, and the heap the windows keep per worker.
func BenchmarkReportStats(b *testing.B) {
	const workers = 4000
	cfg := fast(b, testRoot(b))
	cfg.LeaderTTL = DefaultLeaderTTL
	s := startNimbus(b, cfg)
	waitLeader(b, s)
	wires := make([][]byte, workers)
	for i := range wires {
		var err error
		if wires[i], err = proto.Marshal(simulatedWorker(i, 1)); err != nil {
			b.Fatal(err)
		}
	}
	ctx := b.Context()
	// The first report of every worker makes its windows: measure the heap they take.
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range workers {
		if _, err := s.ReportStats(ctx, simulatedWorker(i, 1)); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heapPerWorker := float64(after.HeapAlloc-before.HeapAlloc) / workers

	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		var r sparsev1.WorkerStats
		if err := proto.Unmarshal(wires[i%workers], &r); err != nil {
			b.Fatal(err)
		}
		r.Executors[0].Acked += int64(i) // a report that adds something
		if _, err := s.ReportStats(ctx, &r); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpuPerReport := float64(cpuTime()-cpu0) / float64(b.N)
	perSec := float64(workers) / 5
	b.ReportMetric(float64(len(wires[0])), "bytes/report")
	b.ReportMetric(cpuPerReport/1e3, "cpu-µs/report")
	b.ReportMetric(perSec*cpuPerReport/1e9, "cores@4000workers")
	b.ReportMetric(perSec*float64(len(wires[0]))/1e3, "kB/s@4000workers")
	b.ReportMetric(heapPerWorker/1e3, "heap-kB/worker")
}

// BenchmarkReportStatsGRPC is the same over gRPC on loopback, without TLS: one op is
// one report sent and answered. Client and server share the process, so its CPU per
// report is an upper bound of nimbus's.
func BenchmarkReportStatsGRPC(b *testing.B) {
	const workers = 4000
	cfg := fast(b, testRoot(b))
	cfg.LeaderTTL = DefaultLeaderTTL // the loaded machine must not cost the leadership
	s := startNimbus(b, cfg)
	waitLeader(b, s)
	c := dial(b, s.Addr())
	reports := make([]*sparsev1.WorkerStats, workers)
	for i := range reports {
		reports[i] = simulatedWorker(i, 1)
	}
	ctx := b.Context()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r := reports[i%workers]
		r.Executors[0].Acked++
		if _, err := c.ReportStats(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpuPerReport := float64(cpuTime()-cpu0) / float64(b.N)
	b.ReportMetric(cpuPerReport/1e3, "cpu-µs/report")
	b.ReportMetric(float64(workers)/5*cpuPerReport/1e9, "cores@4000workers")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
