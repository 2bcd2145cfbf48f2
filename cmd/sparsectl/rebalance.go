package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/ctl"
)

func rebalanceCmd() *cobra.Command {
	var (
		conn      ctl.ConnFlags
		workers   int
		executors []string
	)
	wait := ctl.NewWaitFlag()
	cmd := &cobra.Command{
		Use:   "rebalance <topology>",
		Short: "Change a topology's number of workers or executors without resubmitting it",
		Long: `Rebalance a topology by name or id: nimbus deactivates it for --wait (by default its
message timeout), moves it to the new number of workers and executors, and restarts its
workers; tuples in flight time out and are replayed. The number of tasks of each
component is fixed at submit, so a component can have at most as many executors as
tasks. Without -n or -e the topology is spread again over the current supervisors.`,
		Example: `  sparsectl rebalance wordcount -n 4
  sparsectl rebalance wordcount -e split=6 -e count=3 --wait 5s`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if workers < 0 {
				return fmt.Errorf("-n %d: give a number of workers of at least 1", workers)
			}
			if cmd.Flags().Changed("workers") && workers == 0 {
				return fmt.Errorf("-n 0: a topology needs at least 1 worker; use sparsectl deactivate to pause it")
			}
			ex, err := ctl.ParseExecutors(executors)
			if err != nil {
				return err
			}
			name := args[0]
			return withClient(cmd, &conn, func(ctx context.Context, c *ctl.Client) error {
				// Nimbus answers once the topology has moved: allow for the wait.
				secs, effective, err := waitSecs(ctx, c, wait, name)
				if err != nil {
					return err
				}
				var what []string
				if workers > 0 {
					what = append(what, ctl.Count(workers, "worker"))
				}
				for _, k := range slices.Sorted(maps.Keys(ex)) {
					what = append(what, k+"="+ctl.Count(int(ex[k]), "executor"))
				}
				if len(what) == 0 {
					what = append(what, "the same workers and executors")
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "rebalancing topology %s to %s: it is deactivated, and moves %s\n", name, strings.Join(what, ", "), ctl.DescribeWait(secs, effective))
				ctx, cancel := conn.Context(cmd.Context(), time.Duration(effective)*time.Second)
				defer cancel()
				req := &sparsev1.RebalanceRequest{Name: name, Workers: int32(workers), Executors: ex, WaitSecs: secs}
				stop := func() {}
				if effective > 0 {
					stop = ctl.NewProgress(cmd.ErrOrStderr()).Countdown(ctx, "waiting for the tuples in flight of "+name+" before it moves", time.Duration(effective)*time.Second)
				}
				err = c.Rebalance(ctx, req)
				stop()
				if err != nil {
					if ctl.TimedOut(err) {
						return fmt.Errorf("stopped waiting for the rebalance of %s, which goes on at nimbus (sparsectl describe %s shows its progress): %w", name, name, err)
					}
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "rebalanced topology %s to %s; sparsectl describe %s shows its new workers\n", name, strings.Join(what, ", "), name)
				return err
			})
		},
	}
	f := cmd.Flags()
	f.IntVarP(&workers, "workers", "n", 0, "new number of workers (default: keep it)")
	f.StringArrayVarP(&executors, "executors", "e", nil, "new number of executors of a component, component=N (repeatable)")
	f.Var(wait, "wait", "how long to deactivate the topology before moving it: a duration, 0, or "+ctl.MessageTimeout)
	conn.Register(f)
	return cmd
}
