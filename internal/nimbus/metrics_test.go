package nimbus

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	n := NewMetrics(reg)
	n.IsLeader.Set(1)
	n.LiveSupervisors.Set(2)
	n.SlotsTotal.Set(8)
	n.SlotsUsed.Set(3)
	n.Topologies.Set(1)
	n.Submits.Inc()
	n.SubmitRejects.Add(2)
	n.SchedulingRounds.Inc()
	n.SchedulingDuration.Observe(0.003)

	want := `
# HELP sparse_nimbus_is_leader 1 while this nimbus is the leader, else 0.
# TYPE sparse_nimbus_is_leader gauge
sparse_nimbus_is_leader 1
# HELP sparse_nimbus_live_supervisors Supervisors registered under a live lease.
# TYPE sparse_nimbus_live_supervisors gauge
sparse_nimbus_live_supervisors 2
# HELP sparse_nimbus_slots Worker slots of the live supervisors.
# TYPE sparse_nimbus_slots gauge
sparse_nimbus_slots 8
# HELP sparse_nimbus_used_slots Worker slots assigned a worker.
# TYPE sparse_nimbus_used_slots gauge
sparse_nimbus_used_slots 3
# HELP sparse_nimbus_rejected_submits_total Topology submissions refused.
# TYPE sparse_nimbus_rejected_submits_total counter
sparse_nimbus_rejected_submits_total 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"sparse_nimbus_is_leader", "sparse_nimbus_live_supervisors", "sparse_nimbus_slots", "sparse_nimbus_used_slots",
		"sparse_nimbus_rejected_submits_total"); err != nil {
		t.Error(err)
	}
	if got, err := testutil.GatherAndCount(reg); err != nil || got != 13 {
		t.Errorf("gathered %d series (error %v), want 13 nimbus metrics", got, err)
	}

	// A registry refuses a second set: one daemon, one set of metrics.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("registering nimbus metrics twice on one registry did not panic")
			}
		}()
		NewMetrics(reg)
	}()
}
