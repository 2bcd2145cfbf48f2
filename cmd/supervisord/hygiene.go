package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/sparsestream/sparse/internal/supervisor"
)

// hygieneFlags are the flags of node hygiene: what workers inherit and how the data
// directory is kept small (docs/security.md, "Node hygiene").
type hygieneFlags struct {
	workerEnv    string
	cleanupGrace time.Duration
	logMaxMB     int64
	logBackups   int
}

func (h *hygieneFlags) register(f *pflag.FlagSet) {
	f.StringVar(&h.workerEnv, "worker-env", "", "names of variables of supervisord's environment that workers also get, comma separated (beyond PATH, HOME, LANG, LC_*, TZ, TMPDIR, PYTHONPATH and the Go runtime's)")
	f.DurationVar(&h.cleanupGrace, "cleanup-grace", supervisor.DefaultCleanupGrace, "remove the worker directories, artifacts and bundles of topologies no longer assigned here once unused this long")
	f.Int64Var(&h.logMaxMB, "worker-log-max-mb", supervisor.DefaultWorkerLogMaxSize>>20, "rotate a worker.log larger than this many MiB")
	f.IntVar(&h.logBackups, "worker-log-backups", supervisor.DefaultWorkerLogBackups, "rotated copies of each worker.log to keep (worker.log.1 is the newest; 0 keeps none)")
}

// apply puts the parsed flags into c.
func (h *hygieneFlags) apply(c *supervisor.Config) error {
	var err error
	if c.WorkerEnv, err = supervisor.ParseWorkerEnvNames(h.workerEnv); err != nil {
		return err
	}
	if h.cleanupGrace <= 0 {
		return fmt.Errorf("--cleanup-grace %v: it must be positive", h.cleanupGrace)
	}
	if h.logMaxMB <= 0 {
		return fmt.Errorf("--worker-log-max-mb %d: it must be positive", h.logMaxMB)
	}
	if h.logBackups < 0 {
		return fmt.Errorf("--worker-log-backups %d: it must be 0 or more", h.logBackups)
	}
	c.CleanupGrace, c.WorkerLogMaxSize = h.cleanupGrace, h.logMaxMB<<20
	c.WorkerLogBackups = h.logBackups
	if h.logBackups == 0 {
		c.WorkerLogBackups = -1 // none; 0 would take the default
	}
	return nil
}
