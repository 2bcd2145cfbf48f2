// Command supervisord is sparse's node agent: it offers worker slots to the cluster and
// runs the workers nimbus assigns to them.
//
//	supervisord --data-dir /var/lib/sparse/supervisor --slots 6700,6701,6702,6703
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/flagfile"
	"github.com/sparsestream/sparse/internal/logging"
	"github.com/sparsestream/sparse/internal/supervisor"
	"github.com/sparsestream/sparse/internal/tlsconf"
	"github.com/sparsestream/sparse/internal/version"
)

func main() {
	if err := command().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func command() *cobra.Command {
	var c supervisor.Config
	var slots, endpoints string
	var logFlags logging.Flags
	var slotCount, slotBase, metricsOffset int
	var tlsFlags tlsconf.Flags
	var hygiene hygieneFlags
	cmd := &cobra.Command{
		Use:   "supervisord",
		Short: "Run sparse's node agent: offer worker slots and run the workers assigned to them",
		Long: `supervisord registers this node's worker slots in etcd, watches the assignments nimbus
makes, fetches each topology's artifact from nimbus, and runs one worker process per
assigned slot: it restarts workers that die or hang and stops the ones no longer
assigned. Workers keep running when supervisord stops; the next supervisord adopts them.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			logOut := cmd.ErrOrStderr()
			if c.OwnLogFile != "" {
				// Beside stderr, a file the log server serves (as "supervisor").
				f, err := os.OpenFile(c.OwnLogFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
				if err != nil {
					return fmt.Errorf("--log-file: %w", err)
				}
				defer f.Close()
				logOut = io.MultiWriter(logOut, f)
			}
			if c.Logger, err = logFlags.Logger("supervisord", logOut); err != nil {
				return err
			}
			if slots == "" && slotCount == 0 {
				slotCount = 4
			}
			if c.Slots, err = supervisor.ParseSlots(slots, slotCount, slotBase); err != nil {
				return err
			}
			for _, e := range strings.Split(endpoints, ",") {
				if e = strings.TrimSpace(e); e != "" {
					c.EtcdEndpoints = append(c.EtcdEndpoints, e)
				}
			}
			c.WorkerMetricsOffset = metricsOffset
			c.WorkerLogFormat = logFlags.Format
			if err := hygiene.apply(&c); err != nil {
				return err
			}
			if metricsOffset == 0 {
				c.WorkerMetricsOffset = -1
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if c.TLS, c.MetricsTLS, err = tlsFlags.Load(ctx, c.Logger); err != nil {
				return err
			}
			c.Insecure = tlsFlags.Insecure
			c.WorkerMetricsCert, c.WorkerMetricsKey = tlsFlags.MetricsCert, tlsFlags.MetricsKey
			s, err := supervisor.New(c)
			if err != nil {
				return err
			}
			err = s.Run(ctx)
			if ctx.Err() != nil && errors.Is(err, context.Canceled) {
				return nil // stopped by a signal
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.ID, "id", "", "this supervisor's id in the cluster (default: the host name)")
	f.StringVar(&c.Host, "host", "127.0.0.1", "the address this node's workers are reached on by their peers")
	f.StringVar(&slots, "slots", "", "worker slot ports, comma separated, e.g. 6700,6701,6702,6703")
	f.IntVar(&slotCount, "slot-count", 0, "number of worker slots, on consecutive ports from --slot-base (default 4 when --slots is not given)")
	f.IntVar(&slotBase, "slot-base", 6700, "first slot port for --slot-count")
	f.StringVar(&c.DataDir, "data-dir", "", "directory for artifacts and worker files (required, here or in --config)")
	f.StringVar(&c.GenericWorker, "generic-worker", "", "the program that runs spec bundles (default: sparse-worker beside supervisord, else on PATH)")
	f.StringVar(&c.PipIndex, "pip-index", "", "the package index (or proxy) that the Python virtualenvs of topologies install from (default: pip's own; a bundle with wheels installs from them alone)")
	f.StringVar(&endpoints, "etcd-endpoints", "127.0.0.1:2379", "etcd client endpoints, comma separated")
	f.StringVar(&c.EtcdRoot, "etcd-root", cluster.DefaultRoot, "key prefix of the cluster's state in etcd")
	c.EtcdSecurity.AddFlags(f)
	f.DurationVar(&c.WorkerTimeout, "worker-timeout", supervisor.DefaultWorkerTimeout, "restart a worker whose heartbeat file is older than this")
	f.DurationVar(&c.LeaseTTL, "lease-ttl", supervisor.DefaultLeaseTTL, "lease of this supervisor's record and its workers' heartbeats in etcd")
	f.DurationVar(&c.StopGrace, "stop-grace", supervisor.DefaultStopGrace, "time a worker has to stop after SIGTERM before SIGKILL")
	f.IntVar(&metricsOffset, "worker-metrics-offset", supervisor.DefaultWorkerMetricsOffset, "a worker on slot port P serves /metrics on port P+offset (0: no worker metrics)")
	f.DurationVar(&c.OrphanTimeout, "orphan-timeout", supervisor.DefaultOrphanTimeout, "a worker stops itself when no supervisord has vouched for it this long; a supervisord restarted sooner adopts it")
	f.BoolVar(&c.StopWorkersOnExit, "stop-workers-on-exit", false, "stop the workers when supervisord stops (default: leave them for the next supervisord to adopt)")
	f.StringVar(&c.MetricsAddr, "metrics-addr", "", "serve Prometheus /metrics on this host:port (default: none)")
	logFlags.Register(f)
	f.StringVar(&c.OwnLogFile, "log-file", "", "also write supervisord's log to this file, which --logs-addr serves")
	f.StringVar(&c.LogsAddr, "logs-addr", "", "serve the workers' logs (and --log-file) on this host:port, over HTTPS with --tls-*; sparsectl logs reads them (default: none)")
	f.BoolVar(&c.ACL, "acl", false, "require an API token (role viewer; deployer to remove logs) on every --logs-addr request, checked against etcd: pass it when nimbusd runs with --acl")
	tlsFlags.Register(f)
	f.StringVar(&c.WorkerTLSCert, "worker-tls-cert", "", "the workers' certificate (sparsectl tls cert create --worker), copied with the CA into each worker's directory")
	f.StringVar(&c.WorkerTLSKey, "worker-tls-key", "", "the key of --worker-tls-cert (copied mode 0600, never on a command line)")
	hygiene.register(f)
	flagfile.Register(cmd)
	version.AddTo(cmd, "supervisord")
	return cmd
}
