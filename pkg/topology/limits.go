package topology

import (
	"encoding/json"
	"fmt"
)

// Limits bounds the size of a topology that arrives as data (ValidateShapeWithin), so
// that no submission, and no record an older release stored, can make nimbus, the
// scheduler or a supervisor allocate without bound: the layout of a topology holds every
// task id, and the scheduler every executor, in memory.
type Limits struct {
	// TasksPerComponent bounds each component's number of tasks.
	TasksPerComponent int
	// Tasks bounds the topology's tasks, acker tasks included.
	Tasks int
	// Executors bounds the topology's executors (each component's min(parallelism,
	// tasks), acker executors included).
	Executors int
	// Workers bounds topology.workers.
	Workers int
	// Ackers bounds topology.acker.executors, which defaults to topology.workers.
	Ackers int
	// ConfigBytes bounds the JSON size of the topology's configuration and its
	// components' configurations together.
	ConfigBytes int
	// NameLength bounds the length in bytes of the topology's name and of component and
	// stream ids. Names become etcd keys, worker ids and directory names.
	NameLength int
}

// DefaultLimits are what nimbus enforces unless told otherwise: far beyond what one
// topology needs (Storm topologies run tens to a few thousand tasks), and small enough
// that a topology at every limit still lays out in a few megabytes.
var DefaultLimits = Limits{
	TasksPerComponent: 10_000,
	Tasks:             100_000,
	Executors:         100_000,
	Workers:           10_000,
	Ackers:            10_000,
	ConfigBytes:       256 << 10,
	NameLength:        128,
}

// MaxLimits is the ceiling the limits may be raised to, and what a reader of stored
// topologies that does not know the nimbus's limits (a supervisor) checks: a layout at
// these limits is still tens of megabytes. Task ids are int32, and a topology record
// must fit in one etcd value (1.5 MiB by default).
var MaxLimits = Limits{
	TasksPerComponent: 1_000_000,
	Tasks:             1_000_000,
	Executors:         1_000_000,
	Workers:           100_000,
	Ackers:            100_000,
	ConfigBytes:       4 << 20,
	NameLength:        200,
}

// WithDefaults returns l with every zero field taken from DefaultLimits.
func (l Limits) WithDefaults() Limits {
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	set(&l.TasksPerComponent, DefaultLimits.TasksPerComponent)
	set(&l.Tasks, DefaultLimits.Tasks)
	set(&l.Executors, DefaultLimits.Executors)
	set(&l.Workers, DefaultLimits.Workers)
	set(&l.Ackers, DefaultLimits.Ackers)
	set(&l.ConfigBytes, DefaultLimits.ConfigBytes)
	set(&l.NameLength, DefaultLimits.NameLength)
	return l
}

// Check reports every limit above MaxLimits or below 1, naming the limit by name(field),
// where field is the Limits field's name.
func (l Limits) Check(name func(field string) string) []error {
	var errs []error
	for _, f := range l.fields(MaxLimits) {
		switch {
		case *f.v < 1:
			errs = append(errs, fmt.Errorf("%s is %d; it must be at least 1", name(f.name), *f.v))
		case *f.v > f.max:
			errs = append(errs, fmt.Errorf("%s is %d; it can be raised to %d at most", name(f.name), *f.v, f.max))
		}
	}
	return errs
}

type limitField struct {
	name string
	v    *int
	max  int
}

func (l *Limits) fields(ceiling Limits) []limitField {
	return []limitField{
		{"TasksPerComponent", &l.TasksPerComponent, ceiling.TasksPerComponent},
		{"Tasks", &l.Tasks, ceiling.Tasks},
		{"Executors", &l.Executors, ceiling.Executors},
		{"Workers", &l.Workers, ceiling.Workers},
		{"Ackers", &l.Ackers, ceiling.Ackers},
		{"ConfigBytes", &l.ConfigBytes, ceiling.ConfigBytes},
		{"NameLength", &l.NameLength, ceiling.NameLength},
	}
}

// limits checks s against l once the rest of the shape is known to be sound enough to
// count; it adds one problem per limit exceeded, naming the key or the component and the
// limit.
func (v *validator) limits(s *Spec, l Limits) {
	if len(s.Name) > l.NameLength {
		v.add("", fmt.Sprintf("the topology name is %d bytes long; the limit is %d (a cluster limit: nimbusd --max-name-length)", len(s.Name), l.NameLength))
	}
	configBytes := configSize(s.Config)
	tasks, execs := 0, 0
	for _, c := range s.Components {
		if len(c.ID) > l.NameLength {
			v.add(c.ID[:l.NameLength/2]+"...", fmt.Sprintf("the component id is %d bytes long; the limit is %d (nimbusd --max-name-length)", len(c.ID), l.NameLength))
		}
		for _, st := range c.Streams {
			if len(st.ID) > l.NameLength {
				v.add(c.ID, fmt.Sprintf("a stream id is %d bytes long; the limit is %d (nimbusd --max-name-length)", len(st.ID), l.NameLength))
			}
		}
		if c.Tasks > l.TasksPerComponent {
			v.add(c.ID, fmt.Sprintf("number of tasks is %d; the limit per component is %d (a cluster limit: nimbusd --max-tasks-per-component)", c.Tasks, l.TasksPerComponent))
		}
		tasks += max(c.Tasks, 0)
		execs += max(min(c.Parallelism, c.Tasks), 0)
		configBytes += configSize(c.Config)
	}
	ackers, err := s.Config.Int(ConfAckerExecutors, -1)
	if err != nil {
		return // reported by config
	}
	workers, err := s.Config.Int(ConfWorkers, 1)
	if err != nil {
		return
	}
	if workers > int64(l.Workers) {
		v.add("", fmt.Sprintf("config %s is %d; the limit is %d (a cluster limit: nimbusd --max-workers)", ConfWorkers, workers, l.Workers))
	}
	if ackers < 0 { // unset: one acker per worker
		ackers = max(workers, 1)
		if ackers > int64(l.Ackers) {
			v.add("", fmt.Sprintf("config %s is unset, so it is %s, %d; the limit is %d (a cluster limit: nimbusd --max-ackers); set %s",
				ConfAckerExecutors, ConfWorkers, ackers, l.Ackers, ConfAckerExecutors))
		}
	} else if ackers > int64(l.Ackers) {
		v.add("", fmt.Sprintf("config %s is %d; the limit is %d (a cluster limit: nimbusd --max-ackers)", ConfAckerExecutors, ackers, l.Ackers))
	}
	if ackers > int64(l.Ackers) {
		ackers = 0 // reported above; the totals count the components alone
	}
	if total := int64(tasks) + ackers; total > int64(l.Tasks) {
		v.add("", fmt.Sprintf("the topology has %d tasks (%d of them acker tasks); the limit is %d (a cluster limit: nimbusd --max-tasks)", total, ackers, l.Tasks))
	}
	if total := int64(execs) + ackers; total > int64(l.Executors) {
		v.add("", fmt.Sprintf("the topology has %d executors (%d of them acker executors); the limit is %d (a cluster limit: nimbusd --max-executors)", total, ackers, l.Executors))
	}
	if configBytes > l.ConfigBytes {
		v.add("", fmt.Sprintf("the configuration is %d bytes as JSON (the topology's and its components' together); the limit is %d (a cluster limit: nimbusd --max-config-bytes)", configBytes, l.ConfigBytes))
	}
}

// configSize is the JSON size of c; a config that JSON cannot hold (only possible for
// one built in code) counts as empty.
func configSize(c Config) int {
	if len(c) == 0 {
		return 0
	}
	b, err := json.Marshal(c)
	if err != nil {
		return 0
	}
	return len(b)
}
