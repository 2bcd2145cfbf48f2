package main

import (
	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/pkg/ctl"
)

func listCmd() *cobra.Command {
	var (
		conn   ctl.ConnFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the topologies on the cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.Client()
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := conn.Context(cmd.Context(), 0)
			defer cancel()
			ts, err := c.List(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				return ctl.WriteJSON(cmd.OutOrStdout(), ctl.ToListJSON(ts))
			}
			return ctl.WriteList(cmd.OutOrStdout(), ts)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	conn.Register(cmd.Flags())
	return cmd
}
