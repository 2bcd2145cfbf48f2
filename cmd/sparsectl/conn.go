package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/internal/ctl"
)

// The plumbing the cluster commands share: a client from the --nimbus/--env/--config
// flags, and a context bounded by --timeout.

// withClient opens a client for conn and runs fn with it and a context bounded by
// --timeout; the client is closed when fn returns.
func withClient(cmd *cobra.Command, conn *ctl.ConnFlags, fn func(context.Context, *ctl.Client) error) error {
	c, err := conn.Client()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := conn.Context(cmd.Context(), 0)
	defer cancel()
	return fn(ctx, c)
}

// queryCmd completes cmd as a read-only cluster command: it gets a value from nimbus
// and prints it with write, or with --json (described by jsonHelp) as toJSON makes it.
func queryCmd[T any](cmd *cobra.Command, jsonHelp string,
	get func(ctx context.Context, c *ctl.Client, args []string) (T, error),
	toJSON func(T) (any, error),
	write func(io.Writer, T) error,
) *cobra.Command {
	var (
		conn   ctl.ConnFlags
		asJSON bool
	)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return withClient(cmd, &conn, func(ctx context.Context, c *ctl.Client) error {
			v, err := get(ctx, c, args)
			if err != nil {
				return err
			}
			if asJSON {
				j, err := toJSON(v)
				if err != nil {
					return err
				}
				return ctl.WriteJSON(cmd.OutOrStdout(), j)
			}
			return write(cmd.OutOrStdout(), v)
		})
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, jsonHelp)
	conn.Register(cmd.Flags())
	return cmd
}

// waitSecs is --wait as the API's wait_secs, and the seconds nimbus will wait: when
// --wait is the message timeout, the topology's, read from nimbus.
func waitSecs(ctx context.Context, c *ctl.Client, wait *ctl.WaitFlag, name string) (secs int32, effective int, err error) {
	secs = wait.WaitSecs()
	if secs >= 0 {
		return secs, int(secs), nil
	}
	effective, err = c.MessageTimeout(ctx, name)
	return secs, effective, err
}
