package logging

import (
	"bytes"
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
