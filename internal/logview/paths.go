package logview

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sparsestream/sparse/internal/cluster"
)

// The names of the logs a supervisor serves, relative to its data directory:
// workers/<topology-id>/<port>/worker.log (and its rotated copies worker.log.1, ...),
// and OwnLog, the supervisor's own log file (supervisord --log-file).
const (
	WorkersDir    = "workers"
	WorkerLogFile = "worker.log"
	OwnLog        = "supervisor"
	// maxBackup bounds the rotated copies' numbers (worker.log.1 to worker.log.99).
	maxBackup = 99
)

// LogName is one log a supervisor serves.
type LogName struct {
	// Topology and Port name a worker's directory; both empty for OwnLog.
	Topology string
	Port     int
	// Backup is the rotated copy's number (0: the live log).
	Backup int
}

// Own reports whether n is the supervisor's own log.
func (n LogName) Own() bool { return n.Topology == "" }

// String is the name as the list gives it and ParseLogName reads it.
func (n LogName) String() string {
	if n.Own() {
		return OwnLog
	}
	f := WorkerLogFile
	if n.Backup > 0 {
		f += "." + strconv.Itoa(n.Backup)
	}
	return WorkersDir + "/" + n.Topology + "/" + strconv.Itoa(n.Port) + "/" + f
}

// ParseLogName reads a log's name strictly: OwnLog, or
// workers/<topology-id>/<port>/worker.log[.N] with a valid topology id, a port in
// canonical form and a backup number from 1 to 99. Nothing else (no "..", no other
// file, no absolute path) names a log.
func ParseLogName(s string) (LogName, error) {
	if s == OwnLog {
		return LogName{}, nil
	}
	bad := func(why string) (LogName, error) {
		return LogName{}, fmt.Errorf("log %.80q: %s; name a log as the list gives it: %s/<topology-id>/<port>/%s[.N] or %s", s, why, WorkersDir, WorkerLogFile, OwnLog)
	}
	parts := strings.Split(s, "/")
	if len(parts) != 4 || parts[0] != WorkersDir {
		return bad("it is not a worker's log")
	}
	if err := cluster.ValidateID("topology id", parts[1]); err != nil {
		return bad(err.Error())
	}
	port, err := strconv.Atoi(parts[2])
	if err != nil || port <= 0 || port > 65535 || strconv.Itoa(port) != parts[2] {
		return bad("the port is not a port number")
	}
	n := LogName{Topology: parts[1], Port: port}
	if f := parts[3]; f != WorkerLogFile {
		num, ok := strings.CutPrefix(f, WorkerLogFile+".")
		b, err := strconv.Atoi(num)
		if !ok || err != nil || b < 1 || b > maxBackup || strconv.Itoa(b) != num {
			return bad("the file is not " + WorkerLogFile + " or a rotated copy of it")
		}
		n.Backup = b
	}
	return n, nil
}

// errNotLog is a path that is not a regular file reached without symbolic links.
var errNotLog = errors.New("not a log file")

// checkNoLinks checks that every element of path below root, path included, is there
// and is not a symbolic link, and that path is a regular file: a link planted in the
// data directory cannot lead a reader out of it.
func checkNoLinks(root, path string) (fs.FileInfo, error) {
	rel, err := filepath.Rel(root, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return nil, errNotLog
	}
	cur := root
	var st fs.FileInfo
	for _, el := range strings.Split(rel, string(filepath.Separator)) {
		cur = filepath.Join(cur, el)
		if st, err = os.Lstat(cur); err != nil {
			return nil, err
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			return nil, errNotLog
		}
	}
	if !st.Mode().IsRegular() {
		return nil, errNotLog
	}
	return st, nil
}
