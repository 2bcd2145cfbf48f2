package ctl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/logview"
	"github.com/sparsestream/sparse/internal/tlsconf"
)

// LogSources asks nimbus where the logs of a topology's workers are served.
func (c *Client) LogSources(ctx context.Context, topology string) (*sparsev1.LogSourcesReply, error) {
	var out *sparsev1.LogSourcesReply
	_, err := c.call(ctx, func(ctx context.Context, n sparsev1.NimbusClient) error {
		var err error
		out, err = n.ListLogSources(ctx, &sparsev1.LogSourcesRequest{Topology: topology})
		return err
	})
	return out, err
}

// SetLogLevel sets (or resets) a log level or debug sample on a running topology.
func (c *Client) SetLogLevel(ctx context.Context, req *sparsev1.SetLogLevelRequest) (*sparsev1.SetLogLevelReply, error) {
	var out *sparsev1.SetLogLevelReply
	_, err := c.call(ctx, func(ctx context.Context, n sparsev1.NimbusClient) error {
		var err error
		out, err = n.SetLogLevel(ctx, req)
		return err
	})
	return out, err
}

// LogsClient reads the supervisors' log servers with the token and TLS of the
// cluster commands.
type LogsClient struct {
	http  *http.Client
	token string
	tls   bool
}

// LogsClient is the client of the supervisors' log servers: the API token, and the CA
// (and client certificate) of --tls-ca, checking that the server is a supervisor of the
// cluster.
func (f *ConnFlags) LogsClient() (*LogsClient, error) {
	r, err := Resolve(Source{Nimbus: f.Nimbus, Env: f.Env, ConfigPath: f.Config, Getenv: f.Getenv})
	if err != nil {
		return nil, err
	}
	token, err := ResolveToken(f.Token, f.Getenv, r.TokenFile)
	if err != nil {
		return nil, err
	}
	files := r.TLS
	if f.TLS.Enabled() {
		files = f.TLS
	}
	var store *tlsconf.Store
	if files.Enabled() {
		if store, err = tlsconf.Load(files, nil); err != nil {
			return nil, fmt.Errorf("TLS to the supervisors' log servers: %w", err)
		}
	}
	return &LogsClient{token: token, tls: store != nil, http: &http.Client{Transport: logview.ClientTransport(store)}}, nil
}

// do makes one request to the log server at addr and checks its status.
func (lc *LogsClient) do(ctx context.Context, method string, sup *sparsev1.LogSupervisor, path string, q url.Values) (*http.Response, error) {
	if sup.GetLogsAddr() == "" {
		return nil, fmt.Errorf("supervisor %s serves no logs; start it with --logs-addr", sup.GetId())
	}
	scheme := "http"
	if sup.GetTls() {
		scheme = "https"
		if !lc.tls {
			return nil, fmt.Errorf("supervisor %s serves its logs over HTTPS; pass --tls-ca", sup.GetId())
		}
	}
	u := url.URL{Scheme: scheme, Host: sup.GetLogsAddr(), Path: path, RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if lc.token != "" {
		req.Header.Set("Authorization", "Bearer "+lc.token)
	}
	resp, err := lc.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the log server of supervisor %s at %s: %w", sup.GetId(), sup.GetLogsAddr(), err)
	}
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, fmt.Errorf("supervisor %s: %s: %s", sup.GetId(), resp.Status, strings.TrimSpace(string(b)))
	}
	return resp, nil
}

// LogsOptions select the lines of sparsectl logs.
type LogsOptions struct {
	Topology  string
	Component string
	Task      int // -1: any
	Worker    string
	Follow    bool
	Since     time.Duration
	Grep      string
	Lines     int
}

// logSource is one worker's log and where it is served.
type logSource struct {
	worker *sparsev1.LogWorker
	sup    *sparsev1.LogSupervisor
	name   string
	query  url.Values
}

// prefix is what precedes each of the worker's lines: its id, and the component where
// the line names one or the worker runs only one.
func (s *logSource) prefix(line string) string {
	comp, ok := logview.LineField(line, "component")
	if !ok && len(s.worker.GetComponents()) == 1 {
		comp = s.worker.GetComponents()[0]
	}
	if comp == "" {
		return "[" + s.worker.GetId() + "] "
	}
	return "[" + s.worker.GetId() + " " + comp + "] "
}

// maxLogLine is the longest log line read; a worker writes none longer.
const maxLogLine = 2 << 20

// scan calls each for every line of s's log read from r, and says what cut the log
// short, if anything: a reader that stops on an error must not look like a whole log.
func (s *logSource) scan(r io.Reader, each func(line string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLogLine)
	for sc.Scan() {
		if err := each(sc.Text()); err != nil {
			return err
		}
	}
	switch err := sc.Err(); {
	case err == nil:
		return nil
	case errors.Is(err, bufio.ErrTooLong):
		return fmt.Errorf("the log of worker %s (supervisor %s) has a line longer than %d MiB; the lines after it were not read: %w",
			s.worker.GetId(), s.sup.GetId(), maxLogLine>>20, err)
	default:
		return fmt.Errorf("the log of worker %s was cut short by the log server of supervisor %s at %s; the lines after it were not read: %w",
			s.worker.GetId(), s.sup.GetId(), s.sup.GetLogsAddr(), err)
	}
}

// sources finds the workers o selects and their log servers.
func (lc *LogsClient) sources(ctx context.Context, c *Client, o LogsOptions) ([]*logSource, error) {
	src, err := c.LogSources(ctx, o.Topology)
	if err != nil {
		return nil, err
	}
	if src.GetTopologyId() == "" {
		return nil, fmt.Errorf("no topology is named %q; `sparsectl list` shows the topologies (sparsectl remove-logs removes a dead one's logs)", o.Topology)
	}
	if o.Grep != "" {
		if _, err := regexp.Compile(o.Grep); err != nil {
			return nil, fmt.Errorf("--grep is not a regular expression (Go syntax): %w", err)
		}
	}
	sups := map[string]*sparsev1.LogSupervisor{}
	for _, s := range src.GetSupervisors() {
		sups[s.GetId()] = s
	}
	q := url.Values{}
	if o.Grep != "" {
		q.Set("grep", o.Grep)
	}
	if o.Component != "" {
		q.Set("component", o.Component)
	}
	if o.Task >= 0 {
		q.Set("task", strconv.Itoa(o.Task))
	}
	if o.Since > 0 {
		q.Set("since", strconv.FormatInt(time.Now().Add(-o.Since).UnixMilli(), 10))
	}
	var out []*logSource
	for _, w := range src.GetWorkers() {
		switch {
		case o.Worker != "" && w.GetId() != o.Worker:
			continue
		case o.Component != "" && !slices.Contains(w.GetComponents(), o.Component):
			continue
		case o.Task >= 0 && !slices.Contains(w.GetTasks(), int32(o.Task)):
			continue
		}
		sup := sups[w.GetSupervisor()]
		if sup == nil {
			return nil, fmt.Errorf("worker %s runs on supervisor %s, which is not registered now", w.GetId(), w.GetSupervisor())
		}
		name := logview.LogName{Topology: src.GetTopologyId(), Port: int(w.GetPort())}.String()
		out = append(out, &logSource{worker: w, sup: sup, name: name, query: q})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no worker of topology %s matches (workers: %d); check --worker, --component and --task against sparsectl describe %s", src.GetTopologyId(), len(src.GetWorkers()), o.Topology)
	}
	return out, nil
}

// Logs writes the last o.Lines lines of every selected worker of a topology to out,
// merged by time, each prefixed with its worker (and component); with o.Follow it then
// writes new lines as they come, until ctx ends.
func (lc *LogsClient) Logs(ctx context.Context, c *Client, o LogsOptions, out io.Writer) error {
	srcs, err := lc.sources(ctx, c, o)
	if err != nil {
		return err
	}
	return lc.logs(ctx, srcs, o, out)
}

// logs writes the tails of srcs and then, with o.Follow, follows them.
func (lc *LogsClient) logs(ctx context.Context, srcs []*logSource, o LogsOptions, out io.Writer) error {
	type stamped struct {
		t    time.Time
		seq  int
		text string
	}
	var all []stamped
	var errs []error
	for _, s := range srcs {
		q := cloneValues(s.query)
		q.Set("log", s.name)
		q.Set("tail", strconv.Itoa(o.Lines))
		resp, err := lc.do(ctx, http.MethodGet, s.sup, "/logs/lines", q)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var last time.Time
		err = s.scan(resp.Body, func(line string) error {
			if t, ok := logview.LineTime(line); ok {
				last = t
			}
			all = append(all, stamped{last, len(all), s.prefix(line) + line})
			return nil
		})
		resp.Body.Close()
		if err != nil {
			errs = append(errs, err)
		}
	}
	slices.SortStableFunc(all, func(a, b stamped) int { return a.t.Compare(b.t) })
	if o.Lines >= 0 && len(all) > o.Lines {
		all = all[len(all)-o.Lines:]
	}
	bw := bufio.NewWriter(out)
	for _, l := range all {
		_, _ = bw.WriteString(l.text + "\n") // an error sticks; Flush reports it
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if len(errs) == len(srcs) || !o.Follow {
		return errors.Join(errs...)
	}
	return lc.follow(ctx, srcs, out)
}

// follow writes each worker's new lines as they come, a whole line at a time.
func (lc *LogsClient) follow(ctx context.Context, srcs []*logSource, out io.Writer) error {
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(srcs))
	for i, s := range srcs {
		wg.Go(func() {
			q := cloneValues(s.query)
			q.Set("log", s.name)
			q.Set("tail", "0")
			q.Del("since")
			resp, err := lc.do(ctx, http.MethodGet, s.sup, "/logs/follow", q)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			errs[i] = s.scan(resp.Body, func(line string) error {
				mu.Lock()
				defer mu.Unlock()
				_, err := io.WriteString(out, s.prefix(line)+line+"\n")
				return err
			})
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil // the user stopped following
	}
	return errors.Join(errs...)
}

// RemoveLogs asks every supervisor to delete the logs of a topology that no longer
// runs: topology is its id, or the name it was submitted under (every dead topology of
// that name). It returns what each supervisor removed.
func (lc *LogsClient) RemoveLogs(ctx context.Context, c *Client, topology string) ([]string, error) {
	src, err := c.LogSources(ctx, topology)
	if err != nil {
		return nil, err
	}
	if id := src.GetTopologyId(); id != "" {
		return nil, fmt.Errorf("topology %s still runs (id %s); kill it first (sparsectl kill %s), then remove its logs", topology, id, topology)
	}
	ofName := regexp.MustCompile(`^` + regexp.QuoteMeta(topology) + `-[0-9]+(-[0-9]+)?$`)
	var done []string
	var errs []error
	for _, sup := range src.GetSupervisors() {
		if sup.GetLogsAddr() == "" {
			errs = append(errs, fmt.Errorf("supervisor %s serves no logs (no --logs-addr); remove its logs by hand", sup.GetId()))
			continue
		}
		resp, err := lc.do(ctx, http.MethodGet, sup, "/logs", nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var list logview.List
		err = json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(&list)
		resp.Body.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("supervisor %s: reading its list of logs: %w", sup.GetId(), err))
			continue
		}
		var ids []string
		for _, l := range list.Logs {
			if l.Topology != "" && (l.Topology == topology || ofName.MatchString(l.Topology)) && !slices.Contains(ids, l.Topology) {
				ids = append(ids, l.Topology)
			}
		}
		for _, id := range ids {
			resp, err := lc.do(ctx, http.MethodDelete, sup, "/logs", url.Values{"topology": {id}})
			if err != nil {
				errs = append(errs, err)
				continue
			}
			resp.Body.Close()
			done = append(done, sup.GetId()+": "+id)
		}
	}
	return done, errors.Join(errs...)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
