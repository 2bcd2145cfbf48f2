package supervisor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sparsestream/sparse/internal/worker"
)

// The files of one worker, in <data-dir>/workers/<topology-id>/<port>/.
const (
	assignmentFile = "assignment.json"
	configFile     = "config.json"
	heartbeatFile  = "heartbeat"
	supervisedFile = "supervised"
	logFile        = "worker.log"
	pidFile        = "worker.pid"
)

// PidFile is what a supervisor writes beside each worker it starts, so that after a
// restart it can find the worker again and tell whether it is the same process.
type PidFile struct {
	PID  int `json:"pid"`
	Port int `json:"port"`
	Identity
	// Executable is the artifact the worker runs; a live process with this pid must
	// run it to be adopted.
	Executable string    `json:"executable"`
	StartedAt  time.Time `json:"started_at"`
	// StartTime is the process's start time in clock ticks since boot, from
	// /proc/<pid>/stat: a process with the pid but another start time is not the
	// worker, whatever it runs (the pid was reused). 0 where /proc is missing, and in
	// pid files written before it was recorded.
	StartTime uint64 `json:"start_time,omitempty"`
}

// workerDir is the directory of a topology's worker on a port.
func workerDir(dataDir, topologyID string, port int) string {
	return filepath.Join(dataDir, "workers", topologyID, strconv.Itoa(port))
}

// writeFileAtomic writes a file through a temporary file and a rename, so that a reader
// never sees half of it.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), mode)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writePrivateFile(path, append(b, '\n'))
}

// proc is one worker process, started by this supervisor or adopted from an earlier one.
type proc struct {
	pid       int
	startTime uint64 // see PidFile.StartTime; 0 if unknown
	adopted   bool
	dir       string
	exe       string
	// exited is closed once the process is gone; err then says how it ended (nil for
	// an adopted process, whose status is not ours to read).
	exited chan struct{}
	err    error
}

// alive reports whether the process still runs.
func (p *proc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// signal sends sig to the worker. SIGKILL goes to its whole process group (the worker
// and whatever it started, such as multi-lang subprocesses, which stay in it); any other
// signal goes to the worker alone, so that it stops its subprocesses in order (a
// multi-lang bolt gets the end of its stdin and finishes its tuples) before the group
// kill that follows its exit ends what is left.
func (p *proc) signal(sig syscall.Signal) error {
	if !p.alive() {
		return nil
	}
	if p.adopted && !sameStart(p.pid, p.startTime) {
		// Not our child, so its pid may have been reused since the last poll: signal
		// only the process that was verified at adoption.
		return nil
	}
	target := p.pid
	if sig == syscall.SIGKILL {
		target = -p.pid
	}
	err := syscall.Kill(target, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// launch starts a worker process in its own process group, with the environment env and
// stdout and stderr appended to its log file, and writes its pid file. The caller owns
// the returned proc.
func launch(exe string, args []string, dir string, env []string, pf PidFile) (*proc, error) {
	log, err := os.OpenFile(filepath.Join(dir, logFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, privateFileMode)
	if err != nil {
		return nil, fmt.Errorf("opening the worker's log: %w", err)
	}
	defer log.Close() // the child has its own descriptor
	// 0600 even when an older supervisor created it wider.
	if err := log.Chmod(privateFileMode); err != nil {
		return nil, fmt.Errorf("making the worker's log private: %w", err)
	}
	fmt.Fprintf(log, "--- %s supervisor starting %s %s\n", time.Now().UTC().Format(time.RFC3339), exe, strings.Join(args, " "))
	cmd := exec.Command(exe, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group: the worker outlives this supervisor (a restarted one adopts
	// it), a terminal's Ctrl-C does not reach it, and stopping it stops its children.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", exe, err)
	}
	// The child cannot be reaped before Wait, so its pid names it until then.
	p := &proc{pid: cmd.Process.Pid, startTime: processStartTime(cmd.Process.Pid), dir: dir, exe: exe, exited: make(chan struct{})}
	go func() {
		// Always reap the child, even after the supervisor stopped caring, then end
		// whatever it left behind in its process group.
		p.err = cmd.Wait()
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		close(p.exited)
	}()
	pf.PID, pf.StartTime = p.pid, p.startTime
	pf.Executable = exe
	if pf.StartedAt.IsZero() {
		pf.StartedAt = time.Now().UTC()
	}
	if err := writeJSON(filepath.Join(dir, pidFile), pf); err != nil {
		_ = p.signal(syscall.SIGKILL)
		<-p.exited
		return nil, fmt.Errorf("writing the worker's pid file: %w", err)
	}
	return p, nil
}

// readPidFile reads a pid file.
func readPidFile(path string) (*PidFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pf PidFile
	if err := json.Unmarshal(b, &pf); err != nil {
		return nil, fmt.Errorf("pid file %s is not valid JSON: %w", path, err)
	}
	if pf.PID <= 0 {
		return nil, fmt.Errorf("pid file %s has no pid", path)
	}
	return &pf, nil
}

// scanPidFiles finds the pid files under <data-dir>/workers.
func scanPidFiles(dataDir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dataDir, "workers", "*", "*", pidFile))
	if err != nil {
		return nil, err
	}
	slices.Sort(paths)
	return paths, nil
}

// processAlive reports whether a process exists and is not a zombie.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist) || !procfs()
	}
	// The state follows the command name in parentheses, which may contain anything.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		switch stat[i+2] {
		case 'Z', 'X':
			return false
		}
	}
	return true
}

// procfs reports whether /proc describes processes here.
func procfs() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

// sameStart reports whether pid is alive and is the process that started at start (as
// /proc/<pid>/stat says; start 0 checks only that it is alive).
func sameStart(pid int, start uint64) bool {
	if !processAlive(pid) {
		return false
	}
	return start == 0 || processStartTime(pid) == start
}

// sameProcess checks that a live pid is the worker a pid file describes: it started at
// the recorded time, runs the same executable and was given the same heartbeat file, so
// a pid reused by another process is never adopted or killed. Without /proc nothing can
// be verified and the answer is no.
func sameProcess(pf *PidFile, dir string) (bool, string) {
	if !processAlive(pf.PID) {
		return false, "the process is gone"
	}
	if pf.StartTime != 0 {
		st, err := readProcStat(pf.PID)
		if err != nil {
			return false, fmt.Sprintf("cannot read when process %d started: %v", pf.PID, err)
		}
		if st.StartTime != pf.StartTime {
			return false, fmt.Sprintf("process %d started at tick %d, not %d: the pid was reused", pf.PID, st.StartTime, pf.StartTime)
		}
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pf.PID))
	if err != nil {
		return false, fmt.Sprintf("cannot read what process %d runs: %v", pf.PID, err)
	}
	exe = strings.TrimSuffix(exe, " (deleted)")
	want := pf.Executable
	if w, err := filepath.EvalSymlinks(want); err == nil {
		want = w
	}
	if exe != want && exe != pf.Executable {
		return false, fmt.Sprintf("process %d runs %s, not %s", pf.PID, exe, pf.Executable)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pf.PID))
	if err != nil {
		return false, fmt.Sprintf("cannot read process %d's command line: %v", pf.PID, err)
	}
	hb := filepath.Join(dir, heartbeatFile)
	if !slices.Contains(strings.Split(string(cmdline), "\x00"), hb) {
		return false, fmt.Sprintf("process %d was not started for %s", pf.PID, dir)
	}
	return true, ""
}

// adopt watches a live worker that another supervisor process started: it is not our
// child, so its exit is noticed by polling.
func adopt(pf *PidFile, dir string, stop <-chan struct{}) *proc {
	start := pf.StartTime
	if start == 0 { // an older pid file: take the time of the process verified now
		start = processStartTime(pf.PID)
	}
	p := &proc{pid: pf.PID, startTime: start, adopted: true, dir: dir, exe: pf.Executable, exited: make(chan struct{})}
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if !sameStart(p.pid, p.startTime) {
				// What it started (multi-lang subprocesses) stays in its group; end it as
				// launch does for a child of ours.
				if len(groupMembers(p.pid)) > 0 {
					_ = syscall.Kill(-p.pid, syscall.SIGKILL)
				}
				close(p.exited)
				return
			}
		}
	}()
	return p
}

// workerArgs is the command line of a worker (worker.Flags is its contract).
func workerArgs(dir, workerID, metricsAddr string, orphanTimeout time.Duration, logFormat string) []string {
	f := worker.Flags{
		Assignment:     filepath.Join(dir, assignmentFile),
		ID:             workerID,
		ConfigFile:     filepath.Join(dir, configFile),
		HeartbeatFile:  filepath.Join(dir, heartbeatFile),
		SupervisedFile: filepath.Join(dir, supervisedFile),
		OrphanTimeout:  orphanTimeout,
		StartInactive:  true,
		MetricsAddr:    metricsAddr,
		LogFormat:      logFormat,
	}
	return f.Args()
}

// nimbusArgs are the worker flags that name the nimbus to report statistics to.
func nimbusArgs(addrs []string) []string {
	return (&worker.Flags{Nimbus: addrs}).Args()[1:]
}

// exitDescription says how a process ended, for the log.
func exitDescription(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Sprintf("killed by signal %d (%s)", int(ws.Signal()), ws.Signal())
		}
		return fmt.Sprintf("exit status %d", ee.ExitCode())
	}
	if err != nil {
		return err.Error()
	}
	return "exit status 0"
}
