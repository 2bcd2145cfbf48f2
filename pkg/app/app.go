// Package app is the entry point of a topology binary. A Go topology is one main package
// whose main calls app.Main with its builder; the binary is then the deployable artifact
// (Storm's JAR): it describes itself and runs itself locally.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/internal/logging"
	"github.com/sparsestream/sparse/internal/version"
	"github.com/sparsestream/sparse/pkg/local"
	"github.com/sparsestream/sparse/pkg/topology"
)

// Main runs the topology binary's command line and exits.
func Main(b *topology.Builder) {
	cmd := Command(b)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// Command returns the binary's root command, for tests and for embedding.
func Command(b *topology.Builder) *cobra.Command {
	return CommandFunc(func() (*topology.Builder, error) { return b, nil })
}

// CommandFunc is Command for a topology that is made only when a subcommand runs, by a
// function that may fail: the generic worker reads its topology from a spec file that a
// flag names.
func CommandFunc(build func() (*topology.Builder, error)) *cobra.Command {
	b := specFunc(func() (*topology.Spec, error) {
		tb, err := build()
		if err != nil {
			return nil, err
		}
		return tb.Build()
	})
	root := &cobra.Command{
		Use:           os.Args[0],
		Short:         "A sparse topology: run it locally, describe it, or run one of its workers",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(runCommand(b), describeCommand(b), workerCommand(b), assignCommand(b))
	version.AddTo(root, filepath.Base(os.Args[0]))
	return root
}

// specFunc builds the topology's spec when a subcommand runs.
type specFunc func() (*topology.Spec, error)

// RunFlags are the flags of local mode, shared with sparsectl run.
type RunFlags struct {
	Time       time.Duration
	Options    []string
	StatsEvery time.Duration
	LogLevel   string
}

// Register adds the flags to a command.
func (f *RunFlags) Register(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&f.Time, "time", 0, "stop after this long, e.g. 30s (default: run until Ctrl-C)")
	cmd.Flags().StringArrayVarP(&f.Options, "option", "o", nil, "override a topology config value, key=value (repeatable), e.g. -o topology.max.spout.pending=1000")
	cmd.Flags().DurationVar(&f.StatsEvery, "stats-every", 5*time.Second, "print a summary line per component this often (0: only at the end)")
	cmd.Flags().StringVar(&f.LogLevel, "log-level", "info", "log level: trace, debug, info, warn or error")
}

// Overrides parses the -o options.
func (f *RunFlags) Overrides() (topology.Config, error) {
	conf := topology.Config{}
	for _, kv := range f.Options {
		k, v, err := topology.ParseOverride(kv)
		if err != nil {
			return nil, err
		}
		conf[k] = v
	}
	return conf, nil
}

func runCommand(b specFunc) *cobra.Command {
	var f RunFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the whole topology in this process (local mode)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := b()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return RunLocal(ctx, spec, f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.Register(cmd)
	return cmd
}

// RunLocal runs a spec in local mode with the given flags.
func RunLocal(ctx context.Context, spec *topology.Spec, f RunFlags, out, logOut io.Writer) error {
	conf, err := f.Overrides()
	if err != nil {
		return err
	}
	log, err := f.logger(spec.Name, logOut)
	if err != nil {
		return err
	}
	err = local.Run(ctx, local.Options{Spec: spec, Config: conf, Logger: log, Duration: f.Time, StatsEvery: f.StatsEvery, Out: out})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func describeCommand(b specFunc) *cobra.Command {
	return &cobra.Command{
		Use:   "describe",
		Short: "Print the topology's components, streams and groupings as JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := b()
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(spec)
		},
	}
}

// logger makes the structured logger of --log-level, or says which levels exist.
func (f *RunFlags) logger(name string, out io.Writer) (hclog.Logger, error) {
	return logging.New(name, f.LogLevel, out)
}
