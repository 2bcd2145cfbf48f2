// Command nimbusd is sparse's master: it validates and stores topologies, schedules them
// onto the supervisors' slots, and serves the operator's API. Several nimbusd share one
// etcd; one leads, the others stand by with copies of every artifact.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/internal/flagfile"
	"github.com/sparsestream/sparse/internal/logging"
	"github.com/sparsestream/sparse/internal/nimbus"
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
	var cfg nimbus.Config
	var logFlags logging.Flags
	var tlsFlags tlsconf.Flags
	cmd := &cobra.Command{
		Use:   "nimbusd",
		Short: "Run a sparse nimbus (the master: API, artifact store, scheduler)",
		Long: `nimbusd runs a sparse nimbus. Without --etcd-endpoints it embeds a single-member etcd
under --data-dir, so that one command starts a working cluster; supervisors on the same
host then use --etcd-endpoints http://127.0.0.1:2379.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.Logger, err = logFlags.Logger("nimbusd", cmd.ErrOrStderr()); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if cfg.TLS, cfg.MetricsTLS, err = tlsFlags.Load(ctx, cfg.Logger); err != nil {
				return err
			}
			cfg.Insecure = tlsFlags.Insecure
			return nimbus.Run(ctx, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.ID, "id", "", "this nimbus's id (default: <hostname>:<listen port>)")
	f.StringVar(&cfg.Listen, "listen", nimbus.DefaultListen, "address of the gRPC API (host:port)")
	f.StringVar(&cfg.Advertise, "advertise", "", "address others reach the API on (default: the --listen address)")
	f.StringVar(&cfg.DataDir, "data-dir", "nimbus-data", "directory of the artifacts and of the embedded etcd")
	f.StringSliceVar(&cfg.EtcdEndpoints, "etcd-endpoints", nil, "etcd client URLs, comma-separated (empty: embed a single-member etcd under --data-dir)")
	f.StringVar(&cfg.EtcdListen, "etcd-listen", nimbus.DefaultEtcdListen, "client address of the embedded etcd")
	f.StringVar(&cfg.EtcdPeerListen, "etcd-peer-listen", nimbus.DefaultEtcdPeerListen, "peer address of the embedded etcd")
	f.StringVar(&cfg.EtcdRoot, "etcd-root", "/sparse", "etcd key prefix of the cluster's state")
	cfg.EtcdSecurity.AddFlags(f)
	cfg.EtcdServerTLS.AddFlags(f, "etcd-")
	f.StringVar(&cfg.EtcdLogLevel, "etcd-log-level", "error", "log level of the embedded etcd (debug, info, warn, error)")
	f.DurationVar(&cfg.WorkerTimeout, "worker-timeout", nimbus.DefaultWorkerTimeout, "a worker without a heartbeat for this long has its executors moved")
	f.DurationVar(&cfg.WorkerStartGrace, "worker-start-grace", nimbus.DefaultWorkerStartGrace, "time a newly assigned worker has before its heartbeat is checked")
	f.DurationVar(&cfg.ScheduleEvery, "schedule-every", nimbus.DefaultScheduleEvery, "period of the leader's scheduling round (it also runs on every change)")
	f.DurationVar(&cfg.LeaderTTL, "leader-ttl", nimbus.DefaultLeaderTTL, "lease of this nimbus's registration and leadership: how soon a standby takes over from a dead leader")
	f.BoolVar(&cfg.ACL, "acl", false, "require an API token on every call and enable token management (bootstrap the first token with sparsectl acl bootstrap)")
	f.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics on http://<addr>/metrics (empty: off)")
	f.StringVar(&cfg.HTTP, "http", "", "serve the REST API (docs/api.md) on this host:port, with the TLS and tokens of the gRPC API (empty: off)")
	logFlags.Register(f)
	limitFlags(f, &cfg)
	tlsFlags.Register(f)
	flagfile.Register(cmd)
	version.AddTo(cmd, "nimbusd")
	return cmd
}
