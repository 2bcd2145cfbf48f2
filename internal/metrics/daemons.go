package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// NimbusMetrics are nimbusd's health: leadership, what the cluster offers, and how
// the API and the scheduler are doing. nimbusd sets them as it works. A standby sets
// IsLeader to 0 and may leave the cluster gauges as the last leader round left them.
type NimbusMetrics struct {
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
}

// NewNimbusMetrics creates nimbusd's metrics and registers them with reg (nil: they
// are not registered, for tests). To tell several nimbus instances apart inside one
// process, wrap reg with prometheus.WrapRegistererWith.
func NewNimbusMetrics(reg prometheus.Registerer) *NimbusMetrics {
	f := daemonFactory{promauto.With(reg), "nimbus"}
	gauge, counter := f.gauge, f.counter
	return &NimbusMetrics{
		IsLeader:         gauge("is_leader", "1 while this nimbus is the leader, else 0."),
		LiveSupervisors:  gauge("live_supervisors", "Supervisors registered under a live lease."),
		SlotsTotal:       gauge("slots", "Worker slots of the live supervisors."),
		SlotsUsed:        gauge("used_slots", "Worker slots assigned a worker."),
		Topologies:       gauge("topologies", "Topologies that are not killed."),
		Submits:          counter("submits_total", "Topology submissions accepted."),
		SubmitRejects:    counter("rejected_submits_total", "Topology submissions refused."),
		SchedulingRounds: counter("scheduling_rounds_total", "Scheduling rounds run by this nimbus as leader."),
		SchedulingDuration: f.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: f.subsystem, Name: "scheduling_round_duration_seconds",
			Help:    "Time one scheduling round took, from reading the cluster state to the last assignment write.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}),
		AssignmentWrites: counter("assignment_writes_total", "Assignment records written or deleted."),
		EtcdErrors:       counter("etcd_errors_total", "Failed etcd operations."),
	}
}

// SupervisorMetrics are supervisord's health: its slots and workers, artifact
// downloads, and etcd trouble. supervisord sets them as it works.
type SupervisorMetrics struct {
	// SlotsTotal is the number of slots this supervisor offers; SlotsUsed how many
	// are assigned a worker; WorkersRunning how many worker processes are alive.
	SlotsTotal, SlotsUsed, WorkersRunning prometheus.Gauge
	// WorkerRestarts counts workers started again after they exited or stopped
	// heartbeating (not starts for a new assignment).
	WorkerRestarts prometheus.Counter
	// ArtifactDownloads counts artifacts fetched and verified; ArtifactDownloadBytes
	// their bytes; ArtifactDownloadFailures fetches that failed or did not verify.
	ArtifactDownloads, ArtifactDownloadBytes, ArtifactDownloadFailures prometheus.Counter
	// EtcdErrors counts failed etcd operations.
	EtcdErrors prometheus.Counter
}

// NewSupervisorMetrics creates supervisord's metrics and registers them with reg (nil:
// they are not registered, for tests).
func NewSupervisorMetrics(reg prometheus.Registerer) *SupervisorMetrics {
	f := daemonFactory{promauto.With(reg), "supervisor"}
	gauge, counter := f.gauge, f.counter
	return &SupervisorMetrics{
		SlotsTotal:               gauge("slots", "Worker slots this supervisor offers."),
		SlotsUsed:                gauge("used_slots", "Worker slots assigned a worker."),
		WorkersRunning:           gauge("running_workers", "Worker processes alive."),
		WorkerRestarts:           counter("worker_restarts_total", "Workers started again after they exited or stopped heartbeating."),
		ArtifactDownloads:        counter("artifact_downloads_total", "Topology artifacts fetched and verified."),
		ArtifactDownloadBytes:    counter("artifact_downloaded_bytes_total", "Bytes of topology artifacts fetched."),
		ArtifactDownloadFailures: counter("artifact_download_failures_total", "Artifact fetches that failed or did not match their digest."),
		EtcdErrors:               counter("etcd_errors_total", "Failed etcd operations."),
	}
}

// daemonFactory creates a daemon's metrics under the sparse namespace and its subsystem.
type daemonFactory struct {
	promauto.Factory
	subsystem string
}

func (f daemonFactory) gauge(name, help string) prometheus.Gauge {
	return f.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Subsystem: f.subsystem, Name: name, Help: help})
}

func (f daemonFactory) counter(name, help string) prometheus.Counter {
	return f.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: f.subsystem, Name: name, Help: help})
}
