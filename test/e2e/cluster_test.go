package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/tlsconf"
)

// testCluster is a whole sparse cluster on loopback, every piece its own process: etcd
// (sparsectl dev etcd, so that it outlives any nimbus), nimbusd instances and
// supervisord instances.
type testCluster struct {
	t        *testing.T
	dir      string
	etcd     string   // client address
	etcdArgs []string // the daemons' etcd TLS and user flags
	nimbus   map[string]*proc
	nimbusAt map[string]string
	httpAt   map[string]string // each nimbus's REST API (--http)
	sups     map[string]*proc
	supDir   map[string]string
	state    string // wordcount.state.dir shared by the workers
	tls      *clusterPKI
	acl      bool              // nimbusd --acl
	token    string            // the admin token sparsectl passes, once bootstrapped
	logsAt   map[string]string // each supervisor's --logs-addr
	supExtra []string          // more supervisord flags (later ones win)
	// nimbusArgs and supArgs, when set, give a daemon flags beyond the usual ones.
	nimbusArgs, supArgs func(id string) []string
}

// newTestCluster is a cluster run as it should be off loopback: TLS on every
// connection and API tokens (nimbusd --acl), with sparsectl holding the admin token
// made by `acl bootstrap`. The secure path is the tested path.
func newTestCluster(t *testing.T, nimbuses []string, supervisors map[string]int) *testCluster {
	t.Helper()
	return newTestClusterWith(t, nimbuses, supervisors, clusterSecure)
}

// clusterSecurity is how a test cluster is protected.
type clusterSecurity int

const (
	clusterInsecure clusterSecurity = iota // plaintext, no tokens: loopback only
	clusterTLS                             // TLS on every connection, no tokens
	clusterSecure                          // TLS and tokens
)

// newTestClusterWith is newTestCluster with the given protection.
func newTestClusterWith(t *testing.T, nimbuses []string, supervisors map[string]int, sec clusterSecurity, opts ...func(*testCluster)) *testCluster {
	t.Helper()
	c := newClusterDir(t)
	for _, o := range opts {
		o(c)
	}
	if sec >= clusterTLS {
		c.tls = newClusterPKI(t, filepath.Join(c.dir, "tls"))
	}
	c.acl = sec == clusterSecure
	addrs := freeAddrs(t, 2)
	c.etcd = addrs[0]
	startProc(t, c.dir, "etcd", bins.sparsectl, "dev", "etcd", "--data-dir", filepath.Join(c.dir, "etcd"),
		"--listen", addrs[0], "--peer-listen", addrs[1])
	c.start(nimbuses, supervisors)
	return c
}

// newClusterDir is a cluster with no etcd and no daemons yet.
func newClusterDir(t *testing.T) *testCluster {
	t.Helper()
	c := &testCluster{t: t, dir: t.TempDir(), nimbus: map[string]*proc{}, nimbusAt: map[string]string{}, httpAt: map[string]string{},
		sups: map[string]*proc{}, supDir: map[string]string{}, logsAt: map[string]string{}}
	c.state = filepath.Join(c.dir, "state")
	if err := os.Mkdir(c.state, 0o755); err != nil {
		t.Fatal(err)
	}
	return c
}

// start starts the daemons against c.etcd; with ACLs, it makes the first admin token
// once a nimbus leads, before the supervisors start.
func (c *testCluster) start(nimbuses []string, supervisors map[string]int) {
	for _, id := range nimbuses {
		c.startNimbus(id, freeAddrs(c.t, 1)[0])
	}
	if c.acl && len(nimbuses) > 0 && c.token == "" {
		c.bootstrapACL()
	}
	for id, slots := range supervisors {
		c.startSupervisor(id, slots)
	}
}

func (c *testCluster) startNimbus(id, addr string) {
	c.nimbusAt[id] = addr
	if c.httpAt[id] == "" {
		c.httpAt[id] = freeAddrs(c.t, 1)[0]
	}
	c.nimbus[id] = startProc(c.t, c.dir, "nimbus-"+id, bins.nimbusd, append([]string{"--id", id, "--listen", addr, "--http", c.httpAt[id],
		"--data-dir", filepath.Join(c.dir, "nimbus-"+id), "--etcd-endpoints", c.etcd,
		"--worker-timeout", "5s", "--worker-start-grace", "15s", "--schedule-every", "1s", "--leader-ttl", "3s"},
		slices.Concat(c.etcdArgs, c.tls.nimbusArgs(), c.aclArgs(), extra(c.nimbusArgs, id))...)...)
}

// extra is what f gives daemon id (nothing when f is nil).
func extra(f func(string) []string, id string) []string {
	if f == nil {
		return nil
	}
	return f(id)
}

func (c *testCluster) aclArgs() []string {
	if !c.acl {
		return nil
	}
	return []string{"--acl"}
}

// bootstrapACL makes the cluster's first admin token, which every later sparsectl call
// of the test passes; a cluster that had one already refuses, so it is done once.
func (c *testCluster) bootstrapACL() {
	c.t.Helper()
	var last string
	c.waitFor("the first admin token", time.Minute, func() bool {
		out, err := c.ctl("acl", "bootstrap", "--json")
		last = out
		if err != nil {
			return false
		}
		var tok struct {
			Secret string `json:"secret"`
		}
		if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.Secret == "" {
			c.t.Fatalf("acl bootstrap printed no secret (%v):\n%s", err, out)
		}
		c.token = tok.Secret
		return true
	})
	if c.token == "" {
		c.t.Fatalf("acl bootstrap: %s", last)
	}
}

func (c *testCluster) startSupervisor(id string, slots int) {
	ports := freeAddrs(c.t, slots)
	var list []string
	for _, a := range ports {
		list = append(list, a[strings.LastIndexByte(a, ':')+1:])
	}
	if c.supDir[id] == "" {
		c.supDir[id] = filepath.Join(c.dir, "sup-"+id)
	}
	if c.logsAt[id] == "" {
		c.logsAt[id] = freeAddrs(c.t, 1)[0]
	}
	logArgs := []string{"--logs-addr", c.logsAt[id]}
	if c.acl {
		logArgs = append(logArgs, "--acl")
	}
	c.sups[id] = startProc(c.t, c.dir, "sup-"+id, bins.supervisord, append([]string{"--id", id, "--host", "127.0.0.1",
		"--slots", strings.Join(list, ","), "--data-dir", c.supDir[id], "--etcd-endpoints", c.etcd,
		"--lease-ttl", "3s", "--worker-timeout", "5s", "--worker-metrics-offset", "0", "--orphan-timeout", "8s",
		"--cleanup-grace", "2s"},
		slices.Concat(c.etcdArgs, c.tls.supervisorArgs(), logArgs, c.supExtra, extra(c.supArgs, id))...)...)
}

func (c *testCluster) nimbusList() string {
	var out []string
	for _, a := range c.nimbusAt {
		out = append(out, a)
	}
	return strings.Join(out, ",")
}

// ctl runs sparsectl against the cluster's nimbuses.
func (c *testCluster) ctl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.sparsectl, append(append([]string{"--nimbus", c.nimbusList()}, c.tls.ctlArgs()...), args...)...)
	cmd.Env = append(os.Environ(), "HOME="+c.dir)
	if c.token != "" {
		cmd.Env = append(cmd.Env, "SPARSE_TOKEN="+c.token)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *testCluster) mustCtl(args ...string) string {
	c.t.Helper()
	out, err := c.ctl(args...)
	if err != nil {
		c.t.Fatalf("sparsectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// waitFor polls cond until it holds, failing with the daemons' logs after within.
func (c *testCluster) waitFor(what string, within time.Duration, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: not within %v%s", what, within, c.logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *testCluster) logs() string {
	var b strings.Builder
	for id, p := range c.nimbus {
		fmt.Fprintf(&b, "\n--- nimbus %s:\n%s", id, tail(p.stderr, 15))
	}
	for id, p := range c.sups {
		fmt.Fprintf(&b, "\n--- supervisor %s:\n%s", id, tail(p.stderr, 15))
		logs, _ := filepath.Glob(filepath.Join(c.supDir[id], "workers", "*", "*", "worker.log"))
		for _, l := range logs {
			fmt.Fprintf(&b, "\n--- %s:\n%s", l, tail(l, 8))
		}
	}
	return b.String()
}

// workerPIDs lists the worker processes a supervisor started, from its pid files.
func (c *testCluster) workerPIDs(sup string) []int {
	files, _ := filepath.Glob(filepath.Join(c.supDir[sup], "workers", "*", "*", "worker.pid"))
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var pf struct {
			PID int `json:"pid"`
		}
		if json.Unmarshal(b, &pf) == nil && pf.PID > 0 && syscall.Kill(pf.PID, 0) == nil {
			pids = append(pids, pf.PID)
		}
	}
	return pids
}

type describedWorker struct {
	Supervisor string `json:"supervisor"`
	Port       int    `json:"port"`
	Tasks      []int  `json:"tasks"`
	Alive      bool   `json:"alive"`
}

// workers is what `sparsectl describe --json` says about a topology's workers.
func (c *testCluster) workers(name string) ([]describedWorker, error) {
	out, err := c.ctl("describe", name, "--json")
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	var d struct {
		Workers []describedWorker `json:"workers"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		return nil, fmt.Errorf("describe --json is not JSON: %v\n%s", err, out)
	}
	return d.Workers, nil
}

type leaderInfo struct {
	ID      string `json:"leader_id"`
	Address string `json:"leader_address"`
}

func (c *testCluster) leader() (leaderInfo, error) {
	var l leaderInfo
	out, err := c.ctl("leader", "--json")
	if err != nil {
		return l, fmt.Errorf("%v: %s", err, out)
	}
	err = json.Unmarshal([]byte(out), &l)
	return l, err
}

func acked(t *testing.T, dir string) int {
	ids, _ := ackedIDs(t, dir)
	return len(ids)
}

func wordcountOpts(n int, state string) []string {
	return []string{"-o", fmt.Sprintf("wordcount.sentences=%d", n), "-o", "wordcount.state.dir=" + state,
		"-o", "topology.message.timeout.secs=5", "-o", "topology.max.spout.pending=500"}
}

// TestClusterSubmitExactCounts: submit wordcount to a nimbus with two supervisors; every
// sentence is acked; killing the topology stops its workers cleanly and their counts are
// exact; describe and list show what runs where.
func TestClusterSubmitExactCounts(t *testing.T) {
	const n = 5000
	c := newTestCluster(t, []string{"n1"}, map[string]int{"s1": 2, "s2": 2})
	c.waitFor("two supervisors registered", time.Minute, func() bool {
		out, err := c.ctl("supervisors")
		return err == nil && strings.Contains(out, "s1") && strings.Contains(out, "s2")
	})
	before := map[string]dirSize{}
	for id, dir := range c.supDir {
		before[id] = usage(t, dir)
	}
	out := c.mustCtl(append([]string{"submit", bins.wordcount, "--name", "wc", "--workers", "2"}, wordcountOpts(n, c.state)...)...)
	t.Logf("submit: %s", strings.TrimSpace(out))
	c.waitFor("every sentence acked", 3*time.Minute, func() bool { return acked(t, c.state) >= n })

	ws, err := c.workers("wc")
	if err != nil {
		t.Fatal(err)
	}
	sups := map[string]bool{}
	for _, w := range ws {
		sups[w.Supervisor] = true
	}
	if len(ws) != 2 || len(sups) != 2 {
		t.Errorf("describe shows workers %+v; want 2 workers on 2 supervisors", ws)
	}
	if out := c.mustCtl("list"); !strings.Contains(out, "wc") {
		t.Errorf("list does not show wc:\n%s", out)
	}
	c.mustCtl("kill", "wc", "--wait=1s")
	c.waitFor("the count tasks wrote their counts", time.Minute, func() bool {
		files, _ := filepath.Glob(filepath.Join(c.state, "counts-*.json"))
		return len(files) == 3
	})
	got := map[string]int64{}
	files, _ := filepath.Glob(filepath.Join(c.state, "counts-*.json"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		var m map[string]int64
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for w, k := range m {
			got[w] += k
		}
	}
	want := expectedCounts(n)
	for w, k := range want {
		if got[w] != k {
			t.Errorf("count of %q = %d, want %d", w, got[w], k)
		}
	}
	c.waitFor("the topology is gone", time.Minute, func() bool {
		out, err := c.ctl("list")
		return err == nil && !strings.Contains(out, "wc")
	})

	// Submitted and killed once more, the topologies leave nothing on the nodes: once
	// the cleanup grace has passed, each supervisor's data directory holds what it held
	// before the first submission.
	again := filepath.Join(c.dir, "state-again")
	if err := os.Mkdir(again, 0o755); err != nil {
		t.Fatal(err)
	}
	c.mustCtl(append([]string{"submit", bins.wordcount, "--name", "wc-again", "--workers", "2"}, wordcountOpts(100, again)...)...)
	c.waitFor("the second topology's sentences acked", 2*time.Minute, func() bool { return acked(t, again) >= 100 })
	for id, dir := range c.supDir {
		if u := usage(t, dir); u.files <= before[id].files {
			t.Errorf("supervisor %s holds %d files while it runs a worker; want its artifact, worker files and log", id, u.files)
		}
	}
	c.mustCtl("kill", "wc-again", "--wait=1s")
	for id, dir := range c.supDir {
		var now dirSize
		c.waitFor("supervisor "+id+"'s data directory to return to its size", time.Minute, func() bool {
			now = usage(t, dir)
			return now.files == before[id].files && now.bytes == before[id].bytes
		})
		t.Logf("supervisor %s: %d files, %d bytes before the submissions and after the kills", id, now.files, now.bytes)
	}
}

// dirSize is what a directory tree holds.
type dirSize struct {
	files int
	bytes int64
}

// usage sums the regular files under dir; what a daemon removes meanwhile is not counted.
func usage(t *testing.T, dir string) dirSize {
	t.Helper()
	var u dirSize
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
			u.files++
			u.bytes += info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestClusterFailures: with two nimbuses and three supervisors, a long wordcount run
// survives, in turn, a SIGKILLed worker, a SIGKILLed supervisor (whose orphaned workers
// then stop by themselves), a SIGKILLed leader nimbus, and a rebalance from 2 to 3
// workers; in the end every sentence is acked.
func TestClusterFailures(t *testing.T) {
	const n, rate = 80000, 2000 // 40 seconds of sentences: every step happens under load
	c := newTestCluster(t, []string{"n1", "n2"}, map[string]int{"s1": 2, "s2": 2, "s3": 2})
	c.waitFor("three supervisors registered", time.Minute, func() bool {
		out, err := c.ctl("supervisors")
		return err == nil && strings.Contains(out, "s1") && strings.Contains(out, "s2") && strings.Contains(out, "s3")
	})
	c.mustCtl(append([]string{"submit", bins.wordcount, "--name", "wc", "--workers", "2", "-o", fmt.Sprintf("wordcount.rate=%d", rate)},
		wordcountOpts(n, c.state)...)...)
	progress := func(what string, more int) {
		t.Helper()
		from := acked(t, c.state)
		c.waitFor(what, 3*time.Minute, func() bool { a := acked(t, c.state); return a >= from+more || a >= n })
		a := acked(t, c.state)
		t.Logf("%s: %d of %d acked", what, a, n)
		if a >= n {
			t.Fatalf("%s: the run was over before this step; it did not happen under load", what)
		}
	}
	progress("started", 2000)

	// 1. A worker dies: its supervisor restarts it.
	var victim int
	var victimSup string
	for _, s := range []string{"s1", "s2", "s3"} {
		if pids := c.workerPIDs(s); len(pids) > 0 {
			victim, victimSup = pids[0], s
			break
		}
	}
	if victim == 0 {
		t.Fatalf("no worker process found%s", c.logs())
	}
	_ = syscall.Kill(victim, syscall.SIGKILL)
	c.waitFor("the killed worker restarted", time.Minute, func() bool {
		for _, p := range c.workerPIDs(victimSup) {
			if p != victim {
				return true
			}
		}
		return false
	})
	progress("after a worker was killed", 2000)

	// 2. A supervisor dies: nimbus moves its workers to the other supervisors, and the
	// orphaned workers stop by themselves once no supervisor vouches for them.
	var node string
	for _, s := range []string{"s1", "s2", "s3"} {
		if len(c.workerPIDs(s)) > 0 {
			node = s
			break
		}
	}
	orphans := c.workerPIDs(node)
	_ = c.sups[node].cmd.Process.Signal(syscall.SIGKILL)
	<-c.sups[node].exited
	t.Logf("killed supervisor %s; it ran %d workers", node, len(orphans))
	alive := func(want int, avoid string) bool {
		ws, err := c.workers("wc")
		if err != nil {
			return false
		}
		n := 0
		for _, w := range ws {
			if w.Supervisor == avoid {
				return false
			}
			if w.Alive {
				n++
			}
		}
		return n == want
	}
	c.waitFor("the workers moved to the other supervisors", 2*time.Minute, func() bool { return alive(2, node) })
	progress("after a supervisor died", 2000)
	c.waitFor("the orphaned workers stopped", time.Minute, func() bool {
		for _, p := range orphans {
			if syscall.Kill(p, 0) == nil {
				return false
			}
		}
		return true
	})

	// 3. The leader nimbus dies: the standby leads, sparsectl finds it, processing goes on.
	lead, err := c.leader()
	if err != nil || c.nimbus[lead.ID] == nil {
		t.Fatalf("leader: %+v %v", lead, err)
	}
	c.nimbus[lead.ID].kill()
	delete(c.nimbusAt, lead.ID)
	c.waitFor("the standby leads", time.Minute, func() bool {
		l, err := c.leader()
		return err == nil && l.ID != lead.ID && l.ID != ""
	})
	if out := c.mustCtl("list"); !strings.Contains(out, "wc") {
		t.Errorf("list against the new leader does not show wc:\n%s", out)
	}
	progress("after the leader nimbus died", 2000)

	// 4. Rebalance from 2 to 3 workers under load.
	c.mustCtl("rebalance", "wc", "-n", "3", "--wait=1s")
	c.waitFor("three workers after the rebalance", 2*time.Minute, func() bool { return alive(3, "") })
	c.waitFor("every sentence acked", 5*time.Minute, func() bool { return acked(t, c.state) >= n })
	ids, lines := ackedIDs(t, c.state)
	t.Logf("every one of %d sentences acked (%d ack-log lines)", len(ids), lines)
}

// TestClusterRefusesBadSubmissions: an invalid topology and a corrupted artifact are
// refused with errors that say what is wrong, and nothing is stored.
func TestClusterRefusesBadSubmissions(t *testing.T) {
	c := newTestCluster(t, []string{"n1"}, nil)
	conn := c.dialNimbus("n1")
	var err error
	client := sparsev1.NewNimbusClient(conn)
	artifact := []byte("#!/bin/sh\necho not really a topology\n")
	sum := sha256.Sum256(artifact)
	good := &sparsev1.TopologySpec{Name: "t", Components: []*sparsev1.ComponentSpec{
		{Id: "s", Kind: "spout", Parallelism: 1, Tasks: 1, Streams: []*sparsev1.StreamSpec{{Id: "default", Fields: []string{"x"}}}},
		{Id: "b", Kind: "bolt", Parallelism: 1, Tasks: 1, Inputs: []*sparsev1.Input{{Component: "s", Stream: "default", Grouping: &sparsev1.Grouping{Type: "fields", Fields: []string{"y"}}}}},
	}}
	submit := func(spec *sparsev1.TopologySpec, digest string, body []byte) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var st grpc.ClientStreamingClient[sparsev1.SubmitRequest, sparsev1.SubmitReply]
		for {
			st, err = client.Submit(ctx, grpc.WaitForReady(true))
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("cannot reach nimbus: %v", err)
			}
		}
		if err := st.Send(&sparsev1.SubmitRequest{Body: &sparsev1.SubmitRequest_Header{Header: &sparsev1.SubmitHeader{
			Name: spec.GetName(), Spec: spec, ArtifactSha256: digest, ArtifactSize: int64(len(artifact)), Kind: sparsev1.ArtifactKind_ARTIFACT_KIND_GO_BINARY,
		}}}); err != nil {
			return err
		}
		_ = st.Send(&sparsev1.SubmitRequest{Body: &sparsev1.SubmitRequest_Chunk{Chunk: body}})
		_, err := st.CloseAndRecv()
		return err
	}
	// Wait for a leader before judging refusals.
	c.waitFor("a leader", time.Minute, func() bool {
		l, err := c.leader()
		return err == nil && l.ID != ""
	})
	err = submit(good, hex.EncodeToString(sum[:]), artifact)
	if err == nil || !strings.Contains(err.Error(), `field "y"`) && !strings.Contains(err.Error(), `"y"`) {
		t.Errorf("an invalid topology (fields grouping on an undeclared field) was not refused clearly: %v", err)
	}
	good.Components[1].Inputs[0].Grouping.Fields = []string{"x"}
	corrupt := append([]byte(nil), artifact...)
	corrupt[3] ^= 0xff
	err = submit(good, hex.EncodeToString(sum[:]), corrupt)
	if err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("a corrupted artifact was not refused clearly: %v", err)
	}
	out := c.mustCtl("list", "--json")
	if strings.Contains(out, `"t"`) || strings.Contains(out, `"name"`) {
		t.Errorf("a refused topology was stored:\n%s", out)
	}
	blobs, _ := filepath.Glob(filepath.Join(c.dir, "nimbus-n1", "blobs", "*"))
	for _, b := range blobs {
		if fi, err := os.Stat(b); err == nil && !fi.IsDir() {
			t.Errorf("a refused artifact was stored: %s", b)
		}
	}
}

// dialNimbus is a gRPC connection to nimbus id as sparsectl makes it: with the
// cluster's client certificate and the admin token when the cluster has them.
func (c *testCluster) dialNimbus(id string) *grpc.ClientConn {
	c.t.Helper()
	creds := insecure.NewCredentials()
	if c.tls != nil {
		store, err := tlsconf.Load(tlsconf.Files{CA: c.tls.file("ca"), Cert: c.tls.file("client-ops"), Key: c.tls.file("client-ops-key")}, nil)
		if err != nil {
			c.t.Fatal(err)
		}
		creds = store.ClientCredentials(tlsconf.RoleServer, true)
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if c.token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer(c.token)))
	}
	conn, err := grpc.NewClient(c.nimbusAt[id], opts...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// bearer sends an API token with every call, as sparsectl does.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return true }
