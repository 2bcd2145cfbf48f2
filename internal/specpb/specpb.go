// Package specpb converts topology specs and configurations to and from their sparse.v1
// protobuf messages: what sparsectl submits and nimbus reads and describes. It depends on
// the generated messages, pkg/topology and internal/wire only, so that the CLI and the daemons
// share one conversion without importing each other.
package specpb

import (
	"errors"
	"fmt"
	"math"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/wire"
	"github.com/sparsestream/sparse/pkg/grouping"
	"github.com/sparsestream/sparse/pkg/topology"
)

// SpecToProto converts a topology spec to the protobuf form Submit carries. The
// factories and custom grouping code stay behind: they travel in the artifact.
// Configuration values must be tuple values (string, integers, float64, bool, []byte,
// nil, []any, map[string]any) and are sent as they are: decode a topology binary's
// `describe` JSON so that its integers are integers (json.Decoder.UseNumber). It fails,
// naming the place, on a nil component, a value protobuf cannot carry, or a count that
// does not fit in 32 bits.
func SpecToProto(s *topology.Spec) (*sparsev1.TopologySpec, error) {
	if s == nil {
		return nil, errors.New("no topology spec to convert")
	}
	conf, err := wire.MapToProto(s.Config)
	if err != nil {
		return nil, fmt.Errorf("topology %q config: %w", s.Name, err)
	}
	p := &sparsev1.TopologySpec{Name: s.Name, Config: conf}
	for i, c := range s.Components {
		if c == nil {
			return nil, fmt.Errorf("topology %q component %d is nil", s.Name, i)
		}
		pc, err := componentToProto(c)
		if err != nil {
			return nil, fmt.Errorf("topology %q component %q: %w", s.Name, c.ID, err)
		}
		p.Components = append(p.Components, pc)
	}
	return p, nil
}

func componentToProto(c *topology.ComponentSpec) (*sparsev1.ComponentSpec, error) {
	par, err := toInt32("parallelism", c.Parallelism)
	if err != nil {
		return nil, err
	}
	tasks, err := toInt32("number of tasks", c.Tasks)
	if err != nil {
		return nil, err
	}
	conf, err := wire.MapToProto(c.Config)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	pc := &sparsev1.ComponentSpec{Id: c.ID, Kind: string(c.Kind), Parallelism: par, Tasks: tasks, Config: conf}
	for _, in := range c.Inputs {
		pc.Inputs = append(pc.Inputs, &sparsev1.Input{
			Component: in.Component,
			Stream:    in.Stream,
			Grouping: &sparsev1.Grouping{
				Type:       string(in.Grouping.Type),
				Fields:     cloneStrings(in.Grouping.Fields),
				CustomName: in.Grouping.CustomName,
			},
		})
	}
	for _, st := range c.Streams {
		pc.Streams = append(pc.Streams, &sparsev1.StreamSpec{Id: st.ID, Fields: cloneStrings(st.Fields), Direct: st.Direct})
	}
	return pc, nil
}

func toInt32(what string, n int) (int32, error) {
	if n > math.MaxInt32 || n < math.MinInt32 {
		return 0, fmt.Errorf("%s %d does not fit in 32 bits", what, n)
	}
	return int32(n), nil
}

// SpecFromProto converts a submitted sparse.v1.TopologySpec into a topology.Spec without
// factories, as nimbus sees it. It does not validate the result (topology.ValidateShape
// does); it fails only where the message cannot be represented at all (a missing
// component, a configuration value nested too deeply), and then names every such place.
func SpecFromProto(p *sparsev1.TopologySpec) (*topology.Spec, error) {
	if p == nil {
		return nil, errors.New("the submit header has no topology spec; send the output of `<binary> describe`")
	}
	var errs []error
	conf, err := ConfigFromProto(p.GetConfig())
	if err != nil {
		errs = append(errs, fmt.Errorf("topology config: %w", err))
	}
	s := &topology.Spec{Name: p.GetName(), Config: conf, Components: make([]*topology.ComponentSpec, 0, len(p.GetComponents()))}
	for i, pc := range p.GetComponents() {
		if pc == nil {
			errs = append(errs, fmt.Errorf("component %d is empty", i))
			continue
		}
		c := &topology.ComponentSpec{
			ID:          pc.GetId(),
			Kind:        topology.Kind(pc.GetKind()),
			Parallelism: int(pc.GetParallelism()),
			Tasks:       int(pc.GetTasks()),
		}
		if cc, err := ConfigFromProto(pc.GetConfig()); err != nil {
			errs = append(errs, fmt.Errorf("component %q: config: %w", pc.GetId(), err))
		} else {
			c.Config = cc
		}
		for _, in := range pc.GetInputs() {
			g := in.GetGrouping()
			c.Inputs = append(c.Inputs, topology.Input{
				Component: in.GetComponent(),
				Stream:    in.GetStream(),
				Grouping: grouping.Spec{
					Type:       grouping.Type(g.GetType()),
					Fields:     cloneStrings(g.GetFields()),
					CustomName: g.GetCustomName(),
				},
			})
		}
		for _, st := range pc.GetStreams() {
			c.Streams = append(c.Streams, topology.StreamSpec{
				ID:     st.GetId(),
				Fields: cloneStrings(st.GetFields()),
				Direct: st.GetDirect(),
			})
		}
		s.Components = append(s.Components, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// ConfigToProto converts a configuration to the map of a sparse.v1 message. Numbers that
// came from JSON (float64) and are whole are sent as integers, so that a config read back
// from JSON (a record stored in etcd) keeps Storm's integer settings integers. A nil
// config gives nil.
func ConfigToProto(c topology.Config) (map[string]*sparsev1.Value, error) {
	if c == nil {
		return nil, nil
	}
	m, ok := normalizeNumbers(map[string]any(c)).(map[string]any)
	if !ok {
		return nil, errors.New("config is not a map")
	}
	return wire.MapToProto(m)
}

// ConfigFromProto converts the config map of a message; an empty map gives nil.
func ConfigFromProto(m map[string]*sparsev1.Value) (topology.Config, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out, err := wire.MapFromProto(m)
	if err != nil {
		return nil, err
	}
	return topology.Config(out), nil
}

// normalizeNumbers returns v with every whole float64 that an int64 represents exactly
// turned into an int64 (JSON keeps one number type; Storm's settings are mostly integers),
// recursively through lists and maps. It copies lists and maps it changes.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) <= 1<<53 {
			return int64(x)
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = normalizeNumbers(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeNumbers(e)
		}
		return out
	case topology.Config:
		return normalizeNumbers(map[string]any(x))
	}
	return v
}

func cloneStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return append([]string(nil), s...)
}
