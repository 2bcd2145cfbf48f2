// Package logging makes the structured loggers of sparse's processes from their
// --log-level flag, so that every process accepts the same levels and says the same
// thing about a wrong one.
package logging

import (
	"fmt"
	"io"

	"github.com/hashicorp/go-hclog"
)

// ParseLevel reads a level by name, in any case: trace, debug, info, warn or error (and
// off, which silences the logger).
func ParseLevel(s string) (hclog.Level, error) {
	if l := hclog.LevelFromString(s); l != hclog.NoLevel {
		return l, nil
	}
	return hclog.NoLevel, fmt.Errorf("%q is not a level; use trace, debug, info, warn or error", s)
}

// New makes a logger named name that writes lines at level and above to out; level is
// the value of the process's --log-level flag, which a wrong value's error names.
func New(name, level string, out io.Writer) (hclog.Logger, error) {
	l, err := ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level %w", err)
	}
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: l, Output: out}), nil
}
