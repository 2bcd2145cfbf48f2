package nimbus

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/testutil"
)

// TestEveryNimbusCallHasAnAccessRule keeps rpcAccess complete: a call added to the
// Nimbus service without a rule fails here (and is refused with ACLs on).
func TestEveryNimbusCallHasAnAccessRule(t *testing.T) {
	desc := sparsev1.Nimbus_ServiceDesc
	calls := map[string]bool{}
	for _, m := range desc.Methods {
		calls["/"+desc.ServiceName+"/"+m.MethodName] = true
	}
	for _, st := range desc.Streams {
		calls["/"+desc.ServiceName+"/"+st.StreamName] = true
	}
	for call := range calls {
		a, ok := rpcAccess[call]
		switch {
		case !ok:
			t.Errorf("%s has no entry in rpcAccess (internal/nimbus/acl.go): say which role it needs, or why it is open", call)
		case a.action == "":
			t.Errorf("%s: its rule names no action", call)
		case a.role == "" && a.open == "":
			t.Errorf("%s: its rule needs no role and says not why it is open", call)
		case a.role != "" && a.open != "":
			t.Errorf("%s: its rule both needs role %s and is open", call, a.role)
		case a.role != "" && !a.role.Valid():
			t.Errorf("%s: role %q is not a role", call, a.role)
		case a.owner && a.role != cluster.RoleDeployer:
			t.Errorf("%s: an owner rule must need role deployer, not %q", call, a.role)
		}
	}
	for call := range rpcAccess {
		if !calls[call] {
			t.Errorf("rpcAccess has %s, which the Nimbus service does not have", call)
		}
	}
}

// bearer attaches a token to every call, as sparsectl does.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearer) RequireTransportSecurity() bool { return false }

// dialToken connects with a token ("" for none).
func dialToken(t testing.TB, addr, secret string) sparsev1.NimbusClient {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if secret != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer(secret)))
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return sparsev1.NewNimbusClient(conn)
}

// logSink keeps a nimbus's JSON log lines.
type logSink struct{ testutil.SyncBuffer }

// audits are the audit lines logged so far.
func (l *logSink) audits(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(l.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["audit"] == true {
			out = append(out, m)
		}
	}
	return out
}

// hasAudit reports whether an audit line has every given field.
func (l *logSink) hasAudit(t testing.TB, fields map[string]string) bool {
	for _, m := range l.audits(t) {
		ok := true
		for k, v := range fields {
			if fmt.Sprint(m[k]) != v {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// aclNimbus starts a leading nimbus with ACLs on, logging JSON to sink too.
func aclNimbus(t testing.TB, acl bool) (*Server, *logSink) {
	cfg := fast(t, testRoot(t))
	cfg.ACL = acl
	sink := &logSink{}
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "nimbus", Level: hclog.Info, JSONFormat: true,
		Output: io.MultiWriter(testutil.LogWriter(t), sink)})
	s := startNimbus(t, cfg)
	waitLeader(t, s)
	return s, sink
}

// wantCode checks an error's code and that its message says each of want.
func wantCode(t testing.TB, what string, err error, code codes.Code, want ...string) {
	t.Helper()
	st := status.Convert(err)
	if err == nil || st.Code() != code {
		t.Errorf("%s: got %v, want %s", what, err, code)
		return
	}
	for _, w := range want {
		if !strings.Contains(st.Message(), w) {
			t.Errorf("%s: the message %q does not say %q", what, st.Message(), w)
		}
	}
}

func TestACL(t *testing.T) {
	s, sink := aclNimbus(t, true)
	ctx := testutil.Context(t, 60*time.Second)
	anon := dialToken(t, s.Addr(), "")

	// Anonymous: refused, except the daemons' calls and bootstrap.
	_, err := anon.List(ctx, &sparsev1.ListRequest{})
	wantCode(t, "anonymous list", err, codes.Unauthenticated, "list needs a token with role viewer", "SPARSE_TOKEN")
	data := artifact(1000)
	_, err = submit(ctx, anon, header(t, wordcount("anon"), data, nil), data)
	wantCode(t, "anonymous submit", err, codes.Unauthenticated, "submit needs a token with role deployer or admin")
	if _, err := anon.Leader(ctx, &sparsev1.LeaderRequest{}); err != nil {
		t.Errorf("anonymous leader (a supervisor's call): %v", err)
	}

	// Bootstrap once.
	boot, err := anon.ACLBootstrap(ctx, &sparsev1.ACLBootstrapRequest{})
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	if boot.GetToken().GetRole() != "admin" || boot.GetToken().GetName() != DefaultBootstrapName || !strings.HasPrefix(boot.GetSecret(), "sparse_") {
		t.Fatalf("bootstrap made %v", boot)
	}
	_, err = anon.ACLBootstrap(ctx, &sparsev1.ACLBootstrapRequest{Name: "again"})
	wantCode(t, "second bootstrap", err, codes.AlreadyExists, "bootstrapped already", "etcdctl del", "sparsectl token create")

	admin := dialToken(t, s.Addr(), boot.GetSecret())
	secrets := map[string]string{}
	for _, tok := range []struct{ name, role string }{{"view", "viewer"}, {"alice", "deployer"}, {"bob", "deployer"}} {
		r, err := admin.CreateToken(ctx, &sparsev1.CreateTokenRequest{Name: tok.name, Role: tok.role})
		if err != nil {
			t.Fatalf("creating token %s: %v", tok.name, err)
		}
		if r.GetToken().GetCreatedBy() != DefaultBootstrapName {
			t.Errorf("token %s created by %q", tok.name, r.GetToken().GetCreatedBy())
		}
		secrets[tok.name] = r.GetSecret()
	}
	_, err = admin.CreateToken(ctx, &sparsev1.CreateTokenRequest{Name: "alice", Role: "viewer"})
	wantCode(t, "a second token named alice", err, codes.AlreadyExists, `a token named "alice" exists`)
	_, err = admin.CreateToken(ctx, &sparsev1.CreateTokenRequest{Name: "x", Role: "owner"})
	wantCode(t, "an unknown role", err, codes.InvalidArgument, "viewer, deployer, admin")
	viewer := dialToken(t, s.Addr(), secrets["view"])
	alice := dialToken(t, s.Addr(), secrets["alice"])
	bob := dialToken(t, s.Addr(), secrets["bob"])

	// A viewer reads, and changes nothing.
	if _, err := viewer.List(ctx, &sparsev1.ListRequest{}); err != nil {
		t.Errorf("viewer list: %v", err)
	}
	if _, err := viewer.ListSupervisors(ctx, &sparsev1.ListSupervisorsRequest{}); err != nil {
		t.Errorf("viewer supervisors: %v", err)
	}
	_, err = submit(ctx, viewer, header(t, wordcount("v1"), data, nil), data)
	wantCode(t, "viewer submit", err, codes.PermissionDenied, `submit needs role deployer or admin; token "view" has viewer`)
	_, err = viewer.CreateToken(ctx, &sparsev1.CreateTokenRequest{Name: "mine", Role: "admin"})
	wantCode(t, "viewer token create", err, codes.PermissionDenied, `token create needs role admin; token "view" has viewer`)
	_, err = alice.ListTokens(ctx, &sparsev1.ListTokensRequest{})
	wantCode(t, "deployer token list", err, codes.PermissionDenied, "token list needs role admin")

	// A deployer owns what it submits.
	id, err := submit(ctx, alice, header(t, wordcount("a1"), data, nil), data)
	if err != nil {
		t.Fatalf("alice submits: %v", err)
	}
	if rec, err := s.Store().GetTopology(ctx, id); err != nil || rec.Owner != "alice" {
		t.Fatalf("the record of %s: %+v, %v", id, rec, err)
	}
	d, err := viewer.Describe(ctx, &sparsev1.TopologyRef{Name: "a1"})
	if err != nil || d.GetSummary().GetOwner() != "alice" {
		t.Errorf("viewer describe: owner %q, %v", d.GetSummary().GetOwner(), err)
	}
	_, err = viewer.Kill(ctx, &sparsev1.KillRequest{Name: "a1"})
	wantCode(t, "viewer kill", err, codes.PermissionDenied, `kill needs role deployer (owner) or admin; token "view" has viewer`)
	_, err = bob.Kill(ctx, &sparsev1.KillRequest{Name: "a1"})
	wantCode(t, "bob kills alice's", err, codes.PermissionDenied, "kill of topology "+id, `its owner, token "alice"`, `token "bob" has deployer and did not submit it`)
	_, err = bob.Deactivate(ctx, &sparsev1.TopologyRef{Name: "a1"})
	wantCode(t, "bob deactivates alice's", err, codes.PermissionDenied, "deactivate of topology")
	_, err = bob.Rebalance(ctx, &sparsev1.RebalanceRequest{Name: "a1", Workers: 2})
	wantCode(t, "bob rebalances alice's", err, codes.PermissionDenied, "rebalance of topology")
	if rec, err := s.Store().GetTopology(ctx, id); err != nil || rec.Status != cluster.StatusActive || rec.Generation != 0 {
		t.Fatalf("refused calls changed %s: %+v, %v", id, rec, err)
	}
	if _, err := alice.Deactivate(ctx, &sparsev1.TopologyRef{Name: "a1"}); err != nil {
		t.Errorf("alice deactivates her own: %v", err)
	}
	if _, err := alice.Rebalance(ctx, &sparsev1.RebalanceRequest{Name: "a1", Workers: 2, WaitSecs: 0}); err != nil {
		t.Errorf("alice rebalances her own: %v", err)
	}
	if _, err := alice.Kill(ctx, &sparsev1.KillRequest{Name: "a1", WaitSecs: 0}); err != nil {
		t.Errorf("alice kills her own: %v", err)
	}

	// An admin may do everything to everyone's.
	id2, err := submit(ctx, bob, header(t, wordcount("b1"), data, nil), data)
	if err != nil {
		t.Fatalf("bob submits: %v", err)
	}
	if _, err := admin.Deactivate(ctx, &sparsev1.TopologyRef{Name: "b1"}); err != nil {
		t.Errorf("admin deactivates bob's: %v", err)
	}
	if _, err := admin.Activate(ctx, &sparsev1.TopologyRef{Name: "b1"}); err != nil {
		t.Errorf("admin activates bob's: %v", err)
	}
	if _, err := admin.Rebalance(ctx, &sparsev1.RebalanceRequest{Name: "b1", Workers: 2}); err != nil {
		t.Errorf("admin rebalances bob's: %v", err)
	}
	if _, err := admin.Kill(ctx, &sparsev1.KillRequest{Name: id2, WaitSecs: 0}); err != nil {
		t.Errorf("admin kills bob's: %v", err)
	}
	if _, err := submit(ctx, admin, header(t, wordcount("adm"), data, nil), data); err != nil {
		t.Errorf("admin submits: %v", err)
	}
	list, err := admin.ListTokens(ctx, &sparsev1.ListTokensRequest{})
	if err != nil || len(list.GetTokens()) != 4 {
		t.Fatalf("admin token list: %v, %v", list, err)
	}
	for _, tok := range list.GetTokens() {
		for _, secret := range secrets {
			if strings.Contains(tok.String(), secret) {
				t.Errorf("token list shows a secret: %v", tok)
			}
		}
	}

	// Revoked tokens are refused on their next call.
	if _, err := admin.RevokeToken(ctx, &sparsev1.RevokeTokenRequest{Token: "view"}); err != nil {
		t.Fatalf("revoking view by name: %v", err)
	}
	_, err = viewer.List(ctx, &sparsev1.ListRequest{})
	wantCode(t, "a revoked token", err, codes.Unauthenticated, "not known to this cluster")
	var bobAccessor string
	for _, tok := range list.GetTokens() {
		if tok.GetName() == "bob" {
			bobAccessor = tok.GetAccessor()
		}
	}
	if _, err := admin.RevokeToken(ctx, &sparsev1.RevokeTokenRequest{Token: bobAccessor}); err != nil {
		t.Fatalf("revoking bob by accessor: %v", err)
	}
	_, err = bob.List(ctx, &sparsev1.ListRequest{})
	wantCode(t, "bob revoked", err, codes.Unauthenticated, "not known")
	_, err = admin.RevokeToken(ctx, &sparsev1.RevokeTokenRequest{Token: DefaultBootstrapName})
	wantCode(t, "revoking the last admin", err, codes.FailedPrecondition, "last admin token")
	_, err = admin.RevokeToken(ctx, &sparsev1.RevokeTokenRequest{Token: "nobody"})
	wantCode(t, "revoking an unknown token", err, codes.NotFound, "sparsectl token list")
	_, err = dialToken(t, s.Addr(), "sparse_forged").List(ctx, &sparsev1.ListRequest{})
	wantCode(t, "a forged token", err, codes.Unauthenticated, "not known")
	md := metadata.Pairs("authorization", "Basic YWxpY2U6eA==")
	_, err = anon.List(metadata.NewOutgoingContext(ctx, md), &sparsev1.ListRequest{})
	wantCode(t, "basic auth", err, codes.Unauthenticated, `not "Bearer <token>"`)

	// Every change and every refusal is an audit line naming who.
	for _, want := range []map[string]string{
		{"action": "list", "identity": anonymous, "outcome": "refused"},
		{"action": "acl bootstrap", "identity": anonymous, "outcome": "accepted", "token": DefaultBootstrapName},
		{"action": "acl bootstrap", "identity": anonymous, "outcome": "refused", "token": "again"},
		{"action": "token create", "identity": DefaultBootstrapName, "outcome": "accepted", "token": "alice", "token_role": "deployer"},
		{"action": "submit", "identity": "view", "outcome": "refused"},
		{"action": "submit", "identity": "alice", "outcome": "accepted", "topology": "a1"},
		{"action": "kill", "identity": "view", "outcome": "refused", "topology": "a1"},
		{"action": "kill", "identity": "bob", "outcome": "refused", "topology": "a1"},
		{"action": "deactivate", "identity": "bob", "outcome": "refused", "topology": "a1"},
		{"action": "rebalance", "identity": "bob", "outcome": "refused", "topology": "a1"},
		{"action": "deactivate", "identity": "alice", "outcome": "accepted", "topology": "a1"},
		{"action": "rebalance", "identity": "alice", "outcome": "accepted", "topology": "a1"},
		{"action": "kill", "identity": "alice", "outcome": "accepted", "topology": "a1"},
		{"action": "activate", "identity": DefaultBootstrapName, "outcome": "accepted", "topology": "b1", "role": "admin"},
		{"action": "kill", "identity": DefaultBootstrapName, "outcome": "accepted", "topology": id2},
		{"action": "token revoke", "identity": DefaultBootstrapName, "outcome": "accepted", "token": "view"},
		{"action": "token list", "identity": "alice", "outcome": "refused"},
	} {
		if !sink.hasAudit(t, want) {
			t.Errorf("no audit line with %v", want)
		}
	}
	// Reads that pass are not audited.
	if sink.hasAudit(t, map[string]string{"action": "list", "outcome": "accepted"}) {
		t.Error("an accepted list was audited")
	}
}

// TestACLOff: without --acl every call is open as before, token management is refused,
// and changes are still audited (as anonymous).
func TestACLOff(t *testing.T) {
	s, sink := aclNimbus(t, false)
	ctx := testutil.Context(t, 30*time.Second)
	c := dial(t, s.Addr())
	_, err := c.ACLBootstrap(ctx, &sparsev1.ACLBootstrapRequest{})
	wantCode(t, "bootstrap with ACLs off", err, codes.FailedPrecondition, "ACLs are off", "--acl")
	_, err = c.CreateToken(ctx, &sparsev1.CreateTokenRequest{Name: "x", Role: "admin"})
	wantCode(t, "token create with ACLs off", err, codes.FailedPrecondition, "--acl")
	data := artifact(100)
	id, err := submit(ctx, c, header(t, wordcount("open"), data, nil), data)
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := s.Store().GetTopology(ctx, id); err != nil || rec.Owner != "" {
		t.Fatalf("owner with ACLs off: %+v, %v", rec, err)
	}
	if _, err := c.Kill(ctx, &sparsev1.KillRequest{Name: id, WaitSecs: 0}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []map[string]string{
		{"action": "submit", "identity": anonymous, "outcome": "accepted", "topology": "open"},
		{"action": "kill", "identity": anonymous, "outcome": "accepted", "topology": id},
		{"action": "acl bootstrap", "identity": anonymous, "outcome": "failed"},
	} {
		if !sink.hasAudit(t, want) {
			t.Errorf("no audit line with %v", want)
		}
	}
}

// BenchmarkAuthenticate measures what ACLs add to a call: one token lookup in etcd
// (a linearizable read) and a sha256.
func BenchmarkAuthenticate(b *testing.B) {
	cfg := fast(b, testRoot(b))
	cfg.ACL = true
	s := startNimbus(b, cfg)
	ctx := testutil.Context(b, time.Minute)
	rec, secret, err := newToken("bench", cluster.RoleViewer, "")
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Store().CreateToken(ctx, rec); err != nil {
		b.Fatal(err)
	}
	in := metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", "Bearer "+secret))
	b.ResetTimer()
	for b.Loop() {
		if id, err := s.authenticate(in); err != nil || id == nil {
			b.Fatal(id, err)
		}
	}
}
