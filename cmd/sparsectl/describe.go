package main

import (
	"context"

	"github.com/spf13/cobra"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/ctl"
)

func describeCmd() *cobra.Command {
	return queryCmd(&cobra.Command{
		Use:   "describe <topology>",
		Short: "Show a topology: components, tasks, where each runs, status, errors, scheduling",
		Long: `Show a topology by name or id: its status and uptime, each component with its
executors, tasks and the workers they run in, each worker with its supervisor, address,
liveness and tasks, the topology's configuration, recent errors, why it is not fully
scheduled (if so), and the version of its assignment.`,
		Args: cobra.ExactArgs(1),
	}, "print JSON instead of tables",
		func(ctx context.Context, c *ctl.Client, args []string) (*sparsev1.TopologyDescription, error) {
			return c.Describe(ctx, args[0])
		},
		func(d *sparsev1.TopologyDescription) (any, error) { return ctl.ToDescribeJSON(d) },
		ctl.WriteDescribe)
}
