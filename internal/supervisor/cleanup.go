package supervisor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Defaults of the data directory's upkeep (ManagerConfig).
const (
	DefaultCleanupGrace     = 10 * time.Minute
	DefaultWorkerLogMaxSize = 100 << 20
	DefaultWorkerLogBackups = 3
)

// leftoverPatterns match, under the data directory, the temporary files of a write, a
// download or an unpack that a crash interrupted: nothing else ever uses them.
var leftoverPatterns = []string{
	filepath.Join("artifacts", ".fetch-*"),
	filepath.Join("bundles", ".*.tmp-*"),
	filepath.Join("workers", "*", "*", ".*.tmp-*"),
}

// removeLeftovers removes the crash leftovers under dataDir; call it before anything
// else runs there.
func removeLeftovers(dataDir string, log hclog.Logger) {
	for _, pattern := range leftoverPatterns {
		paths, _ := filepath.Glob(filepath.Join(dataDir, pattern))
		for _, p := range paths {
			if err := os.RemoveAll(p); err != nil {
				log.Warn("cannot remove what an interrupted write left", "path", p, "error", err)
				continue
			}
			log.Info("removed what an interrupted write left", "path", p)
		}
	}
}

// janitor removes what the topologies no longer assigned to this supervisor left in its
// data directory: their worker directories (workers/<topology-id>), artifacts
// (artifacts/<sha256>) and unpacked bundles (bundles/<sha256>), once each has been
// unused for the grace period (a topology killed by mistake and submitted again soon
// finds them; an operator has time to read a dead worker's log). It runs on the
// manager's goroutine.
type janitor struct {
	dataDir string
	grace   time.Duration
	log     hclog.Logger
	// unused is when each path was first seen unused.
	unused map[string]time.Time
	next   time.Time
}

// sweep removes what has been unused for the grace period. inUse says which topology
// ids and digests the wanted and running workers hold.
func (j *janitor) sweep(now time.Time, topologies, digests map[string]bool) {
	if now.Before(j.next) {
		return
	}
	j.next = now.Add(min(max(j.grace/4, 10*time.Millisecond), 10*time.Second))
	seen := map[string]bool{}
	check := func(path string, used bool) {
		if used {
			return
		}
		seen[path] = true
		first, ok := j.unused[path]
		if !ok {
			j.unused[path] = now
			return
		}
		if now.Sub(first) < j.grace {
			return
		}
		if err := os.RemoveAll(path); err != nil {
			j.log.Warn("cannot remove the files of a topology no longer assigned here", "path", path, "error", err)
			return
		}
		delete(j.unused, path)
		j.log.Info("removed the files of a topology no longer assigned here", "path", path, "unused_for", now.Sub(first).Round(time.Second))
	}
	for _, sub := range []struct {
		dir  string
		used map[string]bool
	}{{"workers", topologies}, {"artifacts", digests}, {"bundles", digests}} {
		entries, err := os.ReadDir(filepath.Join(j.dataDir, sub.dir))
		if err != nil {
			continue
		}
		for _, e := range entries {
			name := e.Name()
			if name[0] == '.' { // in the middle of a write, or removed at start
				continue
			}
			check(filepath.Join(j.dataDir, sub.dir, name), sub.used[name])
		}
	}
	j.sweepVenvs(now, digests)
	for path := range j.unused {
		if !seen[path] {
			delete(j.unused, path) // in use again, or gone
		}
	}
}

// rotateLog keeps a worker's log under maxSize bytes: when it is larger, its bytes go to
// path.1 (path.1 to path.2, and so on, keeping backups files) and it is emptied.
//
// The worker writes its log itself, through its stdout and stderr, opened for appending:
// that is what lets it outlive its supervisor, and what keeps a Go crash's trace (written
// as the process dies) in the log. So the log is rotated by copying and truncating it:
// the worker's next write lands at the start of the emptied file. What it writes between
// the last copy and the truncation (microseconds) is lost.
func rotateLog(path string, maxSize int64, backups int) (bool, error) {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("rotating %s: %w", path, err)
	}
	if st.Size() <= maxSize {
		return false, nil
	}
	for i := backups - 1; i >= 1; i-- {
		err := os.Rename(path+"."+strconv.Itoa(i), path+"."+strconv.Itoa(i+1))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, err
		}
	}
	if backups >= 1 {
		if err := copyLog(path, path+".1"); err != nil {
			return false, err
		}
	}
	return true, os.Truncate(path, 0)
}

// copyLog copies a growing file, catching up with what is appended meanwhile.
func copyLog(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, privateFileMode)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in) // to the end as it is when the copy ends
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copying the worker's log to %s: %w", dst, err)
	}
	return nil
}
