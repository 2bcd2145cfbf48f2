package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// maxSecretBytes bounds a password file: a secret, not a data file.
const maxSecretBytes = 64 << 10

// options returns the franz-go options of c: brokers, TLS, SASL, logging.
func (c Client) options(log hclog.Logger) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		// The spout commits with OffsetCommit and OffsetFetch requests of its own
		// (it is not a group member); from v10 these name topics by id, which
		// franz-go fills in only for its own group consumer. v9 names them.
		kgo.MaxVersions(capVersions()),
	}
	if c.ClientID != "" {
		opts = append(opts, kgo.ClientID(c.ClientID))
	}
	if log != nil {
		opts = append(opts, kgo.WithLogger(newKgoLogger(log)))
	}
	if c.TLS != nil {
		cfg, err := c.TLS.config()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	if c.SASL != nil {
		m, err := c.SASL.mechanism()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

func capVersions() *kversion.Versions {
	v := kversion.Stable()
	v.SetMaxKeyVersion(8, 9) // OffsetCommit
	v.SetMaxKeyVersion(9, 9) // OffsetFetch
	return v
}

func (t *TLS) config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: the TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka: the TLS CA file %s holds no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: the TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// password reads the SASL password from its file or environment variable.
func (s *SASL) password() (string, error) {
	if s.PasswordEnv != "" {
		p, ok := os.LookupEnv(s.PasswordEnv)
		if !ok || p == "" {
			return "", fmt.Errorf("kafka: the SASL password variable %s is not set in the worker's environment", s.PasswordEnv)
		}
		return p, nil
	}
	fi, err := os.Stat(s.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("kafka: the SASL password file: %w", err)
	}
	if fi.Size() > maxSecretBytes {
		return "", fmt.Errorf("kafka: the SASL password file %s is %d bytes, more than a password", s.PasswordFile, fi.Size())
	}
	b, err := os.ReadFile(s.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("kafka: the SASL password file: %w", err)
	}
	p := strings.TrimRight(string(b), "\r\n")
	if p == "" {
		return "", fmt.Errorf("kafka: the SASL password file %s is empty", s.PasswordFile)
	}
	return p, nil
}

func (s *SASL) mechanism() (sasl.Mechanism, error) {
	pass, err := s.password()
	if err != nil {
		return nil, err
	}
	switch s.Mechanism {
	case "PLAIN":
		return plain.Auth{User: s.Username, Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: s.Username, Pass: pass}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: s.Username, Pass: pass}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("kafka: SASL mechanism %q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", s.Mechanism)
}

// kgoLogger sends franz-go's warnings and errors to the task's logger, each message
// at most once per kgoLogEvery (a broker that cannot be reached is retried many times a
// second); its info and debug lines are too many for a worker's log.
type kgoLogger struct {
	log  hclog.Logger
	mu   *sync.Mutex
	last map[string]time.Time
}

const kgoLogEvery = 30 * time.Second

func newKgoLogger(log hclog.Logger) kgoLogger {
	return kgoLogger{log: log, mu: &sync.Mutex{}, last: map[string]time.Time{}}
}

func (l kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (l kgoLogger) Log(level kgo.LogLevel, msg string, kv ...any) {
	if level > kgo.LogLevelWarn {
		return
	}
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.last[msg]) < kgoLogEvery {
		l.mu.Unlock()
		return
	}
	if len(l.last) > 1000 { // messages are a fixed set; this only bounds a surprise
		clear(l.last)
	}
	l.last[msg] = now
	l.mu.Unlock()
	if level == kgo.LogLevelError {
		l.log.Error("kafka client: "+msg, kv...)
	} else {
		l.log.Warn("kafka client: "+msg, kv...)
	}
}

// newClient makes a franz-go client from c and extra options.
func newClient(c Client, log hclog.Logger, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := c.options(log)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	return cl, nil
}
