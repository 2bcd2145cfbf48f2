package tlsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/pflag"
)

// Flags are the TLS flags of a daemon (nimbusd, supervisord).
type Flags struct {
	Files
	// Insecure allows listening off loopback without TLS.
	Insecure bool
	// MetricsCert and MetricsKey serve /metrics over HTTPS.
	MetricsCert, MetricsKey string
}

// Register adds --tls-ca, --tls-cert, --tls-key, --insecure, --metrics-tls-cert and
// --metrics-tls-key.
func (f *Flags) Register(fs *pflag.FlagSet) {
	fs.StringVar(&f.CA, "tls-ca", "", "CA certificate (PEM) that signs every certificate of the cluster; with --tls-cert and --tls-key turns TLS on (reloaded on SIGHUP)")
	fs.StringVar(&f.Cert, "tls-cert", "", "this daemon's certificate (PEM), made with sparsectl tls cert create")
	fs.StringVar(&f.Key, "tls-key", "", "the key of --tls-cert (PEM)")
	fs.BoolVar(&f.Insecure, "insecure", false, "allow listening on a non-loopback address without TLS (logs a warning every hour)")
	fs.StringVar(&f.MetricsCert, "metrics-tls-cert", "", "serve /metrics over HTTPS with this certificate (PEM; may be the --tls-cert)")
	fs.StringVar(&f.MetricsKey, "metrics-tls-key", "", "the key of --metrics-tls-cert (PEM)")
}

// Load reads the files: the Store (nil with TLS off), reloaded on SIGHUP until ctx
// ends, and the metrics server's TLS config (nil: plain HTTP).
func (f *Flags) Load(ctx context.Context, log hclog.Logger) (*Store, *tls.Config, error) {
	var store *Store
	if f.Files.Enabled() {
		if err := f.Files.Check(true); err != nil {
			return nil, nil, err
		}
		var err error
		if store, err = Load(f.Files, log); err != nil {
			return nil, nil, err
		}
		store.ReloadOnSignal(ctx)
	}
	metrics, err := MetricsConfig(f.MetricsCert, f.MetricsKey)
	return store, metrics, err
}

// MetricsConfig is the TLS config of a metrics server with the certificate in certFile
// and keyFile (nil when both are empty). Scrapers need no client certificate: the
// server holds nothing but metrics and health.
func MetricsConfig(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("give --metrics-tls-cert and --metrics-tls-key together")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("the metrics certificate (--metrics-tls-cert, --metrics-tls-key): %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}
