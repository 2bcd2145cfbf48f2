package nimbus

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/tlsconf"
)

// Who may call what on the Nimbus service. With ACLs on (Config.ACL) every call but the
// open ones carries a bearer token ("authorization: Bearer <secret>" in its metadata);
// nimbus looks up the sha256 of the secret in etcd, and the token's role must allow the
// call. A deployer may change only the topologies it submitted: the handler checks that
// once it has found the topology (checkOwner). Every change, and every refusal, is an
// audit line.

// access is what one Nimbus call needs of its caller.
type access struct {
	// action names the call in refusals and audit lines.
	action string
	// role is the least role a token must have. Empty: the call is open (see open).
	role cluster.Role
	// owner: a deployer may make the call only on a topology it submitted.
	owner bool
	// change: the call changes the cluster; each one is audited, accepted or not.
	change bool
	// open says why an open call needs no token.
	open string
	// worker: a worker's certificate may make the call. It may make no other: workers
	// hold no tokens, and a worker's host is no operator.
	worker bool
}

// rpcAccess is the one table of what each Nimbus call needs. A call missing from it is
// refused when ACLs are on; TestEveryNimbusCallHasAnAccessRule fails for such a call.
var rpcAccess = map[string]access{
	sparsev1.Nimbus_Submit_FullMethodName:           {action: "submit", role: cluster.RoleDeployer, change: true},
	sparsev1.Nimbus_Kill_FullMethodName:             {action: "kill", role: cluster.RoleDeployer, owner: true, change: true},
	sparsev1.Nimbus_Activate_FullMethodName:         {action: "activate", role: cluster.RoleDeployer, owner: true, change: true},
	sparsev1.Nimbus_UpdateVirtualenv_FullMethodName: {action: "update-virtualenv", role: cluster.RoleDeployer, owner: true, change: true},
	sparsev1.Nimbus_Deactivate_FullMethodName:       {action: "deactivate", role: cluster.RoleDeployer, owner: true, change: true},
	sparsev1.Nimbus_Rebalance_FullMethodName:        {action: "rebalance", role: cluster.RoleDeployer, owner: true, change: true},
	sparsev1.Nimbus_List_FullMethodName:             {action: "list", role: cluster.RoleViewer},
	sparsev1.Nimbus_Describe_FullMethodName:         {action: "describe", role: cluster.RoleViewer},
	sparsev1.Nimbus_ListSupervisors_FullMethodName:  {action: "supervisors", role: cluster.RoleViewer},
	sparsev1.Nimbus_Leader_FullMethodName: {action: "leader",
		open: "supervisors ask it where to fetch artifacts from; it tells only the leader's id and address"},
	sparsev1.Nimbus_FetchArtifact_FullMethodName: {action: "fetch artifact",
		open: "supervisors and standby nimbuses fetch artifacts with it; a daemon's TLS client certificate is its gate"},
	sparsev1.Nimbus_ACLBootstrap_FullMethodName: {action: "acl bootstrap", change: true,
		open: "it makes the first token, so there is none to give; it succeeds once per cluster"},
	sparsev1.Nimbus_CreateToken_FullMethodName: {action: "token create", role: cluster.RoleAdmin, change: true},
	sparsev1.Nimbus_ListTokens_FullMethodName:  {action: "token list", role: cluster.RoleAdmin},
	sparsev1.Nimbus_RevokeToken_FullMethodName: {action: "token revoke", role: cluster.RoleAdmin, change: true},
	sparsev1.Nimbus_Stats_FullMethodName:       {action: "stats", role: cluster.RoleViewer},
	sparsev1.Nimbus_ReportStats_FullMethodName: {action: "report stats", worker: true,
		open: "workers report their executors' statistics with it and hold no token; with TLS only a worker certificate may call it (ReportStats checks)"},
	sparsev1.Nimbus_ListLogSources_FullMethodName: {action: "log sources", role: cluster.RoleViewer},
	sparsev1.Nimbus_SetLogLevel_FullMethodName:    {action: "set-log-level", role: cluster.RoleDeployer, owner: true, change: true},
}

// Identity is the token a call was made with.
type Identity struct {
	Name     string
	Accessor string
	Role     cluster.Role
}

type identityKey struct{}

// identityFrom is the caller's token; nil with ACLs off, and on open calls.
func identityFrom(ctx context.Context) *Identity {
	id, _ := ctx.Value(identityKey{}).(*Identity)
	return id
}

// anonymous names a caller without a token in audit lines.
const anonymous = "anonymous"

func (id *Identity) String() string {
	if id == nil {
		return anonymous
	}
	return id.Name
}

// tokenHint is how a sparsectl user gives a token.
const tokenHint = "pass --token, set SPARSE_TOKEN, or name a token_file in the sparsectl config environment"

// authenticate finds the caller's token: nil without one, an Unauthenticated error for
// one that is malformed or unknown. The token is read from etcd on every call, so a
// revocation holds from the next call on.
func (s *Server) authenticate(ctx context.Context) (*Identity, error) {
	vals := metadata.ValueFromIncomingContext(ctx, "authorization")
	if len(vals) == 0 {
		return nil, nil
	}
	secret, err := cluster.ParseBearer(vals[0])
	if err != nil {
		return nil, status.Errorf(codes.Unauthenticated, "%v; %s", err, tokenHint)
	}
	rec, err := s.store.GetToken(ctx, cluster.HashSecret(secret))
	switch {
	case errors.Is(err, cluster.ErrNotFound):
		return nil, status.Error(codes.Unauthenticated, "the token is not known to this cluster (revoked, mistyped or from another cluster); ask an admin for a token (sparsectl token create)")
	case err != nil:
		return nil, s.rpcErr(ctx, fmt.Errorf("looking up the token: %w", err))
	}
	return &Identity{Name: rec.Name, Accessor: rec.Accessor, Role: rec.Role}, nil
}

// admit authenticates and authorizes a call with ACLs on, and returns the context that
// carries the caller's identity.
func (s *Server) admit(ctx context.Context, method string, a access, known bool) (context.Context, error) {
	if id, ok := tlsconf.PeerIdentity(ctx); ok && id.Role == tlsconf.RoleWorker && (!known || !a.worker) {
		return ctx, status.Errorf(codes.PermissionDenied, "%s refuses a worker certificate (%s): workers may only report their statistics", method, id)
	}
	if !s.cfg.ACL {
		return ctx, nil
	}
	if !known {
		return ctx, status.Errorf(codes.PermissionDenied, "nimbus has no access rule for %s; it refuses the call (add the call to rpcAccess)", method)
	}
	if a.role == "" {
		return ctx, nil
	}
	id, err := s.authenticate(ctx)
	if err != nil {
		return ctx, err
	}
	need := string(a.role)
	if a.owner {
		need += " (owner)"
	}
	if a.role != cluster.RoleAdmin {
		need += " or admin"
	}
	if id == nil {
		return ctx, status.Errorf(codes.Unauthenticated, "%s needs a token with role %s, and the call carries none; %s", a.action, need, tokenHint)
	}
	ctx = context.WithValue(ctx, identityKey{}, id)
	if !id.Role.Allows(a.role) {
		return ctx, status.Errorf(codes.PermissionDenied, "%s needs role %s; token %q has %s; ask an admin for a token with role %s (sparsectl token create --role %s --name NAME)",
			a.action, need, id.Name, id.Role, a.role, a.role)
	}
	return ctx, nil
}

// checkOwner refuses a change of topology r by a deployer that did not submit it.
func (s *Server) checkOwner(ctx context.Context, r *cluster.TopologyRecord, action string) error {
	id := identityFrom(ctx)
	if !s.cfg.ACL || id == nil || id.Role == cluster.RoleAdmin || (r.Owner != "" && r.Owner == id.Name) {
		return nil
	}
	owner := fmt.Sprintf("its owner, token %q", r.Owner)
	if r.Owner == "" {
		owner = "it has no owner: it was submitted with ACLs off"
	}
	return status.Errorf(codes.PermissionDenied, "%s of topology %s needs role deployer (owner) or admin (%s); token %q has %s and did not submit it; ask the owner or an admin",
		action, r.ID, owner, id.Name, id.Role)
}

// owner is what a new topology records as its owner: the caller's token name.
func owner(ctx context.Context) string {
	if id := identityFrom(ctx); id != nil {
		return id.Name
	}
	return ""
}

// aclServerOptions are the interceptors that admit and audit every Nimbus call.
func (s *Server) aclServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(s.unaryACL), grpc.ChainStreamInterceptor(s.streamACL)}
}

func (s *Server) unaryACL(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	a, known := rpcAccess[info.FullMethod]
	ctx, err := s.admit(ctx, info.FullMethod, a, known)
	if err == nil {
		var resp any
		resp, err = handler(ctx, req)
		if !a.change {
			return resp, err
		}
		s.audit(ctx, a, req, err)
		return resp, err
	}
	s.audit(ctx, a, req, err)
	return nil, err
}

func (s *Server) streamACL(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	a, known := rpcAccess[info.FullMethod]
	ctx, err := s.admit(ss.Context(), info.FullMethod, a, known)
	if err != nil {
		s.audit(ctx, a, nil, err)
		return err
	}
	w := &auditStream{ServerStream: ss, ctx: ctx}
	err = handler(srv, w)
	if a.change {
		s.audit(ctx, a, w.header, err)
	}
	return err
}

// auditStream gives a stream's handler the context with the caller's identity, and keeps
// a submission's header for the audit line.
type auditStream struct {
	grpc.ServerStream
	ctx    context.Context
	header *sparsev1.SubmitHeader
}

func (w *auditStream) Context() context.Context { return w.ctx }

func (w *auditStream) RecvMsg(m any) error {
	err := w.ServerStream.RecvMsg(m)
	if r, ok := m.(*sparsev1.SubmitRequest); ok && err == nil && w.header == nil {
		w.header = r.GetHeader()
	}
	return err
}

// audit logs one audited call: who, what, on which topology or token, and the outcome.
// A refusal of any call is audited; of the calls that pass, only changes.
func (s *Server) audit(ctx context.Context, a access, req any, err error) {
	action := a.action
	if action == "" {
		action = "unknown call"
	}
	args := []any{"audit", true, "identity", identityFrom(ctx).String(), "action", action}
	if id := identityFrom(ctx); id != nil {
		args = append(args, "role", id.Role, "accessor", id.Accessor)
	}
	switch r := req.(type) {
	case *sparsev1.KillRequest:
		args = append(args, "topology", r.GetName())
	case *sparsev1.TopologyRef:
		args = append(args, "topology", r.GetName())
	case *sparsev1.RebalanceRequest:
		args = append(args, "topology", r.GetName())
	case *sparsev1.SetLogLevelRequest:
		args = append(args, "topology", r.GetTopology(), "component", r.GetOverride().GetComponent())
	case *sparsev1.SubmitHeader:
		name := r.GetName()
		if name == "" {
			name = r.GetSpec().GetName()
		}
		args = append(args, "topology", name)
	case *sparsev1.CreateTokenRequest:
		args = append(args, "token", r.GetName(), "token_role", r.GetRole())
	case *sparsev1.RevokeTokenRequest:
		args = append(args, "token", r.GetToken())
	case *sparsev1.ACLBootstrapRequest:
		name := r.GetName()
		if name == "" {
			name = DefaultBootstrapName
		}
		args = append(args, "token", name)
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		args = append(args, "peer", p.Addr.String())
	}
	code := status.Code(err)
	if code == codes.AlreadyExists && a.action == "acl bootstrap" {
		code = codes.PermissionDenied // a second bootstrap is a refusal, not a failure
	}
	switch code {
	case codes.OK:
		s.log.Info("audit: "+action+" accepted", append(args, "outcome", "accepted")...)
	case codes.PermissionDenied, codes.Unauthenticated:
		s.log.Warn("audit: "+action+" refused", append(args, "outcome", "refused", "error", status.Convert(err).Message())...)
	default:
		s.log.Info("audit: "+action+" failed", append(args, "outcome", "failed", "error", status.Convert(err).Message())...)
	}
}

// --- token management

// aclOn refuses token management while ACLs are off: tokens made then would hold
// nothing, and anyone could make them.
func (s *Server) aclOn() error {
	if !s.cfg.ACL {
		return status.Errorf(codes.FailedPrecondition, "ACLs are off on nimbus %s; start every nimbusd with --acl to use tokens", s.id)
	}
	return nil
}

// newToken makes a token with a fresh secret.
func newToken(name string, role cluster.Role, createdBy string) (*cluster.TokenRecord, string, error) {
	var b [32 + 12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, "", fmt.Errorf("making a token secret: %w", err)
	}
	secret := "sparse_" + base64.RawURLEncoding.EncodeToString(b[:32])
	return &cluster.TokenRecord{
		SecretSHA256: cluster.HashSecret(secret), Accessor: hex.EncodeToString(b[32:]), Name: name, Role: role,
		CreatedAt: time.Now().UTC(), CreatedBy: createdBy,
	}, secret, nil
}

func tokenInfo(r *cluster.TokenRecord) *sparsev1.TokenInfo {
	return &sparsev1.TokenInfo{Accessor: r.Accessor, Name: r.Name, Role: string(r.Role), CreatedUnix: r.CreatedAt.Unix(), CreatedBy: r.CreatedBy}
}

// DefaultBootstrapName is the bootstrap token's name when none is given.
const DefaultBootstrapName = "bootstrap"

// ACLBootstrap makes the first admin token, once per cluster.
func (s *Server) ACLBootstrap(ctx context.Context, req *sparsev1.ACLBootstrapRequest) (*sparsev1.TokenSecret, error) {
	if err := s.aclOn(); err != nil {
		return nil, err
	}
	name := req.GetName()
	if name == "" {
		name = DefaultBootstrapName
	}
	if err := cluster.ValidateTokenName(name); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	t, err := s.leading(ctx)
	if err != nil {
		return nil, err
	}
	rec, secret, err := newToken(name, cluster.RoleAdmin, "")
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if err := t.store.BootstrapACL(ctx, rec); err != nil {
		if errors.Is(err, cluster.ErrAlreadyBootstrapped) {
			return nil, status.Error(codes.AlreadyExists, err.Error())
		}
		return nil, s.rpcErr(ctx, err)
	}
	return &sparsev1.TokenSecret{Token: tokenInfo(rec), Secret: secret}, nil
}

// CreateToken makes a token; names are unique.
func (s *Server) CreateToken(ctx context.Context, req *sparsev1.CreateTokenRequest) (*sparsev1.TokenSecret, error) {
	if err := s.aclOn(); err != nil {
		return nil, err
	}
	var problems []string
	if err := cluster.ValidateTokenName(req.GetName()); err != nil {
		problems = append(problems, err.Error()+" (--name)")
	}
	role, err := cluster.ParseRole(req.GetRole())
	if err != nil {
		problems = append(problems, err.Error()+" (--role)")
	}
	if len(problems) > 0 {
		return nil, status.Errorf(codes.InvalidArgument, "cannot create the token: %s", strings.Join(problems, "; "))
	}
	t, err := s.leading(ctx)
	if err != nil {
		return nil, err
	}
	rec, secret, err := newToken(req.GetName(), role, owner(ctx))
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	// The store checks that the name is free in the same etcd transaction as the write,
	// so that creations through two nimbuses (around a leader change) cannot both win.
	if err := t.store.CreateToken(ctx, rec); err != nil {
		if taken := (*cluster.TokenNameTakenError)(nil); errors.As(err, &taken) {
			return nil, status.Errorf(codes.AlreadyExists, "%v; revoke it first (sparsectl token revoke %s) or choose another --name", taken, taken.Existing.Name)
		}
		return nil, s.rpcErr(ctx, err)
	}
	return &sparsev1.TokenSecret{Token: tokenInfo(rec), Secret: secret}, nil
}

// listTokens reads the tokens sorted by name; unreadable records are logged and left out.
func (s *Server) listTokens(ctx context.Context) ([]*cluster.TokenRecord, error) {
	toks, err := s.store.ListTokens(ctx)
	if err != nil {
		if !invalidOnly(err) {
			return nil, s.rpcErr(ctx, err)
		}
		s.log.Warn("some token records are unreadable and are left out", "error", err)
	}
	slices.SortFunc(toks, func(a, b *cluster.TokenRecord) int { return strings.Compare(a.Name, b.Name) })
	return toks, nil
}

// ListTokens describes every token, without secrets.
func (s *Server) ListTokens(ctx context.Context, _ *sparsev1.ListTokensRequest) (*sparsev1.ListTokensReply, error) {
	if err := s.aclOn(); err != nil {
		return nil, err
	}
	toks, err := s.listTokens(ctx)
	if err != nil {
		return nil, err
	}
	out := &sparsev1.ListTokensReply{}
	for _, tok := range toks {
		out.Tokens = append(out.Tokens, tokenInfo(tok))
	}
	return out, nil
}

// RevokeToken deletes a token named by its name or accessor. The last admin token is
// kept, so that the cluster stays manageable.
func (s *Server) RevokeToken(ctx context.Context, req *sparsev1.RevokeTokenRequest) (*sparsev1.RevokeTokenReply, error) {
	if err := s.aclOn(); err != nil {
		return nil, err
	}
	which := req.GetToken()
	if which == "" {
		return nil, status.Error(codes.InvalidArgument, "name the token to revoke by its name or accessor (sparsectl token list shows them)")
	}
	t, err := s.leading(ctx)
	if err != nil {
		return nil, err
	}
	// The last-admin check and the delete are one etcd transaction (see
	// cluster.Store.RevokeToken).
	found, err := t.store.RevokeToken(ctx, which)
	if last := (*cluster.LastAdminError)(nil); errors.As(err, &last) {
		return nil, status.Errorf(codes.FailedPrecondition, "token %q is the last admin token; create another admin token first (sparsectl token create --role admin --name NAME), then revoke this one", last.Token.Name)
	}
	if errors.Is(err, cluster.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "no token has the name or accessor %q; sparsectl token list shows them", which)
	}
	if err != nil {
		return nil, s.rpcErr(ctx, err)
	}
	return &sparsev1.RevokeTokenReply{Token: tokenInfo(found)}, nil
}
