package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/internal/ctl"
)

func killCmd() *cobra.Command {
	var conn ctl.ConnFlags
	wait := ctl.NewWaitFlag()
	cmd := &cobra.Command{
		Use:   "kill <topology>",
		Short: "Stop a topology and remove it from the cluster",
		Long: `Kill a topology by name or id: nimbus deactivates its spouts, waits for the
tuples in flight (by default the topology's message timeout), then stops its workers and
forgets it; sparsectl returns when it is gone. --wait=0 stops it at once; --wait=DURATION
waits that long instead. If sparsectl stops waiting (--timeout), the kill goes on.`,
		Example: `  sparsectl kill wordcount
  sparsectl kill wordcount --wait=0
  sparsectl kill wordcount --wait=10s`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 && cmd.Flags().Changed("wait") {
				if err := ctl.NewWaitFlag().Set(args[1]); err == nil {
					return fmt.Errorf("--wait takes its value after \"=\": write --wait=%s", args[1])
				}
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			return withClient(cmd, &conn, func(ctx context.Context, c *ctl.Client) error {
				// Nimbus answers once the topology is gone: allow for the wait.
				secs, effective, err := waitSecs(ctx, c, wait, name)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "killing topology %s: its spouts are deactivated, and its workers stop %s\n", name, ctl.DescribeWait(secs, effective))
				ctx, cancel := conn.Context(cmd.Context(), time.Duration(effective)*time.Second)
				defer cancel()
				stop := ctl.NewProgress(cmd.ErrOrStderr()).Countdown(ctx, "waiting for the tuples in flight of "+name+" before its workers stop", time.Duration(effective)*time.Second)
				err = c.Kill(ctx, name, secs)
				stop()
				if err != nil {
					if ctl.TimedOut(err) {
						return fmt.Errorf("stopped waiting for the kill of %s, which goes on at nimbus (sparsectl list shows when it is gone): %w", name, err)
					}
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "killed topology %s\n", name)
				return err
			})
		},
	}
	cmd.Flags().Var(wait, "wait", "how long to let tuples in flight finish before stopping the workers: a duration, 0 for at once, or "+ctl.MessageTimeout)
	cmd.Flags().Lookup("wait").NoOptDefVal = ctl.MessageTimeout
	conn.Register(cmd.Flags())
	return cmd
}
