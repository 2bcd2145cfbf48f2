// Package logview serves the logs of a supervisor's workers, and its own, over HTTP(S)
// (Storm's logviewer): list them, read a byte range, read, search and follow their
// lines, and delete a dead topology's. Every path it opens is named by ParseLogName and
// checked to lie in the data directory without symbolic links. With an Authorizer,
// every request carries an API token ("Authorization: Bearer <token>"): reading needs
// role viewer, deleting deployer; each refusal and each deletion is an audit line.
package logview

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/internal/cluster"
)

// Limits of one request.
const (
	// DefaultTail is how many lines a lines request returns without ?tail.
	DefaultTail = 100
	// MaxTail bounds ?tail.
	MaxTail = 100_000
	// DefaultMaxScan bounds the bytes a lines request reads from the end of a file
	// before it follows: a search over a huge log looks at its last 64 MiB.
	DefaultMaxScan = 64 << 20
	// MaxRead bounds ?length of a byte range.
	MaxRead = 16 << 20
	// maxGrep bounds the length of ?grep (a Go regexp: linear time, no backtracking).
	maxGrep = 1024
	// maxLine cuts longer lines (a runaway print without newlines).
	maxLine = 1 << 20
	// maxStreams bounds the lines requests served at once.
	maxStreams = 64
)

// FollowPoll is how often a follow request looks for new lines.
var FollowPoll = 250 * time.Millisecond

// Authorizer finds the token whose secret a request carries: its name and role, or an
// error wrapping cluster.ErrNotFound for a token the cluster does not know.
type Authorizer func(ctx context.Context, secret string) (name string, role cluster.Role, err error)

// Config configures a Server.
type Config struct {
	// DataDir is the supervisor's data directory (workers/ is under it).
	DataDir string
	// OwnLogFile, when set, is the supervisor's own log file, served as OwnLog.
	OwnLogFile string
	// Auth, when set, requires a token on every request (the cluster's ACLs are on).
	Auth Authorizer
	// Running reports whether a topology still runs (has a record in etcd or a worker
	// here): its logs are not deleted then.
	Running func(ctx context.Context, topology string) (bool, error)
	// MaxScan bounds the bytes a lines request reads (default DefaultMaxScan).
	MaxScan int64
	Logger  hclog.Logger
}

// Server is the HTTP handler of the logs.
type Server struct {
	c       Config
	log     hclog.Logger
	streams chan struct{}
	mux     *http.ServeMux
}

// New returns the handler of c's logs.
func New(c Config) *Server {
	if c.MaxScan <= 0 {
		c.MaxScan = DefaultMaxScan
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	s := &Server{c: c, log: c.Logger, streams: make(chan struct{}, maxStreams), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /logs", s.guard("logs list", cluster.RoleViewer, s.list))
	s.mux.HandleFunc("GET /logs/read", s.guard("logs read", cluster.RoleViewer, s.read))
	s.mux.HandleFunc("GET /logs/lines", s.guard("logs lines", cluster.RoleViewer, s.lines("")))
	s.mux.HandleFunc("GET /logs/search", s.guard("logs search", cluster.RoleViewer, s.lines("search")))
	s.mux.HandleFunc("GET /logs/follow", s.guard("logs follow", cluster.RoleViewer, s.lines("follow")))
	s.mux.HandleFunc("DELETE /logs", s.guard("logs remove", cluster.RoleDeployer, s.remove))
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type whoKey struct{}

// guard admits a request whose token has role need (when ACLs are on), and audits each
// refusal.
func (s *Server) guard(action string, need cluster.Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		who := "anonymous"
		refuse := func(code int, msg string) {
			s.log.Warn("audit: "+action+" refused", "audit", true, "identity", who, "action", action,
				"remote", r.RemoteAddr, "outcome", "refused", "error", msg)
			http.Error(w, msg, code)
		}
		if s.c.Auth != nil {
			v := r.Header.Get("Authorization")
			if v == "" {
				refuse(http.StatusUnauthorized, action+" needs a token with role "+string(need)+" or above, and the request carries none; pass --token or set SPARSE_TOKEN")
				return
			}
			secret, err := cluster.ParseBearer(v)
			if err != nil {
				refuse(http.StatusUnauthorized, err.Error())
				return
			}
			name, role, err := s.c.Auth(r.Context(), secret)
			switch {
			case errors.Is(err, cluster.ErrNotFound):
				refuse(http.StatusUnauthorized, "the token is not known to this cluster (revoked, mistyped or from another cluster); ask an admin for a token (sparsectl token create)")
				return
			case err != nil:
				s.log.Error("cannot look up a logs request's token", "error", err)
				http.Error(w, "cannot check the token now (etcd unreachable?); try again", http.StatusServiceUnavailable)
				return
			}
			who = name
			if !role.Allows(need) {
				refuse(http.StatusForbidden, fmt.Sprintf("%s needs role %s or above; token %q has %s", action, need, name, role))
				return
			}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), whoKey{}, who)))
	}
}

// LogInfo is one entry of the list.
type LogInfo struct {
	Name     string    `json:"name"`
	Topology string    `json:"topology,omitempty"`
	Port     int       `json:"port,omitempty"`
	Backup   int       `json:"backup,omitempty"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
}

// List is the reply of GET /logs.
type List struct {
	Logs []LogInfo `json:"logs"`
}

// list: GET /logs[?topology=T]: every log, the supervisor's own first.
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	only := r.URL.Query().Get("topology")
	if only != "" {
		if err := cluster.ValidateID("topology id", only); err != nil {
			http.Error(w, "?topology: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	var out List
	if s.c.OwnLogFile != "" && only == "" {
		if st, err := os.Stat(s.c.OwnLogFile); err == nil && st.Mode().IsRegular() {
			out.Logs = append(out.Logs, LogInfo{Name: OwnLog, Size: st.Size(), Modified: st.ModTime()})
		}
	}
	root := filepath.Join(s.c.DataDir, WorkersDir)
	topos, _ := os.ReadDir(root)
	for _, t := range topos {
		if !t.IsDir() || (only != "" && t.Name() != only) {
			continue
		}
		ports, _ := os.ReadDir(filepath.Join(root, t.Name()))
		for _, p := range ports {
			if !p.IsDir() {
				continue
			}
			files, _ := os.ReadDir(filepath.Join(root, t.Name(), p.Name()))
			for _, f := range files {
				n, err := ParseLogName(WorkersDir + "/" + t.Name() + "/" + p.Name() + "/" + f.Name())
				if err != nil || !f.Type().IsRegular() {
					continue
				}
				info, err := f.Info()
				if err != nil {
					continue
				}
				out.Logs = append(out.Logs, LogInfo{Name: n.String(), Topology: n.Topology, Port: n.Port, Backup: n.Backup,
					Size: info.Size(), Modified: info.ModTime()})
			}
		}
	}
	slices.SortStableFunc(out.Logs, func(a, b LogInfo) int {
		if c := strings.Compare(a.Topology, b.Topology); c != 0 {
			return c
		}
		if a.Port != b.Port {
			return a.Port - b.Port
		}
		return b.Backup - a.Backup // oldest copy first
	})
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// open opens the log ?log names, refusing anything outside the data directory.
func (s *Server) open(w http.ResponseWriter, r *http.Request) (*os.File, fs.FileInfo, bool) {
	n, err := ParseLogName(r.URL.Query().Get("log"))
	if err != nil {
		http.Error(w, "?log: "+err.Error(), http.StatusBadRequest)
		return nil, nil, false
	}
	var path string
	var st fs.FileInfo
	if n.Own() {
		if s.c.OwnLogFile == "" {
			http.Error(w, "this supervisor keeps no log file of its own (start it with --log-file)", http.StatusNotFound)
			return nil, nil, false
		}
		path = s.c.OwnLogFile
	} else {
		path = filepath.Join(s.c.DataDir, filepath.FromSlash(n.String()))
		if _, err = checkNoLinks(s.c.DataDir, path); err != nil {
			if errors.Is(err, errNotLog) {
				http.Error(w, "log "+n.String()+" is not a log file of this supervisor", http.StatusForbidden)
			} else {
				http.Error(w, "log "+n.String()+" is not here; list the logs with GET /logs", http.StatusNotFound)
			}
			return nil, nil, false
		}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		http.Error(w, "log "+n.String()+" cannot be opened; list the logs with GET /logs", http.StatusNotFound)
		return nil, nil, false
	}
	if st, err = f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		http.Error(w, "log "+n.String()+" is not a regular file", http.StatusForbidden)
		return nil, nil, false
	}
	return f, st, true
}

// read: GET /logs/read?log=N[&offset=O][&length=L]: bytes of a log. A negative offset
// counts from the end. The X-Log-Size header says the file's size.
func (s *Server) read(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset, err := intParam(q.Get("offset"), 0, -1<<62, 1<<62)
	if err != nil {
		http.Error(w, "?offset: "+err.Error(), http.StatusBadRequest)
		return
	}
	length, err := intParam(q.Get("length"), 1<<20, 0, MaxRead)
	if err != nil {
		http.Error(w, "?length: "+err.Error(), http.StatusBadRequest)
		return
	}
	f, st, ok := s.open(w, r)
	if !ok {
		return
	}
	defer f.Close()
	size := st.Size()
	if offset < 0 {
		offset = max(0, size+offset)
	}
	offset = min(offset, size)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Log-Size", strconv.FormatInt(size, 10))
	w.Header().Set("X-Log-Offset", strconv.FormatInt(offset, 10))
	_, _ = io.Copy(w, io.NewSectionReader(f, offset, min(length, size-offset)))
}

// lines: GET /logs/lines (and /logs/search, where grep is required, and /logs/follow,
// which follows): the last ?tail lines (default 100) of a log that pass the filters
// ?grep (a regexp), ?component, ?task and ?since (RFC 3339, or Unix milliseconds);
// following (?follow=1, or /logs/follow), then every new line as it is written, until
// the client goes away.
func (s *Server) lines(mode string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f, err := ParseFilter(q)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if mode == "search" && f.Grep == nil {
			http.Error(w, "a search needs ?grep=REGEXP", http.StatusBadRequest)
			return
		}
		tail, err := intParam(q.Get("tail"), DefaultTail, 0, MaxTail)
		if err != nil {
			http.Error(w, "?tail: "+err.Error(), http.StatusBadRequest)
			return
		}
		follow := mode == "follow" || q.Get("follow") == "1" || q.Get("follow") == "true"
		select {
		case s.streams <- struct{}{}:
			defer func() { <-s.streams }()
		default:
			http.Error(w, "too many log requests at once; try again", http.StatusServiceUnavailable)
			return
		}
		file, st, ok := s.open(w, r)
		if !ok {
			return
		}
		defer file.Close()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		lf := &lineFilter{f: f}
		start := max(0, st.Size()-s.c.MaxScan)
		end, err := s.tail(w, file, start, st.Size(), int(tail), lf)
		if err != nil || !follow {
			return
		}
		s.follow(r.Context(), w, file, end, lf)
	}
}

// tail writes the last n lines of [start, end) of f that pass lf, and returns where it
// stopped reading (the end of the last whole line).
func (s *Server) tail(w io.Writer, f *os.File, start, end int64, n int, lf *lineFilter) (int64, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(f, start, end-start), 64<<10)
	pos := start
	if start > 0 { // the first line is cut: skip it
		skipped, err := readLine(br)
		pos += int64(len(skipped))
		if err != nil {
			return pos, nil
		}
	}
	ring := make([]string, 0, min(n, 1024))
	next := 0
	for {
		line, err := readLine(br)
		if err != nil { // a line without its newline yet: following reads it whole later
			break
		}
		pos += int64(len(line))
		text := strings.TrimRight(line, "\r\n")
		if !lf.take(text) || n == 0 {
			continue
		}
		if len(ring) < n {
			ring = append(ring, text)
		} else {
			ring[next] = text
			next = (next + 1) % n
		}
	}
	bw := bufio.NewWriter(w)
	for i := range ring {
		_, _ = bw.WriteString(ring[(next+i)%len(ring)] + "\n") // an error sticks; Flush reports it
	}
	return pos, bw.Flush()
}

// readLine reads one line with its newline, cut at maxLine bytes; io.EOF when no whole
// line is left.
func readLine(br *bufio.Reader) (string, error) {
	var buf bytes.Buffer
	for {
		chunk, err := br.ReadSlice('\n')
		if buf.Len() < maxLine {
			buf.Write(chunk[:min(len(chunk), maxLine-buf.Len())])
		}
		switch {
		case err == nil:
			if buf.Len() >= maxLine && !bytes.HasSuffix(buf.Bytes(), []byte{'\n'}) {
				buf.WriteByte('\n')
			}
			return buf.String(), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return "", io.EOF
		}
	}
}

// follow writes the lines appended to f from pos on as they come, until ctx ends or the
// log goes away. A log that shrank was rotated (copied and truncated): it is read again
// from its start.
func (s *Server) follow(ctx context.Context, w io.Writer, f *os.File, pos int64, lf *lineFilter) {
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	t := time.NewTicker(FollowPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := f.Stat()
		if err != nil {
			return
		}
		if _, err := os.Lstat(f.Name()); err != nil {
			return // removed (remove-logs, or the janitor)
		}
		size := st.Size()
		if size < pos {
			pos = 0
		}
		if size == pos {
			continue
		}
		end, err := s.tail(w, f, pos, size, MaxTail, lf)
		if err != nil {
			return
		}
		pos = end
		if flusher != nil {
			flusher.Flush()
		}
	}
}

// remove: DELETE /logs?topology=T: removes the worker directories of a topology that no
// longer runs.
func (s *Server) remove(w http.ResponseWriter, r *http.Request) {
	topo := r.URL.Query().Get("topology")
	if err := cluster.ValidateID("topology id", topo); err != nil {
		http.Error(w, "?topology: "+err.Error(), http.StatusBadRequest)
		return
	}
	who, _ := r.Context().Value(whoKey{}).(string)
	audit := func(outcome, msg string) {
		s.log.Info("audit: logs remove "+outcome, "audit", true, "identity", who, "action", "logs remove",
			"topology", topo, "remote", r.RemoteAddr, "outcome", outcome, "error", msg)
	}
	if s.c.Running != nil {
		running, err := s.c.Running(r.Context(), topo)
		if err != nil {
			http.Error(w, "cannot tell whether topology "+topo+" runs: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if running {
			msg := "topology " + topo + " still runs; kill it first (sparsectl kill " + topo + "), then remove its logs"
			audit("refused", msg)
			http.Error(w, msg, http.StatusConflict)
			return
		}
	}
	dir := filepath.Join(s.c.DataDir, WorkersDir, topo)
	st, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		w.WriteHeader(http.StatusNoContent)
		return
	case err != nil || !st.IsDir():
		http.Error(w, "the logs of topology "+topo+" are not a directory of this supervisor", http.StatusForbidden)
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		audit("failed", err.Error())
		http.Error(w, "removing the logs of topology "+topo+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	audit("accepted", "")
	w.WriteHeader(http.StatusNoContent)
}

// ParseFilter reads the line filters of a request: grep, component, task and since.
func ParseFilter(q map[string][]string) (Filter, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	var f Filter
	if g := get("grep"); g != "" {
		if len(g) > maxGrep {
			return f, fmt.Errorf("?grep is %d bytes long; at most %d are allowed", len(g), maxGrep)
		}
		re, err := regexp.Compile(g)
		if err != nil {
			return f, fmt.Errorf("?grep is not a regular expression (Go syntax): %w", err)
		}
		f.Grep = re
	}
	if c := get("component"); c != "" {
		if err := cluster.ValidateID("component", c); err != nil {
			return f, fmt.Errorf("?component: %w", err)
		}
		f.Component = c
	}
	if t := get("task"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			return f, fmt.Errorf("?task %.20q is not a task number", t)
		}
		f.Task = strconv.Itoa(n)
	}
	if v := get("since"); v != "" {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			f.Since = time.UnixMilli(ms)
		} else if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			f.Since = t
		} else {
			return f, fmt.Errorf("?since %.40q is neither RFC 3339 nor Unix milliseconds", v)
		}
	}
	return f, nil
}

func intParam(v string, def, lo, hi int64) (int64, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%.20q is not a whole number from %d to %d", v, lo, hi)
	}
	return n, nil
}
