package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/ctl"
	"github.com/sparsestream/sparse/internal/generic"
	"github.com/sparsestream/sparse/internal/spec"
	"github.com/sparsestream/sparse/pkg/app"
)

// Topologies written as spec files (topology.yaml and a resources folder of scripts)
// are run and submitted here through internal/generic, the generic worker's own code: run
// builds the topology in this process, so sparsectl needs no sparse-worker binary
// beside it and always runs the spec the way its own version reads it.

func registerResources(cmd *cobra.Command, resources *string) {
	cmd.Flags().StringVar(resources, "resources", "", "for a spec: the folder holding its scripts (default: the spec's folder)")
}

// isSpec reports whether the argument is a spec (a .yaml or .yml file, or a folder
// holding topology.yaml) rather than a Go package or binary.
func isSpec(arg string) bool { return spec.IsSpecPath(arg) }

// checkResources refuses --resources for what is not a spec.
func checkResources(arg, resources string) error {
	if resources != "" && !isSpec(arg) {
		return fmt.Errorf("--resources is for specs, and %s is not one (a spec is a .yaml or .yml file, or a folder holding topology.yaml)", arg)
	}
	return nil
}

// runSpec runs a spec in local mode in this process. The first Ctrl-C (or SIGTERM)
// stops the topology cleanly; a second one ends sparsectl at once. what, when set,
// names the topology in an error loading the spec.
func runSpec(cmd *cobra.Command, arg, resources string, f app.RunFlags, what string) error {
	w := generic.New(nil)
	defer w.Close()
	b, err := w.Load(arg, resources)
	if err != nil {
		if what != "" {
			return fmt.Errorf("%s: %w", what, err)
		}
		return err
	}
	sp, err := b.Build()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // the next signal has its default effect
	}()
	return app.RunLocal(ctx, sp, f, cmd.OutOrStdout(), cmd.ErrOrStderr())
}

// prepareSubmit prepares the submission of a topology binary, or of a spec as a bundle
// (the spec and its resources folder in one archive, written to a temporary file that
// cleanup removes).
func prepareSubmit(ctx context.Context, arg, resources string, o ctl.SubmitOptions) (sub *ctl.Submission, cleanup func(), err error) {
	cleanup = func() {}
	if err := checkResources(arg, resources); err != nil {
		return nil, cleanup, err
	}
	if !isSpec(arg) {
		sub, err = ctl.PrepareSubmit(ctx, o)
		return sub, cleanup, err
	}
	path, err := spec.Find(arg)
	if err != nil {
		return nil, cleanup, err
	}
	w := generic.New(nil)
	defer w.Close()
	b, err := w.Load(path, resources)
	if err != nil {
		return nil, cleanup, err
	}
	sp, err := b.Build()
	if err != nil {
		return nil, cleanup, err
	}
	tmp, err := os.CreateTemp("", "sparse-bundle-*.tar.gz")
	if err != nil {
		return nil, cleanup, fmt.Errorf("making the bundle: %w", err)
	}
	cleanup = func() { os.Remove(tmp.Name()) }
	err = spec.Pack(tmp, path, resources)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		cleanup()
		return nil, func() {}, fmt.Errorf("making the bundle of %s: %w", path, err)
	}
	o.Binary = path
	sub, err = ctl.PrepareArtifact(sp, tmp.Name(), sparsev1.ArtifactKind_ARTIFACT_KIND_SPEC_BUNDLE, o)
	if err != nil {
		cleanup()
		return nil, func() {}, err
	}
	return sub, cleanup, nil
}
