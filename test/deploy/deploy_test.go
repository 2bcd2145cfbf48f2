// Package deploy keeps deploy/ from rotting: every flag and config key the files use
// exists in the binaries, the YAML and JSON files parse, the compose file's services
// are the documented set wired in the documented order, its certificate script makes
// every file the cluster reads, and promtool accepts the Prometheus files.
package deploy

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sparsestream/sparse/internal/flagfile"
)

const root = "../../deploy"

// bin is the directory of the binaries built for the tests.
var bin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "sparse-deploy-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = dir
	build := exec.Command("go", "build", "-o", dir+"/", "../../cmd/nimbusd", "../../cmd/supervisord", "../../cmd/sparsectl", "../../cmd/sparse-worker")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "deploy: building the commands failed: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var flagRE = regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z0-9][a-z0-9-]*)`)

// flagsOf lists the flags a command (with its subcommand words) accepts, from its help.
func flagsOf(t *testing.T, cmd ...string) map[string]bool {
	t.Helper()
	out, err := exec.Command(filepath.Join(bin, cmd[0]), append(cmd[1:], "--help")...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s --help: %v\n%s", strings.Join(cmd, " "), err, out)
	}
	flags := map[string]bool{}
	for _, m := range flagRE.FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	if len(flags) < 2 {
		t.Fatalf("%s --help lists no flags:\n%s", strings.Join(cmd, " "), out)
	}
	return flags
}

var daemons = []string{"nimbusd", "supervisord"}

// checkArgs checks that every --flag in args is one of the command's.
func checkArgs(t *testing.T, where string, args []string, flags map[string]bool) {
	t.Helper()
	for _, a := range args {
		if !strings.HasPrefix(a, "--") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !flags[name] {
			t.Errorf("%s: --%s is not a flag of the command", where, name)
		}
	}
}

// checkConfig checks a --config file's keys against the command's flags.
func checkConfig(t *testing.T, where string, data []byte, flags map[string]bool) {
	t.Helper()
	settings, err := flagfile.Parse(data)
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	if len(settings) == 0 {
		t.Errorf("%s: sets nothing", where)
	}
	for _, s := range settings {
		if !flags[s.Name] {
			t.Errorf("%s line %d: %q is not a flag of the command", where, s.Line, s.Name)
		}
	}
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSystemd(t *testing.T) {
	for _, d := range daemons {
		flags := flagsOf(t, d)
		unit := string(read(t, "systemd/"+d+".service"))
		keys := map[string]string{}
		for _, line := range strings.Split(unit, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
				keys[k] = v
			}
		}
		exec := strings.Fields(keys["ExecStart"])
		if len(exec) == 0 || filepath.Base(exec[0]) != d {
			t.Errorf("%s.service: ExecStart %q does not run %s", d, keys["ExecStart"], d)
			continue
		}
		checkArgs(t, d+".service ExecStart", exec[1:], flags)
		if !slices.Contains(exec, "/etc/sparse/"+d+".yaml") {
			t.Errorf("%s.service: ExecStart does not read /etc/sparse/%s.yaml", d, d)
		}
		if u := keys["User"]; u == "" || u == "root" {
			t.Errorf("%s.service: User=%q; the daemons run as a dedicated user", d, u)
		}
		for _, k := range []string{"Restart", "ExecReload", "NoNewPrivileges", "ProtectSystem"} {
			if keys[k] == "" {
				t.Errorf("%s.service: no %s", d, k)
			}
		}
		checkConfig(t, "systemd/"+d+".yaml", read(t, "systemd/"+d+".yaml"), flags)
	}
	// Stopping supervisord must leave its workers for the next one to adopt.
	if !strings.Contains(string(read(t, "systemd/supervisord.service")), "\nKillMode=process\n") {
		t.Error("supervisord.service: KillMode=process is missing, so a restart would kill every worker")
	}
}

// compose is the part of a compose file the tests read.
type compose struct {
	Services map[string]struct {
		Image     string    `yaml:"image"`
		Command   []string  `yaml:"command"`
		DependsOn yaml.Node `yaml:"depends_on"`
		Configs   []struct {
			Source string `yaml:"source"`
		} `yaml:"configs"`
	} `yaml:"services"`
	Configs map[string]struct {
		Content string `yaml:"content"`
	} `yaml:"configs"`
}

// dependsOn reads depends_on in either of its forms: a list, or a mapping.
func dependsOn(n yaml.Node) []string {
	var out []string
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			out = append(out, c.Value)
		}
	case yaml.MappingNode:
		for i := 0; i < len(n.Content); i += 2 {
			out = append(out, n.Content[i].Value)
		}
	}
	slices.Sort(out)
	return out
}

func TestCompose(t *testing.T) {
	var c compose
	if err := yaml.Unmarshal(read(t, "compose/compose.yaml"), &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	// The documented cluster (docs/deploy.md): what runs, and what each waits for.
	want := map[string][]string{
		"certs":  nil,
		"etcd-1": {"certs"}, "etcd-2": {"certs"}, "etcd-3": {"certs"},
		"nimbus-1": {"etcd-1", "etcd-2", "etcd-3"}, "nimbus-2": {"etcd-1", "etcd-2", "etcd-3"},
		"supervisor-1": {"nimbus-1", "nimbus-2"}, "supervisor-2": {"nimbus-1", "nimbus-2"},
		"prometheus": {"nimbus-1", "nimbus-2"}, "grafana": {"prometheus"},
	}
	for name, deps := range want {
		s, ok := c.Services[name]
		if !ok {
			t.Errorf("compose.yaml has no service %s", name)
			continue
		}
		if got := dependsOn(s.DependsOn); !slices.Equal(got, deps) {
			t.Errorf("service %s depends on %v, want %v", name, got, deps)
		}
	}
	for name := range c.Services {
		if _, ok := want[name]; !ok {
			t.Errorf("compose.yaml has service %s, which docs/deploy.md does not describe", name)
		}
	}
	for name, s := range c.Services {
		if len(s.Command) == 0 || !slices.Contains(daemons, s.Command[0]) {
			continue
		}
		flags := flagsOf(t, s.Command[0])
		checkArgs(t, "service "+name, s.Command[1:], flags)
		for _, cf := range s.Configs {
			checkConfig(t, "service "+name+" config "+cf.Source, []byte(c.Configs[cf.Source].Content), flags)
		}
	}

	// The certificate script, run with this sparsectl, makes every file the services
	// and Prometheus read from the tls volume.
	script := c.Configs["certs-script"].Content
	if script == "" {
		t.Fatal("compose.yaml has no certs-script config")
	}
	dir := t.TempDir()
	script = strings.ReplaceAll(script, "$$", "$") // compose's escape of $
	script = strings.ReplaceAll(script, "cd /tls", "cd "+dir)
	script = strings.ReplaceAll(script, "chown -R 10001:10001 /tls", "true")
	run := exec.Command("/bin/sh", "-c", script)
	run.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("the certs script: %v\n%s", err, out)
	}
	for _, sparsectl := range regexp.MustCompile(`sparsectl (tls (?:ca|cert) create)([^\n]*)`).FindAllStringSubmatch(script, -1) {
		checkArgs(t, "certs script", strings.Fields(sparsectl[2]), flagsOf(t, append([]string{"sparsectl"}, strings.Fields(sparsectl[1])...)...))
	}
	paths := regexp.MustCompile(`/tls/[A-Za-z0-9_./-]+\.pem`)
	var all []byte
	all = append(all, read(t, "compose/compose.yaml")...)
	all = append(all, read(t, "prometheus/prometheus.yml")...)
	seen := map[string]bool{}
	for _, p := range paths.FindAll(all, -1) {
		rel := strings.TrimPrefix(string(p), "/tls/")
		if seen[rel] {
			continue
		}
		seen[rel] = true
		if _, err := os.Stat(filepath.Join(dir, rel)); err != nil {
			t.Errorf("%s is read by the cluster but the certs script does not make it", p)
		}
	}
	if len(seen) < 10 {
		t.Errorf("found only %d certificate paths in the compose and Prometheus files", len(seen))
	}
}

func TestKubernetes(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(root, "kubernetes", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("deploy/kubernetes holds no manifests")
	}
	flags := map[string]map[string]bool{}
	for _, d := range daemons {
		flags[d] = flagsOf(t, d)
	}
	kinds := map[string]int{}
	for _, f := range files {
		dec := yaml.NewDecoder(bytes.NewReader(read(t, "kubernetes/"+filepath.Base(f))))
		for {
			var doc map[string]any
			if err := dec.Decode(&doc); err != nil {
				if err.Error() == "EOF" {
					break
				}
				t.Fatalf("%s: %v", f, err)
			}
			kind, _ := doc["kind"].(string)
			meta, _ := doc["metadata"].(map[string]any)
			if doc["apiVersion"] == nil || kind == "" || meta["name"] == nil {
				t.Errorf("%s: a document without apiVersion, kind or metadata.name", f)
				continue
			}
			kinds[kind]++
			if strings.Contains(kind, "Role") {
				t.Errorf("%s: %s: the manifests need no RBAC", f, kind)
			}
			if kind == "ConfigMap" {
				data, _ := doc["data"].(map[string]any)
				for key, v := range data {
					d := strings.TrimSuffix(key, ".yaml")
					if flags[d] != nil {
						checkConfig(t, f+" ConfigMap "+key, []byte(v.(string)), flags[d])
					}
				}
			}
			for _, c := range containers(doc) {
				cmd, _ := c["command"].([]any)
				args, _ := c["args"].([]any)
				if len(cmd) == 0 || flags[cmd[0].(string)] == nil {
					continue
				}
				var as []string
				for _, a := range args {
					as = append(as, a.(string))
				}
				checkArgs(t, f+" "+cmd[0].(string), as, flags[cmd[0].(string)])
				probe, _ := c["readinessProbe"].(map[string]any)
				get, _ := probe["httpGet"].(map[string]any)
				if get["path"] != "/healthz" {
					t.Errorf("%s: %s has no readiness probe on /healthz", f, cmd[0])
				}
			}
		}
	}
	for _, k := range []string{"StatefulSet", "DaemonSet", "Service", "ConfigMap"} {
		if kinds[k] == 0 {
			t.Errorf("the manifests hold no %s", k)
		}
	}
}

// containers are the containers of a workload's pod template.
func containers(doc map[string]any) []map[string]any {
	spec, _ := doc["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	pod, _ := tmpl["spec"].(map[string]any)
	list, _ := pod["containers"].([]any)
	var out []map[string]any
	for _, c := range list {
		if m, ok := c.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	df := string(read(t, "docker/Dockerfile"))
	for _, m := range regexp.MustCompile(`\./(cmd/[a-z-]+|examples/[a-z-]+)`).FindAllStringSubmatch(df, -1) {
		if _, err := os.Stat(filepath.Join("../..", m[1])); err != nil {
			t.Errorf("the Dockerfile builds %s, which does not exist", m[1])
		}
	}
	for _, want := range []string{"USER sparse", "AS python", "python3"} {
		if !strings.Contains(df, want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
}

func TestPrometheus(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if testing.Short() {
			t.Skip("promtool is not installed (scripts/test-deps.sh installs it)")
		}
		t.Fatal("promtool is not installed: run scripts/test-deps.sh (make test does)")
	}
	if out, err := exec.Command(promtool, "check", "rules", filepath.Join(root, "prometheus/alerts.yml")).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
	// check config reads the files the configuration names; give it a copy whose
	// certificate and token paths point at files that exist.
	dir := t.TempDir()
	cfg := strings.ReplaceAll(string(read(t, "prometheus/prometheus.yml")), "/tls/", dir+"/tls/")
	for _, name := range []string{"tls/metrics/metrics-ca.pem", "tls/sparse-ca.pem", "tls/prometheus-token"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts.yml"), read(t, "prometheus/alerts.yml"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "config", filepath.Join(dir, "prometheus.yml")).CombinedOutput(); err != nil {
		t.Errorf("promtool check config: %v\n%s", err, out)
	}
}

func TestGrafana(t *testing.T) {
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(read(t, "grafana/sparse.json"), &dash); err != nil {
		t.Fatalf("sparse.json: %v", err)
	}
	exprs := 0
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		exprs += len(p.Targets)
	}
	if dash.UID == "" || exprs < 10 {
		t.Errorf("the dashboard has uid %q and %d queries", dash.UID, exprs)
	}
	for _, f := range []string{"grafana/provisioning/datasources/prometheus.yaml", "grafana/provisioning/dashboards/sparse.yaml"} {
		var v map[string]any
		if err := yaml.Unmarshal(read(t, f), &v); err != nil || v["apiVersion"] == nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
