package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sparsestream/sparse/internal/cluster"
)

// EtcdOptions configure `sparsectl dev etcd`.
type EtcdOptions struct {
	DataDir        string
	Listen         string // client address, host:port or http://host:port
	PeerListen     string // peer address, host:port or http://host:port
	Name           string
	InitialCluster string
	LogLevel       string
	// TLS, when set, makes the member serve TLS and accept only clients with a
	// certificate (--server-cert, --server-key, --client-ca).
	TLS cluster.ServerTLS
}

// listenURL turns host:port into http://host:port, or https://host:port when secure.
func listenURL(flag, s string, secure bool) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("--%s is empty; give host:port, for example 127.0.0.1:2379", flag)
	}
	if !strings.Contains(s, "://") {
		if secure {
			return "https://" + s, nil
		}
		s = "http://" + s
	}
	return s, nil
}

// RunEtcd runs an embedded etcd member until ctx ends, then stops it. It prints the
// client URL on out once the member serves.
func RunEtcd(ctx context.Context, o EtcdOptions, out io.Writer) error {
	if o.DataDir == "" {
		return errors.New("--data-dir is required: the directory that keeps etcd's data, for example --data-dir ./etcd-data")
	}
	if err := o.TLS.Validate("--"); err != nil {
		return err
	}
	secure := !o.TLS.IsZero()
	client, err := listenURL("listen", o.Listen, secure)
	if err != nil {
		return err
	}
	peer, err := listenURL("peer-listen", o.PeerListen, secure)
	if err != nil {
		return err
	}
	e, err := cluster.StartEmbedded(ctx, cluster.EmbedConfig{
		DataDir:        o.DataDir,
		Name:           o.Name,
		ClientURL:      client,
		PeerURL:        peer,
		InitialCluster: o.InitialCluster,
		LogLevel:       o.LogLevel,
		TLS:            o.TLS,
	})
	if err != nil {
		return err
	}
	defer e.Close()
	urls := strings.Join(e.Endpoints(), ",")
	fmt.Fprintf(out, "etcd %q is serving clients at %s (data dir %s)\n", e.Name(), urls, o.DataDir)
	fmt.Fprintf(out, "point nimbusd and supervisord at it with --etcd-endpoints %s; stop it with Ctrl-C\n", urls)
	if secure {
		fmt.Fprintf(out, "it serves only TLS: give them --etcd-cacert (the CA of %s) and --etcd-cert and --etcd-key (a client certificate signed by %s)\n", o.TLS.Cert, o.TLS.ClientCA)
	}
	select {
	case <-ctx.Done():
		e.Close()
		fmt.Fprintf(out, "etcd %q stopped\n", e.Name())
		return nil
	case err := <-e.Etcd().Err():
		return fmt.Errorf("etcd %q failed: %w", e.Name(), err)
	}
}
