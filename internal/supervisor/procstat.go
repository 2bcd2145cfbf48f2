package supervisor

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// procStat is what /proc/<pid>/stat says of a process that the supervisor needs.
type procStat struct {
	State byte
	PPID  int
	PGID  int
	// StartTime is when the process started, in clock ticks since boot: with the pid
	// it names one process for the life of the machine, as a pid alone does not.
	StartTime uint64
}

// readProcStat reads /proc/<pid>/stat.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(b)
}

// parseProcStat parses the text of /proc/<pid>/stat. The command name, in parentheses,
// may contain anything, spaces and parentheses included, so the fields are counted from
// the last ')'.
func parseProcStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("no command name in %q", truncate(b))
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 of proc(5) (the state); starttime is field 22.
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("too few fields in %q", truncate(b))
	}
	var st procStat
	st.State = f[0][0]
	var err error
	if st.PPID, err = strconv.Atoi(string(f[1])); err != nil {
		return procStat{}, fmt.Errorf("parent pid: %w", err)
	}
	if st.PGID, err = strconv.Atoi(string(f[2])); err != nil {
		return procStat{}, fmt.Errorf("process group: %w", err)
	}
	if st.StartTime, err = strconv.ParseUint(string(f[19]), 10, 64); err != nil {
		return procStat{}, fmt.Errorf("start time: %w", err)
	}
	return st, nil
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// processStartTime is the start time of a live process, 0 when it cannot be read (no
// /proc here).
func processStartTime(pid int) uint64 {
	st, err := readProcStat(pid)
	if err != nil {
		return 0
	}
	return st.StartTime
}

// groupMembers lists the live processes of process group pgid other than its leader.
// The kernel does not give the pid of a process group's leader to a new process while
// the group has members, so when these exist after the leader died they are the
// leader's own leftovers, safe to kill through the group.
func groupMembers(pgid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, path := range stats {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(path)))
		if err != nil || pid == pgid {
			continue
		}
		st, err := readProcStat(pid)
		if err == nil && st.PGID == pgid && st.State != 'Z' && st.State != 'X' {
			out = append(out, pid)
		}
	}
	return out
}
