package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/internal/ctl"
	"github.com/sparsestream/sparse/internal/generic"
	"github.com/sparsestream/sparse/internal/graph"
	"github.com/sparsestream/sparse/internal/spec"
	"github.com/sparsestream/sparse/pkg/topology"
)

func visualizeCmd() *cobra.Command {
	var (
		conn      ctl.ConnFlags
		format    string
		resources string
	)
	cmd := &cobra.Command{
		Use:   "visualize <topology|spec|binary>",
		Short: "Draw a topology's components and streams (text, Graphviz DOT or SVG)",
		Long: `Draw the graph of a topology: its spouts and bolts, and the streams between them
with their groupings. The topology is a spec file (topology.yaml, or a folder holding
one), a topology binary (asked with describe), or, when no such file exists, a topology
submitted to the cluster (by name or id). --format svg draws the picture itself (no
Graphviz needed); --format dot writes Graphviz's language for dot -Tpng.`,
		Example: `  sparsectl visualize wordcount
  sparsectl visualize examples/wordcount-yaml/topology.yaml --format svg > wordcount.svg
  sparsectl visualize ./bin/wordcount --format dot | dot -Tpng > wordcount.png`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			write, err := graphWriter(format)
			if err != nil {
				return err
			}
			arg := args[0]
			if _, statErr := os.Stat(arg); statErr == nil {
				ctx, cancel := conn.Context(cmd.Context(), 0)
				defer cancel()
				sp, err := localSpec(ctx, arg, resources)
				if err != nil {
					return err
				}
				return write(cmd.OutOrStdout(), graph.FromSpec(sp))
			}
			return withClient(cmd, &conn, func(ctx context.Context, c *ctl.Client) error {
				g, err := c.Graph(ctx, arg)
				if err != nil {
					return fmt.Errorf("%s is no file here, so it was looked up on the cluster: %w", arg, err)
				}
				return write(cmd.OutOrStdout(), *g)
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text, dot or svg")
	registerResources(cmd, &resources)
	conn.Register(cmd.Flags())
	return cmd
}

func graphWriter(format string) (func(io.Writer, graph.Graph) error, error) {
	var f func(graph.Graph) string
	switch format {
	case "text":
		f = graph.Graph.Text
	case "dot":
		f = graph.Graph.DOT
	case "svg":
		f = graph.Graph.SVG
	default:
		return nil, fmt.Errorf("--format %q: use text, dot or svg", format)
	}
	return func(w io.Writer, g graph.Graph) error {
		_, err := io.WriteString(w, f(g))
		return err
	}, nil
}

// localSpec reads the topology of a spec file or a topology binary.
func localSpec(ctx context.Context, arg, resources string) (*topology.Spec, error) {
	if err := checkResources(arg, resources); err != nil {
		return nil, err
	}
	if !isSpec(arg) {
		return ctl.DescribeBinary(ctx, arg)
	}
	path, err := spec.Find(arg)
	if err != nil {
		return nil, err
	}
	w := generic.New(nil)
	defer w.Close()
	b, err := w.Load(path, resources)
	if err != nil {
		return nil, err
	}
	return b.Build()
}
