package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/ctl"
	"github.com/sparsestream/sparse/internal/httpapi"
	"github.com/sparsestream/sparse/internal/stats"
)

func statsCmd() *cobra.Command {
	var (
		conn      ctl.ConnFlags
		component string
		window    string
		asJSON    bool
		sys       bool
	)
	cmd := &cobra.Command{
		Use:   "stats [topology]",
		Short: "Show a topology's spouts and bolts with their figures, or the cluster's topologies",
		Long: `Show what the workers reported to the leading nimbus: for a topology, each spout
(emitted, acked, failed, complete latency) and bolt (executed, capacity, latencies, queue,
last error) over a window; with --component, that component's executors; without a
topology, the cluster and every topology's spouts. --json prints the REST API's document
for the same question (docs/api.md). docs/stats.md says what the figures mean.`,
		Example: `  sparsectl stats
  sparsectl stats wordcount
  sparsectl stats wordcount --component count --window all
  sparsectl stats wordcount --window 3h --json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := stats.ParseWindow(window)
			if err != nil {
				return fmt.Errorf("--window: %w", err)
			}
			req := &sparsev1.StatsRequest{Window: w.Name, Component: component, Sys: sys}
			if len(args) == 1 {
				req.Name = args[0]
			} else if component != "" {
				return fmt.Errorf("--component %s needs a topology: sparsectl stats TOPOLOGY --component %s", component, component)
			}
			return withClient(cmd, &conn, func(ctx context.Context, c *ctl.Client) error {
				b, err := c.Stats(ctx, req)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				switch {
				case asJSON:
					var v any
					if err := json.Unmarshal(b, &v); err != nil {
						return fmt.Errorf("nimbus answered statistics sparsectl cannot read: %w", err)
					}
					return ctl.WriteJSON(out, v)
				case req.Name == "":
					var o httpapi.StatsOverview
					if err := decode(b, &o); err != nil {
						return err
					}
					return ctl.WriteStatsOverview(out, &o)
				case component != "":
					var p httpapi.ComponentPage
					if err := decode(b, &p); err != nil {
						return err
					}
					return ctl.WriteComponentStats(out, &p)
				default:
					var p httpapi.TopologyPage
					if err := decode(b, &p); err != nil {
						return err
					}
					return ctl.WriteTopologyStats(out, &p)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&component, "component", "", "show this component's executors")
	f.StringVar(&window, "window", "10m", "the window of the figures: 10m, 3h, 1d or all")
	f.BoolVar(&asJSON, "json", false, "print the REST API's JSON document instead of tables")
	f.BoolVar(&sys, "sys", false, "list the acker among the bolts")
	conn.Register(f)
	return cmd
}

func decode(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("nimbus answered statistics sparsectl cannot read (are sparsectl and nimbusd of one version? sparsectl version): %w", err)
	}
	return nil
}
