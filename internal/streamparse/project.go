package streamparse

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ConfigName is a streamparse project's config file.
const ConfigName = "config.json"

// Config is what sparse reads of a streamparse config.json.
type Config struct {
	// Serializer is the multi-lang serializer ("json" or "msgpack"); it becomes
	// topology.multilang.serializer.
	Serializer string `json:"serializer"`
	// TopologySpecs is the folder of topology files (default "topologies/").
	TopologySpecs string `json:"topology_specs"`
	// VirtualenvSpecs is the folder of requirements files, one per topology (default
	// "virtualenvs/").
	VirtualenvSpecs string `json:"virtualenv_specs"`
	// Envs are the environments; ctl reads their nimbus addresses, EnvNotes says what
	// else sparse does with them.
	Envs map[string]map[string]json.RawMessage `json:"envs"`
}

// Project is a streamparse project directory.
type Project struct {
	Dir    string
	Config Config
}

// IsProject reports whether dir is a streamparse project: it holds a config.json with
// topology_specs.
func IsProject(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, ConfigName))
	if err != nil {
		return false
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(b, &probe) != nil {
		return false
	}
	_, ok := probe["topology_specs"]
	return ok
}

// Open reads the project in dir.
func Open(dir string) (*Project, error) {
	path := filepath.Join(dir, ConfigName)
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s has no %s, so it is not a streamparse project; run in the project's folder (the one holding config.json, topologies/ and src/)", dir, ConfigName)
		}
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w; it must be JSON such as {\"topology_specs\": \"topologies/\", \"virtualenv_specs\": \"virtualenvs/\", \"envs\": {}}", path, err)
	}
	if c.TopologySpecs == "" {
		c.TopologySpecs = "topologies/"
	}
	if c.VirtualenvSpecs == "" {
		c.VirtualenvSpecs = "virtualenvs/"
	}
	for _, p := range []struct{ key, v string }{{"topology_specs", c.TopologySpecs}, {"virtualenv_specs", c.VirtualenvSpecs}} {
		if !filepath.IsLocal(filepath.Clean(p.v)) {
			return nil, fmt.Errorf("%s: %s %q must be a folder inside the project (relative, without \"..\")", path, p.key, p.v)
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", dir, err)
	}
	return &Project{Dir: abs, Config: c}, nil
}

// SrcDir is the folder of the project's Python code: on PYTHONPATH while the topology
// file is evaluated, and the resources folder (the working directory) of its components.
func (p *Project) SrcDir() string { return filepath.Join(p.Dir, "src") }

// Topologies names the topology files (NAME for topology_specs/NAME.py), sorted.
func (p *Project) Topologies() ([]string, error) {
	dir := filepath.Join(p.Dir, p.Config.TopologySpecs)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the topology_specs folder %s: %w", dir, err)
	}
	var out []string
	for _, e := range ents {
		if n := e.Name(); !e.IsDir() && strings.HasSuffix(n, ".py") && n != "__init__.py" && !strings.HasPrefix(n, ".") {
			out = append(out, strings.TrimSuffix(n, ".py"))
		}
	}
	slices.Sort(out)
	return out, nil
}

// Resolve picks a topology: name, or the only one when name is empty. It returns the
// name and the topology file.
func (p *Project) Resolve(name string) (string, string, error) {
	names, err := p.Topologies()
	if err != nil {
		return "", "", err
	}
	if name == "" {
		switch len(names) {
		case 0:
			return "", "", fmt.Errorf("%s holds no topology file; write topologies/NAME.py with a Topology subclass", filepath.Join(p.Dir, p.Config.TopologySpecs))
		case 1:
			name = names[0]
		default:
			return "", "", fmt.Errorf("the project has several topologies (%s); choose one with -n NAME", strings.Join(names, ", "))
		}
	}
	if !slices.Contains(names, name) {
		return "", "", fmt.Errorf("topology %q is not in %s (it has: %s); pass -n with one of those", name, p.Config.TopologySpecs, strings.Join(names, ", "))
	}
	return name, filepath.Join(p.Dir, p.Config.TopologySpecs, name+".py"), nil
}

// Requirements returns the requirements file of a topology (virtualenv_specs/NAME.txt),
// or "" when it has none.
func (p *Project) Requirements(name string) string {
	path := filepath.Join(p.Dir, p.Config.VirtualenvSpecs, name+".txt")
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
		return path
	}
	return ""
}

// envKeyNotes says what sparse does with the keys of a streamparse environment other
// than nimbus, which sparsectl reads as the nimbus addresses.
var envKeyNotes = map[string]string{
	"workers":            "supervisors register themselves with nimbus; the list of worker hosts is not needed",
	"log":                "workers log under each supervisor's data directory (see supervisord --worker-log-max-size and sparsectl logs)",
	"user":               "sparse uses no ssh",
	"ssh_password":       "sparse uses no ssh",
	"ssh_port":           "sparse uses no ssh",
	"use_ssh_for_nimbus": "sparse talks to nimbus over gRPC, not ssh",
	"virtualenv_root":    "supervisors keep virtualenvs in their data directory",
	"use_virtualenv":     "a topology gets a virtualenv when virtualenvs/NAME.txt exists (sparsectl run --no-venv runs without one)",
	"install_virtualenv": "supervisors install virtualenvs/NAME.txt themselves",
	"virtualenv_flags":   "supervisors make virtualenvs with python3 -m venv",
	"virtualenv_name":    "virtualenvs are named by the hash of their requirements",
}

// EnvNotes says which keys of environment env sparse ignores, and why (for --verbose).
func (p *Project) EnvNotes(env string) []string {
	e, ok := p.Config.Envs[env]
	if !ok {
		return nil
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(e)) {
		switch k {
		case "nimbus", "token_file", "tls_ca", "tls_cert", "tls_key":
			continue
		}
		why, known := envKeyNotes[k]
		if !known {
			why = "sparse does not know this key"
		}
		out = append(out, fmt.Sprintf("config.json env %q: ignoring %q: %s", env, k, why))
	}
	return out
}
