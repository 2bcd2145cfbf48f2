package topology

import (
	"github.com/sparsestream/sparse/pkg/grouping"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// Kind is a component's role.
type Kind string

// The two kinds of user component.
const (
	KindSpout Kind = "spout"
	KindBolt  Kind = "bolt"
)

// Spec is a validated topology: what the engine runs, and what is sent to the cluster.
// Everything but the factories is plain data.
type Spec struct {
	Name       string           `json:"name"`
	Config     Config           `json:"config,omitempty"`
	Components []*ComponentSpec `json:"components"`
}

// ComponentSpec is one spout or bolt.
type ComponentSpec struct {
	ID          string       `json:"id"`
	Kind        Kind         `json:"kind"`
	Parallelism int          `json:"parallelism"` // executors
	Tasks       int          `json:"tasks"`       // fixed for the topology's life
	Inputs      []Input      `json:"inputs,omitempty"`
	Streams     []StreamSpec `json:"streams,omitempty"`
	Config      Config       `json:"config,omitempty"`

	Spout SpoutFactory `json:"-"`
	Bolt  BoltFactory  `json:"-"`
}

// Input is a subscription of a bolt to a component's stream.
type Input struct {
	Component string        `json:"component"`
	Stream    string        `json:"stream"`
	Grouping  grouping.Spec `json:"grouping"`
}

// StreamSpec is an output stream a component declares.
type StreamSpec struct {
	ID     string   `json:"id"`
	Fields []string `json:"fields"`
	Direct bool     `json:"direct,omitempty"` // only EmitDirect may emit on it
}

// Component returns the component with the given id, or nil.
func (s *Spec) Component(id string) *ComponentSpec {
	for _, c := range s.Components {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// Stream returns a declared stream, or nil.
func (c *ComponentSpec) Stream(id string) *StreamSpec {
	for i := range c.Streams {
		if c.Streams[i].ID == id {
			return &c.Streams[i]
		}
	}
	return nil
}

// Builder wires spouts and bolts into a topology. Declaration methods record; Build
// validates everything at once.
type Builder struct {
	name  string
	conf  Config
	comps []*ComponentSpec
}

// NewBuilder starts a topology with the given name.
func NewBuilder(name string) *Builder { return &Builder{name: name, conf: Config{}} }

// Config sets a topology-wide configuration value.
func (b *Builder) Config(key string, value any) *Builder {
	b.conf[key] = value
	return b
}

// Spout declares a spout with the given parallelism (number of executors).
func (b *Builder) Spout(id string, f SpoutFactory, parallelism int) *SpoutDeclarer {
	c := &ComponentSpec{ID: id, Kind: KindSpout, Parallelism: parallelism, Tasks: parallelism, Config: Config{}, Spout: f}
	b.comps = append(b.comps, c)
	return &SpoutDeclarer{declarer{c}}
}

// Bolt declares a bolt with the given parallelism (number of executors).
func (b *Builder) Bolt(id string, f BoltFactory, parallelism int) *BoltDeclarer {
	c := &ComponentSpec{ID: id, Kind: KindBolt, Parallelism: parallelism, Tasks: parallelism, Config: Config{}, Bolt: f}
	b.comps = append(b.comps, c)
	return &BoltDeclarer{declarer{c}}
}

// Build validates the topology and returns its Spec. The error lists every problem.
func (b *Builder) Build() (*Spec, error) {
	s := &Spec{Name: b.name, Config: b.conf.Clone(), Components: b.comps}
	if err := Validate(s); err != nil {
		return nil, err
	}
	return s, nil
}

type declarer struct{ c *ComponentSpec }

func (d declarer) output(id string, direct bool, fields []string) {
	d.c.Streams = append(d.c.Streams, StreamSpec{ID: id, Fields: append([]string(nil), fields...), Direct: direct})
}

// SpoutDeclarer configures a spout.
type SpoutDeclarer struct{ declarer }

// Output declares the default stream's fields.
func (d *SpoutDeclarer) Output(fields ...string) *SpoutDeclarer {
	d.output(tuple.DefaultStream, false, fields)
	return d
}

// OutputStream declares a named stream.
func (d *SpoutDeclarer) OutputStream(stream string, fields ...string) *SpoutDeclarer {
	d.output(stream, false, fields)
	return d
}

// DirectStream declares a named stream that is emitted to with EmitDirect only.
func (d *SpoutDeclarer) DirectStream(stream string, fields ...string) *SpoutDeclarer {
	d.output(stream, true, fields)
	return d
}

// Tasks sets the number of tasks (default: the parallelism).
func (d *SpoutDeclarer) Tasks(n int) *SpoutDeclarer { d.c.Tasks = n; return d }

// Config sets a configuration value for this component only.
func (d *SpoutDeclarer) Config(key string, value any) *SpoutDeclarer {
	d.c.Config[key] = value
	return d
}

// BoltDeclarer configures a bolt.
type BoltDeclarer struct{ declarer }

// Output declares the default stream's fields.
func (d *BoltDeclarer) Output(fields ...string) *BoltDeclarer {
	d.output(tuple.DefaultStream, false, fields)
	return d
}

// OutputStream declares a named stream.
func (d *BoltDeclarer) OutputStream(stream string, fields ...string) *BoltDeclarer {
	d.output(stream, false, fields)
	return d
}

// DirectStream declares a named stream that is emitted to with EmitDirect only.
func (d *BoltDeclarer) DirectStream(stream string, fields ...string) *BoltDeclarer {
	d.output(stream, true, fields)
	return d
}

// Tasks sets the number of tasks (default: the parallelism).
func (d *BoltDeclarer) Tasks(n int) *BoltDeclarer { d.c.Tasks = n; return d }

// Config sets a configuration value for this component only.
func (d *BoltDeclarer) Config(key string, value any) *BoltDeclarer {
	d.c.Config[key] = value
	return d
}

// InputStream subscribes to a component's named stream with any grouping.
func (d *BoltDeclarer) InputStream(component, stream string, g grouping.Spec) *BoltDeclarer {
	d.c.Inputs = append(d.c.Inputs, Input{Component: component, Stream: stream, Grouping: g})
	return d
}

// Input subscribes to a component's default stream with any grouping.
func (d *BoltDeclarer) Input(component string, g grouping.Spec) *BoltDeclarer {
	return d.InputStream(component, tuple.DefaultStream, g)
}

// Shuffle subscribes to the default stream, spreading tuples evenly.
func (d *BoltDeclarer) Shuffle(component string) *BoltDeclarer {
	return d.Input(component, grouping.Spec{Type: grouping.Shuffle})
}

// Fields subscribes to the default stream; tuples with equal values of the fields go to
// the same task.
func (d *BoltDeclarer) Fields(component string, fields ...string) *BoltDeclarer {
	return d.Input(component, grouping.Spec{Type: grouping.Fields, Fields: fields})
}

// All subscribes to the default stream; every task gets every tuple.
func (d *BoltDeclarer) All(component string) *BoltDeclarer {
	return d.Input(component, grouping.Spec{Type: grouping.All})
}

// Global subscribes to the default stream; the lowest task gets every tuple.
func (d *BoltDeclarer) Global(component string) *BoltDeclarer {
	return d.Input(component, grouping.Spec{Type: grouping.Global})
}

// LocalOrShuffle subscribes to the default stream, preferring tasks in the same worker.
func (d *BoltDeclarer) LocalOrShuffle(component string) *BoltDeclarer {
	return d.Input(component, grouping.Spec{Type: grouping.LocalOrShuffle})
}

// None subscribes to the default stream without caring where tuples go (shuffle today).
func (d *BoltDeclarer) None(component string) *BoltDeclarer {
	return d.Input(component, grouping.Spec{Type: grouping.None})
}

// PartialKey subscribes to the default stream with key grouping split over two tasks per
// key, which evens out skewed keys; the bolt must merge partial results.
func (d *BoltDeclarer) PartialKey(component string, fields ...string) *BoltDeclarer {
	return d.Input(component, grouping.Spec{Type: grouping.PartialKey, Fields: fields})
}

// Direct subscribes to a direct stream: the emitter picks the task.
func (d *BoltDeclarer) Direct(component, stream string) *BoltDeclarer {
	return d.InputStream(component, stream, grouping.Spec{Type: grouping.Direct})
}

// Custom subscribes to a stream with a user grouping; name identifies it in describe.
func (d *BoltDeclarer) Custom(component, stream, name string, f func() grouping.Grouper) *BoltDeclarer {
	return d.InputStream(component, stream, grouping.Spec{Type: grouping.Custom, CustomName: name, NewCustom: f})
}
