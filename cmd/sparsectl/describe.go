package main

import (
	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/pkg/ctl"
)

func describeCmd() *cobra.Command {
	var (
		conn   ctl.ConnFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "describe <topology>",
		Short: "Show a topology: components, tasks, where each runs, status, errors, scheduling",
		Long: `Show a topology by name or id: its status and uptime, each component with its
executors, tasks and the workers they run in, each worker with its supervisor, address,
liveness and tasks, the topology's configuration, recent errors, why it is not fully
scheduled (if so), and the version of its assignment.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.Client()
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := conn.Context(cmd.Context(), 0)
			defer cancel()
			d, err := c.Describe(ctx, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				j, err := ctl.ToDescribeJSON(d)
				if err != nil {
					return err
				}
				return ctl.WriteJSON(cmd.OutOrStdout(), j)
			}
			return ctl.WriteDescribe(cmd.OutOrStdout(), d)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of tables")
	conn.Register(cmd.Flags())
	return cmd
}
