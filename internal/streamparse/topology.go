package streamparse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sparsestream/sparse/pkg/topology"
)

// Topology is a topology file's topology as streamparse.describe prints it.
type Topology struct {
	Name       string         `json:"name"`
	Config     map[string]any `json:"config"`
	Components []Component    `json:"components"`
}

// Component is one spout or bolt: a Python class (Python) or a command (Shell).
type Component struct {
	Name    string         `json:"name"`
	Kind    string         `json:"kind"` // "spout" or "bolt"
	Par     int            `json:"par"`
	Config  map[string]any `json:"config"`
	Outputs []Output       `json:"outputs"`
	Inputs  []Input        `json:"inputs"`
	Python  *PythonClass   `json:"python,omitempty"`
	Shell   *ShellCommand  `json:"shell,omitempty"`
}

// Output is a declared stream.
type Output struct {
	Stream string   `json:"stream"`
	Fields []string `json:"fields"`
	Direct bool     `json:"direct"`
}

// Input is a subscription to a stream of another component.
type Input struct {
	Component string   `json:"component"`
	Stream    string   `json:"stream"`
	Grouping  Grouping `json:"grouping"`
}

// Grouping is a stream grouping: its type and, for fields groupings, the fields.
type Grouping struct {
	Type   string   `json:"type"`
	Fields []string `json:"fields,omitempty"`
}

// PythonClass is a component class, run with python -m streamparse.run MODULE.CLASS.
type PythonClass struct {
	Module string `json:"module"`
	Class  string `json:"class"`
}

// ShellCommand is a component in another language: command, then script, then args.
type ShellCommand struct {
	Command string   `json:"command"`
	Script  string   `json:"script"`
	Args    []string `json:"args"`
}

// Bounds of what Decode accepts.
const (
	// MaxJSONBytes bounds the evaluator's output.
	MaxJSONBytes   = 4 << 20
	maxComponents  = 10_000
	maxParallelism = 100_000
)

var (
	dottedName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
	identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	groupings  = []string{"shuffle", "fields", "all", "global", "direct", "local_or_shuffle", "none", "partial_key"}
)

// Decode reads the evaluator's JSON and checks its shape: the names, kinds,
// parallelism, groupings and how each component runs. What refers to what (inputs,
// streams, fields) is checked by the spec the topology becomes.
func Decode(data []byte) (*Topology, error) {
	if len(data) > MaxJSONBytes {
		return nil, fmt.Errorf("the topology description has %d bytes, more than %d", len(data), MaxJSONBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var t Topology
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("the topology description is not valid JSON of a topology: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("the topology description has data after the topology")
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if t.Name == "" {
		bad("the topology has no name")
	}
	var err error
	if t.Config, err = jsonValues(t.Config); err != nil {
		bad("topology config: %w", err)
	}
	if len(t.Components) > maxComponents {
		return nil, fmt.Errorf("the topology has %d components, more than %d", len(t.Components), maxComponents)
	}
	for i := range t.Components {
		c := &t.Components[i]
		where := fmt.Sprintf("component %d (%q)", i, c.Name)
		if c.Name == "" {
			bad("%s has no name", where)
		}
		if c.Kind != "spout" && c.Kind != "bolt" {
			bad("%s: kind %q is neither spout nor bolt", where, c.Kind)
		}
		if c.Par < 1 || c.Par > maxParallelism {
			bad("%s: par %d is not in 1..%d", where, c.Par, maxParallelism)
		}
		if c.Config, err = jsonValues(c.Config); err != nil {
			bad("%s: config: %w", where, err)
		}
		switch {
		case (c.Python == nil) == (c.Shell == nil):
			bad("%s must be either a Python class or a shell command", where)
		case c.Python != nil && (!dottedName.MatchString(c.Python.Module) || !identifier.MatchString(c.Python.Class)):
			bad("%s: %q.%q is not a Python module and class name", where, c.Python.Module, c.Python.Class)
		case c.Shell != nil && c.Shell.Command == "":
			bad("%s: the shell command is empty", where)
		}
		if c.Kind == "spout" && len(c.Inputs) > 0 {
			bad("%s: a spout has no inputs", where)
		}
		for _, in := range c.Inputs {
			if !slices.Contains(groupings, in.Grouping.Type) {
				bad("%s: grouping %q is not one of %s", where, in.Grouping.Type, strings.Join(groupings, ", "))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("the topology description is wrong (a bug in the streamparse package or a changed version): %w", err)
	}
	return &t, nil
}

// jsonValues turns json.Numbers into int64 or float64, recursively, as spec configs
// hold them.
func jsonValues(m map[string]any) (map[string]any, error) {
	if m == nil {
		return map[string]any{}, nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		nv, err := jsonValue(v, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = nv
	}
	return out, nil
}

func jsonValue(v any, depth int) (any, error) {
	if depth > 64 {
		return nil, errors.New("nested too deep")
	}
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i, nil
		}
		f, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %s: %w", v, err)
		}
		return f, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			ne, err := jsonValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = ne
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			ne, err := jsonValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = ne
		}
		return out, nil
	}
	return v, nil
}

// The spec file's shape, for yaml.Marshal.
type (
	specFile struct {
		Name    string         `yaml:"name"`
		Config  map[string]any `yaml:"config,omitempty"`
		Spouts  []specComp     `yaml:"spouts"`
		Bolts   []specComp     `yaml:"bolts,omitempty"`
		Streams []specStream   `yaml:"streams,omitempty"`
	}
	specComp struct {
		ID          string         `yaml:"id"`
		Parallelism int            `yaml:"parallelism"`
		Config      map[string]any `yaml:"config,omitempty"`
		Shell       specShell      `yaml:"shell"`
		Outputs     []specOutput   `yaml:"outputs,omitempty"`
	}
	specShell struct {
		Command string   `yaml:"command"`
		Script  string   `yaml:"script,omitempty"`
		Args    []string `yaml:"args,omitempty"`
	}
	specOutput struct {
		Stream string   `yaml:"stream"`
		Fields []string `yaml:"fields"`
		Direct bool     `yaml:"direct,omitempty"`
	}
	specStream struct {
		From     string       `yaml:"from"`
		To       string       `yaml:"to"`
		Stream   string       `yaml:"stream"`
		Grouping specGrouping `yaml:"grouping"`
	}
	specGrouping struct {
		Type   string   `yaml:"type"`
		Fields []string `yaml:"fields,omitempty"`
	}
)

// PythonCommand is the interpreter components run with: python3 on PATH, which is the
// topology's virtualenv when it has one (its bin folder comes first on PATH).
const PythonCommand = "python3"

// SpecOptions adjust the spec a topology becomes.
type SpecOptions struct {
	// Serializer is config.json's serializer; it sets topology.multilang.serializer
	// unless the topology's config does.
	Serializer string
	// Overrides are set in the topology config last (-o, --ackers, --debug).
	Overrides topology.Config
}

// Spec writes the topology as a sparse spec (YAML). Python components run as
// python3 -m streamparse.run MODULE.CLASS, shell components as command script args,
// both in the resources folder: the project's src folder.
func (t *Topology) Spec(o SpecOptions) ([]byte, error) {
	f := specFile{Name: t.Name, Config: maps.Clone(t.Config)}
	if f.Config == nil {
		f.Config = map[string]any{}
	}
	if _, set := f.Config["topology.multilang.serializer"]; !set && o.Serializer != "" {
		f.Config["topology.multilang.serializer"] = o.Serializer
	}
	maps.Copy(f.Config, o.Overrides)
	for _, c := range t.Components {
		sc := specComp{ID: c.Name, Parallelism: c.Par, Config: c.Config}
		if c.Python != nil {
			sc.Shell = specShell{Command: PythonCommand, Args: []string{"-m", "streamparse.run", c.Python.Module + "." + c.Python.Class}}
		} else {
			sc.Shell = specShell{Command: c.Shell.Command, Script: c.Shell.Script, Args: c.Shell.Args}
		}
		for _, out := range c.Outputs {
			sc.Outputs = append(sc.Outputs, specOutput{Stream: out.Stream, Fields: orEmpty(out.Fields), Direct: out.Direct})
		}
		if c.Kind == "spout" {
			f.Spouts = append(f.Spouts, sc)
		} else {
			f.Bolts = append(f.Bolts, sc)
		}
		for _, in := range c.Inputs {
			f.Streams = append(f.Streams, specStream{From: in.Component, To: c.Name, Stream: in.Stream,
				Grouping: specGrouping{Type: in.Grouping.Type, Fields: in.Grouping.Fields}})
		}
	}
	out, err := yaml.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("writing topology %s as a spec: %w", t.Name, err)
	}
	header := fmt.Sprintf("# Written by sparsectl from the streamparse topology %s; edit the topology file, not this one.\n", t.Name)
	return append([]byte(header), out...), nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
