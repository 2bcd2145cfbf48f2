package spec

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// File is a parsed spec: the topology as written, with the position of every value so
// that problems found later point at the line that causes them.
type File struct {
	// Path names the file in messages, as it was given.
	Path    string
	Name    string
	Config  topology.Config
	Spouts  []*Component
	Bolts   []*Component
	Streams []*Stream

	at    map[string]Pos // "name", "spouts", "config", "config:<key>"
	probs []Problem      // found by Parse
}

// Component is one spout or bolt of a spec.
type Component struct {
	ID   string
	Kind topology.Kind
	// Parallelism is the number of executors (default 1); Tasks the number of tasks
	// (0: the parallelism).
	Parallelism int
	Tasks       int
	Config      topology.Config
	// Exactly one of Shell and Go says how the component runs.
	Shell   *Shell
	Go      string
	Outputs []Output

	Pos Pos            // the entry
	at  map[string]Pos // "id", "parallelism", "tasks", "config", "config:<key>", "shell", "script", "command", "go", "outputs"
}

// Shell is a component run as a multi-lang subprocess: Command, then Script, then Args,
// started in the resources folder.
type Shell struct {
	Command string
	Script  string
	Args    []string
	Env     map[string]string
}

// Output is a stream a component declares.
type Output struct {
	Stream string // "default" when left out
	Fields []string
	Direct bool
	Pos    Pos
}

// Stream is a subscription: bolt To receives stream Stream of component From, routed by
// Grouping.
type Stream struct {
	Name     string // a label, for people
	From     string
	To       string
	Stream   string // "default" when left out
	Grouping Grouping
	Pos      Pos
	at       map[string]Pos // "from", "to", "stream", "grouping", "type", "fields"
}

// Grouping is how a stream's tuples are spread over the subscriber's tasks.
type Grouping struct {
	Type      string // lower case; "shuffle" when left out
	Fields    []string
	FieldsPos []Pos
}

// posOf returns the position recorded for key, else the fallback.
func posOf(at map[string]Pos, key string, fallback Pos) Pos {
	if p, ok := at[key]; ok {
		return p
	}
	return fallback
}

// Limits that keep a hostile or broken file from costing much.
const (
	// MaxSpecBytes bounds the size of a spec file.
	MaxSpecBytes = 4 << 20
	maxNodes     = 200_000 // YAML nodes visited, aliases included
	maxDepth     = 64
	// maxParallelism bounds parallelism and tasks, far above any real topology.
	maxParallelism = 100_000
)

// The keys of each mapping.
var (
	topKeys       = []string{"name", "config", "spouts", "bolts", "streams"}
	componentKeys = []string{"id", "parallelism", "tasks", "config", "shell", "go", "outputs"}
	shellKeys     = []string{"command", "script", "args", "env"}
	outputKeys    = []string{"stream", "fields", "direct"}
	streamKeys    = []string{"name", "from", "to", "stream", "grouping"}
	groupingKeys  = []string{"type", "fields"}
)

// fluxHints explains keys a Storm Flux file has and a sparse spec does not.
var fluxHints = map[string]string{
	"className":       "sparse specs name no classes: run a script with shell: {command: python3, script: x.py} or a registered Go component with go: <name>",
	"constructorArgs": "sparse specs have no constructors: give a shell component its script and args, and declare its streams under outputs",
	"components":      "sparse specs have no components section: declare spouts and bolts directly",
	"includes":        "sparse specs cannot include other files; write one file",
	"args":            "write the grouping's fields as fields: [a, b]",
	"streamId":        "write the stream's name as stream: <name> on the stream entry, beside from and to",
	"numTasks":        "write tasks: <n>",
	"properties":      "put settings under config",
}

// Parse reads a spec file's YAML and checks its structure: the keys, their types, and
// the values that make sense on their own. It returns the File even when the structure
// has problems (nil only for a YAML syntax error), so that Load can report the
// problems of both steps at once; the error is an *Error.
func Parse(path string, data []byte) (*File, error) {
	f, syntaxOK := parse(path, data)
	if !syntaxOK {
		return nil, newError(path, f.probs)
	}
	return f, newError(path, f.probs)
}

type parser struct {
	f     *File
	nodes int
	over  bool // the node budget is spent
}

func (p *parser) add(pos Pos, where, format string, args ...any) {
	p.f.probs = append(p.f.probs, Problem{Pos: pos, Where: where, Message: fmt.Sprintf(format, args...)})
}

func nodePos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{}
	}
	return Pos{Line: n.Line, Column: n.Column}
}

var syntaxRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse returns the file and false for a YAML syntax error (the problem is in f.probs).
func parse(path string, data []byte) (f *File, syntaxOK bool) {
	f = &File{Path: path, Config: topology.Config{}, at: map[string]Pos{}}
	if len(data) > MaxSpecBytes {
		f.probs = append(f.probs, Problem{Message: fmt.Sprintf("the file has %d bytes; a spec may have at most %d (keep data in the resources folder)", len(data), MaxSpecBytes)})
		return f, false
	}
	var root yaml.Node
	if err := unmarshal(data, &root); err != nil {
		msg := err.Error()
		pos := Pos{}
		if m := syntaxRE.FindStringSubmatch(strings.SplitN(msg, "\n", 2)[0]); m != nil {
			pos.Line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		msg = strings.TrimPrefix(msg, "yaml: ")
		f.probs = append(f.probs, Problem{Pos: pos, Message: "YAML syntax error at or after this line: " + msg + "; fix the YAML (indent with spaces, and write key: value with a space after the colon)"})
		return f, false
	}
	p := &parser{f: f}
	doc := &root
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			doc = nil
		} else {
			doc = doc.Content[0]
		}
	}
	if doc == nil || doc.Kind == 0 || (doc.Kind == yaml.ScalarNode && doc.ShortTag() == "!!null") {
		p.add(Pos{}, "", "the file is empty; a spec needs a name and spouts, bolts and streams (see the example in the sparse documentation)")
		return f, true
	}
	p.top(doc)
	return f, true
}

// unmarshal parses YAML into a node tree; a panic in the YAML library is an error.
func unmarshal(data []byte, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: the YAML parser failed: %v", r)
		}
	}()
	return yaml.Unmarshal(data, n)
}

// resolve follows aliases and counts the nodes visited; nil once the budget is spent.
func (p *parser) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > 100 {
			return nil
		}
		n = n.Alias
	}
	if n == nil {
		return nil
	}
	p.nodes++
	if p.nodes > maxNodes {
		if !p.over {
			p.over = true
			p.add(nodePos(n), "", "the file has more than %d YAML nodes (counting what aliases repeat); write a smaller spec", maxNodes)
		}
		return nil
	}
	return n
}

// describe names the kind of a node for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "empty"
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!bool":
			return n.Value
		}
		return strconv.Quote(n.Value)
	}
	return "something else"
}

type entry struct {
	key      string
	keyNode  *yaml.Node
	valNode  *yaml.Node
	position Pos // of the value (of the key when the value is empty)
}

// mapping reads a mapping node's entries. known lists the keys allowed (nil: any);
// unknown and repeated keys are problems. ok is false when n is not a mapping.
func (p *parser) mapping(n *yaml.Node, where, what string, known []string) (entries []entry, ok bool) {
	n = p.resolve(n)
	if n == nil {
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		p.add(nodePos(n), where, "%s must be a mapping of key: value lines, not %s", what, describe(n))
		return nil, false
	}
	seen := map[string]Pos{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := p.resolve(n.Content[i]), n.Content[i+1]
		if k == nil {
			return entries, true
		}
		if k.Kind != yaml.ScalarNode {
			p.add(nodePos(k), where, "a key of %s is %s; keys must be plain names", what, describe(k))
			continue
		}
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			p.add(nodePos(k), where, "merge keys (<<) are not supported in specs; write the keys out")
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			p.add(nodePos(k), where, "key %q is given twice in %s (first on line %d); keep one", k.Value, what, prev.Line)
			continue
		}
		seen[k.Value] = nodePos(k)
		if known != nil && !slices.Contains(known, k.Value) {
			msg := fmt.Sprintf("unknown key %q in %s", k.Value, what)
			if hint, ok := fluxHints[k.Value]; ok {
				msg += "; " + hint
			} else {
				msg += suggest(k.Value, known) + "; the keys are: " + strings.Join(known, ", ")
			}
			p.add(nodePos(k), where, "%s", msg)
			continue
		}
		pos := nodePos(v)
		if isNull(v) && v.Line == 0 {
			pos = nodePos(k)
		}
		entries = append(entries, entry{key: k.Value, keyNode: k, valNode: v, position: pos})
	}
	return entries, true
}

func isNull(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// str reads a string value; numbers and booleans are taken as written.
func (p *parser) str(e entry, where string) (string, bool) {
	n := p.resolve(e.valNode)
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || isNull(n) {
		p.add(e.position, where, "%s must be a string, not %s", e.key, describe(n))
		return "", false
	}
	return n.Value, true
}

// count reads a positive integer (parallelism, tasks).
func (p *parser) count(e entry, where string) (int, bool) {
	n := p.resolve(e.valNode)
	if n == nil {
		return 0, false
	}
	var v int64
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		p.add(e.position, where, "%s must be a whole number such as 2, not %s", e.key, describe(n))
		return 0, false
	}
	if v < 1 || v > maxParallelism {
		p.add(e.position, where, "%s is %d; it must be between 1 and %d", e.key, v, maxParallelism)
		return 0, false
	}
	return int(v), true
}

func (p *parser) boolean(e entry, where string) (bool, bool) {
	n := p.resolve(e.valNode)
	if n == nil {
		return false, false
	}
	var v bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&v) != nil {
		p.add(e.position, where, "%s must be true or false, not %s", e.key, describe(n))
		return false, false
	}
	return v, true
}

// strList reads a list of strings, with the position of each.
func (p *parser) strList(e entry, where, example string) ([]string, []Pos, bool) {
	n := p.resolve(e.valNode)
	if n == nil {
		return nil, nil, false
	}
	if n.Kind != yaml.SequenceNode {
		p.add(e.position, where, "%s must be a list such as %s, not %s", e.key, example, describe(n))
		return nil, nil, false
	}
	var out []string
	var pos []Pos
	ok := true
	for _, c := range n.Content {
		c = p.resolve(c)
		if c == nil {
			return out, pos, false
		}
		if c.Kind != yaml.ScalarNode || isNull(c) {
			p.add(nodePos(c), where, "each element of %s must be a string, not %s", e.key, describe(c))
			ok = false
			continue
		}
		out = append(out, c.Value)
		pos = append(pos, nodePos(c))
	}
	return out, pos, ok
}

// config reads a config mapping; at gets "config:<key>" positions.
func (p *parser) config(e entry, where string, at map[string]Pos) topology.Config {
	conf := topology.Config{}
	if isNull(e.valNode) {
		return conf // "config:" with nothing under it
	}
	entries, _ := p.mapping(e.valNode, where, "config", nil)
	for _, ce := range entries {
		v, ok := p.value(ce.valNode, where, "config "+ce.key, 0)
		if !ok {
			continue
		}
		conf[ce.key] = v
		at["config:"+ce.key] = nodePos(ce.keyNode)
	}
	return conf
}

// value converts a config value to the types topology.Config holds.
func (p *parser) value(n *yaml.Node, where, what string, depth int) (any, bool) {
	n = p.resolve(n)
	if n == nil {
		return nil, false
	}
	if depth > maxDepth {
		p.add(nodePos(n), where, "%s is nested more than %d levels deep", what, maxDepth)
		return nil, false
	}
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, true
		case "!!bool":
			var b bool
			if n.Decode(&b) == nil {
				return b, true
			}
		case "!!int":
			var i int64
			if n.Decode(&i) == nil {
				return i, true
			}
			var f float64
			if n.Decode(&f) == nil && !math.IsInf(f, 0) {
				return f, true
			}
			p.add(nodePos(n), where, "%s: %s is too large a number", what, n.Value)
			return nil, false
		case "!!float":
			var f float64
			if n.Decode(&f) == nil {
				return f, true
			}
		}
		return n.Value, true
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, ok := p.value(c, where, what, depth+1)
			if !ok {
				return nil, false
			}
			out = append(out, v)
		}
		return out, true
	case yaml.MappingNode:
		entries, _ := p.mapping(n, where, what, nil)
		out := make(map[string]any, len(entries))
		for _, e := range entries {
			v, ok := p.value(e.valNode, where, what+"."+e.key, depth+1)
			if !ok {
				return nil, false
			}
			out[e.key] = v
		}
		return out, true
	}
	p.add(nodePos(n), where, "%s: %s is not a value a config can hold", what, describe(n))
	return nil, false
}

// list reads a list node's elements (an empty value is an empty list); ok is false
// when the value is something else.
func (p *parser) list(e entry, where, example string) (nodes []*yaml.Node, ok bool) {
	n := p.resolve(e.valNode)
	if n == nil {
		return nil, false
	}
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		p.add(e.position, where, "%s must be a list (lines starting with \"- \"), such as %s, not %s", e.key, example, describe(n))
		return nil, false
	}
	return n.Content, true
}

func (p *parser) top(doc *yaml.Node) {
	f := p.f
	f.at["top"] = nodePos(doc)
	entries, ok := p.mapping(doc, "", "the spec", topKeys)
	if !ok {
		return
	}
	hasName := false
	spoutEntries := 0
	for _, e := range entries {
		switch e.key {
		case "name":
			f.at["name"] = e.position
			if s, ok := p.str(e, "topology"); ok {
				f.Name = s
				hasName = true
				if s == "" {
					p.add(e.position, "topology", "the name is empty; name the topology, for example name: wordcount")
				}
			}
		case "config":
			f.at["config"] = e.position
			f.Config = p.config(e, "topology", f.at)
		case "spouts", "bolts":
			f.at[e.key] = nodePos(e.keyNode)
			kind := topology.KindSpout
			if e.key == "bolts" {
				kind = topology.KindBolt
			}
			nodes, ok := p.list(e, "", "- id: split")
			if kind == topology.KindSpout {
				spoutEntries = len(nodes)
				if !ok {
					spoutEntries = -1
				}
			}
			for _, n := range nodes {
				if c := p.component(n, kind); c != nil {
					if kind == topology.KindSpout {
						f.Spouts = append(f.Spouts, c)
					} else {
						f.Bolts = append(f.Bolts, c)
					}
				}
			}
		case "streams":
			f.at["streams"] = nodePos(e.keyNode)
			nodes, _ := p.list(e, "", "- {from: sentences, to: split}")
			for i, n := range nodes {
				if s := p.stream(n, i); s != nil {
					f.Streams = append(f.Streams, s)
				}
			}
		}
	}
	if !hasName && !slices.ContainsFunc(entries, func(e entry) bool { return e.key == "name" }) {
		p.add(nodePos(doc), "topology", "the spec has no name; add a line such as name: wordcount")
	}
	if spoutEntries == 0 {
		p.add(posOf(f.at, "spouts", nodePos(doc)), "topology", "the topology has no spout; declare one under spouts: with an id and a shell script or a go component")
	}
}

func (p *parser) component(n *yaml.Node, kind topology.Kind) *Component {
	n = p.resolve(n)
	if n == nil {
		return nil
	}
	c := &Component{Kind: kind, Parallelism: 1, Config: topology.Config{}, Pos: nodePos(n), at: map[string]Pos{}}
	where := string(kind)
	// Find the id first, so that every other problem can name the component.
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == "id" {
				if v := p.resolve(n.Content[i+1]); v != nil && v.Kind == yaml.ScalarNode && !isNull(v) {
					where = fmt.Sprintf("%s %q", kind, v.Value)
				}
				break
			}
		}
	}
	entries, ok := p.mapping(n, where, "a "+string(kind), componentKeys)
	if !ok {
		return nil
	}
	hasID := false
	for _, e := range entries {
		c.at[e.key] = e.position
		switch e.key {
		case "id":
			if s, ok := p.str(e, where); ok {
				c.ID, hasID = s, true
				if s == "" {
					p.add(e.position, where, "the id is empty; give the %s a name such as id: split", kind)
				}
			}
		case "parallelism":
			if v, ok := p.count(e, where); ok {
				c.Parallelism = v
			}
		case "tasks":
			if v, ok := p.count(e, where); ok {
				c.Tasks = v
			}
		case "config":
			c.Config = p.config(e, where, c.at)
		case "go":
			if s, ok := p.str(e, where); ok {
				c.Go = s
				if s == "" {
					p.add(e.position, where, "go is empty; give the name of a registered Go component")
				}
			}
		case "shell":
			c.Shell = p.shell(e, where, c.at)
		case "outputs":
			c.Outputs = p.outputs(e, where)
		}
	}
	if !hasID && !slices.ContainsFunc(entries, func(e entry) bool { return e.key == "id" }) {
		p.add(c.Pos, where, "the %s has no id; add one such as id: split", kind)
	}
	_, hasShell := c.at["shell"]
	_, hasGo := c.at["go"]
	switch {
	case hasShell && hasGo:
		p.add(c.at["go"], where, "give either shell or go, not both")
	case !hasShell && !hasGo:
		p.add(c.Pos, where, "say how the %s runs: shell: {command: python3, script: %s.py} for a script in the resources folder, or go: <name> for a registered Go component", kind, cmp.Or(c.ID, "name"))
	}
	return c
}

func (p *parser) shell(e entry, where string, at map[string]Pos) *Shell {
	entries, ok := p.mapping(e.valNode, where, "shell", shellKeys)
	if !ok {
		return nil
	}
	s := &Shell{}
	for _, se := range entries {
		at[se.key] = se.position
		switch se.key {
		case "command":
			if v, ok := p.str(se, where); ok {
				s.Command = v
			}
		case "script":
			if v, ok := p.str(se, where); ok {
				s.Script = v
			}
		case "args":
			s.Args, _, _ = p.strList(se, where, `["--verbose"]`)
		case "env":
			var env []entry
			if !isNull(se.valNode) {
				env, _ = p.mapping(se.valNode, where, "env", nil)
			}
			s.Env = map[string]string{}
			for _, ve := range env {
				if v, ok := p.str(ve, where); ok {
					if ve.key == "" || strings.ContainsAny(ve.key, "=\x00") {
						p.add(nodePos(ve.keyNode), where, "env name %q is not a valid environment variable name", ve.key)
						continue
					}
					s.Env[ve.key] = v
				}
			}
		}
	}
	if s.Command == "" {
		p.add(posOf(at, "command", e.position), where, "shell needs a command, for example command: python3")
	}
	return s
}

func (p *parser) outputs(e entry, where string) []Output {
	var out []Output
	nodes, _ := p.list(e, where, "- fields: [word]")
	for _, n := range nodes {
		n = p.resolve(n)
		if n == nil {
			return out
		}
		o := Output{Stream: tuple.DefaultStream, Pos: nodePos(n)}
		entries, ok := p.mapping(n, where, "an output", outputKeys)
		if !ok {
			continue
		}
		hasFields := false
		for _, oe := range entries {
			switch oe.key {
			case "stream":
				if s, ok := p.str(oe, where); ok {
					o.Stream = s
				}
			case "fields":
				hasFields = true
				o.Fields, _, _ = p.strList(oe, where, "[word, count]")
			case "direct":
				o.Direct, _ = p.boolean(oe, where)
			}
		}
		if !hasFields {
			p.add(o.Pos, where, "the output %q has no fields; list them, for example fields: [word]", o.Stream)
		}
		out = append(out, o)
	}
	return out
}

func (p *parser) stream(n *yaml.Node, i int) *Stream {
	n = p.resolve(n)
	if n == nil {
		return nil
	}
	s := &Stream{Stream: tuple.DefaultStream, Grouping: Grouping{Type: "shuffle"}, Pos: nodePos(n), at: map[string]Pos{}}
	where := fmt.Sprintf("stream %d", i+1)
	if n.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(n.Content); j += 2 {
			if k := n.Content[j]; k.Kind == yaml.ScalarNode && k.Value == "to" {
				if v := p.resolve(n.Content[j+1]); v != nil && v.Kind == yaml.ScalarNode && !isNull(v) {
					where = fmt.Sprintf("bolt %q", v.Value)
				}
			}
		}
	}
	entries, ok := p.mapping(n, where, "a stream", streamKeys)
	if !ok {
		return nil
	}
	for _, e := range entries {
		s.at[e.key] = e.position
		switch e.key {
		case "name":
			s.Name, _ = p.str(e, where)
		case "from":
			s.From, _ = p.str(e, where)
		case "to":
			s.To, _ = p.str(e, where)
		case "stream":
			s.Stream, _ = p.str(e, where)
		case "grouping":
			ge, ok := p.mapping(e.valNode, where, "grouping", groupingKeys)
			if !ok {
				break
			}
			hasType := false
			for _, g := range ge {
				s.at[g.key] = g.position
				switch g.key {
				case "type":
					if t, ok := p.str(g, where); ok {
						s.Grouping.Type = strings.ToLower(t)
						hasType = true
					}
				case "fields":
					s.Grouping.Fields, s.Grouping.FieldsPos, _ = p.strList(g, where, "[word]")
				}
			}
			if !hasType && !slices.ContainsFunc(ge, func(g entry) bool { return g.key == "type" }) {
				p.add(e.position, where, "the grouping has no type; add type: shuffle (or fields, all, global, direct, local_or_shuffle, none, partial_key)")
			}
		}
	}
	for _, k := range []string{"from", "to"} {
		if _, ok := s.at[k]; !ok {
			p.add(s.Pos, where, "the stream has no %s; streams say from: <component> and to: <bolt>", k)
		}
	}
	return s
}
