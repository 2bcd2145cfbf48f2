// Command sparse-bench measures the benchmark shapes against their baselines and prints
// one BENCH line per shape (see `make bench`).
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"runtime/pprof"
	"time"

	"github.com/sparsestream/sparse/internal/perf"
)

func main() {
	d := flag.Duration("duration", 5*time.Second, "measuring time per run")
	warm := flag.Duration("warmup", time.Second, "warm-up time before each measurement")
	only := flag.String("shape", "", "run only shapes matching this regular expression")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memprofile := flag.String("memprofile", "", "write an allocation profile at the end to this file")
	soak := flag.Duration("soak", 0, "instead of measuring, run each shape at full speed this long and check that the live heap stays flat")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "error: -cpuprofile: %v\n", err)
			os.Exit(2)
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
	re, err := regexp.Compile(*only)
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: -shape %q is not a regular expression: %v\n", *only, err)
		os.Exit(2)
	}
	var lines []string
	for _, s := range perf.Shapes() {
		if !re.MatchString(s.Name) {
			continue
		}
		if *soak > 0 {
			if err := perf.Soak(s, *soak, 5*time.Second, os.Stdout); err != nil {
				fmt.Fprintln(os.Stderr, "error:", err)
				os.Exit(1)
			}
			continue
		}
		r, err := perf.Measure(s, perf.Options{Warmup: *warm, Duration: *d})
		if err != nil {
			fmt.Fprintf(os.Stderr, "error: %s: %v\n", s.Name, err)
			os.Exit(1) //nolint:gocritic // the profile of a failed run is of no use

		}
		fmt.Fprintf(os.Stderr, "%s: engine %.0f %s/s, baseline %.0f/s, latency at %.0f/s: p50 %v p99 %v\n",
			s.Name, r.TPS, s.Unit, r.Baseline, r.Rate, r.P50, r.P99)
		lines = append(lines, r.Line())
	}
	for _, l := range lines {
		fmt.Println(l)
	}
}
