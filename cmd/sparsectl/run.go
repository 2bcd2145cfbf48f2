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
	var resources, name string
	var pf projectFlags
	cmd := &cobra.Command{
		Use:   "run [<go-package-or-topology-binary-or-spec>]",
		Short: "Run a topology in local mode: every component in one process",
		Long: `Run a topology in local mode. The argument is a Go main package (for example
./examples/wordcount), which is built first, an already built topology binary, or a
spec: a topology.yaml (or a folder holding one) whose scripts are in --resources.
Component logs go to stderr; a summary line per component goes to stdout.

In a streamparse project folder (a config.json with topology_specs), with no argument
or with the folder as the argument, it runs topologies/NAME.py (-n NAME; optional when
there is one), as streamparse's "sparse run" does.`,
		Example: `  sparsectl run ./examples/wordcount --time 30s
  sparsectl run examples/wordcount-yaml/topology.yaml
  cd wordcount && sparsectl run -n wordcount -t 20 --debug   # a streamparse project`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Options = append(f.Options, pf.overrides(cmd)...)
			if dir, ok := projectArg(args); ok {
				if resources != "" {
					return fmt.Errorf("--resources is for specs; a streamparse project's resources are its src folder")
				}
				return runProject(cmd, dir, name, f, &pf)
			}
			if len(args) == 0 {
				return errNoArgument("run")
			}
			if name != "" {
				return fmt.Errorf("-n/--name chooses a topology of a streamparse project, and %s is not one (no config.json with topology_specs)", args[0])
			}
			if err := checkResources(args[0], resources); err != nil {
				return err
			}
			if isSpec(args[0]) {
				return runSpec(cmd, args[0], resources, f, "")
			}
			bin, cleanup, err := topologyBinary(args[0])
			if err != nil {
				return err
			}
			defer cleanup()
			return runBinary(bin, f)
		},
	}
	registerRunFlags(cmd, &f)
	registerResources(cmd, &resources)
	fl := cmd.Flags()
	fl.StringVarP(&name, "name", "n", "", "streamparse project: the topology to run, topologies/NAME.py (default: the only one)")
	fl.IntVar(&pf.ackers, "ackers", 0, "number of acker executors (sets topology.acker.executors)")
	fl.IntVar(&pf.workers, "workers", 0, "number of workers (sets topology.workers; local mode runs them all in this process)")
	fl.BoolVar(&pf.debug, "debug", false, "sets topology.debug=true (components log at debug level)")
	fl.BoolVarP(&pf.verbose, "verbose", "v", false, "streamparse project: print the spec the topology becomes")
	fl.StringVar(&pf.wheelhouse, "wheelhouse", "", "streamparse project: install the virtualenv from the wheels (*.whl) of this folder, with no index")
	fl.StringVar(&pf.pipIndex, "pip-index", "", "streamparse project: the package index (or proxy) to install the virtualenv from")
	fl.BoolVar(&pf.noVenv, "no-venv", false, "streamparse project: run with python3 as it is, without the topology's virtualenv (virtualenvs/NAME.txt)")
	return cmd
}

// registerRunFlags adds app.RunFlags's flags, with --time (-t) taking seconds, as
// streamparse's -t does, or a duration.
func registerRunFlags(cmd *cobra.Command, f *app.RunFlags) {
	fl := cmd.Flags()
	fl.VarP(secondsOrDuration{&f.Time}, "time", "t", "stop after this long: seconds (20) or a duration (30s) (default: run until Ctrl-C)")
	fl.StringArrayVarP(&f.Options, "option", "o", nil, "override a topology config value, key=value (repeatable), e.g. -o topology.max.spout.pending=1000")
	fl.DurationVar(&f.StatsEvery, "stats-every", 5*time.Second, "print a summary line per component this often (0: only at the end)")
	fl.StringVar(&f.LogLevel, "log-level", "info", "log level: trace, debug, info, warn or error")
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
