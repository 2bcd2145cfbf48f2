package ctl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/pkg/grouping"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/wire"
)

// DecodeSpecJSON reads the JSON a topology binary's `describe` prints. Integers in the
// configuration become int64 and other numbers float64, as topology.ParseOverride reads
// them, so that they reach nimbus as integers.
func DecodeSpecJSON(b []byte) (*topology.Spec, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var s topology.Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("not a topology spec in JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not a topology spec in JSON: more than one JSON value")
	}
	if s.Name == "" && len(s.Components) == 0 {
		return nil, errors.New("not a topology spec in JSON: it has neither a name nor components")
	}
	s.Config = normalizeConfig(s.Config)
	for i, c := range s.Components {
		if c == nil {
			return nil, fmt.Errorf("not a topology spec in JSON: component %d is null", i)
		}
		c.Config = normalizeConfig(c.Config)
	}
	return &s, nil
}

func normalizeConfig(c topology.Config) topology.Config {
	for k, v := range c {
		c[k] = normalizeNumber(v)
	}
	return c
}

// normalizeNumber turns json.Number into int64 or float64, recursively.
func normalizeNumber(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = normalizeNumber(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normalizeNumber(x[k])
		}
	}
	return v
}

// SpecToProto converts a topology spec to the protobuf form Submit carries. The
// factories and custom grouping code stay behind: they travel in the binary.
func SpecToProto(s *topology.Spec) (*sparsev1.TopologySpec, error) {
	conf, err := wire.MapToProto(s.Config)
	if err != nil {
		return nil, fmt.Errorf("topology %q config: %w", s.Name, err)
	}
	p := &sparsev1.TopologySpec{Name: s.Name, Config: conf}
	for _, c := range s.Components {
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
				Fields:     in.Grouping.Fields,
				CustomName: in.Grouping.CustomName,
			},
		})
	}
	for _, st := range c.Streams {
		pc.Streams = append(pc.Streams, &sparsev1.StreamSpec{Id: st.ID, Fields: st.Fields, Direct: st.Direct})
	}
	return pc, nil
}

func toInt32(what string, n int) (int32, error) {
	if n > math.MaxInt32 || n < math.MinInt32 {
		return 0, fmt.Errorf("%s %d does not fit in 32 bits", what, n)
	}
	return int32(n), nil
}

// SpecFromProto converts a protobuf spec back to a topology spec without factories, as
// nimbus sees it; check it with topology.ValidateShape.
func SpecFromProto(p *sparsev1.TopologySpec) (*topology.Spec, error) {
	if p == nil {
		return nil, errors.New("no topology spec")
	}
	conf, err := wire.MapFromProto(p.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("topology %q config: %w", p.GetName(), err)
	}
	s := &topology.Spec{Name: p.GetName(), Config: conf}
	for _, pc := range p.GetComponents() {
		cc, err := wire.MapFromProto(pc.GetConfig())
		if err != nil {
			return nil, fmt.Errorf("topology %q component %q config: %w", p.GetName(), pc.GetId(), err)
		}
		c := &topology.ComponentSpec{
			ID:          pc.GetId(),
			Kind:        topology.Kind(pc.GetKind()),
			Parallelism: int(pc.GetParallelism()),
			Tasks:       int(pc.GetTasks()),
			Config:      cc,
		}
		for _, in := range pc.GetInputs() {
			g := in.GetGrouping()
			c.Inputs = append(c.Inputs, topology.Input{
				Component: in.GetComponent(),
				Stream:    in.GetStream(),
				Grouping: grouping.Spec{
					Type:       grouping.Type(g.GetType()),
					Fields:     g.GetFields(),
					CustomName: g.GetCustomName(),
				},
			})
		}
		for _, st := range pc.GetStreams() {
			c.Streams = append(c.Streams, topology.StreamSpec{ID: st.GetId(), Fields: st.GetFields(), Direct: st.GetDirect()})
		}
		s.Components = append(s.Components, c)
	}
	return s, nil
}
