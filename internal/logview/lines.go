package logview

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The time formats at the start of a sparse log line: hclog's text format, and the
// @timestamp of its JSON format.
const (
	textTimeLayout = "2006-01-02T15:04:05.000Z0700"
	jsonTimeLayout = "2006-01-02T15:04:05.000000Z07:00"
)

// LineTime is the time a log line was written, when it starts with one (a line of a
// sparse daemon or worker, text or JSON); a multi-lang subprocess's raw stderr line has
// none.
func LineTime(line string) (time.Time, bool) {
	if strings.HasPrefix(line, "{") {
		var v struct {
			T string `json:"@timestamp"`
		}
		if json.Unmarshal([]byte(line), &v) != nil || v.T == "" {
			return time.Time{}, false
		}
		t, err := time.Parse(time.RFC3339Nano, v.T)
		if err != nil {
			t, err = time.Parse(jsonTimeLayout, v.T)
		}
		return t, err == nil
	}
	end := strings.IndexByte(line, ' ')
	if end < len("2006-01-02T15:04:05") {
		return time.Time{}, false
	}
	t, err := time.Parse(textTimeLayout, line[:end])
	return t, err == nil
}

// LineField is the value of field key in a log line (hclog's key=value pairs in text,
// a member in JSON), and whether the line has it.
func LineField(line, key string) (string, bool) {
	if strings.HasPrefix(line, "{") {
		var v map[string]any
		if json.Unmarshal([]byte(line), &v) != nil {
			return "", false
		}
		switch x := v[key].(type) {
		case string:
			return x, true
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64), true
		case nil:
			return "", false
		default:
			b, _ := json.Marshal(x)
			return string(b), true
		}
	}
	j := strings.Index(line, " "+key+"=")
	if j < 0 {
		return "", false
	}
	rest := line[j+len(key)+2:]
	if strings.HasPrefix(rest, `"`) {
		if s, err := strconv.QuotedPrefix(rest); err == nil {
			u, _ := strconv.Unquote(s)
			return u, true
		}
	}
	if k := strings.IndexByte(rest, ' '); k >= 0 {
		rest = rest[:k]
	}
	return rest, true
}

// Filter selects log lines. A zero Filter takes every line.
type Filter struct {
	// Grep, when set, must match the line.
	Grep *regexp.Regexp
	// Component and Task, when set, must be the line's component and task fields.
	Component string
	Task      string
	// Since drops lines written before it (lines without a time take the time of the
	// line before them).
	Since time.Time
}

// lineFilter applies a Filter to the lines of one file in order.
type lineFilter struct {
	f    Filter
	last time.Time
}

// take reports whether the line passes; it must see every line, in order.
func (lf *lineFilter) take(line string) bool {
	if t, ok := LineTime(line); ok {
		lf.last = t
	}
	f := lf.f
	if !f.Since.IsZero() && lf.last.Before(f.Since) {
		return false
	}
	if f.Component != "" {
		if v, ok := LineField(line, "component"); !ok || v != f.Component {
			return false
		}
	}
	if f.Task != "" {
		if v, ok := LineField(line, "task"); !ok || v != f.Task {
			return false
		}
	}
	return f.Grep == nil || f.Grep.MatchString(line)
}
