package tlsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync/atomic"

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
	metrics, err := MetricsConfig(ctx, f.MetricsCert, f.MetricsKey, log)
	return store, metrics, err
}

// MetricsConfig is the TLS config of a metrics server with the certificate in certFile
// and its key in keyFile (nil when both are empty). The pair is read again on every
// SIGHUP until ctx ends; a pair that does not load keeps the one in use, logged.
func MetricsConfig(ctx context.Context, certFile, keyFile string, log hclog.Logger) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("give --metrics-tls-cert and --metrics-tls-key together")
	}
	kp := &keyPairFile{cert: certFile, key: keyFile}
	if err := kp.reload(); err != nil {
		return nil, fmt.Errorf("the metrics certificate (--metrics-tls-cert, --metrics-tls-key): %w", err)
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	OnSignal(ctx, func() {
		if err := kp.reload(); err != nil {
			log.Error("cannot reload the metrics certificate; kept the one in use", "cert", certFile, "error", err)
			return
		}
		log.Info("reloaded the metrics certificate", "cert", certFile)
	})
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: kp.get}, nil
}

// keyPairFile is a certificate and key read from files, swapped whole on reload so that
// a handshake never sees half of a new pair.
type keyPairFile struct {
	cert, key string
	cur       atomic.Pointer[tls.Certificate]
}

func (k *keyPairFile) reload() error {
	c, err := tls.LoadX509KeyPair(k.cert, k.key)
	if err != nil {
		return err
	}
	k.cur.Store(&c)
	return nil
}

func (k *keyPairFile) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return k.cur.Load(), nil }
