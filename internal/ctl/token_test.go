package ctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResolveToken: --token, then SPARSE_TOKEN, then the config environment's
// token_file (relative to the config file), which only its owner may read.
func TestResolveToken(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "conf", "sparse.json")
	writeFile(t, cfg, `{"envs": {"prod": {"nimbus": "10.0.0.1", "token_file": "prod.token"}, "abs": {"nimbus": "10.0.0.2", "token_file": "`+filepath.Join(dir, "abs.token")+`"}, "none": {"nimbus": "10.0.0.3"}}}`)
	tokenFile := filepath.Join(dir, "conf", "prod.token")
	if err := os.WriteFile(tokenFile, []byte("  sparse_file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Resolve(Source{Env: "prod", ConfigPath: cfg, Getenv: func(string) string { return "" }})
	if err != nil || r.TokenFile != tokenFile {
		t.Fatalf("Resolve: token file %q, %v; want %q", r.TokenFile, err, tokenFile)
	}
	if r, _ := Resolve(Source{Env: "abs", ConfigPath: cfg}); r.TokenFile != filepath.Join(dir, "abs.token") {
		t.Errorf("an absolute token_file became %q", r.TokenFile)
	}
	if r, _ := Resolve(Source{Env: "none", ConfigPath: cfg}); r.TokenFile != "" {
		t.Errorf("an environment without token_file gave %q", r.TokenFile)
	}
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvToken {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct {
		name, flag, env, file, want string
	}{
		{"flag first", "sparse_flag", "sparse_env", tokenFile, "sparse_flag"},
		{"then the environment", "", "sparse_env", tokenFile, "sparse_env"},
		{"then the file", "", "", tokenFile, "sparse_file"},
		{"none", "", "", "", ""},
	} {
		got, err := ResolveToken(c.flag, env(c.env), c.file)
		if err != nil || got != c.want {
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	for _, c := range []struct {
		name, content string
		mode          os.FileMode
		want          string
	}{
		{"readable by others", "sparse_x", 0o644, "chmod 600"},
		{"empty", "\n", 0o600, "one token and nothing else"},
		{"two tokens", "a b", 0o600, "one token and nothing else"},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
		if err := os.WriteFile(p, []byte(c.content), c.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, c.mode); err != nil {
			t.Fatal(err)
		}
		if _, err := ResolveToken("", env(""), p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want an error saying %q", c.name, err, c.want)
		}
	}
	if _, err := ResolveToken("", env(""), filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("a missing token file: %v", err)
	}
}
