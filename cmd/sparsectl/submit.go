package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/internal/ctl"
)

func submitCmd() *cobra.Command {
	var (
		conn        ctl.ConnFlags
		name        string
		workers     int
		options     []string
		waitActive  bool
		waitTimeout time.Duration
		asJSON      bool
		resources   string
	)
	cmd := &cobra.Command{
		Use:   "submit <topology-binary-or-spec>",
		Short: "Upload a topology binary or spec to the cluster and start it",
		Long: `Submit a topology to the cluster. sparsectl runs "<binary> describe" to read the
topology, checks it with the overrides, and uploads the binary to the leading nimbus,
which stores it and schedules the topology's workers on the supervisors. The binary
must be built for the cluster's OS and architecture. Prints the topology id.

A spec (a topology.yaml, or a folder holding one) is checked the same way and uploaded
as a bundle: the spec and every file of its resources folder (--resources, default the
spec's folder) in one archive, which supervisors run with the generic worker.`,
		Example: `  sparsectl submit ./wordcount --workers 2 -o topology.max.spout.pending=1000
  sparsectl submit ./wordcount --name wc-test --env prod --wait-active
  sparsectl submit examples/wordcount-yaml/topology.yaml --workers 2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			overrides, err := ctl.ParseOverrides(options)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("workers") && workers < 1 {
				return fmt.Errorf("--workers %d: give a number of workers of at least 1", workers)
			}
			c, err := conn.Client()
			if err != nil {
				return err
			}
			defer c.Close()
			pctx, pcancel := conn.Context(cmd.Context(), 0) // describing the binary is bounded by --timeout too
			sub, cleanup, err := prepareSubmit(pctx, args[0], resources, ctl.SubmitOptions{Binary: args[0], Name: name, Workers: workers, Overrides: overrides})
			pcancel()
			if err != nil {
				return err
			}
			defer cleanup()
			// Allow a second per MiB for the upload on top of --timeout.
			ctx, cancel := conn.Context(cmd.Context(), time.Duration(sub.Header.GetArtifactSize()/ctl.ChunkSize)*time.Second)
			defer cancel()
			progress := ctl.NewProgress(cmd.ErrOrStderr())
			sub.Progress = progress.Upload(sub.Header.GetName())
			res, err := c.Submit(ctx, sub)
			progress.Done()
			if err != nil {
				return fmt.Errorf("submitting %s: %w", sub.Header.GetName(), err)
			}
			if !asJSON {
				if err := ctl.WriteSubmit(cmd.OutOrStdout(), res); err != nil {
					return err
				}
			}
			if waitActive {
				wctx, wcancel := context.WithTimeout(cmd.Context(), waitTimeout)
				defer wcancel()
				if !asJSON {
					if _, err := fmt.Fprintf(cmd.OutOrStdout(), "waiting for %s to run (up to %s)...\n", res.TopologyID, waitTimeout); err != nil {
						return err
					}
				}
				d, err := c.WaitActive(wctx, res.TopologyID, 500*time.Millisecond)
				if err != nil {
					return fmt.Errorf("%w (waited %s; see sparsectl describe %s)", err, waitTimeout, res.TopologyID)
				}
				if !asJSON {
					_, err := fmt.Fprintf(cmd.OutOrStdout(), "topology %s is active with %s\n", res.TopologyID, ctl.Count(len(d.GetWorkers()), "worker"))
					return err
				}
			}
			if asJSON {
				return ctl.WriteJSON(cmd.OutOrStdout(), res)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "the topology's name in the cluster (default: the name the binary describes)")
	f.IntVar(&workers, "workers", 0, "number of worker processes (sets topology.workers; default: the topology's config, else 1)")
	f.StringArrayVarP(&options, "option", "o", nil, "override a topology config value, key=value (repeatable), e.g. -o topology.message.timeout.secs=60")
	f.BoolVar(&waitActive, "wait-active", false, "after submitting, wait until the topology is active and all its workers are alive")
	f.DurationVar(&waitTimeout, "wait-timeout", 2*time.Minute, "how long --wait-active waits")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	conn.Register(f)
	registerResources(cmd, &resources)
	return cmd
}
