package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/sparsestream/sparse/internal/spec"
)

// GenericWorkerName is the generic worker's program, which runs spec bundles.
const GenericWorkerName = "sparse-worker"

// workerCommand returns the program and arguments of a worker. A topology binary runs
// itself. A spec bundle is unpacked once per digest under <data-dir>/bundles/<sha256>/
// and run by the generic worker, given the bundle's spec and resources folder before
// the usual worker flags.
func (m *Manager) workerCommand(w Want, artifact string, args []string) (string, []string, error) {
	if !w.SpecBundle {
		return artifact, args, nil
	}
	dir := filepath.Join(m.c.DataDir, "bundles", w.Digest)
	if err := makePrivateDir(filepath.Dir(dir)); err != nil {
		return "", nil, fmt.Errorf("creating the bundles' directory: %w", err)
	}
	if err := spec.UnpackFile(artifact, dir); err != nil {
		return "", nil, fmt.Errorf("unpacking the spec bundle %s of topology %s: %w", short(w.Digest), w.TopologyID, err)
	}
	exe, err := GenericWorkerPath(m.c.GenericWorker)
	if err != nil {
		return "", nil, fmt.Errorf("topology %s is a spec bundle: %w", w.TopologyID, err)
	}
	out := make([]string, 0, len(args)+4)
	out = append(out, args[0], "--spec", filepath.Join(dir, spec.BundleSpecName), "--resources", dir)
	return exe, append(out, args[1:]...), nil
}

// GenericWorkerPath finds the generic worker: the given program (looked up in PATH
// when it names no folder), else sparse-worker beside this program's executable, else
// sparse-worker on PATH. The path is absolute, as pid files record it.
func GenericWorkerPath(program string) (string, error) {
	if program != "" {
		p, err := exec.LookPath(program)
		if err != nil {
			return "", fmt.Errorf("--generic-worker %s: %w", program, err)
		}
		return filepath.Abs(p)
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), GenericWorkerName)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(GenericWorkerName)
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("the generic worker %s, which runs spec bundles, is neither beside supervisord nor on PATH; install it there or pass --generic-worker", GenericWorkerName)
		}
		return "", err
	}
	if !strings.ContainsRune(p, os.PathSeparator) {
		return p, nil
	}
	return filepath.Abs(p)
}
