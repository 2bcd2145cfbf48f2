package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/pkg/ctl"
)

func activateCmd() *cobra.Command {
	var conn ctl.ConnFlags
	cmd := &cobra.Command{
		Use:   "activate <topology>",
		Short: "Let a deactivated topology's spouts emit again",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.Client()
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := conn.Context(cmd.Context(), 0)
			defer cancel()
			if err := c.Activate(ctx, args[0]); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "activated topology %s\n", args[0])
			return err
		},
	}
	conn.Register(cmd.Flags())
	return cmd
}
