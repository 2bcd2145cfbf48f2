package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// clusterPKI is a CA and a certificate per role, made with sparsectl tls. A nil
// *clusterPKI gives no flags: the cluster runs in plaintext on loopback.
type clusterPKI struct {
	dir string
}

func newClusterPKI(t *testing.T, dir string) *clusterPKI {
	t.Helper()
	p := &clusterPKI{dir: dir}
	for _, args := range [][]string{
		{"tls", "ca", "create", "--cluster", "e2e"},
		{"tls", "cert", "create", "--server", "--name", "nimbus"},
		{"tls", "cert", "create", "--supervisor", "--name", "sup"},
		{"tls", "cert", "create", "--worker", "--name", "worker"},
		{"tls", "cert", "create", "--client", "--name", "ops"},
	} {
		args = append(args, "--out-dir", dir)
		if args[1] == "cert" {
			args = append(args, "--ca", p.file("ca"), "--ca-key", p.file("ca-key"))
		}
		if out, err := exec.Command(bins.sparsectl, args...).CombinedOutput(); err != nil {
			t.Fatalf("sparsectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return p
}

// file is <dir>/e2e-<name>.pem.
func (p *clusterPKI) file(name string) string { return filepath.Join(p.dir, "e2e-"+name+".pem") }

func (p *clusterPKI) pair(flag, role, name string) []string {
	return []string{"--" + flag + "-cert", p.file(role + "-" + name), "--" + flag + "-key", p.file(role + "-" + name + "-key")}
}

func (p *clusterPKI) nimbusArgs() []string {
	if p == nil {
		return nil
	}
	return append([]string{"--tls-ca", p.file("ca")}, p.pair("tls", "server", "nimbus")...)
}

func (p *clusterPKI) supervisorArgs() []string {
	if p == nil {
		return nil
	}
	args := append([]string{"--tls-ca", p.file("ca")}, p.pair("tls", "supervisor", "sup")...)
	return append(args, p.pair("worker-tls", "worker", "worker")...)
}

func (p *clusterPKI) ctlArgs() []string {
	if p == nil {
		return nil
	}
	return append([]string{"--tls-ca", p.file("ca")}, p.pair("tls", "client", "ops")...)
}

// TestClusterTLS: a cluster with TLS on every connection (sparsectl → nimbus,
// supervisor → nimbus and → workers, worker ↔ worker) runs wordcount to the last ack;
// the workers got their key from their supervisor in a private file, not on their
// command line; sparsectl without the CA is told to pass it.
func TestClusterTLS(t *testing.T) {
	const n = 3000
	c := newTestClusterWith(t, []string{"n1"}, map[string]int{"s1": 1, "s2": 1}, clusterTLS)
	c.waitFor("two supervisors registered", time.Minute, func() bool {
		out, err := c.ctl("supervisors")
		return err == nil && strings.Contains(out, "s1") && strings.Contains(out, "s2")
	})
	c.mustCtl(append([]string{"submit", bins.wordcount, "--name", "wc", "--workers", "2"}, wordcountOpts(n, c.state)...)...)
	c.waitFor("every sentence acked over TLS", 3*time.Minute, func() bool { return acked(t, c.state) >= n })

	keys, _ := filepath.Glob(filepath.Join(c.dir, "sup-*", "workers", "*", "*", "tls-key.pem"))
	if len(keys) != 2 {
		t.Errorf("worker key files %v; want one per worker", keys)
	}
	for _, k := range keys {
		if st, err := os.Stat(k); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", k, st.Mode(), err)
		}
	}
	for _, sup := range []string{"s1", "s2"} {
		for _, pid := range c.workerPIDs(sup) {
			cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
			if strings.Contains(string(cmdline), "key") || !strings.Contains(string(cmdline), "--tls-dir") {
				t.Errorf("worker %d's command line: %q", pid, strings.ReplaceAll(string(cmdline), "\x00", " "))
			}
		}
	}

	cmd := exec.Command(bins.sparsectl, "list", "--nimbus", c.nimbusList(), "--connect-timeout", "2s", "--timeout", "10s")
	cmd.Env = append(os.Environ(), "HOME="+c.dir)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "pass --tls-ca") {
		t.Errorf("sparsectl list without the CA: %v\n%s", err, out)
	}
	c.mustCtl("kill", "wc", "--wait=1s")
}

// TestNimbusReloadsCertificatesOnSIGHUP: an operator replaces nimbusd's certificate
// files and sends SIGHUP; new connections get the new certificate without a restart,
// and sparsectl keeps working throughout.
func TestNimbusReloadsCertificatesOnSIGHUP(t *testing.T) {
	c := newTestClusterWith(t, []string{"n1"}, nil, clusterTLS)
	c.waitFor("a leader", time.Minute, func() bool { _, err := c.ctl("leader"); return err == nil })
	before := servedName(t, c)

	renewed := filepath.Join(c.dir, "renewed")
	args := []string{"tls", "cert", "create", "--server", "--name", "nimbus-renewed", "--out-dir", renewed,
		"--ca", c.tls.file("ca"), "--ca-key", c.tls.file("ca-key")}
	if out, err := exec.Command(bins.sparsectl, args...).CombinedOutput(); err != nil {
		t.Fatalf("sparsectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	for _, f := range []string{"", "-key"} {
		b, err := os.ReadFile(filepath.Join(renewed, "e2e-server-nimbus-renewed"+f+".pem"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(c.tls.file("server-nimbus"+f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.nimbus["n1"].cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	c.waitFor("the renewed certificate served", 30*time.Second, func() bool {
		return strings.HasSuffix(servedName(t, c), "/nimbus-renewed")
	})
	if !strings.HasSuffix(before, "/nimbus") {
		t.Errorf("before the reload nimbus served %q", before)
	}
	c.mustCtl("leader")
}

// servedName is the identity (URI SAN) of the certificate nimbus n1 presents now.
func servedName(t *testing.T, c *testCluster) string {
	t.Helper()
	ca, err := os.ReadFile(c.tls.file("ca"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	host, _, _ := net.SplitHostPort(c.nimbusAt["n1"])
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", c.nimbusAt["n1"],
		&tls.Config{RootCAs: pool, ServerName: host, NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS to nimbus: %v", err)
	}
	defer conn.Close()
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 || len(certs[0].URIs) == 0 {
		t.Fatal("nimbus presented no certificate with an identity")
	}
	return certs[0].URIs[0].String()
}
