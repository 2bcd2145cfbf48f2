package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/internal/tlsconf"
)

func tlsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tls",
		Short: "Make a CA and certificates for a test or small cluster",
		Long: `Make a CA and the certificates of a sparse cluster's nimbus servers, supervisors,
workers and operators with the standard library. Production users may bring their own
PKI instead: see docs/security.md for what a certificate must carry.`,
	}
	ca := &cobra.Command{Use: "ca", Short: "Manage the cluster's certificate authority"}
	ca.AddCommand(tlsCACreateCmd())
	cert := &cobra.Command{Use: "cert", Short: "Make certificates signed by the cluster's CA"}
	cert.AddCommand(tlsCertCreateCmd())
	cmd.AddCommand(ca, cert)
	return cmd
}

func tlsCACreateCmd() *cobra.Command {
	var o tlsconf.CAOptions
	cmd := &cobra.Command{
		Use:     "create",
		Short:   "Make a new CA: <cluster>-ca.pem and <cluster>-ca-key.pem",
		Example: `  sparsectl tls ca create --cluster prod --out-dir /etc/sparse/tls`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, k, err := tlsconf.CreateCA(o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote the CA certificate %s and its key %s (keep the key secret)\n", c, k)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Cluster, "cluster", tlsconf.DefaultCluster, "the cluster's name; certificates signed by this CA belong to it")
	f.IntVar(&o.Days, "days", tlsconf.DefaultCADays, "days the CA is valid")
	f.StringVar(&o.Dir, "out-dir", ".", "directory to write the files in")
	return cmd
}

func tlsCertCreateCmd() *cobra.Command {
	var o tlsconf.CertOptions
	var server, supervisor, worker, client bool
	cmd := &cobra.Command{
		Use:   "create --server|--supervisor|--worker|--client",
		Short: "Make a certificate: <cluster>-<role>-<name>.pem and its -key.pem",
		Long: `Make a certificate for one role of the cluster, signed by its CA: --server for nimbusd
(valid for localhost and the --host names and addresses it is reached by), --supervisor
for supervisord, --worker for the workers (give it to supervisord with --worker-tls-cert
and --worker-tls-key; it hands it to its workers), --client for sparsectl.`,
		Example: `  sparsectl tls cert create --server --host nimbus1.example.com --host 10.0.0.5
  sparsectl tls cert create --supervisor --name node7
  sparsectl tls cert create --worker
  sparsectl tls cert create --client --name alice`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n := 0
			for r, on := range map[tlsconf.Role]bool{tlsconf.RoleServer: server, tlsconf.RoleSupervisor: supervisor, tlsconf.RoleWorker: worker, tlsconf.RoleClient: client} {
				if on {
					o.Role = r
					n++
				}
			}
			if n != 1 {
				return fmt.Errorf("give exactly one of --server, --supervisor, --worker and --client")
			}
			c, k, err := tlsconf.CreateCert(o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote the %s certificate %s and its key %s\n", o.Role, c, k)
			return nil
		},
	}
	caCert, caKey := tlsconf.CAFileNames("", tlsconf.DefaultCluster)
	f := cmd.Flags()
	f.BoolVar(&server, "server", false, "a certificate for nimbusd")
	f.BoolVar(&supervisor, "supervisor", false, "a certificate for supervisord")
	f.BoolVar(&worker, "worker", false, "a certificate for the workers (handed to them by supervisord)")
	f.BoolVar(&client, "client", false, "a certificate for sparsectl")
	f.StringSliceVar(&o.Hosts, "host", nil, "a DNS name or IP address the server is reached by (repeatable; --server and --worker)")
	f.StringVar(&o.Name, "name", "", "the holder's name in the certificate (default: <role>-<n>, the first unused)")
	f.IntVar(&o.Days, "days", tlsconf.DefaultCertDays, "days the certificate is valid")
	f.StringVar(&o.CA, "ca", caCert, "the CA's certificate")
	f.StringVar(&o.CAKey, "ca-key", caKey, "the CA's key")
	f.StringVar(&o.Dir, "out-dir", ".", "directory to write the files in")
	return cmd
}
