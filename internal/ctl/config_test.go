package ctl

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const twoEnvs = `{
  "envs": {
    "prod":  {"nimbus": ["10.0.0.1:6627", "10.0.0.2"], "user": "storm"},
    "local": {"nimbus": "127.0.0.1:6627, 127.0.0.1:6628"}
  },
  "default_env": "local"
}`

// TestResolve: the precedence of --nimbus, --env/--config, SPARSE_NIMBUS and the
// default config files, and the addresses each gives.
func TestResolve(t *testing.T) {
	dir := t.TempDir()  // working directory
	home := t.TempDir() // $HOME
	xdg := t.TempDir()  // $XDG_CONFIG_HOME
	writeFile(t, filepath.Join(dir, "sparse.json"), twoEnvs)
	writeFile(t, filepath.Join(home, ".config", "sparse", "config.json"), `{"envs": {"home": {"nimbus": ["home:1"]}}}`)
	writeFile(t, filepath.Join(xdg, "sparse", "config.json"), `{"envs": {"xdg": {"nimbus": ["xdg:1"]}, "other": {"nimbus": ["o:1"]}}, "default_env": "xdg"}`)
	explicit := filepath.Join(t.TempDir(), "my.json")
	writeFile(t, explicit, `{"envs": {"only": {"nimbus": ["explicit:7"]}}}`)
	empty := t.TempDir() // a working directory without sparse.json

	cases := []struct {
		name     string
		src      Source
		env      map[string]string
		want     []string
		wantFrom string
	}{
		{"--nimbus repeated and comma-separated, default port, duplicates dropped",
			Source{Nimbus: []string{"a:1,b", "a:1", " c:3 "}, Dir: dir}, map[string]string{EnvNimbus: "env:1"},
			[]string{"a:1", "b:6627", "c:3"}, "--nimbus"},
		{"--nimbus with IPv6",
			Source{Nimbus: []string{"[::1]:7000", "::1"}}, nil, []string{"[::1]:7000", "[::1]:6627"}, "--nimbus"},
		{"--env beats SPARSE_NIMBUS",
			Source{Env: "prod", Dir: dir}, map[string]string{EnvNimbus: "env:1"},
			[]string{"10.0.0.1:6627", "10.0.0.2:6627"}, `environment "prod" of ` + filepath.Join(dir, "sparse.json")},
		{"SPARSE_NIMBUS beats the default environment",
			Source{Dir: dir}, map[string]string{EnvNimbus: "env:1, env:2"}, []string{"env:1", "env:2"}, EnvNimbus},
		{"default_env of ./sparse.json, nimbus as a comma-separated string",
			Source{Dir: dir}, map[string]string{"HOME": home}, []string{"127.0.0.1:6627", "127.0.0.1:6628"}, `environment "local"`},
		{"explicit --config beats SPARSE_NIMBUS; its only environment is the default",
			Source{ConfigPath: explicit, Dir: dir}, map[string]string{EnvNimbus: "env:1"}, []string{"explicit:7"}, `environment "only"`},
		{"no ./sparse.json: ~/.config/sparse/config.json",
			Source{Dir: empty}, map[string]string{"HOME": home}, []string{"home:1"}, `environment "home"`},
		{"XDG_CONFIG_HOME wins over HOME",
			Source{Dir: empty}, map[string]string{"HOME": home, "XDG_CONFIG_HOME": xdg}, []string{"xdg:1"}, `environment "xdg"`},
		{"--env in the home config",
			Source{Dir: empty, Env: "other"}, map[string]string{"XDG_CONFIG_HOME": xdg}, []string{"o:1"}, `environment "other"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.src.Getenv = func(k string) string { return tc.env[k] }
			r, err := Resolve(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.Addrs, tc.want) {
				t.Errorf("addresses = %v, want %v", r.Addrs, tc.want)
			}
			if !strings.HasPrefix(r.From, tc.wantFrom) {
				t.Errorf("from = %q, want it to start with %q", r.From, tc.wantFrom)
			}
		})
	}
}

// TestResolveErrors: every way of not having a nimbus address says what to set.
func TestResolveErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "sparse.json"), twoEnvs)
	noDefault := t.TempDir()
	writeFile(t, filepath.Join(noDefault, "sparse.json"), `{"envs": {"a": {"nimbus": ["a:1"]}, "b": {"nimbus": ["b:1"]}}}`)
	badDefault := t.TempDir()
	writeFile(t, filepath.Join(badDefault, "sparse.json"), `{"envs": {"a": {"nimbus": ["a:1"]}}, "default_env": "z"}`)
	noNimbus := t.TempDir()
	writeFile(t, filepath.Join(noNimbus, "sparse.json"), `{"envs": {"a": {"user": "x"}}}`)
	noEnvs := t.TempDir()
	writeFile(t, filepath.Join(noEnvs, "sparse.json"), `{"default_env": "a"}`)
	broken := t.TempDir()
	writeFile(t, filepath.Join(broken, "sparse.json"), `{"envs": `)
	badList := t.TempDir()
	writeFile(t, filepath.Join(badList, "sparse.json"), `{"envs": {"a": {"nimbus": 7}}}`)
	empty := t.TempDir()
	home := t.TempDir()

	cases := []struct {
		name string
		src  Source
		env  map[string]string
		want []string
	}{
		{"nothing configured", Source{Dir: empty}, map[string]string{"HOME": home},
			[]string{"no nimbus address is configured", "--nimbus host:port", "SPARSE_NIMBUS=host:port", filepath.Join(empty, "sparse.json"),
				filepath.Join(home, ".config", "sparse", "config.json"), `"default_env": "local"`, "--env NAME"}},
		{"unknown --env", Source{Dir: dir, Env: "staging"}, nil,
			[]string{`environment "staging" is not in config file ` + filepath.Join(dir, "sparse.json"), "it has: local, prod", "pass --env with one of those"}},
		{"--env without any config file", Source{Dir: empty, Env: "prod"}, map[string]string{"HOME": home},
			[]string{"--env prod needs a config file, and there is none", filepath.Join(empty, "sparse.json"), `{"envs": {"prod": {"nimbus": ["host:6627"]}}}`, "--config FILE"}},
		{"--config that does not exist", Source{ConfigPath: filepath.Join(empty, "nope.json")}, nil,
			[]string{"config file " + filepath.Join(empty, "nope.json") + " does not exist", "fix --config"}},
		{"several environments, no default", Source{Dir: noDefault}, nil,
			[]string{"has several environments (a, b) and no default_env", "pass --env NAME"}},
		{"default_env names no environment", Source{Dir: badDefault}, nil,
			[]string{`default_env "z" is not one of its environments (a)`}},
		{"environment without nimbus", Source{Dir: noNimbus}, nil,
			[]string{`environment "a" in config file`, `lists no nimbus; add "nimbus": ["host:6627"]`}},
		{"config without environments", Source{Dir: noEnvs}, nil,
			[]string{"has no environments; add them under \"envs\""}},
		{"broken JSON", Source{Dir: broken}, nil,
			[]string{"config file " + filepath.Join(broken, "sparse.json"), "it must be JSON such as"}},
		{"nimbus neither list nor string", Source{Dir: badList}, nil,
			[]string{`"nimbus" must be a list of "host:port" strings or one comma-separated string`}},
		{"--nimbus and --env", Source{Nimbus: []string{"a:1"}, Env: "prod"}, nil,
			[]string{"both --nimbus and --env prod are given; pass only one of them"}},
		{"an address with a scheme", Source{Nimbus: []string{"http://a:1"}}, nil,
			[]string{`--nimbus: nimbus address "http://a:1" has a scheme; give host:port`}},
		{"an address with a bad port", Source{Nimbus: []string{"a:xyz"}}, nil,
			[]string{`nimbus address "a:xyz" has no valid port`}},
		{"SPARSE_NIMBUS of commas only", Source{Dir: empty}, map[string]string{EnvNimbus: " , "},
			[]string{"SPARSE_NIMBUS gives no nimbus address"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.src.Getenv = func(k string) string { return tc.env[k] }
			r, err := Resolve(tc.src)
			if err == nil {
				t.Fatalf("Resolve = %v, want an error", r)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestResolveStreamparseProject: in a streamparse project folder, config.json (which
// has topology_specs) gives the nimbus of its envs; a config.json of something else is
// not read.
func TestResolveStreamparseProject(t *testing.T) {
	getenv := func(string) string { return "" }
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "config.json"), `{"serializer": "json", "topology_specs": "topologies/", "virtualenv_specs": "virtualenvs/",
		"envs": {"prod": {"user": "storm", "nimbus": "nimbus.example.com", "workers": ["w1"], "use_ssh_for_nimbus": true}}}`)
	r, err := Resolve(Source{Dir: dir, Getenv: getenv, Env: "prod"})
	if err != nil || !slices.Equal(r.Addrs, []string{"nimbus.example.com:6627"}) {
		t.Fatalf("Resolve = %+v, %v", r, err)
	}
	if r, err := Resolve(Source{Dir: dir, Getenv: getenv}); err != nil || r.Addrs[0] != "nimbus.example.com:6627" {
		t.Errorf("the only environment: %+v, %v", r, err)
	}
	other := t.TempDir()
	writeFile(t, filepath.Join(other, "config.json"), `{"envs": {"prod": {"nimbus": "x:1"}}}`)
	if _, err := Resolve(Source{Dir: other, Getenv: getenv}); err == nil {
		t.Error("a config.json that is not a streamparse project's was read")
	}
}
