package supervisor

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/testutil"
)

func TestParseProcStat(t *testing.T) {
	tail := " 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 987654 19 20\n" // fields 6-21, starttime (22), more
	for _, tc := range []struct {
		name, in string
		want     procStat
		err      string
	}{
		{"plain", "42 (worker) S 7 42" + tail, procStat{State: 'S', PPID: 7, PGID: 42, StartTime: 987654}, ""},
		{"name with spaces and parentheses", "42 (a) b (c)) R 7 9" + tail, procStat{State: 'R', PPID: 7, PGID: 9, StartTime: 987654}, ""},
		{"no name", "42 worker S 7 42" + tail, procStat{}, "no command name"},
		{"cut short", "42 (w) S 7 42 1 2", procStat{}, "too few fields"},
		{"bad start time", "42 (w) S 7 42 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 x 19", procStat{}, "start time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestReadProcStatSelf checks the parser against the kernel's own text.
func TestReadProcStatSelf(t *testing.T) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skip("no /proc")
	}
	st, err := parseProcStat(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Fields(string(b))[21]; strconv.FormatUint(st.StartTime, 10) != want || st.PGID != syscall.Getpgrp() || st.PPID != os.Getppid() {
		t.Fatalf("parsed %+v from %q", st, b)
	}
}

func FuzzParseProcStat(f *testing.F) {
	f.Add([]byte("42 (worker) S 7 42 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 987654 19 20\n"))
	f.Add([]byte("1 ()) Z 0 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseProcStat(b) // must not panic
	})
}

// TestAdoptionChecksStartTime: a restarted supervisor whose pid file names a live
// process with the right pid, executable and command line but another start time (the
// pid was reused) neither adopts nor signals it, and removes the pid file.
func TestAdoptionChecksStartTime(t *testing.T) {
	f := newManagerFixture(t)
	if !procfs() {
		t.Skip("needs /proc")
	}
	m1 := f.start(nil)
	m1.Update([]Want{f.want})
	testutil.Eventually(t, 20*time.Second, "the worker to run", func() bool { return m1.slot().Phase == Running })
	m1.stop()
	path := filepath.Join(workerDir(f.dataDir, "topo-1", f.port), pidFile)
	pf, err := readPidFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if pf.StartTime == 0 || pf.StartTime != processStartTime(pf.PID) {
		t.Fatalf("the pid file records start time %d; the process started at %d", pf.StartTime, processStartTime(pf.PID))
	}
	if ok, why := sameProcess(pf, filepath.Dir(path)); !ok {
		t.Fatalf("the recorded worker is not recognized: %s", why)
	}
	pf.StartTime++
	if err := writeJSON(path, pf); err != nil {
		t.Fatal(err)
	}
	m2 := f.start(func(c *ManagerConfig) { c.StopWorkersOnExit = true })
	time.Sleep(300 * time.Millisecond) // findLiveWorkers runs first thing
	if st := m2.Status(); len(st) != 0 {
		t.Fatalf("a process with another start time was taken for the worker: %+v", st)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the pid file of an unverified process is still there: %v", err)
	}
	m2.stop()
	if !processAlive(pf.PID) {
		t.Error("the supervisor signalled a process it could not verify")
	}
	_ = syscall.Kill(-pf.PID, syscall.SIGKILL) // no pid file left for killWorkersAtEnd
}
