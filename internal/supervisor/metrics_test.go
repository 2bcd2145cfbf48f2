package supervisor

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	s := NewMetrics(reg)
	s.SlotsTotal.Set(4)
	s.SlotsUsed.Set(2)
	s.WorkersRunning.Set(2)
	s.WorkerRestarts.Inc()
	s.ArtifactDownloads.Inc()
	s.ArtifactDownloadBytes.Add(12345)
	s.EtcdErrors.Inc()

	want := `
# HELP sparse_supervisor_running_workers Worker processes alive.
# TYPE sparse_supervisor_running_workers gauge
sparse_supervisor_running_workers 2
# HELP sparse_supervisor_worker_restarts_total Workers started again after they exited or stopped heartbeating.
# TYPE sparse_supervisor_worker_restarts_total counter
sparse_supervisor_worker_restarts_total 1
# HELP sparse_supervisor_artifact_downloaded_bytes_total Bytes of topology artifacts fetched.
# TYPE sparse_supervisor_artifact_downloaded_bytes_total counter
sparse_supervisor_artifact_downloaded_bytes_total 12345
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"sparse_supervisor_running_workers", "sparse_supervisor_worker_restarts_total",
		"sparse_supervisor_artifact_downloaded_bytes_total"); err != nil {
		t.Error(err)
	}
	if got, err := testutil.GatherAndCount(reg); err != nil || got != 9 {
		t.Errorf("gathered %d series (error %v), want 9 supervisor metrics", got, err)
	}

	// A registry refuses a second set: one daemon, one set of metrics.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("registering supervisor metrics twice on one registry did not panic")
			}
		}()
		NewMetrics(reg)
	}()
	// nil: unregistered, usable.
	NewMetrics(nil).WorkerRestarts.Inc()
}
