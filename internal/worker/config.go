package worker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/sparsestream/sparse/pkg/topology"
)

// LoadConfig reads a topology configuration from a JSON object file, as a supervisor
// writes it for its workers. Whole numbers become int64 and other numbers float64, as
// with -o options.
func LoadConfig(path string) (topology.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the config file: %w", err)
	}
	return ParseConfig(b)
}

// ParseConfig decodes a topology configuration from a JSON object.
func ParseConfig(b []byte) (topology.Config, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("the topology config is not a JSON object: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("the topology config has data after its JSON object")
	}
	conf := make(topology.Config, len(m))
	for k, v := range m {
		conf[k] = topology.NormalizeJSON(v)
	}
	return conf, nil
}
