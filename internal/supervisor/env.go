package supervisor

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/sparsestream/sparse/pkg/topology"
)

// ConfWorkerEnv is the topology config key of variables set in its workers'
// environment: a map of names to values (a spec file's or the Go Config's), or
// "NAME=value" strings, as a list or separated by commas (sparsectl -o).
const ConfWorkerEnv = "topology.worker.env"

// workerEnvBase lists the variables a worker gets from its supervisor's environment:
// what programs and Python need to run, and the Go runtime's tuning. Everything else
// the supervisor has (credentials above all) stays with it; an operator adds names
// with --worker-env, a topology sets values with topology.worker.env.
var workerEnvBase = []string{
	"PATH", "HOME", "LANG", "TZ", "TMPDIR", "PYTHONPATH",
	"GOMAXPROCS", "GOMEMLIMIT", "GOGC", "GOTRACEBACK", "GODEBUG",
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseWorkerEnvNames reads --worker-env: names separated by commas.
func ParseWorkerEnvNames(list string) ([]string, error) {
	var out []string
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !envName.MatchString(n) {
			return nil, fmt.Errorf("--worker-env: %q is not a variable name; write for example --worker-env HTTPS_PROXY,NO_PROXY", n)
		}
		out = append(out, n)
	}
	return out, nil
}

// workerEnv is the environment of a worker: from the supervisor's environment
// (environ), the base names, LC_* and the operator's extra names; then the topology's
// own values (ConfWorkerEnv), which win.
func workerEnv(environ, extra []string, conf topology.Config) ([]string, error) {
	vars := map[string]string{}
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if ok && (slices.Contains(workerEnvBase, name) || strings.HasPrefix(name, "LC_") || slices.Contains(extra, name)) {
			vars[name] = value
		}
	}
	own, err := topologyEnv(conf)
	if err != nil {
		return nil, err
	}
	for name, value := range own {
		vars[name] = value
	}
	out := make([]string, 0, len(vars))
	for name, value := range vars {
		out = append(out, name+"="+value)
	}
	sort.Strings(out)
	return out, nil
}

// topologyEnv reads ConfWorkerEnv.
func topologyEnv(conf topology.Config) (map[string]string, error) {
	out := map[string]string{}
	bad := func(what string) error {
		return fmt.Errorf("%s: %s; give NAME=value pairs, for example -o %s=LOG_FORMAT=json,REGION=eu", ConfWorkerEnv, what, ConfWorkerEnv)
	}
	add := func(name, value string) error {
		if !envName.MatchString(name) {
			return bad(fmt.Sprintf("%q is not a variable name", name))
		}
		out[name] = value
		return nil
	}
	pair := func(s string) error {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil
		}
		name, value, ok := strings.Cut(s, "=")
		if !ok {
			return bad(fmt.Sprintf("%q has no '='", s))
		}
		return add(strings.TrimSpace(name), value)
	}
	switch v := conf[ConfWorkerEnv].(type) {
	case nil:
	case string:
		for _, s := range strings.Split(v, ",") {
			if err := pair(s); err != nil {
				return nil, err
			}
		}
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, bad(fmt.Sprintf("the list holds %v, not a string", e))
			}
			if err := pair(s); err != nil {
				return nil, err
			}
		}
	case []string:
		for _, s := range v {
			if err := pair(s); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for name, value := range v {
			if err := add(name, fmt.Sprint(value)); err != nil {
				return nil, err
			}
		}
	case map[string]string:
		for name, value := range v {
			if err := add(name, value); err != nil {
				return nil, err
			}
		}
	default:
		return nil, bad(fmt.Sprintf("a %T is neither a map nor a list", v))
	}
	return out, nil
}

// supervisorEnviron is the supervisor's environment (a variable for tests).
var supervisorEnviron = os.Environ
