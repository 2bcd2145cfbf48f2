package streamparse_test

import (
	"testing"

	"github.com/sparsestream/sparse/internal/spec"
	"github.com/sparsestream/sparse/internal/streamparse"
)

// FuzzDecode checks that any evaluator output either is refused with an error or gives
// a topology whose spec parses without a panic.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"name": "t", "config": {"a": 1}, "components": [{"name": "s", "kind": "spout", "par": 1, "config": {}, "outputs": [{"stream": "default", "fields": ["x"], "direct": false}], "inputs": [], "python": {"module": "m", "class": "C"}}]}`))
	f.Add([]byte(`{"name": "t", "components": [{"name": "b", "kind": "bolt", "par": 2, "inputs": [{"component": "s", "stream": "x", "grouping": {"type": "fields", "fields": ["y"]}}], "shell": {"command": "node", "script": "b.js", "args": ["-v"]}}]}`))
	f.Add([]byte(`{"name": "t", "config": {"n": [1, 2.5, {"k": null}]}, "components": []}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		topo, err := streamparse.Decode(data)
		if err != nil {
			return
		}
		yml, err := topo.Spec(streamparse.SpecOptions{Serializer: "json"})
		if err != nil {
			return
		}
		_, _ = spec.Parse("fuzz.yaml", yml)
	})
}
