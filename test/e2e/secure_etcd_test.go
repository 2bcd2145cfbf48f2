package e2e

import (
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/testutil/etcdtest"
)

// TestClusterOnSecuredEtcd: nimbusd and supervisord reach an etcd that serves only TLS,
// demands client certificates and has auth enabled, with the etcdctl-style flags; a
// wordcount run on that cluster acks every sentence. A supervisor with a wrong password
// and a nimbus that trusts the wrong CA are refused with errors that say so, and no
// password shows in any log.
func TestClusterOnSecuredEtcd(t *testing.T) {
	const n = 2000
	const password, wrong = "s3cret-etcd-pw", "not-the-password-42"
	pki := etcdtest.NewPKI(t)
	endpoint := etcdtest.StartTLS(t, pki).Endpoints()[0]
	etcdtest.EnableAuth(t, []string{endpoint}, pki.ClientTLS(t),
		etcdtest.User{Name: "sparse", Password: password, Prefix: "/sparse/"})
	passwordFile := etcdtest.WriteFile(t, pki.Dir, "password", password+"\n")

	c := newClusterDir(t)
	c.etcd = endpoint
	tlsArgs := []string{"--etcd-cacert", pki.CA, "--etcd-cert", pki.ClientCert, "--etcd-key", pki.ClientKey}
	c.etcdArgs = append(append([]string{}, tlsArgs...), "--etcd-user", "sparse", "--etcd-password-file", passwordFile)
	c.start([]string{"n1"}, map[string]int{"s1": 2})
	c.waitFor("the supervisor registered", time.Minute, func() bool {
		out, err := c.ctl("supervisors")
		return err == nil && strings.Contains(out, "s1")
	})
	out := c.mustCtl(append([]string{"submit", bins.wordcount, "--name", "wc", "--workers", "2"}, wordcountOpts(n, c.state)...)...)
	t.Logf("submit: %s", strings.TrimSpace(out))
	c.waitFor("every sentence acked", 3*time.Minute, func() bool { return acked(t, c.state) >= n })

	// A supervisor with the wrong password, given on the command line, is warned about
	// that and keeps retrying, saying why.
	c.etcdArgs = append(append([]string{}, tlsArgs...), "--etcd-user", "sparse", "--etcd-password", wrong)
	c.startSupervisor("s2", 1)
	c.waitFor("the refused supervisor says why", time.Minute, func() bool {
		b, _ := os.ReadFile(c.sups["s2"].stderr)
		return strings.Contains(string(b), "etcd refused this supervisor") &&
			(strings.Contains(string(b), `refused user \"sparse\"`) || strings.Contains(string(b), `refused user "sparse"`))
	})
	if b, _ := os.ReadFile(c.sups["s2"].stderr); !strings.Contains(string(b), "process list") {
		t.Errorf("no warning about --etcd-password on the command line:\n%s", b)
	}
	if out, err := c.ctl("supervisors"); err != nil || strings.Contains(out, "s2") {
		t.Errorf("the refused supervisor is registered, or the list failed (%v):\n%s", err, out)
	}

	// A nimbus that trusts another CA stops at start with the TLS error.
	cmd := exec.Command(bins.nimbusd, "--id", "n2", "--listen", freeAddrs(t, 1)[0], "--data-dir", t.TempDir(),
		"--etcd-endpoints", endpoint, "--etcd-cacert", pki.OtherCA, "--etcd-cert", pki.ClientCert, "--etcd-key", pki.ClientKey,
		"--etcd-user", "sparse", "--etcd-password-file", passwordFile)
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "TLS handshake") || !strings.Contains(string(b), "unknown authority") ||
		!strings.Contains(string(b), "--etcd-cacert must be the CA that signed etcd's server certificate") {
		t.Errorf("nimbusd trusting the wrong CA: exit %v, want a TLS handshake error naming the unknown authority and --etcd-cacert:\n%s", err, b)
	}
	c.mustCtl("kill", "wc", "--wait=1s")

	for _, p := range slices.Concat(slices.Collect(maps.Values(c.nimbus)), slices.Collect(maps.Values(c.sups))) {
		for _, f := range []string{p.stdout, p.stderr} {
			b, _ := os.ReadFile(f)
			if strings.Contains(string(b), password) || strings.Contains(string(b), wrong) {
				t.Errorf("%s shows an etcd password", f)
			}
		}
	}
}
