package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: no spec file makes the parser or the builder panic; a spec they accept
// builds a valid topology, and a refused one is reported as problems that name the file.
func FuzzParse(f *testing.F) {
	f.Add([]byte(goodSpec))
	if b, err := os.ReadFile(filepath.Join("..", "..", "examples", "wordcount-yaml", "topology.yaml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("name: x\nspouts:\n  - id: a\n   go: b\n"))
	f.Add([]byte("name: x\nspouts: [{id: a, go: numbers, outputs: [{stream: s, fields: [a], direct: true}]}]\nbolts: [{id: b, go: log}]\nstreams: [{from: a, to: b, stream: s, grouping: {type: direct}}]\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("<<: {name: x}\n"))
	f.Add([]byte("name: x\nconfig: {a: !!binary aGk=, b: 2001-01-01, c: 1e400, d: 0x10, e: .inf}\n"))
	dir := fuzzResources(f)
	reg := testRegistry()
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := Parse("f.yaml", data); err != nil {
			var se *Error
			if !errors.As(err, &se) || len(se.Problems) == 0 {
				t.Fatalf("Parse error %v is not an *Error with problems", err)
			}
		}
		b, err := LoadBytes("f.yaml", data, Options{Resources: dir, Registry: reg})
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || len(se.Problems) == 0 {
				t.Fatalf("LoadBytes error %v is not an *Error with problems", err)
			}
			for _, line := range strings.Split(err.Error(), "\n")[1:] {
				if !strings.HasPrefix(line, "f.yaml") {
					t.Fatalf("problem line %q does not name the file", line)
				}
			}
			return
		}
		if _, err := b.Build(); err != nil {
			t.Fatalf("LoadBytes accepted a spec whose topology does not build: %v", err)
		}
	})
}

// fuzzResources makes a resources folder with the scripts of the seed specs.
func fuzzResources(f *testing.F) string {
	dir := f.TempDir()
	for _, name := range []string{"spout.py", "split.py", "count.py", "lib/split.py", "s.py"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	return dir
}
