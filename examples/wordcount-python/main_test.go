package main

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/executor"
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
	rt, err := executor.New(executor.Options{Spec: spec, Config: topology.Config{"wordcount.sentences": 300}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- local.RunRuntime(ctx, rt, local.Options{}) }()
	acked := func() (n, failed int64) {
		for _, s := range executor.Summarize(rt.Stats()) {
			if s.Component == "sentences" {
				return s.Acked, s.Failed
			}
		}
		return 0, 0
	}
	deadline := time.Now().Add(60 * time.Second)
	for n, _ := acked(); n < 300; n, _ = acked() {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("after 60s the spout was acked for %d of 300 sentences", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunRuntime: %v", err)
	}
	if n, failed := acked(); n != 300 || failed != 0 {
		t.Errorf("spout acked %d and failed %d, want 300 and 0", n, failed)
	}
}
