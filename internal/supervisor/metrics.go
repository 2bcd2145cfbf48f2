package supervisor

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sparsestream/sparse/internal/metrics"
)

// Metrics are supervisord's health: its slots and workers, artifact downloads, and
// etcd trouble. supervisord sets them as it works.
type Metrics struct {
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
	// Fenced is 1 while the supervisor's lease has expired and it vouches for no worker
	// (self-fencing), else 0.
	Fenced prometheus.Gauge
}

// NewMetrics creates supervisord's metrics and registers them with reg (nil: they are
// not registered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := metrics.NewFactory(reg, "supervisor")
	gauge, counter := f.Gauge, f.Counter
	return &Metrics{
		SlotsTotal:               gauge("slots", "Worker slots this supervisor offers."),
		SlotsUsed:                gauge("used_slots", "Worker slots assigned a worker."),
		WorkersRunning:           gauge("running_workers", "Worker processes alive."),
		WorkerRestarts:           counter("worker_restarts_total", "Workers started again after they exited or stopped heartbeating."),
		ArtifactDownloads:        counter("artifact_downloads_total", "Topology artifacts fetched and verified."),
		ArtifactDownloadBytes:    counter("artifact_downloaded_bytes_total", "Bytes of topology artifacts fetched."),
		ArtifactDownloadFailures: counter("artifact_download_failures_total", "Artifact fetches that failed or did not match their digest."),
		EtcdErrors:               counter("etcd_errors_total", "Failed etcd operations."),
		Fenced:                   gauge("fenced", "1 while this supervisor's lease in etcd has expired: it vouches for no worker and starts none."),
	}
}
