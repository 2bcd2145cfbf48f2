package main

import (
	"github.com/spf13/pflag"

	"github.com/sparsestream/sparse/internal/supervisor"
)

// hygieneFlags are the flags of node hygiene: what workers inherit and how the data
// directory is kept small (docs/security.md, "Node hygiene").
type hygieneFlags struct {
	workerEnv string
}

func (h *hygieneFlags) register(f *pflag.FlagSet) {
	f.StringVar(&h.workerEnv, "worker-env", "", "names of variables of supervisord's environment that workers also get, comma separated (beyond PATH, HOME, LANG, LC_*, TZ, TMPDIR, PYTHONPATH and the Go runtime's)")
}

// apply puts the parsed flags into c.
func (h *hygieneFlags) apply(c *supervisor.Config) error {
	var err error
	c.WorkerEnv, err = supervisor.ParseWorkerEnvNames(h.workerEnv)
	return err
}
