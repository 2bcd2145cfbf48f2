package main

import (
	"context"

	"github.com/spf13/cobra"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/ctl"
)

func listCmd() *cobra.Command {
	return queryCmd(&cobra.Command{
		Use:   "list",
		Short: "List the topologies on the cluster",
		Args:  cobra.NoArgs,
	}, "print JSON instead of a table",
		func(ctx context.Context, c *ctl.Client, _ []string) ([]*sparsev1.TopologySummary, error) {
			return c.List(ctx)
		},
		func(ts []*sparsev1.TopologySummary) (any, error) { return ctl.ToListJSON(ts), nil },
		ctl.WriteList)
}
