package perf

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sparsestream/sparse/internal/spec"
	"github.com/sparsestream/sparse/pkg/topology"
)

// PythonWordCountName names the Python wordcount benchmark: a spec topology of Python
// components (a sentence spout, 2 split bolts, 2 count bolts) run as the generic worker
// runs it, against the same pipeline written with Python's multiprocessing module.
// PythonWordCountNoAckName is the same with acking off (the spout emits without ids).
const (
	PythonWordCountName      = "PythonWordCount"
	PythonWordCountNoAckName = "PythonWordCount-noack"
)

// pyWordsPerSentence is the mean words per sentence of pywordcount/sentences.py.
const pyWordsPerSentence = 32.0 / 5

// PythonSentencesPerNext is how many sentences the benchmark's spout emits per "next"
// (bench.sentences.per.next): a spout reading a batch from a queue emits what it got.
const PythonSentencesPerNext = 100

// PythonShapes returns the Python wordcount benchmarks (acking on, then off) when
// python3, the bundled client and the benchmark's spec are found, and otherwise none,
// saying why on note.
func PythonShapes(note io.Writer) []Shape {
	py, err := findMultilangPython()
	if err != nil {
		fmt.Fprintf(note, "%s: skipped: %v\n", PythonWordCountName, err)
		return nil
	}
	dir, err := findPyWordCount()
	if err == nil {
		_, err = loadPyWordCount(py, dir, true, 0)
	}
	if err != nil {
		fmt.Fprintf(note, "%s: skipped: %v\n", PythonWordCountName, err)
		return nil
	}
	shape := func(name string, reliable bool) Shape {
		return Shape{
			Name: name,
			Build: func(rate float64, _ *LatencySink) *topology.Builder {
				b, err := loadPyWordCount(py, dir, reliable, rate)
				if err != nil { // it loaded in PythonShapes: only a changed file gets here
					fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
					return topology.NewBuilder(name)
				}
				return b
			},
			Counted:  "count",
			Metric:   "executed",
			Unit:     "words",
			Baseline: func(d time.Duration) float64 { return baselinePyWordCount(py, dir, d) },
		}
	}
	return []Shape{shape(PythonWordCountName, true), shape(PythonWordCountNoAckName, false)}
}

// loadPyWordCount loads the benchmark's spec as the generic worker loads a spec (spec.Load,
// the Python client on PYTHONPATH), with acking on or off and the spout limited to rate
// words/s (0: unlimited).
func loadPyWordCount(py pythonCmd, dir string, reliable bool, rate float64) (*topology.Builder, error) {
	b, err := spec.Load(filepath.Join(dir, "topology.yaml"), spec.Options{Resources: dir, Env: py.env})
	if err != nil {
		return nil, err
	}
	b.Config("bench.reliable", reliable)
	b.Config("bench.sentences.per.next", int64(PythonSentencesPerNext))
	b.Config("bench.rate", rate/pyWordsPerSentence)
	if !reliable {
		b.Config(topology.ConfAckerExecutors, int64(0))
	}
	return b, nil
}

// findPyWordCount finds the benchmark's folder (pywordcount, next to this source file)
// as findMultilangPython finds the Python client.
func findPyWordCount() (string, error) {
	for _, root := range sourceRoots() {
		dir := filepath.Join(root, "internal", "perf", "pywordcount")
		if _, err := os.Stat(filepath.Join(dir, "topology.yaml")); err == nil {
			return filepath.Abs(dir)
		}
	}
	return "", errors.New("the benchmark's spec (internal/perf/pywordcount) is not found; run sparse-bench from a source checkout")
}

// baselinePyWordCount runs pywordcount/baseline.py for a short warm-up and d and returns
// the words it counted per second, or NaN (printing why on stderr) when it fails.
func baselinePyWordCount(py pythonCmd, dir string, d time.Duration) float64 {
	warm := min(time.Second, max(d/5, 300*time.Millisecond))
	cmd := exec.Command(py.exe, "baseline.py", strconv.FormatFloat(warm.Seconds(), 'f', 3, 64), strconv.FormatFloat(d.Seconds(), 'f', 3, 64))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), py.env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err == nil {
		var rate float64
		if rate, err = strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && rate > 0 {
			return rate
		}
		err = fmt.Errorf("it printed %q, not a positive rate", out)
	}
	fmt.Fprintf(os.Stderr, "%s: baseline: %v; stderr: %s\n", PythonWordCountName, err, strings.TrimSpace(stderr.String()))
	return math.NaN()
}
