package ctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/sparsestream/sparse/internal/streamparse"
	"github.com/sparsestream/sparse/internal/tlsconf"
)

// Where nimbus addresses come from.
const (
	// EnvNimbus is the environment variable with nimbus addresses, comma-separated.
	EnvNimbus = "SPARSE_NIMBUS"
	// DefaultNimbusPort is added to an address given without a port.
	DefaultNimbusPort = "6627"
	// DefaultConfigName is the config file looked for in the working directory.
	DefaultConfigName = "sparse.json"
)

// ConfigFile is sparsectl's config file: named environments, each with the addresses of
// its nimbus daemons, as in streamparse's config.json:
//
//	{
//	  "envs": {
//	    "prod":  {"nimbus": ["10.0.0.1:6627", "10.0.0.2:6627"]},
//	    "local": {"nimbus": "127.0.0.1:6627"}
//	  },
//	  "default_env": "local"
//	}
//
// "nimbus" is a list or a comma-separated string; a missing port means 6627. Other keys
// are ignored, so a streamparse file with extra settings can be reused.
type ConfigFile struct {
	Envs       map[string]Env `json:"envs"`
	DefaultEnv string         `json:"default_env,omitempty"`
}

// Env is one environment of a ConfigFile.
type Env struct {
	Nimbus AddrList `json:"nimbus"`
	// TokenFile names a file holding the API token for this environment (relative to the
	// config file's directory); it must not be readable by group or others.
	TokenFile string `json:"token_file,omitempty"`
	// TLS files of the environment's cluster (see --tls-ca, --tls-cert, --tls-key); a
	// relative path is read from the config file's directory.
	TLSCA   string `json:"tls_ca,omitempty"`
	TLSCert string `json:"tls_cert,omitempty"`
	TLSKey  string `json:"tls_key,omitempty"`
}

// AddrList is a list of addresses that reads from JSON as a list of strings or as one
// comma-separated string.
type AddrList []string

// UnmarshalJSON accepts ["a:1", "b:2"] and "a:1,b:2".
func (l *AddrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = splitAddrs([]string{one})
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New(`"nimbus" must be a list of "host:port" strings or one comma-separated string`)
	}
	*l = many
	return nil
}

// Source is what decides the nimbus addresses: the flags, the process environment and
// the working directory.
type Source struct {
	Nimbus     []string // --nimbus values, each possibly comma-separated
	Env        string   // --env
	ConfigPath string   // --config; empty: look for the default files
	// Getenv reads the environment (SPARSE_NIMBUS, XDG_CONFIG_HOME, HOME); nil: os.Getenv.
	Getenv func(string) string
	// Dir is the directory in which DefaultConfigName is looked for; empty: ".".
	Dir string
}

// Resolved is the nimbus addresses to try, in order, and where they came from.
type Resolved struct {
	Addrs []string
	From  string // e.g. "--nimbus", "SPARSE_NIMBUS", `environment "prod" of sparse.json`
	// TokenFile is the environment's token_file, made relative to the working directory,
	// when the addresses came from a config file environment that names one.
	TokenFile string
	// TLS are the TLS files of a config file's environment (none otherwise).
	TLS tlsconf.Files
}

// exampleConfig is the config file shown in error messages.
const exampleConfig = `{"envs": {"local": {"nimbus": ["127.0.0.1:6627"]}}, "default_env": "local"}`

// Resolve decides the nimbus addresses. In order of precedence: --nimbus; --env, or an
// explicit --config, read from the config file; SPARSE_NIMBUS; the default environment
// of the first config file found (./sparse.json, then $XDG_CONFIG_HOME/sparse/config.json
// or ~/.config/sparse/config.json). Every failure says what to set.
func Resolve(s Source) (Resolved, error) {
	getenv := s.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if len(s.Nimbus) > 0 {
		if s.Env != "" {
			return Resolved{}, fmt.Errorf("both --nimbus and --env %s are given; pass only one of them", s.Env)
		}
		return resolved(s.Nimbus, "--nimbus")
	}
	candidates := s.configCandidates(getenv)
	if s.Env != "" || s.ConfigPath != "" {
		path, cf, err := loadConfig(candidates, s.ConfigPath != "")
		if err != nil {
			return Resolved{}, err
		}
		if path == "" {
			return Resolved{}, fmt.Errorf("--env %s needs a config file, and there is none (looked for %s); create one such as %s, or pass --config FILE",
				s.Env, strings.Join(candidates, " and "), exampleEnv(s.Env))
		}
		return cf.env(path, s.Env)
	}
	if v := strings.TrimSpace(getenv(EnvNimbus)); v != "" {
		return resolved([]string{v}, EnvNimbus)
	}
	path, cf, err := loadConfig(candidates, false)
	if err != nil {
		return Resolved{}, err
	}
	if path != "" {
		return cf.env(path, "")
	}
	return Resolved{}, fmt.Errorf("no nimbus address is configured: pass --nimbus host:port (for example --nimbus 127.0.0.1:6627), "+
		"or set %s=host:port[,host:port...], or write a config file %s such as %s and choose an environment with --env NAME",
		EnvNimbus, strings.Join(candidates, " or "), exampleConfig)
}

func exampleEnv(name string) string {
	return fmt.Sprintf(`{"envs": {%q: {"nimbus": ["host:6627"]}}}`, name)
}

// configCandidates are the config files to read: the explicit one, or the defaults.
func (s Source) configCandidates(getenv func(string) string) []string {
	if s.ConfigPath != "" {
		return []string{s.ConfigPath}
	}
	dir := s.Dir
	if dir == "" {
		dir = "."
	}
	out := []string{filepath.Join(dir, DefaultConfigName)}
	if dir == "." {
		out[0] = "./" + DefaultConfigName
	}
	// A streamparse project's config.json names nimbus in its envs too.
	if streamparse.IsProject(dir) {
		sp := filepath.Join(dir, streamparse.ConfigName)
		if dir == "." {
			sp = "./" + streamparse.ConfigName
		}
		out = append(out, sp)
	}
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		out = append(out, filepath.Join(x, "sparse", "config.json"))
	} else if h := getenv("HOME"); h != "" {
		out = append(out, filepath.Join(h, ".config", "sparse", "config.json"))
	}
	return out
}

// loadConfig reads the first candidate that exists; it returns an empty path when none
// does, unless mustExist (an explicit --config), which makes that an error.
func loadConfig(candidates []string, mustExist bool) (string, *ConfigFile, error) {
	for _, p := range candidates {
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			if mustExist {
				return "", nil, fmt.Errorf("config file %s does not exist; create it (for example %s) or fix --config", p, exampleConfig)
			}
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("reading config file %s: %w", p, err)
		}
		cf, err := ParseConfig(b)
		if err != nil {
			return "", nil, fmt.Errorf("config file %s: %w", p, err)
		}
		return p, cf, nil
	}
	return "", nil, nil
}

// ParseConfig parses a config file's content.
func ParseConfig(b []byte) (*ConfigFile, error) {
	var cf ConfigFile
	if err := json.Unmarshal(b, &cf); err != nil {
		return nil, fmt.Errorf("%w; it must be JSON such as %s", err, exampleConfig)
	}
	return &cf, nil
}

// EnvNames returns the config's environment names, sorted.
func (cf *ConfigFile) EnvNames() []string {
	names := make([]string, 0, len(cf.Envs))
	for n := range cf.Envs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// env resolves an environment of the config file at path; an empty name means
// default_env, or the only environment there is.
func (cf *ConfigFile) env(path, name string) (Resolved, error) {
	names := cf.EnvNames()
	if len(names) == 0 {
		return Resolved{}, fmt.Errorf("config file %s has no environments; add them under \"envs\", for example %s", path, exampleConfig)
	}
	if name == "" {
		switch {
		case cf.DefaultEnv != "":
			name = cf.DefaultEnv
			if _, ok := cf.Envs[name]; !ok {
				return Resolved{}, fmt.Errorf("config file %s: default_env %q is not one of its environments (%s); fix default_env or pass --env NAME",
					path, name, strings.Join(names, ", "))
			}
		case len(names) == 1:
			name = names[0]
		default:
			return Resolved{}, fmt.Errorf("config file %s has several environments (%s) and no default_env; pass --env NAME or set \"default_env\"",
				path, strings.Join(names, ", "))
		}
	}
	e, ok := cf.Envs[name]
	if !ok {
		return Resolved{}, fmt.Errorf("environment %q is not in config file %s (it has: %s); pass --env with one of those or add %q under \"envs\"",
			name, path, strings.Join(names, ", "), name)
	}
	if len(splitAddrs(e.Nimbus)) == 0 {
		return Resolved{}, fmt.Errorf("environment %q in config file %s lists no nimbus; add \"nimbus\": [\"host:6627\"] to it", name, path)
	}
	r, err := resolved(e.Nimbus, fmt.Sprintf("environment %q of %s", name, path))
	if err == nil && e.TokenFile != "" {
		r.TokenFile = e.TokenFile
		if !filepath.IsAbs(r.TokenFile) {
			r.TokenFile = filepath.Join(filepath.Dir(path), r.TokenFile)
		}
	}
	rel := func(f string) string {
		if f == "" || filepath.IsAbs(f) {
			return f
		}
		return filepath.Join(filepath.Dir(path), f)
	}
	r.TLS = tlsconf.Files{CA: rel(e.TLSCA), Cert: rel(e.TLSCert), Key: rel(e.TLSKey)}
	return r, err
}

func resolved(raw []string, from string) (Resolved, error) {
	addrs, err := NormalizeAddrs(raw)
	if err != nil {
		return Resolved{}, fmt.Errorf("%s: %w", from, err)
	}
	if len(addrs) == 0 {
		return Resolved{}, fmt.Errorf("%s gives no nimbus address; give host:port, for example 127.0.0.1:6627", from)
	}
	return Resolved{Addrs: addrs, From: from}, nil
}

// splitAddrs splits comma-separated values and drops blanks.
func splitAddrs(raw []string) []string {
	var out []string
	for _, r := range raw {
		for a := range strings.SplitSeq(r, ",") {
			if a = strings.TrimSpace(a); a != "" {
				out = append(out, a)
			}
		}
	}
	return out
}

// NormalizeAddrs splits comma-separated addresses, adds the default port where there is
// none, checks that each is host:port and drops duplicates, keeping the order.
func NormalizeAddrs(raw []string) ([]string, error) {
	var out []string
	for _, a := range splitAddrs(raw) {
		if strings.Contains(a, "://") {
			return nil, fmt.Errorf("nimbus address %q has a scheme; give host:port, for example 127.0.0.1:6627", a)
		}
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			// No port: "10.0.0.1", "nimbus-1" or "[::1]".
			host, port = strings.TrimSuffix(strings.TrimPrefix(a, "["), "]"), DefaultNimbusPort
			if strings.ContainsAny(host, "[]") || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
				return nil, fmt.Errorf("nimbus address %q is not host:port; give for example 127.0.0.1:6627", a)
			}
		}
		if host == "" {
			return nil, fmt.Errorf("nimbus address %q has no host; give host:port, for example 127.0.0.1:6627", a)
		}
		if port == "" || strings.Trim(port, "0123456789") != "" {
			return nil, fmt.Errorf("nimbus address %q has no valid port; give host:port, for example 127.0.0.1:6627", a)
		}
		a = net.JoinHostPort(host, port)
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}
