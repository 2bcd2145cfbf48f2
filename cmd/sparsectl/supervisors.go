package main

import (
	"context"

	"github.com/spf13/cobra"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/ctl"
)

func supervisorsCmd() *cobra.Command {
	return queryCmd(&cobra.Command{
		Use:   "supervisors",
		Short: "List the live supervisors with their slots",
		Args:  cobra.NoArgs,
	}, "print JSON instead of a table",
		func(ctx context.Context, c *ctl.Client, _ []string) ([]*sparsev1.SupervisorDescription, error) {
			return c.Supervisors(ctx)
		},
		func(ss []*sparsev1.SupervisorDescription) (any, error) { return ctl.ToSupervisorsJSON(ss), nil },
		ctl.WriteSupervisors)
}
