package multilang

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/internal/logging"
)

// TestLogMessagesFollowTheComponentLevel: a subprocess's log messages pass through its
// task's logger, so sparsectl set-log-level on the component lets its debug messages
// through, and they stop again when the level goes back.
func TestLogMessagesFollowTheComponentLevel(t *testing.T) {
	var buf bytes.Buffer
	levels, _, err := logging.NewLevels("wc", "info", "text", &buf)
	if err != nil {
		t.Fatal(err)
	}
	s := &shell{log: levels.Component("split").With("task", 3)}
	send := func(msg string) {
		t.Helper()
		if err := s.logMessage(map[string]any{"command": "log", "msg": msg, "level": float64(1)}); err != nil {
			t.Fatal(err)
		}
	}
	send("hidden-before")
	levels.Set(map[string]hclog.Level{"split": hclog.Debug})
	send("shown-during")
	levels.Set(nil)
	send("hidden-after")
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, "shown-during") || !strings.Contains(out, "component=split task=3") {
		t.Errorf("the subprocess's debug messages did not follow the component's level:\n%s", out)
	}
}
