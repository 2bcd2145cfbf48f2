// Package graph is a topology's graph of components and streams, as `sparsectl
// visualize` and the REST API's visualization show it: built from a spec, and written as
// Graphviz DOT, as SVG drawn here (no Graphviz needed), or as text.
package graph

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sparsestream/sparse/pkg/topology"
)

// Node is a component.
type Node struct {
	ID   string `json:"id"`
	Kind string `json:"kind"` // spout or bolt
	// Parallelism is its executors, Tasks its tasks.
	Parallelism int `json:"parallelism"`
	Tasks       int `json:"tasks"`
	// Layer is its column in a drawing: 0 for spouts, then one more than its furthest
	// input.
	Layer int `json:"layer"`
}

// Edge is a subscription: From's Stream flows to To, grouped by Grouping.
type Edge struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Stream   string `json:"stream"`
	Grouping string `json:"grouping"`
	// Rate, when known, is the tuples per second the source emitted in the last
	// window; a drawing makes busier edges wider.
	Rate float64 `json:"rate,omitempty"`
}

// Graph is a topology's components and streams.
type Graph struct {
	Name  string `json:"name"`
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`
}

// FromSpec builds the graph of a topology spec, components in the spec's order.
func FromSpec(s *topology.Spec) Graph {
	g := Graph{Name: s.Name}
	for _, c := range s.Components {
		g.Nodes = append(g.Nodes, Node{ID: c.ID, Kind: string(c.Kind), Parallelism: c.Parallelism, Tasks: c.Tasks})
		for _, in := range c.Inputs {
			g.Edges = append(g.Edges, Edge{From: in.Component, To: c.ID, Stream: in.Stream, Grouping: in.Grouping.String()})
		}
	}
	g.layer()
	return g
}

// layer gives every node its column: the longest path to it from a node without
// inputs, ignoring edges that close a cycle.
func (g *Graph) layer() {
	idx := map[string]int{}
	for i, n := range g.Nodes {
		idx[n.ID] = i
	}
	// Relax len(nodes) times: enough for any path without a cycle, and a bound with one.
	for range g.Nodes {
		changed := false
		for _, e := range g.Edges {
			f, okf := idx[e.From]
			t, okt := idx[e.To]
			if !okf || !okt || f == t {
				continue
			}
			if l := g.Nodes[f].Layer + 1; l > g.Nodes[t].Layer && l < len(g.Nodes) {
				g.Nodes[t].Layer, changed = l, true
			}
		}
		if !changed {
			break
		}
	}
}

// DOT writes the graph in Graphviz's language.
func (g Graph) DOT() string {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n  rankdir=LR;\n  node [fontname=\"sans-serif\"];\n", quote(g.Name))
	for _, n := range g.Nodes {
		shape := "box"
		if n.Kind == string(topology.KindSpout) {
			shape = "ellipse"
		}
		fmt.Fprintf(&b, "  %s [shape=%s, label=%s];\n", quote(n.ID), shape, quote(fmt.Sprintf("%s\n%s ×%d", n.ID, n.Kind, n.Parallelism)))
	}
	for _, e := range g.Edges {
		fmt.Fprintf(&b, "  %s -> %s [label=%s];\n", quote(e.From), quote(e.To), quote(e.label()))
	}
	b.WriteString("}\n")
	return b.String()
}

func (e Edge) label() string {
	if e.Stream == "" || e.Stream == "default" {
		return e.Grouping
	}
	return e.Stream + ": " + e.Grouping
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// Text writes the graph for a terminal: each component, then what it feeds.
func (g Graph) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "topology %s\n", g.Name)
	nodes := slices.Clone(g.Nodes)
	slices.SortStableFunc(nodes, func(a, b Node) int { return a.Layer - b.Layer })
	for _, n := range nodes {
		fmt.Fprintf(&b, "  %s (%s, %d executors, %d tasks)\n", n.ID, n.Kind, n.Parallelism, n.Tasks)
		for _, e := range g.Edges {
			if e.From == n.ID {
				fmt.Fprintf(&b, "    └─ %s ─▶ %s\n", e.label(), e.To)
			}
		}
	}
	return b.String()
}
