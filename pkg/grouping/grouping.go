// Package grouping decides which tasks of a consuming bolt receive each tuple of a stream,
// with the semantics of Apache Storm's stream groupings.
//
// Fields and partial-key groupings route by Hash of the selected values. Hash is fixed
// across processes, restarts and machines: changing it would move keys to other tasks
// during a rolling restart, so its output is pinned by a golden test.
package grouping

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Type names a grouping. The values are stable: they are serialized and shown to users.
type Type string

// The groupings Storm offers.
const (
	Shuffle        Type = "shuffle"
	Fields         Type = "fields"
	All            Type = "all"
	Global         Type = "global"
	Direct         Type = "direct"
	LocalOrShuffle Type = "local_or_shuffle"
	None           Type = "none"
	PartialKey     Type = "partial_key"
	Custom         Type = "custom"
)

// knownTypes lists the types in the order error messages suggest them.
const knownTypes = "shuffle, fields, all, global, direct, local_or_shuffle, none, partial_key, custom"

// Spec describes a grouping declaratively (it will be serialized to protobuf/JSON later,
// except NewCustom).
type Spec struct {
	Type       Type           `json:"type"`
	Fields     []string       `json:"fields,omitempty"`      // for Fields and PartialKey: the selected field names
	CustomName string         `json:"custom_name,omitempty"` // for Custom: a stable name (shown in describe, serialized)
	NewCustom  func() Grouper `json:"-"`                     // for Custom: makes one grouper per source task
}

// String renders the spec for describe output, e.g. "fields [word]" or "custom(myname)".
func (s Spec) String() string {
	switch s.Type {
	case Fields, PartialKey:
		return string(s.Type) + " [" + strings.Join(s.Fields, " ") + "]"
	case Custom:
		return "custom(" + s.CustomName + ")"
	}
	return string(s.Type)
}

// Context is what a grouper is prepared with.
type Context struct {
	SourceComponent string
	Stream          string
	TargetComponent string
	OutputFields    []string              // the fields the stream declares, in order
	IsLocal         func(task int32) bool // true when the task runs in the same worker process (nil: all local)
}

// where names the subscription in error messages.
func (c Context) where() string {
	return fmt.Sprintf("stream %q from %q to %q", c.Stream, c.SourceComponent, c.TargetComponent)
}

// Grouper chooses target tasks. One grouper instance is used by one source task (one
// goroutine), so it needs no locking.
type Grouper interface {
	// Prepare is called once with the sorted task ids of the target component.
	Prepare(ctx Context, targets []int32) error
	// ChooseTasks returns the target tasks for one tuple emitted by sourceTask.
	// The returned slice may be reused by the next call and must not be modified by callers.
	// It must not be called before a successful Prepare.
	ChooseTasks(sourceTask int32, values []any) []int32
}

// New makes a grouper for a spec (not yet prepared). For Custom it calls spec.NewCustom.
// A Direct spec yields a *DirectGrouper, whose ChooseTasks returns nil because the emitter
// picks the task; check that task with ValidDirectTarget.
func New(spec Spec) (Grouper, error) {
	if errs := check(spec, nil, false); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	switch spec.Type {
	case Shuffle, None:
		return &shuffleGrouper{}, nil
	case Fields:
		return &fieldsGrouper{fields: slices.Clone(spec.Fields)}, nil
	case All:
		return &allGrouper{}, nil
	case Global:
		return &globalGrouper{}, nil
	case Direct:
		return &DirectGrouper{}, nil
	case LocalOrShuffle:
		return &localOrShuffleGrouper{}, nil
	case PartialKey:
		return &partialKeyGrouper{fields: slices.Clone(spec.Fields)}, nil
	case Custom:
		g := spec.NewCustom()
		if g == nil {
			return nil, fmt.Errorf("custom grouping %q: NewCustom returned nil; it must return a new Grouper on every call", spec.CustomName)
		}
		return g, nil
	}
	panic("grouping: check accepted unknown type " + string(spec.Type)) // unreachable
}

// Validate checks a spec against the fields its stream declares and returns every problem
// found (nil when there are none), so topology validation can report them all at once.
func Validate(spec Spec, streamFields []string) []error {
	return check(spec, streamFields, true)
}

// check validates spec; it compares selected fields with streamFields only when
// checkFields is set, because New does not know the stream yet.
func check(spec Spec, streamFields []string, checkFields bool) []error {
	var errs []error
	switch spec.Type {
	case Shuffle, All, Global, Direct, LocalOrShuffle, None:
	case Fields, PartialKey:
		if len(spec.Fields) == 0 {
			errs = append(errs, fmt.Errorf("%s grouping selects no fields: set Fields to the names of the fields whose values choose the task (the stream declares %s)", spec.Type, declared(streamFields)))
		}
		if checkFields {
			for _, f := range spec.Fields {
				if !slices.Contains(streamFields, f) {
					errs = append(errs, fmt.Errorf("%s grouping selects field %q, which the stream does not declare (it declares %s): select one of those fields or declare %q on the stream", spec.Type, f, declared(streamFields), f))
				}
			}
		}
	case Custom:
		if spec.NewCustom == nil {
			errs = append(errs, fmt.Errorf("custom grouping %q has no NewCustom: set it to a function that returns a new Grouper (one is made per source task)", spec.CustomName))
		}
	case "":
		errs = append(errs, errors.New("grouping type is empty: set Type to one of "+knownTypes))
	default:
		errs = append(errs, fmt.Errorf("unknown grouping type %q: use one of %s", spec.Type, knownTypes))
	}
	return errs
}

// declared renders a stream's field list for error messages.
func declared(fields []string) string {
	if len(fields) == 0 {
		return "no fields"
	}
	return "[" + strings.Join(fields, " ") + "]"
}

// ValidDirectTarget reports whether an emitDirect through g may go to task: g must be the
// grouper of a direct grouping and task one of its targets.
func ValidDirectTarget(g Grouper, task int32) bool {
	d, ok := g.(*DirectGrouper)
	return ok && d.Contains(task)
}
