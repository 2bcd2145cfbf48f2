package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestParseLevel(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    hclog.Level
		wantErr bool
	}{
		{"trace", hclog.Trace, false},
		{"debug", hclog.Debug, false},
		{"info", hclog.Info, false},
		{"warn", hclog.Warn, false},
		{"error", hclog.Error, false},
		{"off", hclog.Off, false},
		{"WARN", hclog.Warn, false},
		{" Info ", hclog.Info, false},
		{"", hclog.NoLevel, true},
		{"loud", hclog.NoLevel, true},
		{"warning", hclog.NoLevel, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseLevel(tc.in)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Fatalf("ParseLevel(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
			if err != nil {
				for _, s := range []string{`"` + tc.in + `" is not a level`, "trace, debug, info, warn or error"} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
			}
		})
	}
}

func TestNew(t *testing.T) {
	var buf bytes.Buffer
	log, err := New("nimbusd", "warn", &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("quiet")
	log.Warn("loud")
	if out := buf.String(); strings.Contains(out, "quiet") || !strings.Contains(out, "nimbusd: loud") {
		t.Errorf("a warn logger wrote:\n%s", out)
	}
	if _, err := New("nimbusd", "loud", &buf); err == nil || !strings.HasPrefix(err.Error(), `--log-level "loud" is not a level`) {
		t.Errorf("a wrong level: error %v, want one naming --log-level and the value", err)
	}
}

func TestNewFormat(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewFormat("supervisord", "info", "json", &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hello", "worker", "w1")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("--log-format json wrote no JSON line: %v\n%s", err, buf.String())
	}
	if line["@message"] != "hello" || line["worker"] != "w1" || line["@module"] != "supervisord" {
		t.Errorf("JSON line %v lacks the message, module or field", line)
	}
	for _, bad := range []string{"xml", "JSON lines"} {
		if _, err := NewFormat("x", "info", bad, &buf); err == nil || !strings.Contains(err.Error(), "use text or json") {
			t.Errorf("--log-format %q: error %v, want one naming the formats", bad, err)
		}
	}
}

// TestLevels: each component's level changes alone, reaches the loggers derived from
// it, and goes back to the base level.
func TestLevels(t *testing.T) {
	var buf bytes.Buffer
	lv, root, err := NewLevels("wc", "info", "text", &buf, "worker", "w1")
	if err != nil {
		t.Fatal(err)
	}
	split := lv.Component("split").With("task", 3)
	count := lv.Component("count")
	split.Debug("split-before")
	lv.Set(map[string]hclog.Level{"split": hclog.Debug})
	split.Debug("split-during")
	count.Debug("count-during")
	root.Debug("root-during")
	lv.Set(nil)
	split.Debug("split-after")
	out := buf.String()
	for s, want := range map[string]bool{"split-before": false, "split-during": true, "count-during": false, "root-during": false, "split-after": false} {
		if strings.Contains(out, s) != want {
			t.Errorf("line %q written: %v, want %v:\n%s", s, !want, want, out)
		}
	}
	if !strings.Contains(out, "component=split") || !strings.Contains(out, "task=3") || !strings.Contains(out, "worker=w1") {
		t.Errorf("component lines lack their fields:\n%s", out)
	}
	if lv.Level("split") != hclog.Info {
		t.Errorf("split's level after the reset: %v", lv.Level("split"))
	}
}
