package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/pyenv"
)

// A spec bundle may carry Python requirements (a streamparse topology's
// virtualenvs/NAME.txt, packed by sparsectl submit) and the wheels to install them from.
// The supervisor makes a virtualenv of them under <data-dir>/venvs/<hash>, shared by
// every worker whose requirements hash the same, and starts the worker with its bin
// folder first on PATH, so that the components' python3 is the virtualenv's.
const (
	bundleRequirements = ".sparse/requirements.txt"
	bundleWheelhouse   = ".sparse/wheelhouse"
	// bundleVenvKey records, in an unpacked bundle, which virtualenv it uses (the
	// janitor keeps that one while the bundle is in use).
	bundleVenvKey = ".sparse/venv-key"
	venvsDir      = "venvs"
)

// bundleVenv returns env with the virtualenv of w's bundle, made if needed; env as it
// is when the bundle has no requirements (or only streamparse). A pip failure is an
// error naming the requirement, with pip's last lines; it is remembered for a minute, so
// that the worker's restarts do not run pip in a loop.
func (m *Manager) bundleVenv(ctx context.Context, w Want, env []string) ([]string, error) {
	if !w.SpecBundle {
		return env, nil
	}
	dir := filepath.Join(m.c.DataDir, "bundles", w.Digest)
	reqs := filepath.Join(dir, filepath.FromSlash(bundleRequirements))
	if _, err := os.Stat(reqs); err != nil {
		return env, nil
	}
	o := pyenv.Options{Index: m.c.PipIndex, Generation: w.VenvGeneration, Log: func(msg string) { m.log.Info(msg, "topology", w.TopologyID) }}
	if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(bundleWheelhouse))); err == nil && st.IsDir() {
		o.Wheelhouse = filepath.Join(dir, filepath.FromSlash(bundleWheelhouse))
	}
	// A build may take minutes (pip downloads and compiles): vouch for the worker in etcd
	// meanwhile, or nimbus would find no heartbeat after its start grace and move the
	// worker elsewhere, where it would build again. Once the build ends, the worker has
	// nimbus's worker timeout to start and heartbeat on its own.
	if m.c.Heartbeats != nil {
		stop := m.c.Heartbeats.Keep(cluster.WorkerHeartbeat{TopologyID: w.TopologyID, WorkerID: w.WorkerID,
			Supervisor: m.c.SupervisorID, Port: w.Port, Version: w.Version})
		defer stop()
	}
	venv, key, err := pyenv.Ensure(ctx, filepath.Join(m.c.DataDir, venvsDir), reqs, o)
	if err != nil {
		return nil, fmt.Errorf("the virtualenv of topology %s: %w", w.TopologyID, err)
	}
	if venv == "" {
		return env, nil
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(bundleVenvKey)), []byte(key+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("recording the virtualenv of topology %s: %w", w.TopologyID, err)
	}
	return pyenv.Environ(env, venv), nil
}

// sweepVenvs removes the virtualenvs that no bundle in use needs and that have not been
// used for the grace period.
func (j *janitor) sweepVenvs(now time.Time, digests map[string]bool) {
	inUse := map[string]bool{}
	for d := range digests {
		if b, err := os.ReadFile(filepath.Join(j.dataDir, "bundles", d, filepath.FromSlash(bundleVenvKey))); err == nil {
			inUse[strings.TrimSpace(string(b))] = true
		}
	}
	for _, dir := range pyenv.Sweep(filepath.Join(j.dataDir, venvsDir), inUse, j.grace, now) {
		j.log.Info("removed a virtualenv no topology here uses", "path", dir)
	}
}
