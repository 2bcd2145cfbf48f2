// Command sparse-bench measures the benchmark shapes against their baselines and prints
// one BENCH line per shape (see `make bench`).
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/internal/perf"
	"github.com/sparsestream/sparse/pkg/topology"
)

func main() { os.Exit(run()) }

// run is main with an exit code, so that the profiles' deferred writes happen on every
// path out.
func run() int {
	d := flag.Duration("duration", 5*time.Second, "measuring time per run")
	warm := flag.Duration("warmup", time.Second, "warm-up time before each measurement")
	only := flag.String("shape", "", "run only shapes matching this regular expression")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memprofile := flag.String("memprofile", "", "write an allocation profile at the end to this file")
	soak := flag.Duration("soak", 0, "instead of measuring, run each shape at full speed this long and check that the live heap stays flat")
	child := flag.String("child", "", "internal: run as the second process of a two-worker benchmark (raw or worker)")
	assignment := flag.String("assignment", "", "internal: the assignment file of -child worker")
	rate := flag.Float64("rate", 0, "internal: the spout rate of -child worker")
	withTLS := flag.Bool("tls", false, "also run the two-worker shapes with mutual TLS on the transport between the workers, and report both (the TLS lines' shapes end in +tls)")
	tlsRounds := flag.Int("tls-rounds", 3, "with -tls: alternated plaintext and TLS full-speed runs per shape for the TLSCOST line")
	tlsDir := flag.String("tls-dir", "", "internal: the TLS files of -child worker")
	latencyAt := flag.String("latency-at", "", "instead of measuring, run the two-worker shapes at these comma-separated spout rates and print their latency")
	scale := flag.Bool("scale", false, "instead of measuring the shapes, simulate a large cluster's control plane (make bench-scale): real etcd and nimbusd, simulated supervisors and workers")
	var so perf.ScaleOptions
	flag.IntVar(&so.Supervisors, "scale-supervisors", 1000, "with -scale: simulated supervisors")
	flag.IntVar(&so.Slots, "scale-slots", 8, "with -scale: slots per supervisor")
	flag.IntVar(&so.Topologies, "scale-topologies", 500, "with -scale: topologies")
	flag.IntVar(&so.Workers, "scale-workers", 8, "with -scale: workers per topology")
	flag.DurationVar(&so.LeaseTTL, "scale-lease-ttl", 10*time.Second, "with -scale: the supervisors', workers' and nimbus's lease TTL")
	flag.DurationVar(&so.Steady, "scale-steady", 30*time.Second, "with -scale: how long the steady state is measured")
	flag.BoolVar(&so.WatchTopologies, "scale-watch-topologies", true, "with -scale: every simulated supervisor follows the records of its assignments' topologies, as supervisord does")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "error: -cpuprofile: %v\n", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	if *memprofile != "" {
		defer func() {
			f, err := os.Create(*memprofile)
			if err == nil {
				err = pprof.Lookup("allocs").WriteTo(f, 0)
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "error: -memprofile: %v\n", err)
			}
		}()
	}
	// The engine sets its heap floor when a runtime starts; set it first so that the
	// baselines, which run before and beside the engine, collect garbage as seldom.
	executor.SetHeapFloor(topology.DefaultHeapFloorMB)
	re, err := regexp.Compile(*only)
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: -shape %q is not a regular expression: %v\n", *only, err)
		return 2
	}
	if *child != "" {
		if err := perf.ChildMain(*child, *only, *assignment, *rate, *tlsDir); err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			return 1
		}
		return 0
	}
	if *scale {
		self, _ := os.Executable()
		so.Log = os.Stderr
		r, err := perf.MeasureScale(self, so)
		if err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			return 1
		}
		fmt.Println(r.Line())
		return 0
	}
	if *latencyAt != "" {
		self, _ := os.Executable()
		for _, s := range perf.TwoWorkerShapes() {
			if !re.MatchString(s.Name) {
				continue
			}
			for _, f := range strings.Split(*latencyAt, ",") {
				r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
				if err != nil {
					fmt.Fprintf(os.Stderr, "error: -latency-at: %q is not a rate\n", f)
					return 2
				}
				l, err := perf.LatencyAt(s, self, r, perf.Options{Warmup: *warm, Duration: *d})
				if err != nil {
					fmt.Fprintf(os.Stderr, "error: %s: %v\n", s.Name, err)
					return 1
				}
				fmt.Printf("LATENCY shape=%s rate=%.0f achieved=%.0f p50_ms=%.3f p99_ms=%.3f tuples_per_frame=%.0f busy_cores=%.2f\n",
					s.Name, r, l.Achieved, l.P50.Seconds()*1000, l.P99.Seconds()*1000, l.TuplesPerFrame, l.BusyCores)
			}
		}
		return 0
	}
	var lines []string
	shapes := append(append(perf.Shapes(), perf.MultilangShapes(os.Stderr)...), perf.PythonShapes(os.Stderr)...)
	if re.MatchString(perf.KafkaSpoutShapeName) || re.MatchString(perf.KafkaSpoutNoAckShapeName) || re.MatchString(perf.KafkaPipeShapeName) {
		shapes = append(shapes, perf.KafkaShapes(os.Stderr)...) // starts a broker, so only when selected
	}
	// A shape that raises the process's heap floor runs after the others (the two-worker
	// shapes' first worker included), which then all measure under the default floor.
	var first, last []perf.Shape
	for _, s := range shapes {
		switch {
		case !re.MatchString(s.Name):
		case s.HeapFloorMB > topology.DefaultHeapFloorMB:
			last = append(last, s)
		default:
			first = append(first, s)
		}
	}
	measure := func(shapes []perf.Shape) bool {
		for _, s := range shapes {
			if *soak > 0 {
				if err := perf.Soak(s, *soak, 5*time.Second, os.Stdout); err != nil {
					fmt.Fprintln(os.Stderr, "error:", err)
					return false
				}
				continue
			}
			cpu0 := perf.ReadCPU()
			r, err := perf.Measure(s, perf.Options{Warmup: *warm, Duration: *d})
			if err != nil {
				fmt.Fprintf(os.Stderr, "error: %s: %v\n", s.Name, err)
				return false
			}
			fmt.Fprintf(os.Stderr, "%s: engine %.0f %s/s, baseline %.0f/s, latency at %.0f/s: p50 %v p99 %v%s\n",
				s.Name, r.TPS, s.Unit, r.Baseline, r.Rate, r.P50, r.P99, stealNote(cpu0))
			lines = append(lines, r.Line())
		}
		return true
	}
	if !measure(first) {
		return 1
	}
	if *soak == 0 {
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, "error: cannot find this program to start the second worker:", err)
			return 1
		}
		// With -tls each shape runs in plaintext, then over TLS, one after the other, so
		// that both see the same machine.
		dirs := []string{""}
		if *withTLS {
			dir, err := perf.NewTLSDir()
			if err != nil {
				fmt.Fprintln(os.Stderr, "error: -tls:", err)
				return 1
			}
			defer os.RemoveAll(dir)
			dirs = append(dirs, dir)
		}
		for _, s := range perf.TwoWorkerShapes() {
			if !re.MatchString(s.Name) {
				continue
			}
			var plain float64
			for _, dir := range dirs {
				cpu0 := perf.ReadCPU()
				r, err := perf.MeasureTwoWorker(s, self, perf.Options{Warmup: *warm, Duration: *d, TLSDir: dir})
				if err != nil {
					fmt.Fprintf(os.Stderr, "error: %s: %v\n", s.Name, err)
					return 1
				}
				note := ""
				if dir == "" {
					plain = r.TPS
				} else {
					r.Shape += "+tls"
					note = fmt.Sprintf(" (TLS costs %.1f%% of the plaintext rate)", 100*(1-r.TPS/plain))
				}
				fmt.Fprintf(os.Stderr, "%s: engine %.0f/s across two processes (%.1f bytes and %.0f tuples per frame), raw gRPC %.0f/s, raw gRPC encoding and decoding every tuple %.0f/s (engine %.2f of it)%s, NATS core pub/sub %.0f/s (engine %.2f of it), latency at %.0f/s: p50 %v p99 %v%s%s\n",
					r.Shape, r.TPS, r.BytesPerTuple, r.TuplesPerFrame, r.Baseline, r.CodecBaseline, r.TPS/r.CodecBaseline, floorNote(r), r.NATS, r.TPS/r.NATS, r.Rate, r.P50, r.P99, note, stealNote(cpu0))
				lines = append(lines, r.Line())
			}
			if *withTLS {
				plain, withTLS, cost, err := perf.TLSCost(s, self, dirs[1], *tlsRounds, perf.Options{Warmup: *warm, Duration: *d})
				if err != nil {
					fmt.Fprintf(os.Stderr, "error: %s: %v\n", s.Name, err)
					return 1
				}
				lines = append(lines, fmt.Sprintf("TLSCOST shape=%s rounds=%d plain_tps=%.0f tls_tps=%.0f median_cost=%.3f", s.Name, *tlsRounds, plain, withTLS, cost))
			}
		}
	}
	if !measure(last) {
		return 1
	}
	for _, l := range lines {
		fmt.Println(l)
	}
	return 0
}

// stealNote says how much CPU the hypervisor gave other guests since cpu0, when known:
// above a few percent, the figures of that shape say more about the host than about
// the engine.
func stealNote(cpu0 perf.CPUSample) string {
	share := perf.StealShare(cpu0, perf.ReadCPU())
	if math.IsNaN(share) { // not known here
		return ""
	}
	return fmt.Sprintf(" (CPU steal %.0f%%)", 100*share)
}

// floorNote gives the floor of an engine beside the codec baseline, when it was measured.
func floorNote(r perf.TwoWorkerResult) string {
	if r.Floor == 0 {
		return ""
	}
	return fmt.Sprintf(", the same with the floor of an engine %.0f/s (%.2f of the codec; engine %.2f of the floor)",
		r.Floor, r.Floor/r.CodecBaseline, r.TPS/r.Floor)
}
