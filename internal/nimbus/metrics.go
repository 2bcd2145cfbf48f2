package nimbus

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sparsestream/sparse/internal/metrics"
)

// Metrics are nimbusd's health: leadership, what the cluster offers, and how the API
// and the scheduler are doing. nimbusd sets them as it works. A standby sets IsLeader
// to 0 and may leave the cluster gauges as the last leader round left them.
type Metrics struct {
	// IsLeader is 1 while this nimbus holds leadership, else 0.
	IsLeader prometheus.Gauge
	// LiveSupervisors is the number of supervisors registered under a live lease.
	LiveSupervisors prometheus.Gauge
	// SlotsTotal is the number of worker slots of the live supervisors; SlotsUsed
	// how many of them are assigned a worker.
	SlotsTotal, SlotsUsed prometheus.Gauge
	// Topologies is the number of topologies that are not killed.
	Topologies prometheus.Gauge
	// Submits counts accepted submissions; SubmitRejects refused ones (bad spec or
	// options, digest mismatch, duplicate name, not the leader).
	Submits, SubmitRejects prometheus.Counter
	// SchedulingRounds counts scheduling rounds; SchedulingDuration observes how
	// long each took, from reading etcd to the last assignment write.
	SchedulingRounds   prometheus.Counter
	SchedulingDuration prometheus.Histogram
	// AssignmentWrites counts assignment records written or deleted.
	AssignmentWrites prometheus.Counter
	// EtcdErrors counts failed etcd operations.
	EtcdErrors prometheus.Counter
	// Panics counts panics recovered in scheduling rounds, views and API calls.
	Panics prometheus.Counter
	// StatsReports counts the workers' statistics reports taken by this nimbus as
	// leader.
	StatsReports prometheus.Counter
}

// NewMetrics creates nimbusd's metrics and registers them with reg (nil: they are not
// registered, for tests). To tell several nimbus instances apart inside one process,
// wrap reg with prometheus.WrapRegistererWith.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := metrics.NewFactory(reg, "nimbus")
	gauge, counter := f.Gauge, f.Counter
	return &Metrics{
		IsLeader:         gauge("is_leader", "1 while this nimbus is the leader, else 0."),
		LiveSupervisors:  gauge("live_supervisors", "Supervisors registered under a live lease."),
		SlotsTotal:       gauge("slots", "Worker slots of the live supervisors."),
		SlotsUsed:        gauge("used_slots", "Worker slots assigned a worker."),
		Topologies:       gauge("topologies", "Topologies that are not killed."),
		Submits:          counter("submits_total", "Topology submissions accepted."),
		SubmitRejects:    counter("rejected_submits_total", "Topology submissions refused."),
		SchedulingRounds: counter("scheduling_rounds_total", "Scheduling rounds run by this nimbus as leader."),
		SchedulingDuration: f.Histogram("scheduling_round_duration_seconds",
			"Time one scheduling round took, from reading the cluster state to the last assignment write.",
			[]float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}),
		AssignmentWrites: counter("assignment_writes_total", "Assignment records written or deleted."),
		EtcdErrors:       counter("etcd_errors_total", "Failed etcd operations."),
		Panics:           counter("panics_total", "Panics recovered in scheduling rounds, views and API calls."),
		StatsReports:     counter("stats_reports_total", "Worker statistics reports taken by this nimbus as leader."),
	}
}
