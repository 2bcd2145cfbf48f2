package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/ctl"
)

// The ACL commands: acl bootstrap, and token create, list and revoke. They need a
// nimbusd started with --acl (docs/security.md, "Tokens and roles").

func aclCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "acl",
		Short: "Set up the API access control of a cluster started with nimbusd --acl",
	}
	cmd.AddCommand(aclBootstrapCmd())
	return cmd
}

// newTokenCmd completes a command that makes a token and prints it (or, with --json,
// its JSON with the secret).
func newTokenCmd(cmd *cobra.Command, mk func(ctx context.Context, c *ctl.Client) (*sparsev1.TokenSecret, error)) *cobra.Command {
	var (
		conn   ctl.ConnFlags
		asJSON bool
	)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return withClient(cmd, &conn, func(ctx context.Context, c *ctl.Client) error {
			t, err := mk(ctx, c)
			if err != nil {
				return err
			}
			if asJSON {
				return ctl.WriteJSON(cmd.OutOrStdout(), ctl.ToTokenJSON(t.GetToken(), t.GetSecret()))
			}
			return ctl.WriteNewToken(cmd.OutOrStdout(), t)
		})
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the token, secret included, as JSON")
	conn.Register(cmd.Flags())
	return cmd
}

func aclBootstrapCmd() *cobra.Command {
	var name string
	cmd := newTokenCmd(&cobra.Command{
		Use:   "bootstrap",
		Short: "Make the cluster's first admin token (once per cluster)",
		Long: `Make the first admin token of a cluster whose nimbusd run with --acl. It needs no
token, and works once: a second bootstrap is refused, and says how to start over if every
admin token is lost. Keep the secret it prints: nimbus stores only its sha256.`,
		Example: `  sparsectl acl bootstrap
  SPARSE_TOKEN=$(sparsectl acl bootstrap --json | jq -r .secret)`,
		Args: cobra.NoArgs,
	}, func(ctx context.Context, c *ctl.Client) (*sparsev1.TokenSecret, error) {
		return c.ACLBootstrap(ctx, name)
	})
	cmd.Flags().StringVar(&name, "name", "bootstrap", "the token's name")
	return cmd
}

func tokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens (needs an admin token)",
		Long: `Manage the API tokens of a cluster whose nimbusd run with --acl. Roles:
  viewer    list, describe, supervisors, leader
  deployer  submit, and kill, activate, deactivate and rebalance the topologies it submitted
  admin     everything, on every topology, and token management`,
	}
	cmd.AddCommand(tokenCreateCmd(), tokenListCmd(), tokenRevokeCmd())
	return cmd
}

func tokenCreateCmd() *cobra.Command {
	var name, role string
	cmd := newTokenCmd(&cobra.Command{
		Use:     "create --role ROLE --name NAME",
		Short:   "Make a token with a role; its secret is printed this once",
		Example: `  sparsectl token create --role deployer --name ci`,
		Args:    cobra.NoArgs,
	}, func(ctx context.Context, c *ctl.Client) (*sparsev1.TokenSecret, error) {
		return c.CreateToken(ctx, name, role)
	})
	cmd.Flags().StringVar(&name, "name", "", "the token's name, unique in the cluster; topologies it submits are owned by this name")
	cmd.Flags().StringVar(&role, "role", "", "viewer, deployer or admin")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func tokenListCmd() *cobra.Command {
	return queryCmd(&cobra.Command{
		Use:   "list",
		Short: "List the tokens (never their secrets)",
		Args:  cobra.NoArgs,
	}, "print JSON instead of a table",
		func(ctx context.Context, c *ctl.Client, _ []string) ([]*sparsev1.TokenInfo, error) {
			return c.ListTokens(ctx)
		},
		func(toks []*sparsev1.TokenInfo) (any, error) {
			out := make([]ctl.TokenJSON, 0, len(toks))
			for _, t := range toks {
				out = append(out, ctl.ToTokenJSON(t, ""))
			}
			return map[string]any{"tokens": out}, nil
		},
		ctl.WriteTokens)
}

func tokenRevokeCmd() *cobra.Command {
	var conn ctl.ConnFlags
	cmd := &cobra.Command{
		Use:   "revoke NAME|ACCESSOR",
		Short: "Revoke a token: nimbus refuses it from its next call on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withClient(cmd, &conn, func(ctx context.Context, c *ctl.Client) error {
				t, err := c.RevokeToken(ctx, args[0])
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "revoked token %q (role %s, accessor %s)\n", t.GetName(), t.GetRole(), t.GetAccessor())
				return err
			})
		},
	}
	conn.Register(cmd.Flags())
	return cmd
}
