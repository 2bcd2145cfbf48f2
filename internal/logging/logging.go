// Package logging makes the structured loggers of sparse's processes from their
// --log-level and --log-format flags, so that every process accepts the same levels and
// formats and says the same thing about a wrong one.
package logging

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/pflag"
)

// The formats of --log-format.
const (
	// FormatText is hclog's line format: time, [LEVEL], name: message, key=value pairs.
	FormatText = "text"
	// FormatJSON is one JSON object a line (@timestamp, @level, @module, @message and
	// the fields), for log shippers.
	FormatJSON = "json"
)

// ParseLevel reads a level by name, in any case: trace, debug, info, warn or error (and
// off, which silences the logger).
func ParseLevel(s string) (hclog.Level, error) {
	if l := hclog.LevelFromString(s); l != hclog.NoLevel {
		return l, nil
	}
	return hclog.NoLevel, fmt.Errorf("%q is not a level; use trace, debug, info, warn or error", s)
}

// ParseFormat checks a --log-format value: text or json (empty: text).
func ParseFormat(s string) (string, error) {
	switch f := strings.ToLower(strings.TrimSpace(s)); f {
	case "", FormatText:
		return FormatText, nil
	case FormatJSON:
		return FormatJSON, nil
	}
	return "", fmt.Errorf("--log-format %q is not a format; use text or json", s)
}

// New makes a text logger named name that writes lines at level and above to out; level
// is the value of the process's --log-level flag, which a wrong value's error names.
func New(name, level string, out io.Writer) (hclog.Logger, error) {
	return NewFormat(name, level, FormatText, out)
}

// NewFormat is New in a --log-format (text or json): the one logger constructor.
func NewFormat(name, level, format string, out io.Writer) (hclog.Logger, error) {
	o, err := options(name, level, format, out)
	if err != nil {
		return nil, err
	}
	return hclog.New(o), nil
}

func options(name, level, format string, out io.Writer) (*hclog.LoggerOptions, error) {
	l, err := ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level %w", err)
	}
	f, err := ParseFormat(format)
	if err != nil {
		return nil, err
	}
	return &hclog.LoggerOptions{Name: name, Level: l, Output: out, JSONFormat: f == FormatJSON}, nil
}

// Flags are a daemon's --log-level and --log-format.
type Flags struct {
	Level, Format string
}

// Register adds --log-level and --log-format to fs.
func (f *Flags) Register(fs *pflag.FlagSet) {
	fs.StringVar(&f.Level, "log-level", "info", "log level: trace, debug, info, warn or error")
	fs.StringVar(&f.Format, "log-format", FormatText, "log format: text, or json (one object a line, for log shippers)")
}

// Logger makes the logger the flags describe.
func (f *Flags) Logger(name string, out io.Writer) (hclog.Logger, error) {
	return NewFormat(name, f.Level, f.Format, out)
}

// Levels makes the loggers of a worker's components, each with a level that can change
// while the worker runs (sparsectl set-log-level), apart from the others: every
// component's logger is its own root (hclog shares a level between a logger and what is
// derived from it, so the executor's and its tasks' loggers change together).
type Levels struct {
	opts hclog.LoggerOptions
	with []any
	base hclog.Level

	mu    sync.Mutex
	comps map[string]hclog.Logger
}

// NewLevels makes the process logger (name, level, format and out as NewFormat) and the
// Levels of its components, which carry the fields with beside component.
func NewLevels(name, level, format string, out io.Writer, with ...any) (*Levels, hclog.Logger, error) {
	o, err := options(name, level, format, out)
	if err != nil {
		return nil, nil, err
	}
	// The component loggers are separate roots writing to one output: one lock keeps
	// their lines whole.
	o.Mutex = &sync.Mutex{}
	l := &Levels{opts: *o, with: with, base: o.Level, comps: map[string]hclog.Logger{}}
	root := hclog.New(&l.opts).With(with...)
	return l, root, nil
}

// Base is the level the process started with (--log-level).
func (l *Levels) Base() hclog.Level { return l.base }

// Component is the logger of a component: named after it, with a component field, at
// the component's current level. Loggers derived from it (With, Named) follow its level.
func (l *Levels) Component(id string) hclog.Logger {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.comps[id]; ok {
		return c
	}
	o := l.opts
	c := hclog.New(&o).With(l.with...).Named(id).With("component", id)
	l.comps[id] = c
	return c
}

// Set gives each component the level of levels (by component id), and the others the
// base level.
func (l *Levels) Set(levels map[string]hclog.Level) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, c := range l.comps {
		lv, ok := levels[id]
		if !ok {
			lv = l.base
		}
		c.SetLevel(lv)
	}
}

// Level is a component's current level.
func (l *Levels) Level(id string) hclog.Level {
	return l.Component(id).GetLevel()
}
