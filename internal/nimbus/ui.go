package nimbus

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/httpapi"
	"github.com/sparsestream/sparse/internal/logview"
	"github.com/sparsestream/sparse/internal/tlsconf"
)

// The REST endpoints the web UI (internal/webui) needs beyond Storm's: who the caller
// is, and a worker's log read through nimbus. docs/ui.md says why nimbus reads the log
// for the browser rather than the browser reading the supervisor's log server.

// restWhoami says whether tokens are required, and the caller's token name and role,
// so that the UI shows only the actions the caller may take.
func (s *Server) restWhoami(ctx context.Context, _ *http.Request) (any, error) {
	out := httpapi.Whoami{ACL: s.cfg.ACL}
	if id := identityFrom(ctx); id != nil {
		out.Name, out.Role = id.Name, string(id.Role)
	}
	return out, nil
}

// Bounds of a worker log read through nimbus.
const (
	defaultUILogTail = 200
	maxUILogTail     = 5000
	// maxUILogBytes bounds what nimbus relays of one answer.
	maxUILogBytes = 8 << 20
)

// restWorkerLog is the last lines of a worker's log (?tail=N, ?grep=RE), read from the
// log server of the supervisor that runs it with nimbus's own certificate and the
// caller's token, which the log server checks again.
func (s *Server) restWorkerLog(ctx context.Context, r *http.Request) (any, error) {
	tail := defaultUILogTail
	if v := r.URL.Query().Get("tail"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxUILogTail {
			return nil, badRequest("tail %q is not a number of lines from 1 to %d", v, maxUILogTail)
		}
		tail = n
	}
	src, err := s.ListLogSources(ctx, &sparsev1.LogSourcesRequest{Topology: r.PathValue("id")})
	if err != nil {
		return nil, err
	}
	if src.GetTopologyId() == "" {
		return nil, status.Errorf(codes.NotFound, "no topology %q", r.PathValue("id"))
	}
	wid := r.PathValue("worker")
	var worker *sparsev1.LogWorker
	var ids []string
	for _, w := range src.GetWorkers() {
		ids = append(ids, w.GetId())
		if w.GetId() == wid {
			worker = w
		}
	}
	if worker == nil {
		return nil, status.Errorf(codes.NotFound, "topology %s has no worker %q (workers: %s)", src.GetTopologyId(), wid, strings.Join(ids, ", "))
	}
	var sup *sparsev1.LogSupervisor
	for _, sp := range src.GetSupervisors() {
		if sp.GetId() == worker.GetSupervisor() {
			sup = sp
		}
	}
	if sup == nil || sup.GetLogsAddr() == "" {
		return nil, status.Errorf(codes.FailedPrecondition, "supervisor %s serves no logs; start it with --logs-addr", worker.GetSupervisor())
	}
	name := logview.LogName{Topology: src.GetTopologyId(), Port: int(worker.GetPort())}
	q := url.Values{"log": {name.String()}, "tail": {strconv.Itoa(tail)}}
	if g := r.URL.Query().Get("grep"); g != "" {
		q.Set("grep", g)
	}
	body, err := s.readSupervisorLog(ctx, sup, q, r.Header.Get("Authorization"))
	if err != nil {
		return nil, err
	}
	return rawBody{contentType: "text/plain; charset=utf-8", body: body}, nil
}

// readSupervisorLog makes one GET /logs/lines on a supervisor's log server.
func (s *Server) readSupervisorLog(ctx context.Context, sup *sparsev1.LogSupervisor, q url.Values, auth string) (string, error) {
	scheme := "http"
	var st *tlsconf.Store
	if sup.GetTls() {
		if s.cfg.TLS == nil {
			return "", status.Errorf(codes.FailedPrecondition, "supervisor %s serves its logs over HTTPS and this nimbus has no TLS certificate (--tls-*)", sup.GetId())
		}
		scheme, st = "https", s.cfg.TLS
	}
	tr := logview.ClientTransport(st)
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	u := url.URL{Scheme: scheme, Host: sup.GetLogsAddr(), Path: "/logs/lines", RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", status.Errorf(codes.Internal, "a request to supervisor %s: %v", sup.GetId(), err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", status.Errorf(codes.Unavailable, "the log server of supervisor %s at %s: %v", sup.GetId(), sup.GetLogsAddr(), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxUILogBytes))
	if err != nil {
		return "", status.Errorf(codes.Unavailable, "reading the log from supervisor %s: %v", sup.GetId(), err)
	}
	if resp.StatusCode/100 != 2 {
		msg := fmt.Sprintf("supervisor %s's log server answered %s: %s", sup.GetId(), resp.Status, strings.TrimSpace(string(b)))
		switch resp.StatusCode {
		case http.StatusBadRequest:
			return "", badRequest("%s", msg)
		case http.StatusNotFound:
			return "", status.Error(codes.NotFound, msg)
		case http.StatusUnauthorized:
			return "", status.Error(codes.Unauthenticated, msg)
		case http.StatusForbidden:
			return "", status.Error(codes.PermissionDenied, msg)
		}
		return "", status.Error(codes.Unavailable, msg)
	}
	return string(b), nil
}
