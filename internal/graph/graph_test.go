package graph

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"

	"github.com/sparsestream/sparse/pkg/grouping"
	"github.com/sparsestream/sparse/pkg/topology"
)

func spec(name string, comps ...*topology.ComponentSpec) *topology.Spec {
	return &topology.Spec{Name: name, Components: comps}
}

func comp(id string, kind topology.Kind, inputs ...topology.Input) *topology.ComponentSpec {
	return &topology.ComponentSpec{ID: id, Kind: kind, Parallelism: 2, Tasks: 2, Inputs: inputs}
}

func in(from string, g grouping.Spec) topology.Input {
	return topology.Input{Component: from, Stream: "default", Grouping: g}
}

var wordcount = spec("wordcount",
	comp("sentences", topology.KindSpout),
	comp("split", topology.KindBolt, in("sentences", grouping.Spec{Type: grouping.Shuffle})),
	comp("count", topology.KindBolt, in("split", grouping.Spec{Type: grouping.Fields, Fields: []string{"word"}})),
)

func TestGraph(t *testing.T) {
	tests := []struct {
		name   string
		spec   *topology.Spec
		layers map[string]int
		dot    []string
		text   []string
	}{
		{"wordcount", wordcount, map[string]int{"sentences": 0, "split": 1, "count": 2},
			[]string{`"sentences" -> "split" [label="shuffle"]`, `"split" -> "count" [label="fields [word]"]`},
			[]string{"sentences (spout, 2 executors, 2 tasks)", "fields [word] ─▶ count"}},
		{"a cycle ends", spec("loop",
			comp("s", topology.KindSpout),
			comp("a", topology.KindBolt, in("s", grouping.Spec{Type: grouping.Shuffle}), in("b", grouping.Spec{Type: grouping.Shuffle})),
			comp("b", topology.KindBolt, in("a", grouping.Spec{Type: grouping.Global})),
		), nil, []string{`"b" -> "a"`}, nil},
		{"names are quoted", spec(`a"b`, comp(`x"<&>`, topology.KindSpout)), nil, []string{`digraph "a\"b"`, `"x\"<&>"`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := FromSpec(tt.spec)
			for _, n := range g.Nodes {
				if want, ok := tt.layers[n.ID]; ok && n.Layer != want {
					t.Errorf("%s in layer %d, want %d", n.ID, n.Layer, want)
				}
			}
			dot, text := g.DOT(), g.Text()
			for _, w := range tt.dot {
				if !strings.Contains(dot, w) {
					t.Errorf("DOT lacks %q:\n%s", w, dot)
				}
			}
			for _, w := range tt.text {
				if !strings.Contains(text, w) {
					t.Errorf("text lacks %q:\n%s", w, text)
				}
			}
			checkSVG(t, g)
		})
	}
}

// checkSVG parses the drawing as XML and counts one node group per component.
func checkSVG(t *testing.T, g Graph) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(g.SVG()))
	nodes := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v\n%s", err, g.SVG())
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "g" {
			for _, a := range se.Attr {
				if a.Name.Local == "class" && a.Value == "node" {
					nodes++
				}
			}
		}
	}
	if nodes != len(g.Nodes) {
		t.Errorf("the SVG draws %d nodes, want %d", nodes, len(g.Nodes))
	}
}
