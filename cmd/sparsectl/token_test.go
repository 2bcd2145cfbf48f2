package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/internal/ctl"
	"github.com/sparsestream/sparse/internal/nimbus"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/internal/testutil/etcdtest"
)

// TestTokenCommands runs acl bootstrap and token create, list and revoke against a real
// nimbus with ACLs on, and the three ways of giving sparsectl a token.
func TestTokenCommands(t *testing.T) {
	isolate(t)
	t.Setenv(ctl.EnvToken, "")
	e := etcdtest.Start(t)
	s, err := nimbus.Start(testutil.Context(t, 30*time.Second), nimbus.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), EtcdEndpoints: e.Endpoints(), ACL: true,
		LeaderTTL: 2 * time.Second, ScheduleEvery: 300 * time.Millisecond,
		Logger: hclog.New(&hclog.LoggerOptions{Name: "nimbus", Level: hclog.Warn, Output: testutil.LogWriter(t)}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	testutil.Eventually(t, 20*time.Second, "nimbus leads", s.IsLeader)
	at := "--nimbus=" + s.Addr()

	mustFail(t, []string{"list needs a token with role viewer", "SPARSE_TOKEN"}, "list", at)
	var boot ctl.TokenJSON
	if err := json.Unmarshal([]byte(mustRun(t, "acl", "bootstrap", at, "--json")), &boot); err != nil || boot.Role != "admin" || !strings.HasPrefix(boot.Secret, "sparse_") {
		t.Fatalf("bootstrap printed %+v, %v", boot, err)
	}
	mustFail(t, []string{"bootstrapped already", "etcdctl del"}, "acl", "bootstrap", at)

	// --token.
	out := mustRun(t, "token", "create", "--role", "viewer", "--name", "ci", at, "--token", boot.Secret)
	if !strings.Contains(out, `token "ci" (role viewer`) || !strings.Contains(out, "secret: sparse_") {
		t.Fatalf("token create printed:\n%s", out)
	}
	ciSecret := strings.TrimSpace(strings.SplitN(strings.SplitN(out, "secret: ", 2)[1], "\n", 2)[0])
	mustFail(t, []string{"--role", "viewer, deployer, admin"}, "token", "create", "--role", "root", "--name", "x", at, "--token", boot.Secret)

	// SPARSE_TOKEN.
	t.Setenv(ctl.EnvToken, boot.Secret)
	list := mustRun(t, "token", "list", at)
	for _, want := range []string{"NAME", "bootstrap", "admin", "ci", "viewer", "(bootstrap)"} {
		if !strings.Contains(list, want) {
			t.Errorf("token list does not show %q:\n%s", want, list)
		}
	}
	if strings.Contains(list, boot.Secret) || strings.Contains(list, ciSecret) || strings.Contains(mustRun(t, "token", "list", at, "--json"), "sparse_") {
		t.Errorf("token list shows a secret:\n%s", list)
	}

	// The token_file of the config environment.
	t.Setenv(ctl.EnvToken, "")
	cfg := `{"envs": {"local": {"nimbus": "` + s.Addr() + `", "token_file": "ci.token"}}}`
	if err := os.WriteFile("sparse.json", []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("ci.token", []byte(ciSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "list")
	mustFail(t, []string{`token list needs role admin; token "ci" has viewer`}, "token", "list")
	mustFail(t, []string{`kill needs role deployer (owner) or admin; token "ci" has viewer`}, "kill", "nothing", "--wait=0")
	if err := os.Chmod("ci.token", 0o644); err != nil {
		t.Fatal(err)
	}
	mustFail(t, []string{"readable by others", "chmod 600 " + filepath.Join(".", "ci.token")}, "list")
	if err := os.Chmod("ci.token", 0o600); err != nil {
		t.Fatal(err)
	}

	out = mustRun(t, "token", "revoke", "ci", "--token", boot.Secret)
	if !strings.Contains(out, `revoked token "ci"`) {
		t.Errorf("token revoke printed %q", out)
	}
	mustFail(t, []string{"not known to this cluster"}, "list")
}
