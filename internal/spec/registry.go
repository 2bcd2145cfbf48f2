package spec

import (
	"fmt"
	"maps"
	"slices"

	"github.com/sparsestream/sparse/pkg/topology"
)

// Registry maps the names that `go:` components use to Go spouts and bolts. The
// generic worker has one with its built-in components; a Go program that runs specs
// may add its own. It is filled before use and only read afterwards.
type Registry struct {
	comps map[string]Registered
}

// Registered is one Go component of a Registry.
type Registered struct {
	Kind  topology.Kind
	Spout topology.SpoutFactory // for KindSpout
	Bolt  topology.BoltFactory  // for KindBolt
	// Outputs are declared when the spec declares no outputs for the component.
	Outputs []topology.StreamSpec
	// Config is the component's default config; the spec's config overrides it.
	Config topology.Config
	// Doc says in one line what it does.
	Doc string
	// Check, when set, checks the component's config when the spec is built, so that
	// a bad option stops the topology before it starts; its error names the key. own
	// is the component's own config (the spec's over Config), topo the spec's
	// topology config, which the task sees under its own.
	Check func(topo, own topology.Config) error
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{comps: map[string]Registered{}} }

// Register adds a component. It panics on an empty or repeated name, or a factory that
// does not match the kind: registration is code, and such a mistake a bug.
func (r *Registry) Register(name string, c Registered) {
	if name == "" {
		panic("spec: Register with an empty name")
	}
	if _, dup := r.comps[name]; dup {
		panic(fmt.Sprintf("spec: component %q registered twice", name))
	}
	switch {
	case c.Kind == topology.KindSpout && c.Spout != nil && c.Bolt == nil:
	case c.Kind == topology.KindBolt && c.Bolt != nil && c.Spout == nil:
	default:
		panic(fmt.Sprintf("spec: component %q: kind %q needs exactly its own factory", name, c.Kind))
	}
	r.comps[name] = c
}

// Lookup returns a registered component.
func (r *Registry) Lookup(name string) (Registered, bool) {
	if r == nil {
		return Registered{}, false
	}
	c, ok := r.comps[name]
	return c, ok
}

// Names returns the sorted names of the components of a kind ("" for all).
func (r *Registry) Names(kind topology.Kind) []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, name := range slices.Sorted(maps.Keys(r.comps)) {
		if kind == "" || r.comps[name].Kind == kind {
			out = append(out, name)
		}
	}
	return out
}
