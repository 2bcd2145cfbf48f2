// Package pyenv makes the Python virtualenvs of topologies: one per content hash of a
// topology's requirements (and of the wheels and index it installs from), built with
// python3 -m venv and pip install -r, kept in a cache folder and reused by every
// worker, restart and topology that needs the same one. A build is serialized across
// processes by a file lock; a failed build is remembered for a while, with pip's last
// lines and the requirement that failed, so that workers do not run pip in a loop.
//
// The streamparse requirement is dropped: the bundled client provides streamparse (the
// real package's command line needs a JVM).
package pyenv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Defaults of Options.
const (
	DefaultPython     = "python3"
	DefaultTimeout    = 10 * time.Minute
	DefaultFailureTTL = time.Minute
	// completeMarker is written last: a folder without it is a build that was cut short.
	completeMarker = ".sparse-complete"
	// pipTailLines are the lines of pip's output an InstallError keeps.
	pipTailLines = 15
)

// Options say how virtualenvs are built.
type Options struct {
	// Python is the interpreter that makes them (default python3).
	Python string
	// Wheelhouse is a folder of wheels; when set, pip installs from it alone
	// (--no-index --find-links), unless Index is set too, which adds that index.
	Wheelhouse string
	// Index is a package index or proxy (--index-url).
	Index string
	// Timeout bounds one build (default 10 minutes).
	Timeout time.Duration
	// FailureTTL is how long a failed build is reported again without running pip
	// (default a minute).
	FailureTTL time.Duration
	// Log, when set, is told what is built.
	Log func(msg string)
	// Generation, when positive, makes a virtualenv apart from those of the same
	// requirements with another generation: asking for a new one builds them again
	// (update-virtualenv), even after a failure.
	Generation int64
}

// InstallError is a build that pip failed.
type InstallError struct {
	// Requirement is the requirement pip could not install, when it says which.
	Requirement string
	// Output is pip's last lines.
	Output string
}

func (e *InstallError) Error() string {
	what := "pip could not install the topology's requirements"
	if e.Requirement != "" {
		what = fmt.Sprintf("pip could not install requirement %q of the topology", e.Requirement)
	}
	return fmt.Sprintf("%s; fix virtualenvs/NAME.txt, ship the wheels with sparsectl submit --wheelhouse DIR, or give the supervisors an index (--pip-index). pip's last lines:\n%s", what, e.Output)
}

var streamparseReq = regexp.MustCompile(`(?i)^streamparse\s*([<>=!~;\[].*)?$`)

// Requirements returns a requirements file's lines without the streamparse
// requirement (which the bundled client satisfies), comments and blank lines; dropped
// says whether streamparse was listed.
func Requirements(data []byte) (kept []string, dropped bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, " #"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := strings.ReplaceAll(strings.ReplaceAll(line, "_", "-"), ".", "-")
		if streamparseReq.MatchString(name) {
			dropped = true
			continue
		}
		kept = append(kept, line)
	}
	return kept, dropped
}

// Key is the cache key of a virtualenv: a hash of the requirements, of the wheelhouse's
// wheels (names and bytes), of the index and of the interpreter.
func Key(reqs []string, o Options) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "python %s\nindex %s\n", cmpOr(o.Python, DefaultPython), o.Index)
	if o.Generation > 0 {
		fmt.Fprintf(h, "generation %d\n", o.Generation)
	}
	for _, r := range reqs {
		fmt.Fprintf(h, "req %s\n", r)
	}
	if o.Wheelhouse != "" {
		ents, err := os.ReadDir(o.Wheelhouse)
		if err != nil {
			return "", fmt.Errorf("reading the wheelhouse: %w", err)
		}
		for _, e := range ents {
			if e.IsDir() {
				continue
			}
			f, err := os.Open(filepath.Join(o.Wheelhouse, e.Name()))
			if err != nil {
				return "", fmt.Errorf("reading the wheelhouse: %w", err)
			}
			fh := sha256.New()
			_, err = io.Copy(fh, f)
			f.Close()
			if err != nil {
				return "", fmt.Errorf("reading the wheelhouse: %w", err)
			}
			fmt.Fprintf(h, "wheel %s %x\n", e.Name(), fh.Sum(nil))
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Ensure returns the virtualenv of the requirements file reqFile under cacheDir,
// building it if needed, and its key; it returns "" and no error when the file lists
// nothing to install (only streamparse, say): the components then run with the
// interpreter on PATH.
func Ensure(ctx context.Context, cacheDir, reqFile string, o Options) (dir, key string, err error) {
	data, err := os.ReadFile(reqFile)
	if err != nil {
		return "", "", fmt.Errorf("reading the requirements: %w", err)
	}
	reqs, _ := Requirements(data)
	if len(reqs) == 0 {
		return "", "", nil
	}
	key, err = Key(reqs, o)
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", "", fmt.Errorf("making the virtualenv cache %s: %w", cacheDir, err)
	}
	dir = filepath.Join(cacheDir, key)
	if complete(dir) {
		touch(dir)
		return dir, key, nil
	}
	unlock, err := lock(ctx, filepath.Join(cacheDir, "."+key+".lock"))
	if err != nil {
		return "", "", err
	}
	defer unlock()
	if complete(dir) { // built while this waited for the lock
		return dir, key, nil
	}
	failed := filepath.Join(cacheDir, "."+key+".failed")
	if st, err := os.Stat(failed); err == nil && time.Since(st.ModTime()) < cmpDur(o.FailureTTL, DefaultFailureTTL) {
		if b, err := os.ReadFile(failed); err == nil {
			req, out, _ := strings.Cut(string(b), "\n")
			return "", key, &InstallError{Requirement: req, Output: out}
		}
	}
	if err := build(ctx, dir, reqs, o); err != nil {
		var ie *InstallError
		if errors.As(err, &ie) {
			_ = os.WriteFile(failed, []byte(ie.Requirement+"\n"+ie.Output), 0o644)
		}
		os.RemoveAll(dir)
		return "", key, err
	}
	os.Remove(failed)
	return dir, key, nil
}

func cmpDur(a, b time.Duration) time.Duration {
	if a > 0 {
		return a
	}
	return b
}

func complete(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, completeMarker))
	return err == nil
}

// touch marks a virtualenv as used now (Sweep keeps what was used recently).
func touch(dir string) {
	now := time.Now()
	_ = os.Chtimes(filepath.Join(dir, completeMarker), now, now)
}

var failedReq = regexp.MustCompile(`(?:No matching distribution found for|satisfies the requirement|Failed to build|Could not build wheels for|Invalid requirement:)\s+'?([^\s'(]+)`)

// build makes the virtualenv in dir.
func build(ctx context.Context, dir string, reqs []string, o Options) error {
	ctx, cancel := context.WithTimeout(ctx, cmpDur(o.Timeout, DefaultTimeout))
	defer cancel()
	os.RemoveAll(dir) // a build cut short
	python := cmpOr(o.Python, DefaultPython)
	if o.Log != nil {
		o.Log(fmt.Sprintf("making virtualenv %s for %s", dir, strings.Join(reqs, ", ")))
	}
	if out, err := exec.CommandContext(ctx, python, "-m", "venv", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("%s -m venv %s failed (is the venv module installed? on Debian: apt-get install python3-venv): %w\n%s", python, dir, err, tail(out))
	}
	reqFile := filepath.Join(dir, "sparse-requirements.txt")
	if err := os.WriteFile(reqFile, []byte(strings.Join(reqs, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing the requirements: %w", err)
	}
	args := []string{"-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--no-cache-dir", "-r", reqFile}
	switch {
	case o.Wheelhouse != "" && o.Index != "":
		args = append(args, "--find-links", o.Wheelhouse, "--index-url", o.Index)
	case o.Wheelhouse != "":
		args = append(args, "--no-index", "--find-links", o.Wheelhouse)
	case o.Index != "":
		args = append(args, "--index-url", o.Index)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "bin", "python"), args...)
	cmd.Env = append(os.Environ(), "PIP_NO_INPUT=1", "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			return &InstallError{Output: fmt.Sprintf("pip did not finish within %s\n%s", cmpDur(o.Timeout, DefaultTimeout), tail(out))}
		}
		ie := &InstallError{Output: tail(out)}
		if m := failedReq.FindSubmatch(out); m != nil {
			ie.Requirement = string(m[1])
		}
		return ie
	}
	if err := os.WriteFile(filepath.Join(dir, completeMarker), nil, 0o644); err != nil {
		return fmt.Errorf("marking the virtualenv complete: %w", err)
	}
	return nil
}

// tail returns the last lines of output.
func tail(out []byte) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > pipTailLines {
		lines = lines[len(lines)-pipTailLines:]
	}
	return strings.Join(lines, "\n")
}

// BinDir is the folder of a virtualenv's programs: put it first on PATH so that
// python3 is the virtualenv's.
func BinDir(venv string) string { return filepath.Join(venv, "bin") }

// Environ returns env with the virtualenv's bin folder first on PATH and VIRTUAL_ENV
// set.
func Environ(env []string, venv string) []string {
	out := slices.Clone(env)
	path := ""
	out = slices.DeleteFunc(out, func(kv string) bool {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
			return true
		}
		return strings.HasPrefix(kv, "VIRTUAL_ENV=")
	})
	if path != "" {
		path = BinDir(venv) + string(os.PathListSeparator) + path
	} else {
		path = BinDir(venv)
	}
	return append(out, "PATH="+path, "VIRTUAL_ENV="+venv)
}

// Remove removes the virtualenv and the remembered failure of key, so that the next
// Ensure builds it again (sparsectl update-virtualenv).
func Remove(cacheDir, key string) error {
	os.Remove(filepath.Join(cacheDir, "."+key+".failed"))
	return os.RemoveAll(filepath.Join(cacheDir, key))
}

// Sweep removes the virtualenvs of cacheDir that are not in use and were last used
// longer than grace ago, with their lock and failure files, and the lock and failure
// files a failed build left without a virtualenv once as old; it returns the
// virtualenvs it removed.
func Sweep(cacheDir string, inUse map[string]bool, grace time.Duration, now time.Time) []string {
	ents, err := os.ReadDir(cacheDir)
	if err != nil {
		return nil
	}
	var removed []string
	orphans := map[string]bool{} // keys with only a lock or failure file
	for _, e := range ents {
		name := e.Name()
		if key, ok := markerKey(name); ok && !e.IsDir() {
			orphans[key] = true
			continue
		}
		if !e.IsDir() || strings.HasPrefix(name, ".") || inUse[name] {
			continue
		}
		delete(orphans, name) // the markers go with the directory, below
		dir := filepath.Join(cacheDir, name)
		st, err := os.Stat(filepath.Join(dir, completeMarker))
		if err != nil {
			st, err = os.Stat(dir)
		}
		if err != nil || now.Sub(st.ModTime()) < grace {
			continue
		}
		if sweepKey(cacheDir, name, func() bool { return os.RemoveAll(dir) == nil }) {
			removed = append(removed, dir)
		}
	}
	for key := range orphans {
		if inUse[key] || markersNewer(cacheDir, key, now.Add(-grace)) {
			continue
		}
		sweepKey(cacheDir, key, func() bool {
			_, err := os.Lstat(filepath.Join(cacheDir, key))
			return errors.Is(err, fs.ErrNotExist) // not if a build made it meanwhile
		})
	}
	return removed
}

// markerKey is the key of a lock (.KEY.lock) or failure (.KEY.failed) file's name.
func markerKey(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, ".")
	if !ok {
		return "", false
	}
	for _, suffix := range []string{".lock", ".failed"} {
		if key, ok := strings.CutSuffix(rest, suffix); ok && key != "" && !strings.HasPrefix(key, ".") {
			return key, true
		}
	}
	return "", false
}

// markersNewer reports whether key's lock or failure file changed after t.
func markersNewer(cacheDir, key string, t time.Time) bool {
	for _, suffix := range []string{".lock", ".failed"} {
		if st, err := os.Stat(filepath.Join(cacheDir, "."+key+suffix)); err == nil && st.ModTime().After(t) {
			return true
		}
	}
	return false
}

// sweepKey removes key's failure and lock files when remove, called while no build of
// key holds the lock, says yes; it says what remove said, or false for a busy key.
func sweepKey(cacheDir, key string, remove func() bool) bool {
	lockFile := filepath.Join(cacheDir, "."+key+".lock")
	unlock, err := lock(expired(), lockFile)
	if err != nil {
		return false // a build holds it
	}
	defer unlock()
	if !remove() {
		return false
	}
	os.Remove(filepath.Join(cacheDir, "."+key+".failed"))
	os.Remove(lockFile) // while held: a waiter finds it gone and opens a new one
	return true
}

// expired is a context that is already done: lock tries once.
func expired() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
