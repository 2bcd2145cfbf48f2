package main

import (
	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/pkg/ctl"
)

func supervisorsCmd() *cobra.Command {
	var (
		conn   ctl.ConnFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "supervisors",
		Short: "List the live supervisors with their slots",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.Client()
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := conn.Context(cmd.Context(), 0)
			defer cancel()
			ss, err := c.Supervisors(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				return ctl.WriteJSON(cmd.OutOrStdout(), ctl.ToSupervisorsJSON(ss))
			}
			return ctl.WriteSupervisors(cmd.OutOrStdout(), ss)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	conn.Register(cmd.Flags())
	return cmd
}
