package cluster

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/testutil"
)

func sampleToken(name string, role Role, hash string) *TokenRecord {
	return &TokenRecord{SecretSHA256: hash, Accessor: "acc-" + name, Name: name, Role: role, CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func TestRoles(t *testing.T) {
	for _, c := range []struct {
		have, need Role
		ok         bool
	}{
		{RoleViewer, RoleViewer, true},
		{RoleViewer, RoleDeployer, false},
		{RoleDeployer, RoleViewer, true},
		{RoleDeployer, RoleAdmin, false},
		{RoleAdmin, RoleDeployer, true},
		{Role("root"), RoleViewer, false},
		{Role(""), RoleViewer, false},
	} {
		if got := c.have.Allows(c.need); got != c.ok {
			t.Errorf("%q allows %q = %v, want %v", c.have, c.need, got, c.ok)
		}
	}
	if _, err := ParseRole("owner"); err == nil || !strings.Contains(err.Error(), "viewer, deployer, admin") {
		t.Errorf("ParseRole(owner) = %v", err)
	}
}

// TestACLBootstrapOnce: of many concurrent bootstraps exactly one succeeds; the others
// (and any later one) are refused with an error that names the first and how to recover.
func TestACLBootstrapOnce(t *testing.T) {
	e := startEtcd(t)
	s := newStore(t, e, Options{})
	ctx := testutil.Context(t, 20*time.Second)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		won     int
		refused []error
	)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hash := strings.Repeat(string("0123456789abcdef"[i]), 64)
			err := s.BootstrapACL(ctx, sampleToken("boot", RoleAdmin, hash))
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won++
			} else {
				refused = append(refused, err)
			}
		}()
	}
	wg.Wait()
	if won != 1 || len(refused) != 7 {
		t.Fatalf("%d bootstraps succeeded (want 1); refusals: %v", won, refused)
	}
	for _, err := range refused {
		var abe *AlreadyBootstrappedError
		if !errors.As(err, &abe) || !errors.Is(err, ErrAlreadyBootstrapped) {
			t.Fatalf("refusal is not an AlreadyBootstrappedError: %v", err)
		}
		msg := err.Error()
		for _, want := range []string{"bootstrapped already", `token "boot"`, "etcdctl del " + s.Keys().ACLBootstrap(), "sparsectl token create"} {
			if !strings.Contains(msg, want) {
				t.Errorf("refusal %q does not say %q", msg, want)
			}
		}
	}
	toks, err := s.ListTokens(ctx)
	if err != nil || len(toks) != 1 || toks[0].Role != RoleAdmin {
		t.Fatalf("tokens after bootstrap: %v, %v", toks, err)
	}
	if err := s.BootstrapACL(ctx, sampleToken("viewer", RoleViewer, digestB)); err == nil || !strings.Contains(err.Error(), "role admin") {
		t.Errorf("a viewer bootstrap token: %v", err)
	}
}

func TestTokenRecords(t *testing.T) {
	e := startEtcd(t)
	s := newStore(t, e, Options{})
	ctx := testutil.Context(t, 20*time.Second)
	tok := sampleToken("ci", RoleDeployer, digestA)
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	var taken *TokenNameTakenError
	if err := s.CreateToken(ctx, tok); !errors.As(err, &taken) || taken.Existing.Accessor != tok.Accessor {
		t.Errorf("a second token of the same name: %v", err)
	}
	same := *tok
	same.Name = "other"
	if err := s.CreateToken(ctx, &same); !errors.Is(err, ErrConflict) {
		t.Errorf("a second token with the same hash: %v", err)
	}
	got, err := s.GetToken(ctx, digestA)
	if err != nil || *got != *tok {
		t.Fatalf("GetToken = %+v, %v; want %+v", got, err, tok)
	}
	if _, err := s.GetToken(ctx, digestB); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown token: %v", err)
	}
	if _, err := s.GetToken(ctx, "../x"); err == nil {
		t.Error("a malformed hash was looked up")
	}
	// A value under the tokens folder that is not a token is an error naming its key,
	// and never a token that authenticates.
	bad := s.Keys().Token(digestB)
	if _, err := s.Client().Put(ctx, bad, `{"secret_sha256":"`+digestB+`","accessor":"a","name":"x","role":"root"}`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetToken(ctx, digestB); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("a token with an unknown role: %v", err)
	}
	toks, err := s.ListTokens(ctx)
	if len(toks) != 1 || err == nil {
		t.Errorf("ListTokens = %v, %v; want the valid one and an error naming the bad one", toks, err)
	}
	if err := s.DeleteToken(ctx, digestA); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetToken(ctx, digestA); !errors.Is(err, ErrNotFound) {
		t.Errorf("a deleted token: %v", err)
	}
}

func TestTokenRecordValidate(t *testing.T) {
	good := sampleToken("ci", RoleViewer, digestA)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*TokenRecord){
		"hash":      func(r *TokenRecord) { r.SecretSHA256 = "abc" },
		"accessor":  func(r *TokenRecord) { r.Accessor = "a/b" },
		"name":      func(r *TokenRecord) { r.Name = "" },
		"long name": func(r *TokenRecord) { r.Name = strings.Repeat("n", 65) },
		"role":      func(r *TokenRecord) { r.Role = "root" },
	} {
		r := *good
		change(&r)
		if r.Validate() == nil {
			t.Errorf("%s: an invalid record validates", name)
		}
	}
}

// TestTokenChangesRace: token creation and revocation hold their checks in the same
// etcd transaction as the write, so calls racing through two stores (two nimbuses
// around a leader change) cannot create two tokens of one name or revoke the last two
// admins.
func TestTokenChangesRace(t *testing.T) {
	e := startEtcd(t)
	stores := []*Store{newStore(t, e, Options{}), newStore(t, e, Options{})}
	ctx := testutil.Context(t, 60*time.Second)
	digest := func(round, i int) string { return fmt.Sprintf("%064x", round*100+i+1) }
	for round := range 5 {
		name := fmt.Sprintf("ci-%d", round)
		const n = 6
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = stores[i%2].CreateToken(ctx, sampleToken(name, RoleDeployer, digest(round, i))) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			var taken *TokenNameTakenError
			switch {
			case err == nil:
				won++
			case !errors.As(err, &taken):
				t.Fatalf("round %d: a losing creation failed with %v; want *TokenNameTakenError", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d creations of token %q succeeded; want exactly 1", round, won, name)
		}

		// Two admins revoked at once: one revocation wins, the other finds the last admin.
		a, b := sampleToken(fmt.Sprintf("a-%d", round), RoleAdmin, digest(round, 50)), sampleToken(fmt.Sprintf("b-%d", round), RoleAdmin, digest(round, 51))
		for _, tok := range []*TokenRecord{a, b} {
			if err := stores[0].CreateToken(ctx, tok); err != nil {
				t.Fatal(err)
			}
		}
		var revErrs [2]error
		wg.Go(func() { _, revErrs[0] = stores[0].RevokeToken(ctx, a.Name) })
		wg.Go(func() { _, revErrs[1] = stores[1].RevokeToken(ctx, b.Accessor) })
		wg.Wait()
		var last *LastAdminError
		oneWon := (revErrs[0] == nil && errors.As(revErrs[1], &last)) || (revErrs[1] == nil && errors.As(revErrs[0], &last))
		if !oneWon {
			t.Fatalf("round %d: revoking both admins at once gave %v and %v; want one success and one *LastAdminError", round, revErrs[0], revErrs[1])
		}
		// Clean up the survivor for the next round, through the store's own delete.
		toks, _ := stores[0].ListTokens(ctx)
		for _, tok := range toks {
			if tok.Role == RoleAdmin {
				if err := stores[0].DeleteToken(ctx, tok.SecretSHA256); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if _, err := stores[0].RevokeToken(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoking an unknown token: %v", err)
	}
}

func TestParseBearer(t *testing.T) {
	for _, c := range []struct{ in, secret, err string }{
		{"Bearer sparse_abc", "sparse_abc", ""},
		{"bearer  sparse_abc ", "sparse_abc", ""},
		{"Basic dXNlcg==", "", "not \"Bearer <token>\""},
		{"Bearer", "", "not \"Bearer <token>\""},
		{"Bearer ", "", "not \"Bearer <token>\""},
		{"Bearer a b", "", "character"},
		{"Bearer \x00", "", "character"},
		{"Bearer " + strings.Repeat("a", 600), "", "bytes long"},
	} {
		got, err := ParseBearer(c.in)
		if got != c.secret || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("ParseBearer(%.30q) = %q, %v; want %q, error with %q", c.in, got, err, c.secret, c.err)
		}
	}
}

// FuzzParseBearer: whatever a caller sends as its authorization, ParseBearer returns a
// short printable secret or an error; never a panic.
func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer sparse_x", "bearer\tx", "Bearer  ", "Basic a", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		secret, err := ParseBearer(v)
		if err != nil {
			return
		}
		if secret == "" || len(secret) > MaxSecretLen || strings.ContainsAny(secret, " \t\r\n") {
			t.Fatalf("ParseBearer(%q) accepted %q", v, secret)
		}
	})
}

func TestHashSecret(t *testing.T) {
	for _, c := range []struct{ secret, want string }{
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	} {
		got := HashSecret(c.secret)
		if got != c.want {
			t.Errorf("HashSecret(%q) = %s, want %s", c.secret, got, c.want)
		}
		if err := ValidateDigest(got); err != nil {
			t.Errorf("HashSecret(%q) = %s, which GetToken refuses: %v", c.secret, got, err)
		}
	}
}
