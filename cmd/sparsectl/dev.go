package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/internal/ctl"
)

func devCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Helpers for development and tests",
	}
	cmd.AddCommand(devEtcdCmd(), devKafkaCmd())
	return cmd
}

func devEtcdCmd() *cobra.Command {
	var o ctl.EtcdOptions
	cmd := &cobra.Command{
		Use:   "etcd",
		Short: "Run an embedded etcd member in this process until Ctrl-C or SIGTERM",
		Long: `Run a single etcd member (or, with --initial-cluster, one member of a new cluster)
as its own process, for development, tests and setups with several nimbusd that share
one etcd. Prints the client URL to point nimbusd and supervisord at. With
--server-cert, --server-key and --client-ca it serves only TLS (host:port addresses
become https://) and accepts only clients with a certificate signed by the client CA.`,
		Example: `  sparsectl dev etcd --data-dir ./etcd-data
  sparsectl dev etcd --data-dir /tmp/e1 --listen 127.0.0.1:12379 --peer-listen 127.0.0.1:12380
  sparsectl dev etcd --data-dir ./etcd-data --server-cert etcd.pem --server-key etcd-key.pem --client-ca ca.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return ctl.RunEtcd(ctx, o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.DataDir, "data-dir", "", "directory for etcd's data (required; created if missing)")
	f.StringVar(&o.Listen, "listen", "127.0.0.1:2379", "client address, host:port (port 0 picks a free one)")
	f.StringVar(&o.PeerListen, "peer-listen", "127.0.0.1:2380", "peer address, host:port")
	f.StringVar(&o.Name, "name", "sparse", "the member's name")
	f.StringVar(&o.InitialCluster, "initial-cluster", "", "every member of a new cluster, name=http://host:peer-port,... (default: this member alone)")
	f.StringVar(&o.LogLevel, "log-level", "error", "etcd's log level: debug, info, warn or error")
	o.TLS.AddFlags(f, "")
	return cmd
}
