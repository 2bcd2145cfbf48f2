package spec

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sparsestream/sparse/pkg/grouping"
	"github.com/sparsestream/sparse/pkg/multilang"
	"github.com/sparsestream/sparse/pkg/topology"
)

// Options say how a spec's components are made.
type Options struct {
	// Resources is the folder holding the scripts; shell components run in it. Load
	// defaults it to the spec file's folder; "" here is the current directory.
	Resources string
	// Registry resolves go: components; nil has none.
	Registry *Registry
	// Env is added to the environment of every shell component, before its own env
	// (the generic worker puts the bundled Python client on PYTHONPATH this way).
	Env []string
}

// Load reads a spec file and builds its topology, reporting every problem of the file
// at once as an *Error. o.Resources defaults to the spec file's folder.
func Load(path string, o Options) (*topology.Builder, error) {
	data, err := readSpec(path)
	if err != nil {
		return nil, err
	}
	if o.Resources == "" {
		o.Resources = filepath.Dir(path)
	}
	return LoadBytes(path, data, o)
}

// readSpec reads a spec file, refusing one larger than MaxSpecBytes.
func readSpec(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("spec %s: no such file; pass the path of a topology.yaml", path)
		}
		return nil, fmt.Errorf("spec: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, MaxSpecBytes+1))
	if err != nil {
		return nil, fmt.Errorf("spec %s: %w", path, err)
	}
	return data, nil
}

// LoadBytes parses a spec's bytes (named path in messages) and builds its topology,
// reporting the problems of both steps at once.
func LoadBytes(path string, data []byte, o Options) (*topology.Builder, error) {
	f, syntaxOK := parse(path, data)
	if !syntaxOK {
		return nil, newError(path, f.probs)
	}
	b, probs := f.build(o)
	if err := newError(path, append(slices.Clone(f.probs), probs...)); err != nil {
		return nil, err
	}
	return b, nil
}

// Builder builds the topology of a parsed spec: it resolves the components (scripts
// in the resources folder, Go components in the registry), checks the streams against
// the outputs they refer to, and validates the result with topology.Validate. The
// error, an *Error, lists the problems of this step only; Load reports Parse's too.
func (f *File) Builder(o Options) (*topology.Builder, error) {
	b, probs := f.build(o)
	if err := newError(f.Path, probs); err != nil {
		return nil, err
	}
	return b, nil
}

type builder struct {
	f     *File
	o     Options
	dir   string // absolute resources folder
	probs []Problem
}

func (bb *builder) add(pos Pos, where, format string, args ...any) {
	bb.probs = append(bb.probs, Problem{Pos: pos, Where: where, Message: fmt.Sprintf(format, args...)})
}

func (c *Component) where() string { return fmt.Sprintf("%s %q", c.Kind, c.ID) }

// placeholder factories stand in for components that cannot be made, so that
// topology.Validate reports only what the spec has not reported already. A spec with
// problems is never run.
var (
	placeholderSpout topology.SpoutFactory = func() topology.Spout { return nil }
	placeholderBolt  topology.BoltFactory  = func() topology.Bolt { return nil }
)

func (f *File) build(o Options) (*topology.Builder, []Problem) {
	bb := &builder{f: f, o: o}
	dir, err := filepath.Abs(cmp.Or(o.Resources, "."))
	if err != nil {
		bb.add(Pos{}, "", "cannot resolve the resources folder %q: %v", o.Resources, err)
		dir = o.Resources
	}
	bb.dir = dir
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		bb.add(Pos{}, "", "the resources folder %s is not a directory; pass --resources with the folder that holds the scripts", dir)
	}

	name := f.Name
	if name == "" {
		name = "unnamed" // Parse reported it
	}
	b := topology.NewBuilder(name)
	for _, k := range slices.Sorted(maps.Keys(f.Config)) {
		b.Config(k, f.Config[k])
	}

	// Components, in the order of the file; the first of two with one id wins.
	byID := map[string]*Component{}
	bolts := map[string]*topology.BoltDeclarer{}
	all := append(slices.Clone(f.Spouts), f.Bolts...)
	for _, c := range all {
		if c.ID == "" {
			continue // Parse reported it
		}
		if prev := byID[c.ID]; prev != nil {
			bb.add(posOf(c.at, "id", c.Pos), c.where(), "the id is also used by the %s on line %d; give each spout and bolt its own id", prev.Kind, posOf(prev.at, "id", prev.Pos).Line)
			continue
		}
		byID[c.ID] = c
		bb.declare(b, c, bolts)
	}

	// Subscriptions.
	seen := map[[3]string]*Stream{}
	for _, s := range f.Streams {
		if g, ok := bb.subscription(s, byID); ok {
			key := [3]string{s.To, s.From, s.Stream}
			if prev := seen[key]; prev != nil {
				bb.add(s.Pos, fmt.Sprintf("bolt %q", s.To), "subscribes to stream %q of %q a second time (first on line %d); keep one entry per stream", s.Stream, s.From, prev.Pos.Line)
				continue
			}
			seen[key] = s
			bolts[s.To].InputStream(s.From, s.Stream, g)
		}
	}

	// What topology.Validate finds beyond that, at the node it concerns.
	if _, err := b.Build(); err != nil {
		var ve *topology.ValidationError
		if !errors.As(err, &ve) {
			bb.add(Pos{}, "", "%v", err)
		} else {
			for _, p := range ve.Problems {
				if p.Component == "" && strings.Contains(p.Message, "has no spout") {
					continue // Parse reported it, in the spec's words
				}
				pos, where := bb.locate(p, byID)
				bb.add(pos, where, "%s", p.Message)
			}
		}
	}
	return b, bb.probs
}

// declare adds a component to the builder.
func (bb *builder) declare(b *topology.Builder, c *Component, bolts map[string]*topology.BoltDeclarer) {
	var spout topology.SpoutFactory
	var bolt topology.BoltFactory
	var defaults Registered
	switch {
	case c.Shell != nil && c.Go == "":
		cmd, ok := bb.shellCommand(c)
		if ok {
			spout, bolt = multilang.NewShellSpout(cmd), multilang.NewShellBolt(cmd)
		}
	case c.Go != "" && c.Shell == nil:
		r, ok := bb.o.Registry.Lookup(c.Go)
		switch {
		case !ok:
			names := bb.o.Registry.Names(c.Kind)
			bb.add(posOf(c.at, "go", c.Pos), c.where(), "no Go %s is registered as %q%s; the registered %ss are: %s",
				c.Kind, c.Go, suggest(c.Go, names), c.Kind, quoteList(names))
		case r.Kind != c.Kind:
			bb.add(posOf(c.at, "go", c.Pos), c.where(), "the Go component %q is a %s, not a %s; declare it under %ss", c.Go, r.Kind, c.Kind, r.Kind)
		default:
			spout, bolt, defaults = r.Spout, r.Bolt, r
		}
	}
	if spout == nil {
		spout = placeholderSpout
	}
	if bolt == nil {
		bolt = placeholderBolt
	}
	outputs := make([]topology.StreamSpec, 0, len(c.Outputs))
	for _, o := range c.Outputs {
		outputs = append(outputs, topology.StreamSpec{ID: o.Stream, Fields: o.Fields, Direct: o.Direct})
	}
	if len(c.Outputs) == 0 {
		outputs = defaults.Outputs
	}
	conf := topology.Config{}
	maps.Copy(conf, defaults.Config)
	maps.Copy(conf, c.Config)
	if defaults.Check != nil {
		if err := defaults.Check(bb.f.Config, conf); err != nil {
			pos, ok := configPos(c.at, c.Config, err.Error())
			if !ok {
				pos = posOf(c.at, "config", c.Pos)
			}
			bb.add(pos, c.where(), "%v", err)
		}
	}

	// declare(stream, direct, fields) adds an output stream to the component.
	var declare func(stream string, direct bool, fields []string)
	if c.Kind == topology.KindSpout {
		sd := b.Spout(c.ID, spout, c.Parallelism)
		if c.Tasks > 0 {
			sd.Tasks(c.Tasks)
		}
		for _, k := range slices.Sorted(maps.Keys(conf)) {
			sd.Config(k, conf[k])
		}
		declare = func(stream string, direct bool, fields []string) {
			if direct {
				sd.DirectStream(stream, fields...)
			} else {
				sd.OutputStream(stream, fields...)
			}
		}
	} else {
		bd := b.Bolt(c.ID, bolt, c.Parallelism)
		if c.Tasks > 0 {
			bd.Tasks(c.Tasks)
		}
		for _, k := range slices.Sorted(maps.Keys(conf)) {
			bd.Config(k, conf[k])
		}
		bolts[c.ID] = bd
		declare = func(stream string, direct bool, fields []string) {
			if direct {
				bd.DirectStream(stream, fields...)
			} else {
				bd.OutputStream(stream, fields...)
			}
		}
	}
	for _, o := range outputs {
		declare(o.ID, o.Direct, o.Fields)
	}
}

// shellCommand checks a shell component's files and returns its command.
func (bb *builder) shellCommand(c *Component) (multilang.ShellCommand, bool) {
	sh := c.Shell
	ok := sh.Command != ""
	if strings.ContainsRune(sh.Command, '/') && !filepath.IsAbs(sh.Command) {
		if !bb.localFile(c, "command", sh.Command, true) {
			ok = false
		}
	}
	var args []string
	if sh.Script != "" {
		if !bb.localFile(c, "script", sh.Script, false) {
			ok = false
		}
		args = append(args, sh.Script)
	}
	args = append(args, sh.Args...)
	env := slices.Clone(bb.o.Env)
	for _, k := range slices.Sorted(maps.Keys(sh.Env)) {
		env = append(env, k+"="+sh.Env[k])
	}
	return multilang.ShellCommand{Command: sh.Command, Args: args, Dir: bb.dir, Env: env}, ok
}

// localFile checks that rel names a file inside the resources folder.
func (bb *builder) localFile(c *Component, key, rel string, executable bool) bool {
	pos := posOf(c.at, key, c.Pos)
	if !filepath.IsLocal(rel) {
		bb.add(pos, c.where(), "%s %q must be a path inside the resources folder (relative, without \"..\"), so that it travels in the bundle", key, rel)
		return false
	}
	st, err := os.Stat(filepath.Join(bb.dir, rel))
	switch {
	case err != nil:
		bb.add(pos, c.where(), "%s %q is not in the resources folder %s; put it there or fix the name%s", key, rel, bb.dir, suggest(rel, bb.listDir(filepath.Dir(rel))))
		return false
	case !st.Mode().IsRegular():
		bb.add(pos, c.where(), "%s %q in the resources folder is not a regular file", key, rel)
		return false
	case executable && st.Mode()&0o111 == 0:
		bb.add(pos, c.where(), "%s %q is not executable; chmod +x it, or run it through an interpreter (command: python3, script: %s)", key, rel, rel)
		return false
	}
	return true
}

// listDir names the files of a folder under the resources, as rel paths.
func (bb *builder) listDir(rel string) []string {
	ents, err := os.ReadDir(filepath.Join(bb.dir, rel))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if len(out) > 1000 {
			break
		}
		out = append(out, filepath.Join(rel, e.Name()))
	}
	return out
}

var groupingTypes = []string{"shuffle", "fields", "all", "global", "direct", "local_or_shuffle", "none", "partial_key"}

// subscription checks one stream entry against the components it names.
func (bb *builder) subscription(s *Stream, byID map[string]*Component) (grouping.Spec, bool) {
	if s.From == "" || s.To == "" {
		return grouping.Spec{}, false // Parse reported it
	}
	ids := slices.Sorted(maps.Keys(byID))
	ok := true
	to := byID[s.To]
	where := fmt.Sprintf("bolt %q", s.To)
	if to == nil || to.Kind != topology.KindBolt {
		where = fmt.Sprintf("stream %q -> %q", s.From, s.To)
	}
	switch {
	case to == nil:
		bb.add(posOf(s.at, "to", s.Pos), where, "to: %q is not a bolt of this spec%s; the bolts are: %s", s.To, suggest(s.To, bb.boltIDs(byID)), quoteList(bb.boltIDs(byID)))
		ok = false
	case to.Kind != topology.KindBolt:
		bb.add(posOf(s.at, "to", s.Pos), where, "to: %q is a spout, and spouts receive no streams; send the stream to a bolt", s.To)
		ok = false
	}
	from := byID[s.From]
	if from == nil {
		bb.add(posOf(s.at, "from", s.Pos), where, "from: %q is not a component of this spec%s; the components are: %s", s.From, suggest(s.From, ids), quoteList(ids))
		return grouping.Spec{}, false
	}
	if r, known := bb.o.Registry.Lookup(from.Go); from.Go != "" && len(from.Outputs) == 0 && (!known || r.Kind != from.Kind) {
		return grouping.Spec{}, false // its streams are unknown: the component is reported
	}
	var out *topology.StreamSpec
	for _, st := range bb.outputs(from) {
		if st.ID == s.Stream {
			out = &st
			break
		}
	}
	if out == nil {
		declared := bb.outputs(from)
		names := make([]string, 0, len(declared))
		for _, st := range declared {
			names = append(names, st.ID)
		}
		if len(declared) == 0 {
			bb.add(posOf(s.at, "stream", posOf(s.at, "from", s.Pos)), where, "%q declares no output streams, so it has no stream %q; add outputs: [{fields: [...]}] to %q", s.From, s.Stream, s.From)
		} else {
			bb.add(posOf(s.at, "stream", posOf(s.at, "from", s.Pos)), where, "%q declares no stream %q%s (it declares: %s); fix the stream name or add it to the outputs of %q", s.From, s.Stream, suggest(s.Stream, names), quoteList(names), s.From)
		}
		return grouping.Spec{}, false
	}

	g := s.Grouping
	typePos := posOf(s.at, "type", posOf(s.at, "grouping", s.Pos))
	if !slices.Contains(groupingTypes, g.Type) {
		if g.Type == "custom" {
			bb.add(typePos, where, "custom groupings need Go code and cannot be used in a spec; use one of: %s", strings.Join(groupingTypes, ", "))
		} else {
			bb.add(typePos, where, "unknown grouping type %q%s; use one of: %s", g.Type, suggest(g.Type, groupingTypes), strings.Join(groupingTypes, ", "))
		}
		return grouping.Spec{}, false
	}
	keyed := g.Type == "fields" || g.Type == "partial_key"
	switch {
	case keyed && len(g.Fields) == 0:
		bb.add(typePos, where, "a %s grouping needs fields, the fields whose values choose the task: add fields: [...] with some of %s", g.Type, strings.Join(out.Fields, ", "))
		ok = false
	case !keyed && len(g.Fields) > 0:
		bb.add(posOf(s.at, "fields", typePos), where, "a %s grouping takes no fields (only fields and partial_key do); remove them or change the type", g.Type)
		ok = false
	}
	if keyed {
		for i, field := range g.Fields {
			if slices.Contains(out.Fields, field) {
				continue
			}
			pos := posOf(s.at, "fields", typePos)
			if i < len(g.FieldsPos) {
				pos = g.FieldsPos[i]
			}
			bb.add(pos, where, "%s grouping on field %q, which stream %q of %q does not declare (it declares: %s); fix the field name%s or declare it in the outputs of %q",
				g.Type, field, s.Stream, s.From, strings.Join(out.Fields, ", "), suggest(field, out.Fields), s.From)
			ok = false
		}
	}
	switch {
	case g.Type == "direct" && !out.Direct:
		bb.add(typePos, where, "a direct grouping needs a direct stream, and stream %q of %q is not one; add direct: true to that output of %q, or use another grouping", s.Stream, s.From, s.From)
		ok = false
	case g.Type != "direct" && out.Direct:
		bb.add(typePos, where, "stream %q of %q is direct (only emit_direct feeds it); subscribe with type: direct", s.Stream, s.From)
		ok = false
	}
	return grouping.Spec{Type: grouping.Type(g.Type), Fields: slices.Clone(g.Fields)}, ok
}

// outputs are the streams a component declares: its own, or its registered defaults.
func (bb *builder) outputs(c *Component) []topology.StreamSpec {
	if len(c.Outputs) > 0 {
		out := make([]topology.StreamSpec, 0, len(c.Outputs))
		for _, o := range c.Outputs {
			out = append(out, topology.StreamSpec{ID: o.Stream, Fields: o.Fields, Direct: o.Direct})
		}
		return out
	}
	if c.Go != "" {
		if r, ok := bb.o.Registry.Lookup(c.Go); ok && r.Kind == c.Kind {
			return r.Outputs
		}
	}
	return nil
}

func (bb *builder) boltIDs(byID map[string]*Component) []string {
	var out []string
	for _, id := range slices.Sorted(maps.Keys(byID)) {
		if byID[id].Kind == topology.KindBolt {
			out = append(out, id)
		}
	}
	return out
}

// locate finds the node a topology.Validate problem concerns.
func (bb *builder) locate(p topology.Problem, byID map[string]*Component) (Pos, string) {
	f := bb.f
	if p.Component == "" {
		if pos, ok := configPos(f.at, f.Config, p.Message); ok {
			return pos, "topology"
		}
		if strings.Contains(p.Message, "name") {
			if pos, ok := f.at["name"]; ok {
				return pos, "topology"
			}
		}
		return posOf(f.at, "top", Pos{}), "topology"
	}
	c := byID[p.Component]
	if c == nil {
		return Pos{}, fmt.Sprintf("component %q", p.Component)
	}
	if pos, ok := configPos(c.at, c.Config, p.Message); ok {
		return pos, c.where()
	}
	msg := p.Message
	switch {
	case strings.Contains(msg, "parallelism"):
		return posOf(c.at, "parallelism", c.Pos), c.where()
	case strings.Contains(msg, "number of tasks"):
		return posOf(c.at, "tasks", c.Pos), c.where()
	case strings.Contains(msg, "stream") || strings.Contains(msg, "field"):
		return posOf(c.at, "outputs", c.Pos), c.where()
	case strings.HasPrefix(msg, "config") || strings.Contains(msg, "config "):
		return posOf(c.at, "config", c.Pos), c.where()
	}
	return posOf(c.at, "id", c.Pos), c.where()
}

// configPos finds the config key a message names ("config <key> ...").
func configPos(at map[string]Pos, conf topology.Config, msg string) (Pos, bool) {
	best := ""
	for k := range conf {
		if len(k) > len(best) && (strings.Contains(msg, "config "+k+" ") || strings.Contains(msg, "config "+k+":")) {
			best = k
		}
	}
	if best == "" {
		return Pos{}, false
	}
	pos, ok := at["config:"+best]
	return pos, ok
}
