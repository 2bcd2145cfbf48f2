package ctl

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/sparsestream/sparse/internal/tlsconf"
)

// DefaultTimeout bounds one command's calls to nimbus.
const DefaultTimeout = time.Minute

// ConnFlags are the flags every cluster command has: where nimbus is and how long to
// wait for it.
type ConnFlags struct {
	Nimbus         []string
	Env            string
	Config         string
	ConnectTimeout time.Duration
	Timeout        time.Duration
	// Token is --token, the API token (see ResolveToken for the other sources).
	Token string
	// TLS: --tls-ca and, for a cluster that asks for client certificates,
	// --tls-cert and --tls-key; else the config file environment's.
	TLS tlsconf.Files
	// Getenv reads the process environment; nil: os.Getenv. Tests replace it.
	Getenv func(string) string
}

// Register adds the flags to a flag set.
func (f *ConnFlags) Register(fs *pflag.FlagSet) {
	fs.StringSliceVar(&f.Nimbus, "nimbus", nil, "nimbus address host:port, repeatable or comma-separated (default: $"+EnvNimbus+", else the config file's environment)")
	envUsage := "environment of the config file to use (default: its default_env, or its only one)"
	if fs.ShorthandLookup("e") == nil { // -e, as streamparse has it, where the command has no -e of its own
		fs.StringVarP(&f.Env, "env", "e", "", envUsage)
	} else {
		fs.StringVar(&f.Env, "env", "", envUsage)
	}
	fs.StringVar(&f.Config, "config", "", "config file with named environments (default: ./"+DefaultConfigName+", then a streamparse project's ./config.json, then ~/.config/sparse/config.json)")
	fs.DurationVar(&f.ConnectTimeout, "connect-timeout", DefaultConnectTimeout, "give up connecting to one nimbus after this long and try the next")
	fs.DurationVar(&f.Timeout, "timeout", DefaultTimeout, "give up on the command after this long")
	fs.StringVar(&f.Token, "token", "", "API token of a cluster with ACLs (default: $"+EnvToken+", else the token_file of the config environment)")
	fs.StringVar(&f.TLS.CA, "tls-ca", "", "CA certificate of a cluster that runs TLS (default: the config file environment's tls_ca)")
	fs.StringVar(&f.TLS.Cert, "tls-cert", "", "client certificate to present to nimbus (made with sparsectl tls cert create --client)")
	fs.StringVar(&f.TLS.Key, "tls-key", "", "key of --tls-cert")
}

// Client resolves the nimbus addresses and returns a client for them.
func (f *ConnFlags) Client() (*Client, error) {
	r, err := Resolve(Source{Nimbus: f.Nimbus, Env: f.Env, ConfigPath: f.Config, Getenv: f.Getenv})
	if err != nil {
		return nil, err
	}
	token, err := ResolveToken(f.Token, f.Getenv, r.TokenFile)
	if err != nil {
		return nil, err
	}
	o := ClientOptions{From: r.From, ConnectTimeout: f.ConnectTimeout, Token: token}
	files := r.TLS
	if f.TLS.Enabled() {
		files = f.TLS
	}
	if files.Enabled() {
		store, err := tlsconf.Load(files, nil)
		if err != nil {
			return nil, fmt.Errorf("TLS to nimbus: %w", err)
		}
		o.Creds = store.ClientCredentials(tlsconf.RoleServer, true)
	}
	return NewClient(r.Addrs, o)
}

// Context bounds ctx by --timeout plus extra (for calls that wait on purpose).
func (f *ConnFlags) Context(ctx context.Context, extra time.Duration) (context.Context, context.CancelFunc) {
	if f.Timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, f.Timeout+extra)
}
