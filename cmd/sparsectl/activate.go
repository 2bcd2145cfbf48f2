package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/internal/ctl"
)

func activateCmd() *cobra.Command {
	return switchCmd("activate", "Let a deactivated topology's spouts emit again",
		(*ctl.Client).Activate, "activated topology %[1]s\n")
}

func deactivateCmd() *cobra.Command {
	return switchCmd("deactivate", "Stop a topology's spouts from emitting; its workers keep running",
		(*ctl.Client).Deactivate, "deactivated topology %[1]s; sparsectl activate %[1]s resumes it\n")
}

// switchCmd is activate or deactivate: it calls do on the topology it is given and
// prints done, a format of the topology's name.
func switchCmd(verb, short string, do func(*ctl.Client, context.Context, string) error, done string) *cobra.Command {
	var conn ctl.ConnFlags
	cmd := &cobra.Command{
		Use:   verb + " <topology>",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &conn, func(ctx context.Context, c *ctl.Client) error {
				if err := do(c, ctx, args[0]); err != nil {
					return err
				}
				_, err := fmt.Fprintf(cmd.OutOrStdout(), done, args[0])
				return err
			})
		},
	}
	conn.Register(cmd.Flags())
	return cmd
}
