package perf

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary serve as the simulation's child processes, as
// sparse-bench does with -child.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "-child" {
		if err := ChildMain(os.Args[2], "", "", 0, ""); err != nil {
			os.Stderr.WriteString("error: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childBinary is the test binary, which serves as the child processes (TestMain); the
// test is skipped with -short, since it starts processes (why says which).
func childBinary(t *testing.T, why string) string {
	t.Helper()
	if testing.Short() {
		t.Skip(why)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return self
}

// TestMeasureScale runs the control-plane simulation small: its etcd and nimbus
// processes start, every worker heartbeats, a dead supervisor's workers move and the
// standby takes over from a killed leader; the line is well formed. No speed is
// asserted.
func TestMeasureScale(t *testing.T) {
	self := childBinary(t, "starts etcd and two nimbus processes")
	var log strings.Builder
	r, err := MeasureScale(self, ScaleOptions{Supervisors: 6, Slots: 2, Topologies: 3, Workers: 2,
		LeaseTTL: 2 * time.Second, Steady: time.Second, WatchTopologies: true, Log: &log})
	if err != nil {
		t.Fatalf("MeasureScale: %v\n%s", err, log.String())
	}
	if r.Workers != 6 || r.WatchEventsPerAssignment <= 0 || r.Reassign <= 0 || r.Reassign > time.Minute || r.Failover <= 0 || r.Failover > time.Minute {
		t.Errorf("result %+v", r)
	}
	if line := r.Line(); !strings.HasPrefix(line, "BENCH shape=Scale-6s-6w ") || !strings.Contains(line, " failover_s=") || !strings.Contains(line, " events_per_assignment=") {
		t.Errorf("line %q", line)
	}
}
