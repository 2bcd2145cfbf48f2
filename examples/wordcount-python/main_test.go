package main

import (
	"os/exec"
	"testing"
	"time"

	"github.com/sparsestream/sparse/pkg/local"
	"github.com/sparsestream/sparse/pkg/topology"
)

// TestPythonWordCount runs the example with its Python spout limited to 300 sentences and
// waits until the spout has seen all of them acked.
func TestPythonWordCount(t *testing.T) {
	spec, err := Topology(resourcesDir()).Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not on PATH; the example runs Python subprocesses")
	}
	s, err := local.RunUntil(t.Context(), local.Options{
		Spec:     spec,
		Config:   topology.Config{"wordcount.sentences": 300},
		Duration: 60 * time.Second,
	}, func(s local.Summary) bool { return s.Component("sentences").Acked >= 300 })
	if err != nil {
		t.Fatalf("want the spout acked for 300 sentences: %v", err)
	}
	if sp := s.Component("sentences"); sp.Acked != 300 || sp.Failed != 0 {
		t.Errorf("spout acked %d and failed %d, want 300 and 0", sp.Acked, sp.Failed)
	}
}
