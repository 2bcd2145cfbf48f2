package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/pkg/app"
)

func runCmd() *cobra.Command {
	var f app.RunFlags
	var resources string
	cmd := &cobra.Command{
		Use:   "run <go-package-or-topology-binary-or-spec>",
		Short: "Run a topology in local mode: every component in one process",
		Long: `Run a topology in local mode. The argument is a Go main package (for example
./examples/wordcount), which is built first, an already built topology binary, or a
spec: a topology.yaml (or a folder holding one) whose scripts are in --resources.
Component logs go to stderr; a summary line per component goes to stdout.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkResources(args[0], resources); err != nil {
				return err
			}
			if isSpec(args[0]) {
				return runSpec(cmd, args[0], resources, f)
			}
			bin, cleanup, err := topologyBinary(args[0])
			if err != nil {
				return err
			}
			defer cleanup()
			return runBinary(bin, f)
		},
	}
	f.Register(cmd)
	registerResources(cmd, &resources)
	return cmd
}

// topologyBinary returns an executable for the argument: the file itself when it is one,
// or a fresh build of the Go package it names.
func topologyBinary(arg string) (string, func(), error) {
	noop := func() {}
	st, err := os.Stat(arg)
	if err == nil && st.Mode().IsRegular() {
		if st.Mode()&0o111 == 0 {
			return "", noop, fmt.Errorf("%s is not executable; pass a topology binary or a Go package directory", arg)
		}
		abs, err := filepath.Abs(arg)
		return abs, noop, err
	}
	if err != nil {
		return "", noop, fmt.Errorf("%s: no such file or directory; pass a Go main package directory such as ./examples/wordcount, or a topology binary", arg)
	}
	if !st.IsDir() {
		return "", noop, fmt.Errorf("%s is neither a topology binary nor a Go package directory", arg)
	}
	if _, err := exec.LookPath("go"); err != nil {
		return "", noop, fmt.Errorf("%s is a Go package, and building it needs the go tool on PATH: %w", arg, err)
	}
	dir, err := os.MkdirTemp("", "sparse-run-")
	if err != nil {
		return "", noop, fmt.Errorf("making a build directory: %w", err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	bin := filepath.Join(dir, "topology")
	// Built from inside the package's directory, so that its own module is used
	// wherever sparsectl is run from.
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = arg
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		cleanup()
		return "", noop, fmt.Errorf("building %s failed (see the compiler output above): %w", arg, err)
	}
	return bin, cleanup, nil
}

// runBinary runs `<bin> run` with the flags, passing Ctrl-C and SIGTERM on so that the
// topology shuts down cleanly, and returns its exit status as an error.
func runBinary(bin string, f app.RunFlags) error {
	args := []string{"run", "--stats-every", f.StatsEvery.String(), "--log-level", f.LogLevel}
	if f.Time > 0 {
		args = append(args, "--time", f.Time.String())
	}
	for _, o := range f.Options {
		args = append(args, "-o", o)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// The first signal asks the topology to stop; a second one, or a topology that has
	// not stopped 30 seconds later, ends it hard.
	var hard <-chan time.Time
	for {
		select {
		case sig := <-sigs:
			if hard != nil {
				_ = cmd.Process.Kill()
				continue
			}
			_ = cmd.Process.Signal(sig)
			hard = time.After(30 * time.Second)
		case <-hard:
			_ = cmd.Process.Kill()
		case err := <-done:
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					return fmt.Errorf("the topology was killed by %v", ws.Signal())
				}
				return fmt.Errorf("the topology exited with status %d", exit.ExitCode())
			}
			return err
		}
	}
}
