// Package generic is the generic worker: the topology binary of topologies written as
// spec files (internal/spec) with scripts in a resources folder, which need no Go code of
// their own. cmd/sparse-worker is its main; sparsectl runs specs in local mode through
// it too, in its own process.
//
// It has pkg/app's subcommands, with the topology read from --spec:
//
//	sparse-worker run --spec topology.yaml [--resources DIR] [--time 30s] [-o k=v]
//	sparse-worker describe --spec topology.yaml
//	sparse-worker worker --spec DIR/topology.yaml --resources DIR --assignment ... (as supervisord starts it)
//
// Go components named by a spec (go: <name>) come from a spec.Registry: Builtins, or a
// registry of your own in a worker built with Main. Shell components find sparse's
// Python client (sparse_multilang) on their PYTHONPATH: the worker carries it and
// writes it to a temporary folder while it runs.
package generic

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/internal/spec"
	"github.com/sparsestream/sparse/pkg/app"
	"github.com/sparsestream/sparse/pkg/topology"
)

// Worker loads spec topologies with a registry of Go components. Close it when the
// topology has stopped: it removes the temporary files it made.
type Worker struct {
	Registry *spec.Registry

	mu        sync.Mutex
	clientDir string
}

// New returns a worker with the given registry (nil: Builtins).
func New(reg *spec.Registry) *Worker {
	if reg == nil {
		reg = Builtins()
	}
	return &Worker{Registry: reg}
}

// Load builds the topology of a spec file (or of a folder holding topology.yaml), with
// its scripts in resources (default: the spec's folder). Every problem of the spec is
// reported at once, as a *spec.Error.
func (w *Worker) Load(specPath, resources string) (*topology.Builder, error) {
	path, err := spec.Find(specPath)
	if err != nil {
		return nil, err
	}
	env, err := w.env()
	if err != nil {
		return nil, err
	}
	return spec.Load(path, spec.Options{Resources: resources, Registry: w.Registry, Env: env})
}

// env is what shell components get added to their environment.
func (w *Worker) env() ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.clientDir == "" {
		dir, err := ExtractPythonClient()
		if err != nil {
			return nil, err
		}
		w.clientDir = dir
	}
	return []string{pythonPath(w.clientDir)}, nil
}

// Close removes the temporary files of the worker.
func (w *Worker) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.clientDir == "" {
		return nil
	}
	err := os.RemoveAll(w.clientDir)
	w.clientDir = ""
	return err
}

// Command returns the generic worker's root command: pkg/app's run, describe, worker and
// assign subcommands, with the topology read from --spec and --resources.
func (w *Worker) Command() *cobra.Command {
	var specPath, resources string
	root := app.CommandFunc(func() (*topology.Builder, error) {
		if specPath == "" {
			return nil, errors.New("no spec: pass --spec topology.yaml (or the folder that holds it)")
		}
		return w.Load(specPath, resources)
	})
	root.Use = filepath.Base(os.Args[0])
	root.Short = "Run a topology written as a spec file (YAML) with its scripts: locally, or as a worker of a cluster"
	root.Long = `The generic worker runs topologies written as spec files: a topology.yaml that names
its spouts and bolts (scripts in a resources folder, run through Storm's multi-lang
protocol, or Go components built into this worker) and the streams between them.
sparsectl runs a spec locally with "sparsectl run topology.yaml"; supervisord starts
this binary for the topologies submitted with "sparsectl submit topology.yaml".`
	root.PersistentFlags().StringVar(&specPath, "spec", "", "the spec file, or a folder holding topology.yaml (required)")
	root.PersistentFlags().StringVar(&resources, "resources", "", "the folder holding the spec's scripts (default: the spec's folder)")
	root.AddCommand(&cobra.Command{
		Use:   "components",
		Short: "List the Go components specs can use here with go: <name>",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, kind := range []topology.Kind{topology.KindSpout, topology.KindBolt} {
				for _, name := range w.Registry.Names(kind) {
					r, _ := w.Registry.Lookup(name)
					fmt.Fprintf(cmd.OutOrStdout(), "%-10s %-6s %s\n", name, kind, r.Doc)
				}
			}
			return nil
		},
	})
	return root
}

// Main runs the generic worker's command line with a registry (nil: Builtins) and
// exits; a Go program that registers components of its own calls it from main.
func Main(reg *spec.Registry) {
	w := New(reg)
	err := w.Command().Execute()
	_ = w.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
