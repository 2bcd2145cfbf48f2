package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDoesNotLinkTheEngine keeps nimbusd a control-plane daemon: it schedules and
// stores topologies but never runs them, so it must not link the executor, the
// transport or the worker (and the gRPC data path and per-tuple code they bring).
// Metrics and the scheduler are where such imports crept in before; they are checked
// too, so a failure names the package that brings the engine in.
func TestDoesNotLinkTheEngine(t *testing.T) {
	const module = "github.com/sparsestream/sparse/"
	forbidden := []string{
		module + "internal/executor",
		module + "internal/worker",
		module + "pkg/transport",
	}
	for _, pkg := range []string{
		module + "cmd/nimbusd",
		module + "internal/nimbus",
		module + "internal/metrics",
		module + "pkg/scheduler",
	} {
		t.Run(pkg, func(t *testing.T) {
			// go test puts its own go command first on PATH.
			out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
			}
			for dep := range strings.FieldsSeq(string(out)) {
				for _, f := range forbidden {
					if dep == f || strings.HasPrefix(dep, f+"/") {
						t.Errorf("%s depends on %s; find the import with: go list -deps -f '{{.ImportPath}}: {{.Imports}}' %s", pkg, dep, pkg)
					}
				}
			}
		})
	}
}
