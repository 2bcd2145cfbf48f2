package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/pkg/ctl"
)

func deactivateCmd() *cobra.Command {
	var conn ctl.ConnFlags
	cmd := &cobra.Command{
		Use:   "deactivate <topology>",
		Short: "Stop a topology's spouts from emitting; its workers keep running",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.Client()
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := conn.Context(cmd.Context(), 0)
			defer cancel()
			if err := c.Deactivate(ctx, args[0]); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "deactivated topology %s; sparsectl activate %s resumes it\n", args[0], args[0])
			return err
		},
	}
	conn.Register(cmd.Flags())
	return cmd
}
