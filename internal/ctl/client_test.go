package ctl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/testutil"
)

// nimbus is a small in-test Nimbus server: a leader that records Kill calls, or a
// standby that refuses them the way nimbusd does. It is a fixture for the client, not a
// stand-in for nimbusd.
type nimbus struct {
	sparsev1.UnimplementedNimbusServer
	id         string
	leader     bool
	leaderID   string // named by a standby
	leaderAddr string // named by a standby; empty: a refusal without an address
	// answerLeader: a standby answers Leader with leaderID/leaderAddr even when its
	// refusal does not name them.
	answerLeader bool
	// electing: the first electing Kill calls answer that no nimbus leads yet.
	electing int

	mu    sync.Mutex
	kills []string
	lists int
	calls int
}

func (n *nimbus) refusal() error {
	if n.leaderAddr == "" || n.answerLeader {
		return status.Error(codes.FailedPrecondition, "not the leader; no leader is known yet")
	}
	return status.Errorf(codes.FailedPrecondition, "not the leader; the leader is nimbus %s at %s", n.leaderID, n.leaderAddr)
}

func (n *nimbus) Kill(_ context.Context, r *sparsev1.KillRequest) (*sparsev1.KillReply, error) {
	n.mu.Lock()
	n.calls++
	calls := n.calls
	n.mu.Unlock()
	if calls <= n.electing {
		return nil, status.Errorf(codes.Unavailable, "nimbus %s is not the leader, and no nimbus leads right now (an election is under way); retry in a few seconds", n.id)
	}
	if !n.leader {
		return nil, n.refusal()
	}
	if r.GetName() == "missing" {
		return nil, status.Error(codes.NotFound, `topology "missing" is not on the cluster`)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.kills = append(n.kills, fmt.Sprintf("%s/%d", r.GetName(), r.GetWaitSecs()))
	return &sparsev1.KillReply{}, nil
}

func (n *nimbus) List(context.Context, *sparsev1.ListRequest) (*sparsev1.ListReply, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lists++
	return &sparsev1.ListReply{Topologies: []*sparsev1.TopologySummary{{Name: "from-" + n.id}}}, nil
}

func (n *nimbus) Leader(context.Context, *sparsev1.LeaderRequest) (*sparsev1.LeaderReply, error) {
	if n.leader {
		return &sparsev1.LeaderReply{LeaderId: n.id, IsLeader: true}, nil
	}
	if n.answerLeader {
		return &sparsev1.LeaderReply{LeaderId: n.leaderID, LeaderAddress: n.leaderAddr}, nil
	}
	return &sparsev1.LeaderReply{}, nil
}

func (n *nimbus) killed() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.kills...)
}

// serve runs n on a loopback port until the test ends and returns its address.
func serve(t *testing.T, n *nimbus) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	sparsev1.RegisterNimbusServer(s, n)
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(lis) }()
	t.Cleanup(func() { s.Stop(); <-done })
	return lis.Addr().String()
}

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// client returns a client that does not wait for elections.
func client(t *testing.T, addrs ...string) *Client {
	t.Helper()
	return clientWaiting(t, -1, addrs...)
}

func clientWaiting(t *testing.T, electionWait time.Duration, addrs ...string) *Client {
	t.Helper()
	c, err := NewClient(addrs, ClientOptions{From: "--nimbus", ConnectTimeout: 2 * time.Second, ElectionWait: electionWait})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestCallFollowsTheLeader: a standby's refusal sends the call to the leader it names,
// even one that is not among the configured addresses; an unreachable nimbus is skipped.
func TestCallFollowsTheLeader(t *testing.T) {
	leader := &nimbus{id: "n1", leader: true}
	leaderAddr := serve(t, leader)
	standby := &nimbus{id: "n2", leaderID: "n1", leaderAddr: leaderAddr}
	standbyAddr := serve(t, standby)

	if err := client(t, deadAddr(t), standbyAddr).Kill(testutil.Context(t, 20*time.Second), "wc", -1); err != nil {
		t.Fatal(err)
	}
	if got := leader.killed(); len(got) != 1 || got[0] != "wc/-1" {
		t.Errorf("the leader got kills %v, want [wc/-1]", got)
	}

	// A standby whose refusal names no leader is asked with Leader.
	asked := &nimbus{id: "n3", leaderID: "n1", leaderAddr: leaderAddr, answerLeader: true}
	if err := client(t, serve(t, asked)).Kill(testutil.Context(t, 20*time.Second), "wc2", 0); err != nil {
		t.Fatal(err)
	}
	if got := leader.killed(); len(got) != 2 || got[1] != "wc2/0" {
		t.Errorf("the leader got kills %v, want wc2/0 last", got)
	}

	// Reads are answered by the first reachable nimbus, standby or not.
	ts, err := client(t, deadAddr(t), standbyAddr, leaderAddr).List(testutil.Context(t, 20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].GetName() != "from-n2" {
		t.Errorf("List answered by %v, want the standby n2", ts)
	}

	// The leader's own refusal is final, keeps its code and names the nimbus.
	err = client(t, standbyAddr).Kill(testutil.Context(t, 20*time.Second), "missing", 0)
	if status.Code(err) != codes.NotFound || err.Error() != `nimbus `+leaderAddr+`: topology "missing" is not on the cluster` {
		t.Errorf("Kill of a missing topology = %v (code %v)", err, status.Code(err))
	}
	var ne *NimbusError
	if !errors.As(err, &ne) || ne.Addr != leaderAddr {
		t.Errorf("error %v is not a NimbusError from %s", err, leaderAddr)
	}
}

// TestCallWaitsForElection: while a nimbus says no nimbus leads, the call is tried
// again, up to the election wait.
func TestCallWaitsForElection(t *testing.T) {
	n := &nimbus{id: "n1", leader: true, electing: 3}
	addr := serve(t, n)
	if err := clientWaiting(t, 10*time.Second, deadAddr(t), addr).Kill(testutil.Context(t, 20*time.Second), "wc", 0); err != nil {
		t.Fatal(err)
	}
	if got := n.killed(); len(got) != 1 {
		t.Errorf("kills = %v, want one after the election", got)
	}

	n = &nimbus{id: "n1", leader: true, electing: 1 << 30}
	addr = serve(t, n)
	start := time.Now()
	err := clientWaiting(t, time.Second, addr).Kill(testutil.Context(t, 20*time.Second), "wc", 0)
	want := "cannot reach the leading nimbus: " + addr + ": nimbus n1 is not the leader, and no nimbus leads right now (an election is under way); retry in a few seconds — if an election is under way"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %v\nwant it to start with %s", err, want)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %v, want about the election wait of 1s", d)
	}
}

// TestCallErrors: the final error lists every address tried and why.
func TestCallErrors(t *testing.T) {
	d1, d2 := deadAddr(t), deadAddr(t)
	err := client(t, d1, d2).Kill(testutil.Context(t, 20*time.Second), "wc", 0)
	want := "cannot reach any nimbus: " + d1 + ": connection refused; " + d2 + ": connection refused — is nimbusd running? check --nimbus / SPARSE_NIMBUS / --env (the addresses came from --nimbus)"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}

	// Something that is not a gRPC server.
	web := httptest.NewServer(http.NotFoundHandler())
	defer web.Close()
	webAddr := strings.TrimPrefix(web.URL, "http://")
	_, err = client(t, webAddr).List(testutil.Context(t, 20*time.Second))
	if want := "cannot reach any nimbus: " + webAddr + ": something answers there, but not a nimbus gRPC server ("; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v\nwant it to contain %s", err, want)
	}

	// A standby that knows no leader, and a standby whose leader is down.
	lonely := serve(t, &nimbus{id: "n2"})
	d3 := deadAddr(t)
	orphan := serve(t, &nimbus{id: "n3", leaderID: "n1", leaderAddr: d3})
	err = client(t, lonely, orphan).Kill(testutil.Context(t, 20*time.Second), "wc", 0)
	for _, w := range []string{
		"cannot reach the leading nimbus: ",
		lonely + ": a standby, and no leader is elected yet",
		orphan + ": a standby; its leader nimbus n1 at " + d3 + ": connection refused",
		"try again in a few seconds",
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error does not say %q:\n%v", w, err)
		}
	}

	// Two standbys naming each other: no loop.
	a := &nimbus{id: "a", leaderID: "b"}
	b := &nimbus{id: "b", leaderID: "a"}
	aAddr, bAddr := serve(t, a), serve(t, b)
	a.leaderAddr, b.leaderAddr = bAddr, aAddr
	err = client(t, aAddr).Kill(testutil.Context(t, 20*time.Second), "wc", 0)
	if err == nil || !strings.Contains(err.Error(), "says it is not the leader either") {
		t.Errorf("error with two standbys = %v", err)
	}

	// Running out of time stops at once.
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if err := client(t, lonely).Kill(c, "wc", 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Kill with a cancelled context = %v", err)
	}
}

func TestParseNotLeader(t *testing.T) {
	cases := []struct {
		err      error
		notLeade bool
		id, addr string
	}{
		{status.Error(codes.FailedPrecondition, "not the leader; the leader is nimbus n-1 at 10.0.0.1:6627"), true, "n-1", "10.0.0.1:6627"},
		{status.Error(codes.FailedPrecondition, "not the leader; the leader is nimbus host a at [::1]:6627."), true, "host a", "[::1]:6627"},
		{status.Error(codes.FailedPrecondition, "not the leader; no leader yet"), true, "", ""},
		{status.Error(codes.FailedPrecondition, "topology is killing"), false, "", ""},
		{status.Error(codes.Unavailable, "not the leader; the leader is nimbus x at y:1"), false, "", ""},
		{errors.New("not the leader"), false, "", ""},
		{withInfo(t, "something else", map[string]string{"leader_id": "n9", "leader_address": "h:9"}), true, "n9", "h:9"},
	}
	for _, tc := range cases {
		nl, id, addr := ParseNotLeader(tc.err)
		if nl != tc.notLeade || id != tc.id || addr != tc.addr {
			t.Errorf("ParseNotLeader(%v) = %v %q %q, want %v %q %q", tc.err, nl, id, addr, tc.notLeade, tc.id, tc.addr)
		}
	}
}

// withInfo is a FAILED_PRECONDITION with nimbusd's NOT_LEADER ErrorInfo detail.
func withInfo(t *testing.T, msg string, md map[string]string) error {
	st, err := status.New(codes.FailedPrecondition, msg).WithDetails(&errdetails.ErrorInfo{Reason: "NOT_LEADER", Domain: "sparse", Metadata: md})
	if err != nil {
		t.Fatal(err)
	}
	return st.Err()
}

func TestWaitFlag(t *testing.T) {
	cases := []struct {
		in   string
		secs int32
		err  string
	}{
		{MessageTimeout, -1, ""},
		{"", -1, ""},
		{"0", 0, ""},
		{"0s", 0, ""},
		{"10", 10, ""},
		{"1m30s", 90, ""},
		{"1500ms", 2, ""},
		{"-5s", 0, "is negative"},
		{"soon", 0, `"soon" is neither a duration`},
		{"1000000h", 0, "too long"},
	}
	for _, tc := range cases {
		w := NewWaitFlag()
		err := w.Set(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("Set(%q) = %v, want an error saying %q", tc.in, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("Set(%q): %v", tc.in, err)
		case tc.err == "" && w.WaitSecs() != tc.secs:
			t.Errorf("Set(%q) = %d s, want %d", tc.in, w.WaitSecs(), tc.secs)
		}
	}
	w := NewWaitFlag()
	if w.String() != MessageTimeout {
		t.Errorf("default wait = %q", w.String())
	}
	_ = w.Set("90")
	if w.String() != "1m30s" {
		t.Errorf("wait 90 = %q", w.String())
	}
	for _, tc := range []struct {
		req  int32
		eff  int
		want string
	}{
		{-1, 30, "after 30s (its message timeout)"},
		{-1, -1, "after its message timeout"},
		{0, 30, "at once"},
		{90, 30, "after 1m30s"},
	} {
		if got := DescribeWait(tc.req, tc.eff); got != tc.want {
			t.Errorf("DescribeWait(%d, %d) = %q, want %q", tc.req, tc.eff, got, tc.want)
		}
	}
}

func TestParseExecutors(t *testing.T) {
	got, err := ParseExecutors([]string{"split=4", " count = 2 "})
	if err != nil || len(got) != 2 || got["split"] != 4 || got["count"] != 2 {
		t.Errorf("ParseExecutors = %v, %v", got, err)
	}
	for in, want := range map[string]string{
		"split":     `-e "split" is not component=N; write for example -e split=4`,
		"=3":        `is not component=N`,
		"split=0":   `"0" is not a number of executors of at least 1`,
		"split=two": `"two" is not a number`,
	} {
		if _, err := ParseExecutors([]string{in}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseExecutors(%q) = %v, want %q", in, err, want)
		}
	}
	if _, err := ParseExecutors([]string{"a=1", "a=2"}); err == nil || !strings.Contains(err.Error(), `component "a" more than once`) {
		t.Errorf("ParseExecutors with a duplicate = %v", err)
	}
}

func TestRunning(t *testing.T) {
	alive := func(id string, ok bool) *sparsev1.WorkerDescription {
		return &sparsev1.WorkerDescription{Id: id, Alive: ok}
	}
	cases := []struct {
		d   *sparsev1.TopologyDescription
		ok  bool
		why string
	}{
		{&sparsev1.TopologyDescription{Summary: &sparsev1.TopologySummary{Status: "inactive"}}, false, `its status is "inactive"`},
		{&sparsev1.TopologyDescription{Summary: &sparsev1.TopologySummary{Status: "active", Scheduling: "no supervisors"}}, false, "no worker is assigned; scheduling: no supervisors"},
		{&sparsev1.TopologyDescription{Summary: &sparsev1.TopologySummary{Status: "active", RequestedWorkers: 2},
			Workers: []*sparsev1.WorkerDescription{alive("a", true)}}, false, "1 of 2 workers are assigned"},
		{&sparsev1.TopologyDescription{Summary: &sparsev1.TopologySummary{Status: "active", RequestedWorkers: 2},
			Workers: []*sparsev1.WorkerDescription{alive("b", false), alive("a", true)}}, false, "1 of 2 workers are not alive yet (b)"},
		{&sparsev1.TopologyDescription{Summary: &sparsev1.TopologySummary{Status: "active", RequestedWorkers: 2},
			Workers: []*sparsev1.WorkerDescription{alive("b", true), alive("a", true)}}, true, ""},
	}
	for i, tc := range cases {
		ok, why := Running(tc.d)
		if ok != tc.ok || why != tc.why {
			t.Errorf("case %d: Running = %v %q, want %v %q", i, ok, why, tc.ok, tc.why)
		}
	}
}
