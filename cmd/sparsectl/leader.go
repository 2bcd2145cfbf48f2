package main

import (
	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/pkg/ctl"
)

func leaderCmd() *cobra.Command {
	var (
		conn   ctl.ConnFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "leader",
		Short: "Show which nimbus leads the cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.Client()
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := conn.Context(cmd.Context(), 0)
			defer cancel()
			l, err := c.Leader(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				return ctl.WriteJSON(cmd.OutOrStdout(), l)
			}
			return ctl.WriteLeader(cmd.OutOrStdout(), l)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	conn.Register(cmd.Flags())
	return cmd
}
