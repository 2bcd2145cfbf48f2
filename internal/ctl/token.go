package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
)

// EnvToken is the environment variable with the API token.
const EnvToken = "SPARSE_TOKEN"

// bearerToken sends the API token with every call. It does not require a secure
// transport: on loopback the cluster may run without TLS.
type bearerToken string

func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearerToken) RequireTransportSecurity() bool { return false }

// ResolveToken decides the API token: --token, else $SPARSE_TOKEN, else the content of
// the config environment's token_file. None of them is no token (a cluster without ACLs).
func ResolveToken(flag string, getenv func(string) string, tokenFile string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if t := strings.TrimSpace(flag); t != "" {
		return t, nil
	}
	if t := strings.TrimSpace(getenv(EnvToken)); t != "" {
		return t, nil
	}
	if tokenFile == "" {
		return "", nil
	}
	return ReadTokenFile(tokenFile)
}

// ReadTokenFile reads a token from a file that only its owner may read.
func ReadTokenFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("token file %s (token_file of the config environment) does not exist; write the token there, or fix token_file", path)
	}
	if err != nil {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("token file %s is readable by others (mode %04o); a token is a secret: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading token file %s: %w", path, err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" || strings.ContainsAny(t, " \t\r\n") {
		return "", fmt.Errorf("token file %s must hold one token and nothing else", path)
	}
	return t, nil
}

// ACLBootstrap makes the cluster's first admin token.
func (c *Client) ACLBootstrap(ctx context.Context, name string) (*sparsev1.TokenSecret, error) {
	var out *sparsev1.TokenSecret
	_, err := c.call(ctx, func(ctx context.Context, n sparsev1.NimbusClient) error {
		var err error
		out, err = n.ACLBootstrap(ctx, &sparsev1.ACLBootstrapRequest{Name: name})
		return err
	})
	return out, err
}

// CreateToken makes a token with a role.
func (c *Client) CreateToken(ctx context.Context, name, role string) (*sparsev1.TokenSecret, error) {
	var out *sparsev1.TokenSecret
	_, err := c.call(ctx, func(ctx context.Context, n sparsev1.NimbusClient) error {
		var err error
		out, err = n.CreateToken(ctx, &sparsev1.CreateTokenRequest{Name: name, Role: role})
		return err
	})
	return out, err
}

// ListTokens describes every token (never its secret).
func (c *Client) ListTokens(ctx context.Context) ([]*sparsev1.TokenInfo, error) {
	var out []*sparsev1.TokenInfo
	_, err := c.call(ctx, func(ctx context.Context, n sparsev1.NimbusClient) error {
		r, err := n.ListTokens(ctx, &sparsev1.ListTokensRequest{})
		out = r.GetTokens()
		return err
	})
	return out, err
}

// RevokeToken deletes a token named by its name or accessor, and returns it.
func (c *Client) RevokeToken(ctx context.Context, nameOrAccessor string) (*sparsev1.TokenInfo, error) {
	var out *sparsev1.TokenInfo
	_, err := c.call(ctx, func(ctx context.Context, n sparsev1.NimbusClient) error {
		r, err := n.RevokeToken(ctx, &sparsev1.RevokeTokenRequest{Token: nameOrAccessor})
		out = r.GetToken()
		return err
	})
	return out, err
}

// TokenJSON is one token in token list and token create output. Secret is set only
// when a token is made.
type TokenJSON struct {
	Accessor  string    `json:"accessor"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	Secret    string    `json:"secret,omitempty"`
}

// ToTokenJSON converts a token's description.
func ToTokenJSON(t *sparsev1.TokenInfo, secret string) TokenJSON {
	return TokenJSON{Accessor: t.GetAccessor(), Name: t.GetName(), Role: t.GetRole(),
		CreatedAt: time.Unix(t.GetCreatedUnix(), 0).UTC(), CreatedBy: t.GetCreatedBy(), Secret: secret}
}

// WriteTokens prints tokens as a table.
func WriteTokens(w io.Writer, toks []*sparsev1.TokenInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tACCESSOR\tCREATED\tCREATED BY")
	for _, t := range toks {
		by := t.GetCreatedBy()
		if by == "" {
			by = "(bootstrap)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.GetName(), t.GetRole(), t.GetAccessor(),
			time.Unix(t.GetCreatedUnix(), 0).UTC().Format(time.RFC3339), by)
	}
	return tw.Flush()
}

// WriteNewToken prints a token just made, with its secret and how to use it.
func WriteNewToken(w io.Writer, t *sparsev1.TokenSecret) error {
	_, err := fmt.Fprintf(w, "token %q (role %s, accessor %s)\nsecret: %s\n\nThe secret is shown this once: nimbus keeps only its sha256. Give it to sparsectl with\n%s=<secret>, --token, or a token_file (mode 0600) in the config environment.\n",
		t.GetToken().GetName(), t.GetToken().GetRole(), t.GetToken().GetAccessor(), t.GetSecret(), EnvToken)
	return err
}
