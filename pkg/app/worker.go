package app

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/worker"
)

func workerCommand(b *topology.Builder) *cobra.Command {
	var f RunFlags
	var assignment, id string
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run this worker's share of the topology, talking to its peer workers",
		Long: `Run one worker process of the topology. The assignment file says which tasks each
worker runs and where it listens; every worker of the topology must be given the same
assignment and the same -o options. Make one with the assign subcommand.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := b.Build()
			if err != nil {
				return err
			}
			conf, err := f.Overrides()
			if err != nil {
				return err
			}
			a, err := worker.Load(assignment)
			if err != nil {
				return err
			}
			level := hclog.LevelFromString(f.LogLevel)
			if level == hclog.NoLevel {
				return fmt.Errorf("--log-level %q is not a level; use trace, debug, info, warn or error", f.LogLevel)
			}
			log := hclog.New(&hclog.LoggerOptions{Name: spec.Name, Level: level, Output: cmd.ErrOrStderr()}).With("worker", id)
			w, err := worker.New(worker.Options{Spec: spec, Config: conf, Assignment: a, WorkerID: id, Logger: log,
				StatsEvery: f.StatsEvery, Out: cmd.OutOrStdout()})
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if f.Time > 0 {
				var cancel func()
				ctx, cancel = context.WithTimeout(ctx, f.Time)
				defer cancel()
			}
			return w.Run(ctx)
		},
	}
	f.Register(cmd)
	cmd.Flags().StringVar(&assignment, "assignment", "", "assignment JSON file (required)")
	cmd.Flags().StringVar(&id, "id", "", "this worker's id in the assignment (required)")
	_ = cmd.MarkFlagRequired("assignment")
	_ = cmd.MarkFlagRequired("id")
	return cmd
}

func assignCommand(b *topology.Builder) *cobra.Command {
	var workers, options []string
	var topologyID string
	var version int64
	cmd := &cobra.Command{
		Use:   "assign --worker id=host:port [--worker ...]",
		Short: "Print a static assignment spreading every component over the given workers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := b.Build()
			if err != nil {
				return err
			}
			f := RunFlags{Options: options}
			conf, err := f.Overrides()
			if err != nil {
				return err
			}
			var eps []worker.Endpoint
			for _, w := range workers {
				id, addr, ok := strings.Cut(w, "=")
				if !ok || id == "" || addr == "" {
					return fmt.Errorf("--worker %q is not id=host:port; write for example --worker w1=127.0.0.1:7001", w)
				}
				eps = append(eps, worker.Endpoint{ID: id, Address: addr})
			}
			if len(eps) == 0 {
				return fmt.Errorf("no workers; pass --worker id=host:port once per worker")
			}
			if topologyID == "" {
				topologyID = spec.Name
			}
			conf = spec.Config.Merge(conf)
			if _, set := conf[topology.ConfWorkers]; !set {
				conf[topology.ConfWorkers] = int64(len(eps))
			}
			a := worker.Spread(topologyID, version, topology.NewLayout(spec, conf.AckerTasks()), eps)
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(a)
		},
	}
	cmd.Flags().StringArrayVar(&workers, "worker", nil, "a worker as id=host:port (repeatable)")
	cmd.Flags().StringArrayVarP(&options, "option", "o", nil, "the -o options the workers will run with (they decide the number of ackers)")
	cmd.Flags().StringVar(&topologyID, "topology-id", "", "the topology id (default: the topology's name)")
	cmd.Flags().Int64Var(&version, "version", 1, "the assignment version")
	return cmd
}
