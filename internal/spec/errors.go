package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sparsestream/sparse/internal/editdist"
)

// Pos is a place in a spec file: 1-based line and column (zero when unknown).
type Pos struct {
	Line, Column int
}

// IsValid reports whether the position is known.
func (p Pos) IsValid() bool { return p.Line > 0 }

func (p Pos) String() string {
	switch {
	case p.Line > 0 && p.Column > 0:
		return strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Column)
	case p.Line > 0:
		return strconv.Itoa(p.Line)
	}
	return ""
}

// Problem is one thing wrong with a spec: where it is, what it concerns (`bolt "count"`,
// "topology"; may be empty) and a message that says what to do about it.
type Problem struct {
	Pos     Pos
	Where   string
	Message string
}

// Format renders the problem as "file:line:column: where: message".
func (p Problem) Format(file string) string {
	var b strings.Builder
	b.WriteString(file)
	if p.Pos.IsValid() {
		b.WriteString(":")
		b.WriteString(p.Pos.String())
	}
	b.WriteString(": ")
	if p.Where != "" {
		b.WriteString(p.Where)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error lists every problem found in a spec file, in the order of the file, so that one
// run shows them all.
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	n := len(e.Problems)
	fmt.Fprintf(&b, "spec %s has %d problem%s:", e.File, n, plural(n))
	for _, p := range e.Problems {
		b.WriteString("\n")
		b.WriteString(p.Format(e.File))
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// newError sorts the problems by position (unknown positions last) and drops exact
// duplicates; nil when there are none.
func newError(file string, probs []Problem) error {
	if len(probs) == 0 {
		return nil
	}
	probs = slices.Clone(probs)
	slices.SortStableFunc(probs, func(a, b Problem) int {
		if a.Pos.IsValid() != b.Pos.IsValid() {
			if a.Pos.IsValid() {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Column, b.Pos.Column))
	})
	probs = slices.Compact(probs)
	return &Error{File: file, Problems: probs}
}

// suggest returns ` (did you mean "x"?)` for the candidate closest to s, or "".
func suggest(s string, candidates []string) string {
	best, bestD := "", -1
	ls := strings.ToLower(s)
	for _, c := range candidates {
		d := editdist.Distance(ls, strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > max(1, min(len(s), len(best))/3) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// quoteList renders names for messages: "a", "b" (or "none").
func quoteList(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}
