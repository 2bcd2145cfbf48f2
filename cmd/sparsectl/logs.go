package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/ctl"
	"github.com/sparsestream/sparse/internal/logging"
)

func logsCmd() *cobra.Command {
	var conn ctl.ConnFlags
	o := ctl.LogsOptions{}
	cmd := &cobra.Command{
		Use:     "logs <topology>",
		Aliases: []string{"tail"},
		Short:   "Show the logs of a topology's workers, merged, from every supervisor",
		Long: `Show the last lines of the logs of a topology's workers, read from the log servers of
the supervisors they run on (supervisord --logs-addr), merged by time, each line
prefixed with its worker and, where known, its component. --component, --task and
--worker pick workers and lines; --grep keeps the lines a regular expression matches;
--since drops older lines; -f then follows new lines until Ctrl-C. "tail" is the same
command, as in streamparse.`,
		Example: `  sparsectl logs wordcount
  sparsectl logs wordcount --component count --grep 'error|panic' --lines 500
  sparsectl tail wordcount -f --since 10m`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Topology = args[0]
			if o.Lines < 0 {
				return fmt.Errorf("--lines %d: give a number of lines, 0 or more", o.Lines)
			}
			c, err := conn.Client()
			if err != nil {
				return err
			}
			defer c.Close()
			lc, err := conn.LogsClient()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if !o.Follow {
				var cancel context.CancelFunc
				ctx, cancel = conn.Context(ctx, 0)
				defer cancel()
			}
			return lc.Logs(ctx, c, o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Component, "component", "", "only this component's workers and lines")
	f.IntVar(&o.Task, "task", -1, "only this task's worker and lines")
	f.StringVar(&o.Worker, "worker", "", "only this worker (an id that sparsectl describe shows)")
	f.BoolVarP(&o.Follow, "follow", "f", false, "then follow new lines until Ctrl-C")
	f.DurationVar(&o.Since, "since", 0, "only lines written in this last while, e.g. 10m")
	f.StringVar(&o.Grep, "grep", "", "only lines this regular expression (Go syntax) matches")
	f.IntVar(&o.Lines, "lines", 100, "how many lines to show before following")
	conn.Register(f)
	return cmd
}

func removeLogsCmd() *cobra.Command {
	var conn ctl.ConnFlags
	cmd := &cobra.Command{
		Use:   "remove-logs <topology>",
		Short: "Delete the logs a dead topology left on the supervisors",
		Long: `Ask every supervisor to delete the worker logs (and worker directories) a topology
left behind, by its id or by the name it was submitted under. A topology that still runs
is refused: kill it first. Needs a token with role deployer or admin.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lc, err := conn.LogsClient()
			if err != nil {
				return err
			}
			return withClient(cmd, &conn, func(ctx context.Context, c *ctl.Client) error {
				done, err := lc.RemoveLogs(ctx, c, args[0])
				for _, d := range done {
					fmt.Fprintln(cmd.OutOrStdout(), "removed the logs of", d)
				}
				if err == nil && len(done) == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "no supervisor has logs of %s\n", args[0])
				}
				return err
			})
		},
	}
	conn.Register(cmd.Flags())
	return cmd
}

// logOverrideCmd runs set-log-level and debug: one override sent to nimbus.
func logOverrideCmd(cmd *cobra.Command, conn *ctl.ConnFlags, topology string, o *sparsev1.LogLevelOverride, reset bool, dur time.Duration) error {
	if !reset {
		if dur <= 0 {
			return fmt.Errorf("--for %s: give how long it lasts, e.g. --for 10m", dur)
		}
		o.ExpiresUnixMs = time.Now().Add(dur).UnixMilli()
	}
	return withClient(cmd, conn, func(ctx context.Context, c *ctl.Client) error {
		reply, err := c.SetLogLevel(ctx, &sparsev1.SetLogLevelRequest{Topology: topology, Override: o, Remove: reset})
		if err != nil {
			return err
		}
		var lines []string
		for _, l := range reply.GetOverrides() {
			comp := l.GetComponent()
			if comp == "" {
				comp = "every component"
			}
			what := []string{}
			if l.GetLevel() != "" {
				what = append(what, "level "+l.GetLevel())
			}
			if l.GetDebugSample() > 0 {
				what = append(what, fmt.Sprintf("debug sample %g", l.GetDebugSample()))
			}
			lines = append(lines, fmt.Sprintf("  %s: %s until %s", comp, strings.Join(what, ", "),
				time.UnixMilli(l.GetExpiresUnixMs()).Format(time.RFC3339)))
		}
		if len(lines) == 0 {
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "topology %s: every component logs at its workers' --log-level, without debug samples\n", topology)
			return err
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "topology %s (its workers apply it within seconds):\n%s\n", topology, strings.Join(lines, "\n"))
		return err
	})
}

func setLogLevelCmd() *cobra.Command {
	var conn ctl.ConnFlags
	var component string
	var dur time.Duration
	var reset bool
	cmd := &cobra.Command{
		Use:   "set-log-level <topology> [<level>]",
		Short: "Change the log level of a running topology's workers for a while",
		Long: `Set the log level (trace, debug, info, warn, error or off) of a running topology, or of
one of its components, for --for; the workers then go back to their --log-level. No
worker restarts; a worker that restarts meanwhile gets the level again. A component's
own level beats one set on every component. Multi-lang subprocesses' log messages follow
their component's level. --reset removes what was set.`,
		Example: `  sparsectl set-log-level wordcount --component count debug --for 10m
  sparsectl set-log-level wordcount --reset`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := &sparsev1.LogLevelOverride{Component: component}
			switch {
			case reset && len(args) == 2:
				return fmt.Errorf("--reset takes no level")
			case !reset && len(args) != 2:
				return fmt.Errorf("give a level after the topology: trace, debug, info, warn, error or off")
			case !reset:
				if _, err := logging.ParseLevel(args[1]); err != nil {
					return err
				}
				o.Level = strings.ToLower(strings.TrimSpace(args[1]))
			}
			return logOverrideCmd(cmd, &conn, args[0], o, reset, dur)
		},
	}
	cmd.Flags().StringVar(&component, "component", "", "only this component (default: every component)")
	cmd.Flags().DurationVar(&dur, "for", 10*time.Minute, "how long the level lasts (at most 24h)")
	cmd.Flags().BoolVar(&reset, "reset", false, "remove the levels and debug samples set (of --component, or all)")
	conn.Register(cmd.Flags())
	return cmd
}

func debugCmd() *cobra.Command {
	var conn ctl.ConnFlags
	var component string
	var dur time.Duration
	var sample float64
	cmd := &cobra.Command{
		Use:   "debug <topology>",
		Short: "Log a sample of the tuples a running topology emits, for a while",
		Long: `Make the workers of a running topology (or of one component) log a share of the
tuples they emit ("sampled emit" lines with the stream and the values, at level info),
as topology.debug does for every tuple, for --for, without a restart. Read them with
sparsectl logs <topology> --grep 'sampled emit'.`,
		Example: `  sparsectl debug wordcount --component split --sample 0.01 --for 5m`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !(sample > 0 && sample <= 1) {
				return fmt.Errorf("--sample %g: give the share of tuples to log, more than 0 and at most 1 (e.g. 0.01)", sample)
			}
			return logOverrideCmd(cmd, &conn, args[0], &sparsev1.LogLevelOverride{Component: component, DebugSample: sample}, false, dur)
		},
	}
	cmd.Flags().StringVar(&component, "component", "", "only this component (default: every component)")
	cmd.Flags().Float64Var(&sample, "sample", 0.01, "the share of emitted tuples to log, e.g. 0.01")
	cmd.Flags().DurationVar(&dur, "for", 5*time.Minute, "how long to sample (at most 24h)")
	conn.Register(cmd.Flags())
	return cmd
}
