// Package flagfile gives a daemon a --config file: a YAML mapping whose keys are the
// daemon's own flag names (without the dashes), so that a deployment keeps its settings
// in one reviewed file and every key means exactly what the flag of that name means.
// A flag given on the command line wins over the file.
//
//	# /etc/sparse/nimbusd.yaml
//	listen: 10.0.0.1:6627
//	etcd-endpoints: [https://etcd-1:2379, https://etcd-2:2379]
//	tls-ca: /etc/sparse/tls/ca.pem
//	acl: true
//
// Secrets do not belong in it: the daemons read them from files they name
// (--etcd-password-file) or from the environment ($SPARSE_ETCD_PASSWORD).
package flagfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/sparsestream/sparse/internal/editdist"
)

// Flag is the name of the flag that names the file.
const Flag = "config"

// maxSize bounds a config file: a daemon's flags fit in a few KiB.
const maxSize = 1 << 20

// Register adds --config to cmd and applies the file it names before cmd runs (before
// cmd's own PreRunE, if any).
func Register(cmd *cobra.Command) {
	var path string
	cmd.Flags().StringVar(&path, Flag, "", "read flags from this YAML file: keys are flag names without the dashes (see docs/deploy.md); flags on the command line win")
	next := cmd.PreRunE
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		if path != "" {
			if err := Apply(cmd.Flags(), path); err != nil {
				return err
			}
		}
		if next != nil {
			return next(cmd, args)
		}
		return nil
	}
}

// Apply reads the file at path and sets each of its keys on fs, except the flags
// already set on the command line.
func Apply(fs *pflag.FlagSet, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading --%s: %w", Flag, err)
	}
	settings, err := Parse(data)
	if err != nil {
		return fmt.Errorf("--%s %s: %w", Flag, path, err)
	}
	var errs []error
	for _, s := range settings {
		if err := s.apply(fs); err != nil {
			errs = append(errs, fmt.Errorf("--%s %s line %d: %w", Flag, path, s.Line, err))
		}
	}
	return errors.Join(errs...)
}

// Setting is one key of a file: a flag name and its value as the command line would
// give it (a list is joined with commas, as the list flags take it).
type Setting struct {
	Name, Value string
	Line        int
}

// Parse reads a config file: one YAML mapping of flag names to scalars or lists of
// scalars. Each key may appear once.
func Parse(data []byte) ([]Setting, error) {
	if len(data) > maxSize {
		return nil, fmt.Errorf("the file is %d bytes; a config file holds at most %d", len(data), maxSize)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file sets nothing
		}
		return nil, fmt.Errorf("not YAML: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("line %d: a second YAML document; a config file is one mapping", extra.Line)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	m := doc.Content[0]
	if m.Kind == yaml.ScalarNode && m.Tag == "!!null" {
		return nil, nil
	}
	if m.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: the file must be a mapping of flag names to values, like\n  listen: 10.0.0.1:6627", m.Line)
	}
	var out []Setting
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			return nil, fmt.Errorf("line %d: a key must be a flag name", k.Line)
		}
		name := strings.TrimLeft(k.Value, "-")
		if name == Flag {
			return nil, fmt.Errorf("line %d: %q cannot name another config file", k.Line, k.Value)
		}
		if first, dup := seen[name]; dup {
			return nil, fmt.Errorf("line %d: %q is set again (first on line %d)", k.Line, name, first)
		}
		seen[name] = k.Line
		val, err := value(v)
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", v.Line, name, err)
		}
		out = append(out, Setting{Name: name, Value: val, Line: k.Line})
	}
	return out, nil
}

// value is a node as a flag value: a scalar as written, a list of scalars joined with
// commas.
func value(n *yaml.Node) (string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "", errors.New("no value; remove the key to keep the default")
		}
		return n.Value, nil
	case yaml.SequenceNode:
		items := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return "", fmt.Errorf("line %d: a list item must be a plain value", c.Line)
			}
			if strings.Contains(c.Value, ",") {
				return "", fmt.Errorf("line %d: list item %q holds a comma, which would split it in two", c.Line, c.Value)
			}
			items = append(items, c.Value)
		}
		return strings.Join(items, ","), nil
	case yaml.AliasNode:
		return value(n.Alias)
	}
	return "", errors.New("a value must be a plain value or a list of them, not a mapping")
}

func (s Setting) apply(fs *pflag.FlagSet) error {
	f := fs.Lookup(s.Name)
	if f == nil {
		return fmt.Errorf("%q is not a flag of this command%s; keys are flag names without the dashes (see --help)", s.Name, suggest(fs, s.Name))
	}
	if f.Changed {
		return nil // the command line wins
	}
	if f.Value.Type() == "bool" {
		if _, err := strconv.ParseBool(s.Value); err != nil {
			return fmt.Errorf("%s: %q is not true or false", s.Name, s.Value)
		}
	}
	if err := fs.Set(s.Name, s.Value); err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	return nil
}

// suggest names the flags whose names are closest to name.
func suggest(fs *pflag.FlagSet, name string) string {
	var near []string
	fs.VisitAll(func(f *pflag.Flag) {
		if strings.Contains(f.Name, name) || strings.Contains(name, f.Name) || editdist.Distance(f.Name, name) <= 2 {
			near = append(near, f.Name)
		}
	})
	if len(near) == 0 {
		return ""
	}
	slices.Sort(near)
	return " (did you mean " + strings.Join(near, ", ") + "?)"
}
