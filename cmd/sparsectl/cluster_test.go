//go:build unix

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/ctl"
	"github.com/sparsestream/sparse/internal/specpb"
	"github.com/sparsestream/sparse/internal/wire"
	"github.com/sparsestream/sparse/pkg/topology"
)

// These tests run sparsectl's cluster commands in-process against an in-test Nimbus
// server on loopback: a fixture that records what it receives and answers with canned
// replies (nimbusd itself is tested with real processes elsewhere). A standby fixture
// refuses state-changing calls the way nimbusd does, naming the leader.

// upload is one Submit the fixture received.
type upload struct {
	header *sparsev1.SubmitHeader
	data   []byte
	chunks int
}

type fakeNimbus struct {
	sparsev1.UnimplementedNimbusServer
	id       string
	leader   *fakeNimbus // nil: this one leads
	addr     string
	describe *sparsev1.TopologyDescription
	// aliveAfter: Describe reports the workers alive from this call on (--wait-active).
	aliveAfter int

	mu          sync.Mutex
	uploads     []upload
	refused     int // state-changing calls refused as a standby
	kills       []*sparsev1.KillRequest
	rebalances  []*sparsev1.RebalanceRequest
	activated   []string
	deactivated []string
	describes   int
}

func (n *fakeNimbus) notLeader() error {
	n.mu.Lock()
	n.refused++
	n.mu.Unlock()
	return status.Errorf(codes.FailedPrecondition, "not the leader; the leader is nimbus %s at %s", n.leader.id, n.leader.addr)
}

func (n *fakeNimbus) Submit(stream grpc.ClientStreamingServer[sparsev1.SubmitRequest, sparsev1.SubmitReply]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	h := first.GetHeader()
	if h == nil {
		return status.Error(codes.InvalidArgument, "the first message must be a header")
	}
	if n.leader != nil {
		return n.notLeader()
	}
	var data bytes.Buffer
	chunks := 0
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if m.GetChunk() == nil {
			return status.Error(codes.InvalidArgument, "a second header")
		}
		if len(m.GetChunk()) > ctl.ChunkSize {
			return status.Errorf(codes.InvalidArgument, "chunk of %d bytes", len(m.GetChunk()))
		}
		chunks++
		data.Write(m.GetChunk())
	}
	sum := sha256.Sum256(data.Bytes())
	if hex.EncodeToString(sum[:]) != h.GetArtifactSha256() || int64(data.Len()) != h.GetArtifactSize() {
		return status.Error(codes.InvalidArgument, "artifact does not match its sha256 or size")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.uploads = append(n.uploads, upload{header: h, data: data.Bytes(), chunks: chunks})
	return stream.SendAndClose(&sparsev1.SubmitReply{TopologyId: h.GetName() + "-1700000000"})
}

func (n *fakeNimbus) Kill(_ context.Context, r *sparsev1.KillRequest) (*sparsev1.KillReply, error) {
	if n.leader != nil {
		return nil, n.notLeader()
	}
	if r.GetName() == "nope" {
		return nil, status.Error(codes.NotFound, `no topology is named "nope"; sparsectl list shows the running ones`)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.kills = append(n.kills, r)
	return &sparsev1.KillReply{}, nil
}

func (n *fakeNimbus) Activate(_ context.Context, r *sparsev1.TopologyRef) (*sparsev1.StatusReply, error) {
	if n.leader != nil {
		return nil, n.notLeader()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.activated = append(n.activated, r.GetName())
	return &sparsev1.StatusReply{}, nil
}

func (n *fakeNimbus) Deactivate(_ context.Context, r *sparsev1.TopologyRef) (*sparsev1.StatusReply, error) {
	if n.leader != nil {
		return nil, n.notLeader()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.deactivated = append(n.deactivated, r.GetName())
	return &sparsev1.StatusReply{}, nil
}

func (n *fakeNimbus) Rebalance(_ context.Context, r *sparsev1.RebalanceRequest) (*sparsev1.StatusReply, error) {
	if n.leader != nil {
		return nil, n.notLeader()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.rebalances = append(n.rebalances, r)
	return &sparsev1.StatusReply{}, nil
}

func (n *fakeNimbus) List(context.Context, *sparsev1.ListRequest) (*sparsev1.ListReply, error) {
	return &sparsev1.ListReply{Topologies: []*sparsev1.TopologySummary{n.describe.GetSummary()}}, nil
}

func (n *fakeNimbus) Describe(_ context.Context, r *sparsev1.TopologyRef) (*sparsev1.TopologyDescription, error) {
	s := n.describe.GetSummary()
	if r.GetName() != s.GetName() && r.GetName() != s.GetId() {
		return nil, status.Errorf(codes.NotFound, "no topology is named %q", r.GetName())
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.describes++
	if n.aliveAfter == 0 {
		return n.describe, nil
	}
	d := &sparsev1.TopologyDescription{Summary: s}
	for _, w := range n.describe.GetWorkers() {
		d.Workers = append(d.Workers, &sparsev1.WorkerDescription{Id: w.GetId(), Alive: n.describes >= n.aliveAfter})
	}
	return d, nil
}

func (n *fakeNimbus) ListSupervisors(context.Context, *sparsev1.ListSupervisorsRequest) (*sparsev1.ListSupervisorsReply, error) {
	return &sparsev1.ListSupervisorsReply{Supervisors: []*sparsev1.SupervisorDescription{
		{Id: "node-a", Host: "10.0.0.3", Slots: []int32{6700, 6701}, UsedSlots: []int32{6700}, UptimeSecs: 61},
	}}, nil
}

func (n *fakeNimbus) Leader(context.Context, *sparsev1.LeaderRequest) (*sparsev1.LeaderReply, error) {
	if n.leader != nil {
		return &sparsev1.LeaderReply{LeaderId: n.leader.id, LeaderAddress: n.leader.addr}, nil
	}
	return &sparsev1.LeaderReply{LeaderId: n.id, LeaderAddress: n.addr, IsLeader: true}, nil
}

func (n *fakeNimbus) snapshot() fakeNimbus {
	n.mu.Lock()
	defer n.mu.Unlock()
	return fakeNimbus{uploads: n.uploads, refused: n.refused, kills: n.kills, rebalances: n.rebalances,
		activated: n.activated, deactivated: n.deactivated, describes: n.describes}
}

// startNimbus serves n on a loopback port until the test ends.
func startNimbus(t *testing.T, n *fakeNimbus, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.addr = lis.Addr().String()
	if n.describe == nil {
		n.describe = testDescription()
	}
	s := grpc.NewServer(opts...)
	sparsev1.RegisterNimbusServer(s, n)
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(lis) }()
	t.Cleanup(func() { s.Stop(); <-done })
	return n.addr
}

// cluster is a leader and a standby that names it.
func cluster(t *testing.T) (leader, standby *fakeNimbus) {
	leader = &fakeNimbus{id: "nimbus-1"}
	startNimbus(t, leader)
	standby = &fakeNimbus{id: "nimbus-2", leader: leader}
	startNimbus(t, standby)
	return leader, standby
}

func testDescription() *sparsev1.TopologyDescription {
	return &sparsev1.TopologyDescription{
		Summary: &sparsev1.TopologySummary{Id: "wc-1700000000", Name: "wc", Status: "active", Workers: 2, RequestedWorkers: 2,
			Executors: 3, Tasks: 4, UptimeSecs: 3725},
		Components: []*sparsev1.ComponentDescription{
			{Id: "sentences", Kind: "spout", Executors: 1, Tasks: []int32{1}},
			{Id: "split", Kind: "bolt", Executors: 2, Tasks: []int32{2, 3}},
			{Id: "__acker", Kind: "acker", Executors: 1, Tasks: []int32{4}},
		},
		Workers: []*sparsev1.WorkerDescription{
			{Id: "node-a:6700", Supervisor: "node-a", Host: "10.0.0.3", Port: 6700, Tasks: []int32{1, 2, 4}, Alive: true, UptimeSecs: 3700},
			{Id: "node-b:6700", Supervisor: "node-b", Host: "10.0.0.4", Port: 6700, Tasks: []int32{3}, Alive: true, UptimeSecs: 3700},
		},
		ArtifactSha256: strings.Repeat("0f", 32),
		Config: map[string]*sparsev1.Value{
			"topology.workers":              {Kind: &sparsev1.Value_IntValue{IntValue: 2}},
			"topology.message.timeout.secs": {Kind: &sparsev1.Value_IntValue{IntValue: 45}},
		},
		AssignmentVersion: 4,
	}
}

// ctlResult is one in-process run of sparsectl.
type ctlResult struct {
	stdout, stderr string
	err            error
}

// isolate keeps the user's environment and config files away from a test.
func isolate(t *testing.T) {
	t.Setenv(ctl.EnvNimbus, "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Chdir(t.TempDir())
}

// sparsectlIn runs sparsectl's root command in this process.
func sparsectlIn(t *testing.T, args ...string) ctlResult {
	t.Helper()
	root := rootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return ctlResult{stdout: out.String(), stderr: errOut.String(), err: err}
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	return mustRunBoth(t, args...).stdout
}

func mustRunBoth(t *testing.T, args ...string) ctlResult {
	t.Helper()
	r := sparsectlIn(t, args...)
	if r.err != nil {
		t.Fatalf("sparsectl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.err, r.stdout, r.stderr)
	}
	return r
}

func mustFail(t *testing.T, want []string, args ...string) {
	t.Helper()
	r := sparsectlIn(t, args...)
	if r.err == nil {
		t.Fatalf("sparsectl %s succeeded, want an error\nstdout:\n%s", strings.Join(args, " "), r.stdout)
	}
	for _, w := range want {
		if !strings.Contains(r.err.Error(), w) {
			t.Errorf("sparsectl %s: error does not say %q:\n%v", strings.Join(args, " "), w, r.err)
		}
	}
}

// specJSON is what the fake topology binary describes.
const specJSON = `{
  "name": "wc",
  "config": {"topology.max.spout.pending": 2000, "app.ratio": 0.5, "app.tags": ["a", 1]},
  "components": [
    {"id": "sentences", "kind": "spout", "parallelism": 1, "tasks": 1,
     "streams": [{"id": "default", "fields": ["sentence"]}]},
    {"id": "split", "kind": "bolt", "parallelism": 2, "tasks": 4,
     "inputs": [{"component": "sentences", "stream": "default", "grouping": {"type": "fields", "fields": ["sentence"]}}],
     "streams": [{"id": "default", "fields": ["word"]}],
     "config": {"split.lower": true}}
  ]
}`

// fakeTopology writes an executable that answers `describe` like a topology binary,
// padded to padding bytes so that it is uploaded in several chunks.
func fakeTopology(t *testing.T, describe string, padding int) string {
	t.Helper()
	script := "#!/bin/sh\nif [ \"$1\" = describe ]; then\ncat <<'EOF'\n" + describe + "\nEOF\nexit 0\nfi\necho \"unknown command $1\" >&2\nexit 2\n"
	if padding > len(script) {
		script += "#" + strings.Repeat("x", padding-len(script)-2) + "\n"
	}
	path := filepath.Join(t.TempDir(), "topology")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSubmit: submit describes the binary, sends the spec with the overrides and the
// binary in 1 MiB chunks whose sha256 matches the header, through a standby to the
// leader, and prints the topology id.
func TestSubmit(t *testing.T) {
	isolate(t)
	leader, standby := cluster(t)
	bin := fakeTopology(t, specJSON, 2*ctl.ChunkSize+12345)
	want, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, "submit", bin, "--nimbus", standby.addr, "--workers", "3",
		"-o", "topology.message.timeout.secs=60", "-o", "app.env=prod", "-o", `app.list=[1,"x"]`)
	sum := sha256.Sum256(want)
	hexSum := hex.EncodeToString(sum[:])
	wantOut := fmt.Sprintf("submitted topology wc as wc-1700000000 (artifact sha256 %s, %d bytes, to nimbus %s)\n", hexSum, len(want), leader.addr)
	if out != wantOut {
		t.Errorf("submit printed %q, want %q", out, wantOut)
	}
	if s := standby.snapshot(); s.refused != 1 || len(s.uploads) != 0 {
		t.Errorf("standby refused %d calls and stored %d uploads, want 1 and 0", s.refused, len(s.uploads))
	}
	s := leader.snapshot()
	if len(s.uploads) != 1 {
		t.Fatalf("leader received %d uploads, want 1", len(s.uploads))
	}
	u := s.uploads[0]
	if !bytes.Equal(u.data, want) || u.chunks != 3 {
		t.Errorf("leader received %d bytes in %d chunks, want the %d bytes of the binary in 3", len(u.data), u.chunks, len(want))
	}
	h := u.header
	if h.GetName() != "wc" || h.GetArtifactSha256() != hexSum || h.GetArtifactSize() != int64(len(want)) || h.GetKind() != sparsev1.ArtifactKind_ARTIFACT_KIND_GO_BINARY {
		t.Errorf("header = name %q sha256 %s size %d kind %v", h.GetName(), h.GetArtifactSha256(), h.GetArtifactSize(), h.GetKind())
	}
	conf, err := wire.MapFromProto(h.GetConfig())
	if err != nil {
		t.Fatal(err)
	}
	wantConf := map[string]any{"topology.workers": int64(3), "topology.message.timeout.secs": int64(60), "app.env": "prod", "app.list": []any{int64(1), "x"}}
	if !reflect.DeepEqual(conf, wantConf) {
		t.Errorf("header config = %v, want %v", conf, wantConf)
	}
	spec, err := specpb.SpecFromProto(h.GetSpec())
	if err != nil {
		t.Fatal(err)
	}
	if err := topology.ValidateShape(spec); err != nil {
		t.Errorf("the submitted spec does not validate: %v", err)
	}
	if v := spec.Config[topology.ConfMaxSpoutPending]; v != int64(2000) {
		t.Errorf("spec config %s = %#v, want int64(2000)", topology.ConfMaxSpoutPending, v)
	}
	split := spec.Component("split")
	if split == nil || split.Tasks != 4 || split.Parallelism != 2 || split.Inputs[0].Grouping.Type != "fields" || split.Config["split.lower"] != true {
		t.Errorf("split = %+v", split)
	}

	// --name and --json.
	out = mustRun(t, "submit", bin, "--nimbus", leader.addr, "--name", "wc-test", "--json")
	var res ctl.SubmitResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("submit --json printed %q: %v", out, err)
	}
	if res.TopologyID != "wc-test-1700000000" || res.Name != "wc-test" || res.ArtifactSHA256 != hexSum || res.Nimbus != leader.addr {
		t.Errorf("submit --json = %+v", res)
	}
	if u := leader.snapshot().uploads[1]; u.header.GetName() != "wc-test" || u.header.GetConfig() != nil {
		t.Errorf("second upload: name %q config %v, want wc-test and no overrides", u.header.GetName(), u.header.GetConfig())
	}
}

// TestSubmitWaitActive: --wait-active polls describe until every worker is alive.
func TestSubmitWaitActive(t *testing.T) {
	isolate(t)
	n := &fakeNimbus{id: "nimbus-1", aliveAfter: 3}
	n.describe = testDescription()
	n.describe.Summary.Id = "wc-1700000000"
	startNimbus(t, n)
	out := mustRun(t, "submit", fakeTopology(t, specJSON, 0), "--nimbus", n.addr, "--wait-active", "--wait-timeout", "30s")
	if !strings.Contains(out, "topology wc-1700000000 is active with 2 workers") {
		t.Errorf("submit --wait-active printed:\n%s", out)
	}
	if d := n.snapshot().describes; d < 3 {
		t.Errorf("described %d times, want at least 3", d)
	}

	n2 := &fakeNimbus{id: "nimbus-1", aliveAfter: 1 << 30}
	startNimbus(t, n2)
	mustFail(t, []string{"topology wc-1700000000 is not running yet: 2 of 2 workers are not alive yet (node-a:6700, node-b:6700)", "see sparsectl describe wc-1700000000"},
		"submit", fakeTopology(t, specJSON, 0), "--nimbus", n2.addr, "--wait-active", "--wait-timeout", "1500ms")
}

// TestSubmitRefusals: what is not a topology binary, or not a valid topology, is
// refused before anything is uploaded, and says why.
func TestSubmitRefusals(t *testing.T) {
	isolate(t)
	n := &fakeNimbus{id: "nimbus-1"}
	startNimbus(t, n)
	dir := t.TempDir()
	notTopology := filepath.Join(dir, "tool")
	if err := os.WriteFile(notTopology, []byte("#!/bin/sh\necho \"unknown command: $1\" >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	chatty := filepath.Join(dir, "chatty")
	if err := os.WriteFile(chatty, []byte("#!/bin/sh\necho hello\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	invalid := fakeTopology(t, `{"name": "bad", "components": [{"id": "b", "kind": "bolt", "parallelism": 1, "tasks": 1}]}`, 0)
	good := fakeTopology(t, specJSON, 0)
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{notTopology}, []string{notTopology + " is not a sparse topology binary: `" + notTopology + " describe` failed: exit status 3; its stderr: unknown command: describe"}},
		{[]string{chatty}, []string{chatty + " is not a sparse topology binary: `" + chatty + " describe` printed no topology spec", "its output: hello"}},
		{[]string{plain}, []string{plain + " is not executable"}},
		{[]string{dir}, []string{dir + " is a directory; build the topology first"}},
		{[]string{filepath.Join(dir, "missing")}, []string{"missing: no such file; pass a topology binary"}},
		{[]string{invalid}, []string{invalid + ` cannot be submitted: topology "bad" is invalid`, "the topology has no spout"}},
		{[]string{good, "-o", "topology.workers=0"}, []string{"config topology.workers is 0; it must be at least 1"}},
		{[]string{good, "-o", "novalue"}, []string{`option "novalue" is not key=value`}},
		{[]string{good, "--workers", "0"}, []string{"--workers 0: give a number of workers of at least 1"}},
		{[]string{good, "--name", "no spaces"}, []string{`topology name "no spaces" may only use letters`}},
	}
	for _, tc := range cases {
		mustFail(t, tc.want, append(append([]string{"submit"}, tc.args...), "--nimbus", n.addr)...)
	}
	if u := n.snapshot().uploads; len(u) != 0 {
		t.Errorf("nimbus received %d uploads, want none", len(u))
	}
}

// TestKill: --wait maps to wait_secs (-1: the message timeout, which describe tells),
// through a standby.
func TestKill(t *testing.T) {
	isolate(t)
	leader, standby := cluster(t)
	cases := []struct {
		args     []string
		secs     int32
		progress string
	}{
		{nil, -1, "killing topology wc: its spouts are deactivated, and its workers stop after 45s (its message timeout)\n"},
		{[]string{"--wait"}, -1, "after 45s (its message timeout)"},
		{[]string{"--wait=0"}, 0, "workers stop at once"},
		{[]string{"--wait=10s"}, 10, "workers stop after 10s"},
		{[]string{"--wait=7"}, 7, "workers stop after 7s"},
	}
	for i, tc := range cases {
		r := mustRunBoth(t, append([]string{"kill", "wc", "--nimbus", standby.addr}, tc.args...)...)
		if r.stdout != "killed topology wc\n" || !strings.Contains(r.stderr, tc.progress) {
			t.Errorf("kill %v printed %q and %q, want \"killed topology wc\" and %q", tc.args, r.stdout, r.stderr, tc.progress)
		}
		ks := leader.snapshot().kills
		if len(ks) != i+1 || ks[i].GetName() != "wc" || ks[i].GetWaitSecs() != tc.secs {
			t.Errorf("kill %v: leader got %v, want wait_secs %d", tc.args, ks, tc.secs)
		}
	}
	mustFail(t, []string{`--wait takes its value after "=": write --wait=10s`}, "kill", "wc", "--wait", "10s", "--nimbus", leader.addr)
	mustFail(t, []string{"nimbus " + leader.addr + `: no topology is named "nope"; sparsectl list shows the running ones`}, "kill", "nope", "--wait=0", "--nimbus", standby.addr)
	mustFail(t, []string{"nimbus " + standby.addr + `: no topology is named "nope"`}, "kill", "nope", "--nimbus", standby.addr)
	mustFail(t, []string{`invalid argument "soon" for "--wait" flag`}, "kill", "wc", "--wait=soon", "--nimbus", leader.addr)
}

// TestActivateDeactivateRebalance: the state-changing commands reach the leader.
func TestActivateDeactivateRebalance(t *testing.T) {
	isolate(t)
	leader, standby := cluster(t)
	if out := mustRun(t, "activate", "wc", "--nimbus", standby.addr); out != "activated topology wc\n" {
		t.Errorf("activate printed %q", out)
	}
	if out := mustRun(t, "deactivate", "wc", "--nimbus", standby.addr); !strings.HasPrefix(out, "deactivated topology wc") {
		t.Errorf("deactivate printed %q", out)
	}
	r := mustRunBoth(t, "rebalance", "wc", "-n", "4", "-e", "split=3", "--executors", "count=2", "--wait", "5s", "--nimbus", standby.addr)
	if want := "rebalanced topology wc to 4 workers, count=2 executors, split=3 executors; sparsectl describe wc shows its new workers\n"; r.stdout != want {
		t.Errorf("rebalance printed %q, want %q", r.stdout, want)
	}
	if want := "rebalancing topology wc to 4 workers, count=2 executors, split=3 executors: it is deactivated, and moves after 5s\n"; r.stderr != want {
		t.Errorf("rebalance progress %q, want %q", r.stderr, want)
	}
	r = mustRunBoth(t, "rebalance", "wc", "--nimbus", standby.addr)
	if !strings.Contains(r.stderr, "to the same workers and executors: it is deactivated, and moves after 45s (its message timeout)") {
		t.Errorf("plain rebalance progress %q", r.stderr)
	}
	s := leader.snapshot()
	if len(s.activated) != 1 || s.activated[0] != "wc" || len(s.deactivated) != 1 || s.deactivated[0] != "wc" {
		t.Errorf("activated %v, deactivated %v", s.activated, s.deactivated)
	}
	if len(s.rebalances) != 2 {
		t.Fatalf("rebalances = %v", s.rebalances)
	}
	if rq := s.rebalances[0]; rq.GetName() != "wc" || rq.GetWorkers() != 4 || rq.GetWaitSecs() != 5 || len(rq.GetExecutors()) != 2 || rq.GetExecutors()["split"] != 3 || rq.GetExecutors()["count"] != 2 {
		t.Errorf("rebalance request = %v", rq)
	}
	if r := s.rebalances[1]; r.GetWorkers() != 0 || r.GetWaitSecs() != -1 || len(r.GetExecutors()) != 0 {
		t.Errorf("plain rebalance request = %v, want workers 0, wait -1, no executors", r)
	}
	if standby.snapshot().refused != 4 {
		t.Errorf("standby refused %d calls, want 4", standby.snapshot().refused)
	}
	mustFail(t, []string{`-e "split" is not component=N`}, "rebalance", "wc", "-e", "split", "--nimbus", leader.addr)
	mustFail(t, []string{"-n 0: a topology needs at least 1 worker"}, "rebalance", "wc", "-n", "0", "--nimbus", leader.addr)
}

// TestReadCommands: list, describe, supervisors and leader, as tables and as JSON,
// answered by a standby.
func TestReadCommands(t *testing.T) {
	isolate(t)
	leader, standby := cluster(t)
	out := mustRun(t, "list", "--nimbus", standby.addr)
	if !strings.HasPrefix(out, "NAME  ID             STATUS  WORKERS  EXECUTORS  TASKS  UPTIME  SCHEDULING\nwc    wc-1700000000  active  2/2      3          4      1h02m   -\n") {
		t.Errorf("list printed:\n%s", out)
	}
	var list ctl.ListJSON
	if err := json.Unmarshal([]byte(mustRun(t, "list", "--json", "--nimbus", standby.addr)), &list); err != nil || len(list.Topologies) != 1 || list.Topologies[0].UptimeSecs != 3725 {
		t.Errorf("list --json = %+v, %v", list, err)
	}

	out = mustRun(t, "describe", "wc", "--nimbus", standby.addr)
	for _, w := range []string{
		"Topology:    wc\n", "Status:      active\n", "Uptime:      1h02m\n", "Assignment:  version 4\n", "Scheduling:  fully scheduled\n",
		"split      bolt   2          2-3    node-a:6700 node-b:6700\n",
		"node-a:6700  node-a      10.0.0.3:6700  yes    1h01m   1-2,4  sentences split __acker\n",
		"  topology.message.timeout.secs  45\n", "Errors: none\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("describe does not print %q:\n%s", w, out)
		}
	}
	var d ctl.DescribeJSON
	if err := json.Unmarshal([]byte(mustRun(t, "describe", "wc-1700000000", "--json", "--nimbus", standby.addr)), &d); err != nil ||
		d.Summary.Name != "wc" || len(d.Components) != 3 || d.Config["topology.workers"] != 2.0 || d.AssignmentVersion != 4 {
		t.Errorf("describe --json = %+v, %v", d, err)
	}
	mustFail(t, []string{"nimbus " + standby.addr + `: no topology is named "other"`}, "describe", "other", "--nimbus", standby.addr)

	out = mustRun(t, "supervisors", "--nimbus", standby.addr)
	if out != "ID      HOST      SLOTS      USED  FREE  UPTIME\nnode-a  10.0.0.3  6700,6701  6700  1     1m01s\n" {
		t.Errorf("supervisors printed:\n%s", out)
	}
	var sj ctl.SupervisorsJSON
	if err := json.Unmarshal([]byte(mustRun(t, "supervisors", "--json", "--nimbus", standby.addr)), &sj); err != nil || len(sj.Supervisors) != 1 || sj.Supervisors[0].Slots[1] != 6701 {
		t.Errorf("supervisors --json = %+v, %v", sj, err)
	}

	out = mustRun(t, "leader", "--nimbus", standby.addr)
	if want := fmt.Sprintf("leader: nimbus nimbus-1 at %s (answered by %s, a standby)\n", leader.addr, standby.addr); out != want {
		t.Errorf("leader printed %q, want %q", out, want)
	}
	var l ctl.LeaderInfo
	if err := json.Unmarshal([]byte(mustRun(t, "leader", "--json", "--nimbus", leader.addr)), &l); err != nil ||
		l.LeaderID != "nimbus-1" || l.LeaderAddress != leader.addr || !l.AnsweredByLeader || l.AnsweredBy != leader.addr {
		t.Errorf("leader --json = %+v, %v", l, err)
	}
}

// TestNimbusAddresses: addresses from SPARSE_NIMBUS and from the config file's
// environments; an unreachable nimbus is skipped; the errors say what to set.
func TestNimbusAddresses(t *testing.T) {
	isolate(t)
	leader, standby := cluster(t)
	dead := func() string {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer lis.Close()
		return lis.Addr().String()
	}
	d1, d2 := dead(), dead()

	// Nothing configured.
	mustFail(t, []string{"no nimbus address is configured: pass --nimbus host:port", "set SPARSE_NIMBUS=host:port", "./sparse.json", "--env NAME"}, "list")

	// SPARSE_NIMBUS, with a dead address first.
	t.Setenv(ctl.EnvNimbus, d1+","+standby.addr)
	mustRun(t, "kill", "wc", "--wait=0")
	if n := len(leader.snapshot().kills); n != 1 {
		t.Errorf("leader got %d kills, want 1", n)
	}

	// Nothing reachable.
	t.Setenv(ctl.EnvNimbus, d1+", "+d2)
	mustFail(t, []string{"cannot reach any nimbus: " + d1 + ": connection refused; " + d2 + ": connection refused — is nimbusd running? check --nimbus / SPARSE_NIMBUS / --env (the addresses came from SPARSE_NIMBUS)"},
		"activate", "wc")

	// ./sparse.json: --env beats SPARSE_NIMBUS, and SPARSE_NIMBUS beats default_env.
	cfg := fmt.Sprintf(`{"envs": {"prod": {"nimbus": [%q, %q]}, "local": {"nimbus": %q}}, "default_env": "local"}`, d1, standby.addr, d2)
	if err := os.WriteFile("sparse.json", []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "deactivate", "wc", "--env", "prod")
	mustFail(t, []string{"cannot reach any nimbus: " + d1 + ": connection refused; " + d2, "(the addresses came from SPARSE_NIMBUS)"}, "deactivate", "wc")
	t.Setenv(ctl.EnvNimbus, "")
	mustFail(t, []string{"cannot reach any nimbus: " + d2 + ": connection refused", `(the addresses came from environment "local" of ./sparse.json)`}, "deactivate", "wc")
	mustFail(t, []string{`environment "staging" is not in config file ./sparse.json (it has: local, prod)`}, "list", "--env", "staging")

	// An explicit --config elsewhere.
	other := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(other, []byte(fmt.Sprintf(`{"envs": {"x": {"nimbus": [%q]}}}`, leader.addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "activate", "wc", "--config", other)
	if s := leader.snapshot(); len(s.deactivated) != 1 || len(s.activated) != 1 {
		t.Errorf("leader: deactivated %v, activated %v; want one each", s.deactivated, s.activated)
	}
	mustFail(t, []string{"both --nimbus and --env prod are given"}, "list", "--nimbus", leader.addr, "--env", "prod")
}

// TestSubmitWordCountBinary: a real topology binary's describe output reaches nimbus as
// a valid spec with typed config.
func TestSubmitWordCountBinary(t *testing.T) {
	bin := goBuild(t, "../../examples/wordcount", "wordcount")
	isolate(t)
	n := &fakeNimbus{id: "nimbus-1"}
	startNimbus(t, n)
	out := mustRun(t, "submit", bin, "--nimbus", n.addr, "--workers", "2")
	if !strings.Contains(out, "submitted topology wordcount as wordcount-1700000000") {
		t.Errorf("submit printed %q", out)
	}
	u := n.snapshot().uploads[0]
	spec, err := specpb.SpecFromProto(u.header.GetSpec())
	if err != nil {
		t.Fatal(err)
	}
	if err := topology.ValidateShape(spec); err != nil {
		t.Errorf("wordcount's spec does not validate after the trip: %v", err)
	}
	for _, c := range []string{"sentences", "split", "count"} {
		if spec.Component(c) == nil {
			t.Errorf("wordcount's spec has no component %q", c)
		}
	}
	if v := spec.Config[topology.ConfMaxSpoutPending]; v != int64(2000) {
		t.Errorf("%s = %#v, want int64(2000)", topology.ConfMaxSpoutPending, v)
	}
	want, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(u.data, want) || u.chunks != (len(want)+ctl.ChunkSize-1)/ctl.ChunkSize {
		t.Errorf("received %d bytes in %d chunks; the binary has %d bytes", len(u.data), u.chunks, len(want))
	}
}
