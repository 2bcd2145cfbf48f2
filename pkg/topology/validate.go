package topology

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/sparsestream/sparse/pkg/grouping"
)

// Problem is one thing wrong with a topology, with the component it concerns (empty for
// topology-wide problems) and what to do about it.
type Problem struct {
	Component string
	Message   string
}

func (p Problem) String() string {
	if p.Component == "" {
		return p.Message
	}
	return fmt.Sprintf("component %q: %s", p.Component, p.Message)
}

// ValidationError lists every problem found in a topology, so that one run shows them all.
type ValidationError struct {
	Topology string
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	n := len(e.Problems)
	fmt.Fprintf(&b, "topology %q is invalid (%d problem%s):", e.Topology, n, plural(n))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Validate checks a topology and returns a *ValidationError listing every problem, or nil.
func Validate(s *Spec) error { return validate(s, true, nil) }

// ValidateShape checks everything Validate does except the factories, and the
// DefaultLimits: it is what runs on a spec that arrives as data without code.
func ValidateShape(s *Spec) error { return ValidateShapeWithin(s, DefaultLimits) }

// ValidateShapeWithin is ValidateShape with the given limits (zero fields take
// DefaultLimits'): nimbus checks submissions and stored topologies with its own.
func ValidateShapeWithin(s *Spec, l Limits) error { return validate(s, false, &l) }

// validate checks s; with factories it checks the spout and bolt factories too, and with
// limits its size.
func validate(s *Spec, factories bool, limits *Limits) error {
	v := &validator{}
	if s.Name == "" {
		v.add("", "the topology has no name; give NewBuilder a name such as \"wordcount\"")
	} else if !nameRE.MatchString(s.Name) {
		v.add("", fmt.Sprintf("topology name %q may only use letters, digits, '.', '_' and '-', starting with a letter or digit", s.Name))
	}
	v.config("", s.Config)

	byID := map[string]*ComponentSpec{}
	spouts := 0
	for _, c := range s.Components {
		switch {
		case c.ID == "":
			v.add("", "a component has an empty id; give every spout and bolt a name")
		case strings.HasPrefix(c.ID, "__"):
			v.add(c.ID, "ids starting with \"__\" are reserved for system components; rename it")
		case byID[c.ID] != nil:
			v.add(c.ID, "the id is used by more than one component; give each a unique id")
		}
		if c.ID != "" && byID[c.ID] == nil {
			byID[c.ID] = c
		}
		switch c.Kind {
		case KindSpout:
			spouts++
			if factories && c.Spout == nil {
				v.add(c.ID, "the spout factory is nil; pass a func() topology.Spout")
			}
		case KindBolt:
			if factories && c.Bolt == nil {
				v.add(c.ID, "the bolt factory is nil; pass a func() topology.Bolt")
			}
		default:
			v.add(c.ID, fmt.Sprintf("kind %q is neither %q nor %q", c.Kind, KindSpout, KindBolt))
		}
		if c.Parallelism < 1 {
			v.add(c.ID, fmt.Sprintf("parallelism is %d; it must be at least 1", c.Parallelism))
		}
		if c.Tasks < 1 {
			v.add(c.ID, fmt.Sprintf("number of tasks is %d; it must be at least 1", c.Tasks))
		}
		v.streams(c)
		v.config(c.ID, c.Config)
	}
	if spouts == 0 {
		v.add("", "the topology has no spout; declare at least one with Builder.Spout")
	}

	for _, c := range s.Components {
		seen := map[[2]string]bool{}
		for _, in := range c.Inputs {
			key := [2]string{in.Component, in.Stream}
			if seen[key] {
				v.add(c.ID, fmt.Sprintf("subscribes to %s of %q twice; keep one grouping per stream", streamName(in.Stream), in.Component))
				continue
			}
			seen[key] = true
			src := byID[in.Component]
			if src == nil {
				v.add(c.ID, fmt.Sprintf("subscribes to unknown component %q; declare it or fix the name (components: %s)", in.Component, ids(s)))
				continue
			}
			st := src.Stream(in.Stream)
			if st == nil {
				v.add(c.ID, fmt.Sprintf("subscribes to %s of %q, which %q does not declare (it declares: %s); declare it with OutputStream or fix the name",
					streamName(in.Stream), in.Component, in.Component, streams(src)))
				continue
			}
			isDirect := in.Grouping.Type == grouping.Direct
			if isDirect && !st.Direct {
				v.add(c.ID, fmt.Sprintf("uses a direct grouping on %s of %q, which is not a direct stream; declare it with DirectStream or use another grouping", streamName(in.Stream), in.Component))
			}
			if !isDirect && st.Direct {
				v.add(c.ID, fmt.Sprintf("uses a %s grouping on direct stream %s of %q, which only EmitDirect feeds; subscribe with Direct", in.Grouping.Type, streamName(in.Stream), in.Component))
			}
			g := in.Grouping
			if !factories && g.Type == grouping.Custom && g.NewCustom == nil {
				g.NewCustom = func() grouping.Grouper { return nil } // code arrives with the binary
			}
			for _, err := range grouping.Validate(g, st.Fields) {
				v.add(c.ID, fmt.Sprintf("input from %q %s: %v", in.Component, streamName(in.Stream), err))
			}
		}
	}
	if limits != nil {
		v.limits(s, limits.WithDefaults())
	}
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Topology: s.Name, Problems: v.problems}
}

type validator struct{ problems []Problem }

func (v *validator) add(component, msg string) {
	v.problems = append(v.problems, Problem{Component: component, Message: msg})
}

func (v *validator) streams(c *ComponentSpec) {
	seen := map[string]bool{}
	for _, st := range c.Streams {
		switch {
		case st.ID == "":
			v.add(c.ID, "declares a stream with an empty name")
		case strings.HasPrefix(st.ID, "__"):
			v.add(c.ID, fmt.Sprintf("stream %q: names starting with \"__\" are reserved for system streams; rename it", st.ID))
		case seen[st.ID]:
			v.add(c.ID, fmt.Sprintf("declares %s twice; declare each stream once", streamName(st.ID)))
		}
		seen[st.ID] = true
		fields := map[string]bool{}
		for _, f := range st.Fields {
			switch {
			case f == "":
				v.add(c.ID, fmt.Sprintf("%s has an empty field name", streamName(st.ID)))
			case strings.HasPrefix(f, "__"):
				v.add(c.ID, fmt.Sprintf("%s field %q: names starting with \"__\" are reserved; rename it", streamName(st.ID), f))
			case fields[f]:
				v.add(c.ID, fmt.Sprintf("%s declares field %q twice", streamName(st.ID), f))
			}
			fields[f] = true
		}
	}
}

func (v *validator) config(component string, c Config) {
	ints := []struct {
		key string
		min int64
	}{
		{ConfAckerExecutors, 0},
		{ConfMessageTimeoutSecs, 1},
		{ConfMaxSpoutPending, 1},
		{ConfTickTupleFreqSecs, 0},
		{ConfWorkers, 1},
		{ConfReceiveBufferSize, 1},
		{ConfProducerBatchSize, 1},
		{ConfFlushIntervalMillis, 0},
		{ConfSpoutWaitMaxMillis, 0},
		{ConfHeapFloorMB, 0},
	}
	for _, k := range ints {
		if _, ok := c[k.key]; !ok {
			continue
		}
		n, err := c.Int(k.key, 0)
		if err != nil {
			v.add(component, err.Error())
		} else if n < k.min {
			v.add(component, fmt.Sprintf("config %s is %d; it must be at least %d", k.key, n, k.min))
		}
	}
	if _, err := c.Bool(ConfDebug, false); err != nil {
		v.add(component, err.Error())
	}
}

func streamName(id string) string { return fmt.Sprintf("stream %q", id) }

func ids(s *Spec) string {
	var out []string
	for _, c := range s.Components {
		out = append(out, c.ID)
	}
	return strings.Join(out, ", ")
}

func streams(c *ComponentSpec) string {
	if len(c.Streams) == 0 {
		return "no streams"
	}
	var out []string
	for _, st := range c.Streams {
		out = append(out, fmt.Sprintf("%q", st.ID))
	}
	return strings.Join(out, ", ")
}
