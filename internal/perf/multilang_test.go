package perf

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestMultilangPassThrough runs the multi-lang shape's baseline and engine briefly: both
// must move tuples, and the result must print as a BENCH line.
func TestMultilangPassThrough(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Python subprocesses; skipped with -short")
	}
	var note strings.Builder
	shapes := MultilangShapes(&note)
	if len(shapes) == 0 {
		t.Skip(note.String())
	}
	s := shapes[0]
	base := s.Baseline(500 * time.Millisecond)
	if !(base > 0) || math.IsInf(base, 0) {
		t.Fatalf("baseline = %v tuples/s, want a positive rate", base)
	}
	run, err := measureEngine(s, 0, Options{Warmup: 2 * time.Second, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if run.rate <= 0 {
		t.Fatalf("engine acked %v spout tuples/s, want some", run.rate)
	}
	line := Result{Shape: s.Name, TPS: run.rate, Baseline: base, Allocs: run.allocs}.Line()
	if !strings.HasPrefix(line, "BENCH shape=MultilangPassThrough tps=") || !strings.Contains(line, " ratio=") {
		t.Errorf("line = %q", line)
	}
	t.Logf("baseline %.0f/s, engine %.0f/s: %s", base, run.rate, line)
}

// TestMultilangShapesSkipsWithoutPython: no python3, no shape, and a note saying why.
func TestMultilangShapesSkipsWithoutPython(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	var note strings.Builder
	if got := MultilangShapes(&note); len(got) != 0 {
		t.Errorf("MultilangShapes without python3 = %d shapes", len(got))
	}
	if !strings.Contains(note.String(), "MultilangPassThrough: skipped: python3 is not on PATH") {
		t.Errorf("note = %q", note.String())
	}
}

// TestPythonWordCount runs the Python wordcount's baseline and engine briefly, acking on
// and off: both must count words, and each result must print as a BENCH line.
func TestPythonWordCount(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Python subprocesses; skipped with -short")
	}
	var note strings.Builder
	shapes := PythonShapes(&note)
	if len(shapes) == 0 {
		t.Skip(note.String())
	}
	if len(shapes) != 2 || shapes[0].Name != PythonWordCountName || shapes[1].Name != PythonWordCountNoAckName {
		t.Fatalf("PythonShapes = %d shapes, want %s and %s", len(shapes), PythonWordCountName, PythonWordCountNoAckName)
	}
	for _, s := range shapes {
		t.Run(s.Name, func(t *testing.T) {
			base := s.Baseline(500 * time.Millisecond)
			if !(base > 0) || math.IsInf(base, 0) {
				t.Fatalf("baseline = %v words/s, want a positive rate", base)
			}
			run, err := measureEngine(s, 0, Options{Warmup: time.Second, Duration: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if run.rate <= 0 {
				t.Fatalf("engine counted %v words/s, want some", run.rate)
			}
			line := Result{Shape: s.Name, TPS: run.rate, Baseline: base, Allocs: run.allocs}.Line()
			if !strings.HasPrefix(line, "BENCH shape="+s.Name+" tps=") || !strings.Contains(line, " ratio=") {
				t.Errorf("line = %q", line)
			}
			t.Logf("baseline %.0f/s, engine %.0f/s: %s", base, run.rate, line)
		})
	}
}

// TestPythonShapesSkipWithoutPython: no python3, no shape, and a note saying why.
func TestPythonShapesSkipWithoutPython(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	var note strings.Builder
	if got := PythonShapes(&note); len(got) != 0 {
		t.Errorf("PythonShapes without python3 = %d shapes", len(got))
	}
	if !strings.Contains(note.String(), "PythonWordCount: skipped: python3 is not on PATH") {
		t.Errorf("note = %q", note.String())
	}
}
