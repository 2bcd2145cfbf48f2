package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/internal/ctl"
)

func leaderCmd() *cobra.Command {
	return queryCmd(&cobra.Command{
		Use:   "leader",
		Short: "Show which nimbus leads the cluster",
		Args:  cobra.NoArgs,
	}, "print JSON",
		func(ctx context.Context, c *ctl.Client, _ []string) (ctl.LeaderInfo, error) { return c.Leader(ctx) },
		func(l ctl.LeaderInfo) (any, error) { return l, nil },
		ctl.WriteLeader)
}
