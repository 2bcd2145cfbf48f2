package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Role is what an API token may do. Each role may do everything the roles below it may.
type Role string

// The roles, weakest first.
const (
	// RoleViewer reads: list, describe, supervisors, leader.
	RoleViewer Role = "viewer"
	// RoleDeployer submits topologies and changes (kills, activates, deactivates,
	// rebalances) the ones it submitted.
	RoleDeployer Role = "deployer"
	// RoleAdmin does everything, to every topology, and manages tokens.
	RoleAdmin Role = "admin"
)

// Roles lists the roles, weakest first.
var Roles = []Role{RoleViewer, RoleDeployer, RoleAdmin}

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleDeployer:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether a token with role r may do what needs role need.
func (r Role) Allows(need Role) bool { return r.Valid() && r.rank() >= need.rank() }

// ParseRole reads a role name, with an error listing the roles.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !r.Valid() {
		return "", fmt.Errorf("role %q is not one of viewer, deployer, admin", s)
	}
	return r, nil
}

// maxTokenNameLen keeps token names readable in lists and log lines.
const maxTokenNameLen = 64

// ValidateTokenName checks a token's name: what ValidateID allows, at most 64 bytes.
func ValidateTokenName(name string) error {
	if err := ValidateID("token name", name); err != nil {
		return err
	}
	if len(name) > maxTokenNameLen {
		return fmt.Errorf("the token name %.40q... is %d bytes long; at most %d are allowed", name, len(name), maxTokenNameLen)
	}
	return nil
}

// TokenRecord is an API token, under <root>/acl/tokens/<secret-sha256>. The secret
// itself is never stored: a caller's token is found by the sha256 of what it presents.
type TokenRecord struct {
	// SecretSHA256 is the lowercase hex sha256 of the secret; the key ends with it.
	SecretSHA256 string `json:"secret_sha256"`
	// Accessor is the token's public id, for lists, logs and revocation.
	Accessor string `json:"accessor"`
	// Name is unique among the tokens; it is the identity a topology's owner records.
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	// CreatedBy is the name of the token that created this one (empty: bootstrap).
	CreatedBy string `json:"created_by,omitempty"`
}

// Validate checks the record's own consistency.
func (r *TokenRecord) Validate() error {
	var errs []error
	if err := ValidateDigest(r.SecretSHA256); err != nil {
		errs = append(errs, fmt.Errorf("secret_sha256: %w", err))
	}
	if err := ValidateID("token accessor", r.Accessor); err != nil {
		errs = append(errs, err)
	}
	if err := ValidateTokenName(r.Name); err != nil {
		errs = append(errs, err)
	}
	if !r.Role.Valid() {
		errs = append(errs, fmt.Errorf("role %q is not one of viewer, deployer, admin", r.Role))
	}
	return errors.Join(errs...)
}

// ACLBootstrapRecord says that the first admin token was made, under <root>/acl/bootstrap.
// While it exists, bootstrap is refused.
type ACLBootstrapRecord struct {
	At time.Time `json:"at"`
	// Accessor and Name are the bootstrap token's.
	Accessor string `json:"accessor"`
	Name     string `json:"name"`
}

// Validate checks the record's own consistency.
func (r *ACLBootstrapRecord) Validate() error {
	var errs []error
	if err := ValidateID("token accessor", r.Accessor); err != nil {
		errs = append(errs, err)
	}
	if err := ValidateTokenName(r.Name); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

var (
	tokenKind = kind[TokenRecord]{
		name:   "token",
		prefix: Keys.TokensPrefix,
		key:    func(k Keys, r *TokenRecord) string { return k.Token(r.SecretSHA256) },
		match:  func(rest string, r *TokenRecord) error { return sameID("secret_sha256", r.SecretSHA256, rest) },
	}
	bootstrapKind = kind[ACLBootstrapRecord]{
		name:   "ACL bootstrap",
		prefix: func(k Keys) string { return k.Root() + "/acl/" },
		key:    func(k Keys, _ *ACLBootstrapRecord) string { return k.ACLBootstrap() },
		match: func(rest string, _ *ACLBootstrapRecord) error {
			return sameID("key", rest, dirBootstrap)
		},
	}
)

// DecodeToken reads a TokenRecord stored under key.
func (k Keys) DecodeToken(key string, value []byte) (*TokenRecord, error) {
	return decode(k, tokenKind, key, value)
}

// DecodeACLBootstrap reads the ACLBootstrapRecord stored under key.
func (k Keys) DecodeACLBootstrap(key string, value []byte) (*ACLBootstrapRecord, error) {
	return decode(k, bootstrapKind, key, value)
}

// AlreadyBootstrappedError refuses a second ACL bootstrap. It names the first one and
// how to recover when every admin token is lost.
type AlreadyBootstrappedError struct {
	Key    string
	Record *ACLBootstrapRecord // nil if the stored record is unreadable
}

func (e *AlreadyBootstrappedError) Error() string {
	what := "the ACLs were bootstrapped already"
	if r := e.Record; r != nil {
		what = fmt.Sprintf("the ACLs were bootstrapped already, at %s (token %q, accessor %s)", r.At.Format(time.RFC3339), r.Name, r.Accessor)
	}
	return what + "; make more tokens with an admin token (sparsectl token create). " +
		"If every admin token is lost, delete etcd key " + e.Key + " (etcdctl del " + e.Key + ") and bootstrap again"
}

// ErrAlreadyBootstrapped matches an *AlreadyBootstrappedError with errors.Is.
var ErrAlreadyBootstrapped = errors.New("the ACLs were bootstrapped already")

// Is makes errors.Is(err, ErrAlreadyBootstrapped) true.
func (e *AlreadyBootstrappedError) Is(target error) bool { return target == ErrAlreadyBootstrapped }

// BootstrapACL stores the first admin token and the bootstrap marker in one transaction
// that runs only if there is no marker: of two bootstraps, at any time and through any
// nimbus, exactly one succeeds; the other gets an *AlreadyBootstrappedError.
func (s *Store) BootstrapACL(ctx context.Context, tok *TokenRecord) error {
	if tok.Role != RoleAdmin {
		return fmt.Errorf("the bootstrap token must have role admin, not %q", tok.Role)
	}
	tkey, tval, err := encode(s.keys, tokenKind, tok)
	if err != nil {
		return err
	}
	bkey, bval, err := encode(s.keys, bootstrapKind, &ACLBootstrapRecord{At: tok.CreatedAt, Accessor: tok.Accessor, Name: tok.Name})
	if err != nil {
		return err
	}
	ok, err := s.txn(ctx, "bootstrapping the ACLs",
		[]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(bkey), "=", 0), clientv3.Compare(clientv3.CreateRevision(tkey), "=", 0)},
		clientv3.OpPut(bkey, string(bval)), clientv3.OpPut(tkey, string(tval)))
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	refusal := &AlreadyBootstrappedError{Key: bkey}
	if r, _, err := get(ctx, s, bootstrapKind, bkey); err == nil {
		refusal.Record = r
	}
	return refusal
}

// TokenNameTakenError is CreateToken's refusal: a token of that name exists.
type TokenNameTakenError struct{ Existing *TokenRecord }

func (e *TokenNameTakenError) Error() string {
	return fmt.Sprintf("a token named %q exists (accessor %s, role %s)", e.Existing.Name, e.Existing.Accessor, e.Existing.Role)
}

// LastAdminError is RevokeToken's refusal: the token is the last admin token, and
// without one nobody could manage tokens again.
type LastAdminError struct{ Token *TokenRecord }

func (e *LastAdminError) Error() string {
	return fmt.Sprintf("token %q is the last admin token", e.Token.Name)
}

// tokenTries bounds the retries of a token change that lost a race with another.
const tokenTries = 8

// tokenEntry is a token read with its key's create revision, which a transaction
// compares to know the key was neither deleted nor replaced meanwhile.
type tokenEntry struct {
	rec       *TokenRecord
	key       string
	createRev int64
}

// tokensAt reads every valid token and the store revision of the read.
func (s *Store) tokensAt(ctx context.Context) ([]tokenEntry, int64, error) {
	prefix := s.keys.TokensPrefix()
	resp, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, s.wrap("listing "+prefix, err)
	}
	out := make([]tokenEntry, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		r, err := decode(s.keys, tokenKind, string(kv.Key), kv.Value)
		if err != nil {
			continue // ListTokens reports it; here it neither names nor admins anything
		}
		out = append(out, tokenEntry{rec: r, key: string(kv.Key), createRev: kv.CreateRevision})
	}
	return out, resp.Header.Revision, nil
}

// CreateToken stores a new token unless one of the same name exists
// (*TokenNameTakenError). The check and the write are one transaction that runs only if
// no token was written since the check, so two nimbuses (or calls) creating the same
// name at once cannot both succeed.
func (s *Store) CreateToken(ctx context.Context, tok *TokenRecord) error {
	key, val, err := encode(s.keys, tokenKind, tok)
	if err != nil {
		return err
	}
	for range tokenTries {
		toks, rev, err := s.tokensAt(ctx)
		if err != nil {
			return err
		}
		for _, t := range toks {
			switch {
			case t.rec.Name == tok.Name:
				return &TokenNameTakenError{Existing: t.rec}
			case t.key == key: // which a random secret never gives
				return fmt.Errorf("token %s: %w: a token with this secret exists", tok.Name, ErrConflict)
			}
		}
		ok, err := s.txn(ctx, "writing "+key, []clientv3.Cmp{
			clientv3.Compare(clientv3.ModRevision(s.keys.TokensPrefix()).WithPrefix(), "<", rev+1),
			clientv3.Compare(clientv3.CreateRevision(key), "=", 0),
		}, clientv3.OpPut(key, string(val)))
		if err != nil || ok {
			return err
		}
	}
	return fmt.Errorf("token %s: %w by other token changes %d times in a row; try again", tok.Name, ErrConflict, tokenTries)
}

// RevokeToken deletes the token whose name or accessor is which, and returns it:
// ErrNotFound when there is none, *LastAdminError when it is the last admin token. The
// check and the delete are one transaction, conditioned on another admin token still
// existing, so two revocations at once cannot remove the last two admins.
func (s *Store) RevokeToken(ctx context.Context, which string) (*TokenRecord, error) {
	for range tokenTries {
		toks, _, err := s.tokensAt(ctx)
		if err != nil {
			return nil, err
		}
		var found *tokenEntry
		var otherAdmin *tokenEntry
		for i := range toks {
			t := &toks[i]
			if found == nil && (t.rec.Name == which || t.rec.Accessor == which) {
				found = t
			} else if t.rec.Role == RoleAdmin && otherAdmin == nil {
				otherAdmin = t
			}
		}
		if found == nil {
			return nil, fmt.Errorf("token %q: %w", which, ErrNotFound)
		}
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(found.key), "=", found.createRev)}
		if found.rec.Role == RoleAdmin {
			if otherAdmin == nil {
				return nil, &LastAdminError{Token: found.rec}
			}
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(otherAdmin.key), "=", otherAdmin.createRev))
		}
		ok, err := s.txn(ctx, "revoking token "+found.rec.Name, cmps, clientv3.OpDelete(found.key))
		if err != nil {
			return nil, err
		}
		if ok {
			return found.rec, nil
		}
	}
	return nil, fmt.Errorf("revoking token %q: %w by other token changes %d times in a row; try again", which, ErrConflict, tokenTries)
}

// MaxSecretLen bounds what is hashed; a secret nimbus makes is 50 bytes.
const MaxSecretLen = 512

// ParseBearer reads the secret of an "Authorization: Bearer <secret>" value, as gRPC
// metadata or an HTTP header, refusing what no sparse token looks like before it is
// hashed and looked up.
func ParseBearer(v string) (string, error) {
	scheme, secret, ok := strings.Cut(strings.TrimSpace(v), " ")
	secret = strings.TrimSpace(secret)
	switch {
	case !ok || !strings.EqualFold(scheme, "bearer"):
		return "", errors.New(`the authorization is not "Bearer <token>"`)
	case secret == "":
		return "", errors.New("the bearer token is empty")
	case len(secret) > MaxSecretLen:
		return "", fmt.Errorf("the bearer token is %d bytes long; a sparse token is far shorter", len(secret))
	}
	for i := 0; i < len(secret); i++ {
		if c := secret[i]; c <= ' ' || c >= 0x7f {
			return "", errors.New("the bearer token holds a character no sparse token has")
		}
	}
	return secret, nil
}

// HashSecret is what tokens are stored and looked up by (GetToken). A plain sha256 is
// enough: the secrets are 256 random bits, so there is nothing for a slow password hash
// to protect against guessing, and every API call hashes one.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// GetToken finds the token whose secret has this sha256; ErrNotFound if there is none.
// It reads etcd each time (a linearizable read), so a revocation is seen by the next
// call.
func (s *Store) GetToken(ctx context.Context, secretSHA256 string) (*TokenRecord, error) {
	if err := ValidateDigest(secretSHA256); err != nil {
		return nil, err
	}
	r, _, err := get(ctx, s, tokenKind, s.keys.Token(secretSHA256))
	return r, err
}

// ListTokens reads every token, sorted by secret hash. Invalid values are skipped and
// reported in the error, next to the valid records.
func (s *Store) ListTokens(ctx context.Context) ([]*TokenRecord, error) {
	return list(ctx, s, tokenKind, s.keys.TokensPrefix())
}

// DeleteToken removes a token; removing one that is not there is no error.
func (s *Store) DeleteToken(ctx context.Context, secretSHA256 string) error {
	if err := ValidateDigest(secretSHA256); err != nil {
		return err
	}
	return s.del(ctx, "deleting a token", s.keys.Token(secretSHA256))
}
