package ctl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sparsestream/sparse/pkg/topology"
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

// normalizeConfig turns the json.Number values of c into int64 or float64.
func normalizeConfig(c topology.Config) topology.Config {
	for k, v := range c {
		c[k] = topology.NormalizeJSON(v)
	}
	return c
}
