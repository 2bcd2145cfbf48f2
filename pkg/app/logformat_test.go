package app_test

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWorkerLogFormatJSON: a worker started with --log-format json writes one JSON
// object a line, and its components' lines carry component and task fields.
func TestWorkerLogFormatJSON(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	assignment, _, err := execute(t, tiny(), "assign", "--worker", "w1="+addr)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "assignment.json")
	if err := os.WriteFile(file, []byte(assignment), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := execute(t, tiny(), "worker", "--assignment", file, "--id", "w1", "--time", "500ms",
		"--stats-every", "0", "--log-format", "json", "-o", "topology.debug=true")
	if err != nil {
		t.Fatalf("worker: %v\n%s", err, stderr)
	}
	components := 0
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("a line is not JSON (%v): %s", err, line)
		}
		if v["@timestamp"] == nil || v["worker"] != "w1" {
			t.Errorf("a line lacks its time or worker field: %s", line)
		}
		if v["component"] != nil {
			components++
			if v["task"] == nil && v["@message"] == "emitting" {
				t.Errorf("an emit line lacks its task field: %s", line)
			}
		}
	}
	if components == 0 {
		t.Errorf("no line carries a component field:\n%s", stderr)
	}
	if _, stderr, err := execute(t, tiny(), "worker", "--assignment", file, "--id", "w1", "--log-format", "xml"); err == nil || !strings.Contains(err.Error()+stderr, "use text or json") {
		t.Errorf("--log-format xml: %v", err)
	}
}
