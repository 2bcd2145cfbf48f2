package nimbus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/graph"
	"github.com/sparsestream/sparse/internal/httpapi"
	"github.com/sparsestream/sparse/internal/stats"
	"github.com/sparsestream/sparse/internal/tlsconf"
	"github.com/sparsestream/sparse/internal/version"
	"github.com/sparsestream/sparse/internal/webui"
)

// The REST API (nimbusd --http) is shaped after Storm's UI REST API, so that scripts
// written for Storm need at most a new host. Each route names the Nimbus call whose
// rule in rpcAccess it follows, so tokens, roles, owners and audit lines are the gRPC
// API's; its handlers call the gRPC handlers or the same views. docs/api.md describes
// every route, and openapi.yaml (checked by TestOpenAPIMatchesRoutes) the shapes.

// restRoute is one endpoint.
type restRoute struct {
	method, path string
	// rpc is the Nimbus call whose access rule applies.
	rpc string
	h   func(s *Server, ctx context.Context, r *http.Request) (any, error)
}

// restRoutes are the REST API's endpoints.
var restRoutes = []restRoute{
	{"GET", "/api/v1/cluster/summary", sparsev1.Nimbus_List_FullMethodName, (*Server).restClusterSummary},
	{"GET", "/api/v1/supervisor/summary", sparsev1.Nimbus_ListSupervisors_FullMethodName, (*Server).restSupervisorSummary},
	{"GET", "/api/v1/nimbus/summary", sparsev1.Nimbus_List_FullMethodName, (*Server).restNimbusSummary},
	{"GET", "/api/v1/topology/summary", sparsev1.Nimbus_List_FullMethodName, (*Server).restTopologySummary},
	{"GET", "/api/v1/topology/{id}", sparsev1.Nimbus_Describe_FullMethodName, (*Server).restTopology},
	{"GET", "/api/v1/topology/{id}/component/{component}", sparsev1.Nimbus_Describe_FullMethodName, (*Server).restComponent},
	{"GET", "/api/v1/topology/{id}/visualization", sparsev1.Nimbus_Describe_FullMethodName, (*Server).restVisualization},
	{"POST", "/api/v1/topology/{id}/activate", sparsev1.Nimbus_Activate_FullMethodName, (*Server).restActivate},
	{"POST", "/api/v1/topology/{id}/deactivate", sparsev1.Nimbus_Deactivate_FullMethodName, (*Server).restDeactivate},
	{"POST", "/api/v1/topology/{id}/rebalance/{wait}", sparsev1.Nimbus_Rebalance_FullMethodName, (*Server).restRebalance},
	{"POST", "/api/v1/topology/{id}/kill/{wait}", sparsev1.Nimbus_Kill_FullMethodName, (*Server).restKill},
	{"GET", "/api/v1/prometheus/sd", sparsev1.Nimbus_ListSupervisors_FullMethodName, (*Server).restPrometheusSD},
	{"GET", "/api/v1/whoami", sparsev1.Nimbus_List_FullMethodName, (*Server).restWhoami},
	{"GET", "/api/v1/topology/{id}/worker/{worker}/log", sparsev1.Nimbus_ListLogSources_FullMethodName, (*Server).restWorkerLog},
}

// HTTP is nimbus's HTTP server (nil without --http). Other packages add their
// endpoints to it with Handle, and protect them with RESTHandler.
func (s *Server) HTTP() *httpapi.Server { return s.http }

// startHTTP listens on --http; serveHTTP serves once the registration is written.
// The listener's hourly --insecure warning lives as long as the server (s.ctx).
func (s *Server) startHTTP() error {
	if s.cfg.HTTP == "" {
		return nil
	}
	h, err := httpapi.Listen(s.ctx, httpapi.Options{Addr: s.cfg.HTTP, TLS: s.cfg.TLS, AcceptRoles: APIRoles, ACL: s.cfg.ACL,
		Insecure: s.cfg.Insecure, What: "nimbusd --http", Logger: s.log.Named("http")})
	if err != nil {
		return err
	}
	s.http = h
	for _, rt := range restRoutes {
		h.Handle(rt.method+" "+rt.path, s.RESTHandler(rt.rpc, func(ctx context.Context, r *http.Request) (any, error) { return rt.h(s, ctx, r) }))
	}
	webui.Register(h)
	return nil
}

func (s *Server) serveHTTP() {
	if s.http == nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(s.ctx); err != nil {
			s.log.Error("the HTTP API stopped serving", "error", err)
		}
	}()
}

// httpAdvertise is the HTTP address others reach: the bound port on the host of the
// advertised gRPC address when --advertise is given or --http binds every interface,
// else the bound address.
func (s *Server) httpAdvertise() string {
	if s.http == nil {
		return ""
	}
	return s.advertised(s.http.Addr())
}

// advertised is a bound address as others reach it (see httpAdvertise); "" stays "".
func (s *Server) advertised(bound string) string {
	if bound == "" {
		return ""
	}
	bhost, port, err := net.SplitHostPort(bound)
	if err != nil {
		return bound
	}
	if ip := net.ParseIP(bhost); s.cfg.Advertise != "" || (ip != nil && ip.IsUnspecified()) {
		if host, _, err := net.SplitHostPort(s.addr); err == nil {
			return net.JoinHostPort(host, port)
		}
	}
	return bound
}

// RESTHandler serves one endpoint under the access rule of the Nimbus call rpc: the
// token ("Authorization: Bearer <token>") is checked as on the gRPC API, changes and
// refusals are audited, a worker certificate is refused, and errors become JSON with
// the matching HTTP status. h returns what to answer as JSON.
func (s *Server) RESTHandler(rpc string, h func(ctx context.Context, r *http.Request) (any, error)) http.Handler {
	a, known := rpcAccess[rpc]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				s.metrics.Panics.Inc()
				s.log.Error("recovered a panic in an HTTP handler", "path", r.URL.Path, "panic", p)
				httpapi.WriteError(w, http.StatusInternalServerError, "nimbus failed on this request; its log says why")
			}
		}()
		ctx := r.Context()
		if addr, err := net.ResolveTCPAddr("tcp", r.RemoteAddr); err == nil {
			ctx = peer.NewContext(ctx, &peer.Peer{Addr: addr})
		}
		if auth := r.Header.Get("Authorization"); auth != "" {
			ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", auth))
		}
		var err error
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			if id, ierr := tlsconf.IdentityOf(r.TLS.PeerCertificates[0]); ierr == nil && id.Role == tlsconf.RoleWorker {
				err = status.Errorf(codes.PermissionDenied, "%s refuses a worker certificate (%s)", r.URL.Path, id)
			}
		}
		if err == nil {
			ctx, err = s.admit(ctx, rpc, a, known)
		}
		ref := &sparsev1.TopologyRef{Name: r.PathValue("id")}
		if err != nil {
			s.audit(ctx, a, ref, err)
			s.writeRESTError(ctx, w, r, err)
			return
		}
		resp, err := h(ctx, r)
		if a.change {
			s.audit(ctx, a, ref, err)
		}
		if err != nil {
			s.writeRESTError(ctx, w, r, err)
			return
		}
		if raw, ok := resp.(rawBody); ok {
			w.Header().Set("Content-Type", raw.contentType)
			w.Header().Set("Cache-Control", "no-store")
			_, _ = io.WriteString(w, raw.body)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, resp)
	})
}

// restError is a REST-only error with its HTTP status.
type restError struct {
	code int
	msg  string
}

func (e *restError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &restError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// redirectError sends the client to the leader's HTTP API.
type redirectError struct{ url string }

func (e *redirectError) Error() string { return "see " + e.url }

// writeRESTError answers an error: a gRPC status by its code, a standby's NOT_LEADER
// by a redirect to the leader's HTTP API when it has one.
func (s *Server) writeRESTError(ctx context.Context, w http.ResponseWriter, r *http.Request, err error) {
	var re *restError
	var rd *redirectError
	switch {
	case errors.As(err, &rd):
		http.Redirect(w, r, rd.url, http.StatusTemporaryRedirect)
		return
	case errors.As(err, &re):
		httpapi.WriteError(w, re.code, re.msg)
		return
	}
	st := status.Convert(err)
	if u := s.leaderURL(ctx, st, r); u != "" {
		http.Redirect(w, r, u, http.StatusTemporaryRedirect)
		return
	}
	httpapi.WriteError(w, httpStatus(st.Code()), st.Message())
}

// leaderURL is the request's URL on the leader's HTTP API, when st says this nimbus is
// not the leader and the leader serves HTTP.
func (s *Server) leaderURL(ctx context.Context, st *status.Status, r *http.Request) string {
	if st.Code() != codes.FailedPrecondition {
		return ""
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == "NOT_LEADER" {
			return s.leaderHTTP(ctx, info.GetMetadata()["leader_id"], r)
		}
	}
	return ""
}

func (s *Server) leaderHTTP(ctx context.Context, leaderID string, r *http.Request) string {
	rec, err := s.store.GetNimbus(ctx, leaderID)
	if err != nil || rec.HTTP == "" || leaderID == s.id {
		return ""
	}
	scheme := "http"
	if s.cfg.TLS != nil {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: rec.HTTP, Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	return u.String()
}

// httpStatus maps a gRPC code to the HTTP status of the same meaning.
func httpStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.InvalidArgument, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.FailedPrecondition, codes.Aborted:
		return http.StatusConflict
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unavailable, codes.Canceled:
		return http.StatusServiceUnavailable
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.Unimplemented:
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}

// --- handlers

func (s *Server) restClusterSummary(ctx context.Context, _ *http.Request) (any, error) {
	return s.clusterSummary(ctx)
}

func (s *Server) clusterSummary(ctx context.Context) (httpapi.ClusterSummary, error) {
	topos, err := s.List(ctx, &sparsev1.ListRequest{})
	if err != nil {
		return httpapi.ClusterSummary{}, err
	}
	sups, err := s.ListSupervisors(ctx, &sparsev1.ListSupervisorsRequest{})
	if err != nil {
		return httpapi.ClusterSummary{}, err
	}
	leader, _, _ := s.store.Leader(ctx)
	up := time.Since(s.started)
	out := httpapi.ClusterSummary{SparseVersion: version.Get("nimbusd").Version, Nimbus: s.id, Leader: leader, NimbusUptime: prettyDuration(up), NimbusUptimeS: int64(up / time.Second),
		Supervisors: len(sups.GetSupervisors()), Topologies: len(topos.GetTopologies())}
	for _, sp := range sups.GetSupervisors() {
		out.SlotsTotal += len(sp.GetSlots())
		out.SlotsUsed += len(sp.GetUsedSlots())
	}
	out.SlotsFree = max(out.SlotsTotal-out.SlotsUsed, 0)
	for _, t := range topos.GetTopologies() {
		out.ExecutorsTotal += int(t.GetExecutors())
		out.TasksTotal += int(t.GetTasks())
	}
	return out, nil
}

func (s *Server) restSupervisorSummary(ctx context.Context, _ *http.Request) (any, error) {
	sups, err := s.ListSupervisors(ctx, &sparsev1.ListSupervisorsRequest{})
	if err != nil {
		return nil, err
	}
	out := []httpapi.SupervisorSummary{}
	for _, sp := range sups.GetSupervisors() {
		up := time.Duration(sp.GetUptimeSecs()) * time.Second
		out = append(out, httpapi.SupervisorSummary{ID: sp.GetId(), Host: sp.GetHost(), Uptime: prettyDuration(up), UptimeSeconds: sp.GetUptimeSecs(),
			SlotsTotal: len(sp.GetSlots()), SlotsUsed: len(sp.GetUsedSlots()), SlotsFree: max(len(sp.GetSlots())-len(sp.GetUsedSlots()), 0),
			Slots: nonNil(sp.GetSlots()), UsedSlots: nonNil(sp.GetUsedSlots())})
	}
	return map[string]any{"supervisors": out}, nil
}

func (s *Server) restNimbusSummary(ctx context.Context, _ *http.Request) (any, error) {
	recs, err := s.store.ListNimbus(ctx)
	if err != nil && !invalidOnly(err) {
		return nil, s.rpcErr(ctx, err)
	}
	leader, _, _ := s.store.Leader(ctx)
	out := []httpapi.NimbusSummary{}
	for _, n := range recs {
		host, port, _ := net.SplitHostPort(n.Address)
		p, _ := strconv.Atoi(port)
		st := "Not a Leader"
		if n.ID == leader {
			st = "Leader"
		}
		var up time.Duration
		if !n.StartedAt.IsZero() {
			up = max(time.Since(n.StartedAt), 0)
		}
		out = append(out, httpapi.NimbusSummary{ID: n.ID, Host: host, Port: p, Address: n.Address, HTTPAddress: n.HTTP, Status: st, Version: n.Version,
			NimbusUpTime: prettyDuration(up), NimbusUpTimeS: int64(up / time.Second)})
	}
	return map[string]any{"nimbuses": out}, nil
}

// restTopologySummary lists the topologies, each with its spouts' figures in ?window=
// when this nimbus leads (a standby answers without them, rather than redirect a list).
func (s *Server) restTopologySummary(ctx context.Context, r *http.Request) (any, error) {
	w, err := windowOf(r.URL.Query().Get("window"))
	if err != nil {
		return nil, err
	}
	rows, err := s.topologyStatsRows(ctx, w, func(id string, w stats.Window) (stats.TopologyStats, bool, error) {
		ts, _, err := s.leaderStats(id, w)
		if errors.Is(err, errNoStats) {
			return ts, false, nil
		}
		return ts, err == nil, err
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"topologies": rows, "window": w.Name, "windowHint": w.Label()}, nil
}

// topologyStatsRows are every topology with its spouts' figures in w; a topology for
// which statsOf has none (a standby) has no figures.
func (s *Server) topologyStatsRows(ctx context.Context, w stats.Window, statsOf statsFunc) ([]httpapi.TopologyStatsRow, error) {
	topos, err := s.List(ctx, &sparsev1.ListRequest{})
	if err != nil {
		return nil, err
	}
	out := []httpapi.TopologyStatsRow{}
	for _, t := range topos.GetTopologies() {
		row := httpapi.TopologyStatsRow{TopologyRow: topologyRow(t)}
		ts, ok, err := statsOf(t.GetId(), w)
		if err != nil {
			return nil, err
		}
		if ok {
			ws := windowStats(w, ts.Spouts)
			row.Stats, row.StatsSince = &ws, ts.Since.UTC().Format(time.RFC3339)
		}
		out = append(out, row)
	}
	return out, nil
}

func topologyRow(t *sparsev1.TopologySummary) httpapi.TopologyRow {
	st := strings.ToUpper(t.GetStatus())
	if st == "KILLING" {
		st = "KILLED" // Storm's name for a topology waiting to be removed
	}
	return httpapi.TopologyRow{ID: t.GetId(), Name: t.GetName(), Status: st, Uptime: prettyDuration(time.Duration(t.GetUptimeSecs()) * time.Second),
		UptimeSeconds: t.GetUptimeSecs(), TasksTotal: t.GetTasks(), WorkersTotal: t.GetWorkers(), ExecutorsTotal: t.GetExecutors(),
		RequestedWorkers: t.GetRequestedWorkers(), Owner: t.GetOwner(), SchedulerInfo: t.GetScheduling()}
}

// windowOf reads a window (?window=).
func windowOf(v string) (stats.Window, error) {
	w, err := stats.ParseWindow(v)
	if err != nil {
		return w, badRequest("%v", err)
	}
	return w, nil
}

// statsFunc gives the figures of a topology in a window: the leader's, or an error that
// sends the caller to the leader (a standby keeps none).
type statsFunc func(id string, w stats.Window) (stats.TopologyStats, bool, error)

// errNoStats: this nimbus does not lead, so it holds no figures.
var errNoStats = errors.New("this nimbus is a standby and holds no statistics")

// leaderStats are the figures of this nimbus, or errNoStats.
func (s *Server) leaderStats(id string, w stats.Window) (stats.TopologyStats, bool, error) {
	if t := s.currentTerm(); t != nil {
		ts, ok := t.stats.Topology(id, w, time.Now())
		return ts, ok, nil
	}
	return stats.TopologyStats{}, false, errNoStats
}

// restStats are the leader's figures for a REST request: on a standby, a redirect to
// the leader's REST API, or no figures when it has none.
func (s *Server) restStats(ctx context.Context, r *http.Request) statsFunc {
	return func(id string, w stats.Window) (stats.TopologyStats, bool, error) {
		ts, ok, err := s.leaderStats(id, w)
		if !errors.Is(err, errNoStats) {
			return ts, ok, err
		}
		if leader, _, lerr := s.store.Leader(ctx); lerr == nil {
			if u := s.leaderHTTP(ctx, leader, r); u != "" {
				return ts, false, &redirectError{url: u}
			}
		}
		return stats.TopologyStats{Window: w, Since: time.Now()}, false, nil
	}
}

// rpcStats are the leader's figures for a gRPC call: on a standby, NOT_LEADER.
func (s *Server) rpcStats(ctx context.Context) statsFunc {
	return func(id string, w stats.Window) (stats.TopologyStats, bool, error) {
		ts, ok, err := s.leaderStats(id, w)
		if errors.Is(err, errNoStats) {
			return ts, ok, s.notLeader(ctx)
		}
		return ts, ok, err
	}
}

func (s *Server) restTopology(ctx context.Context, r *http.Request) (any, error) {
	w, err := windowOf(r.URL.Query().Get("window"))
	if err != nil {
		return nil, err
	}
	sys := r.URL.Query().Get("sys") == "true" || r.URL.Query().Get("sys") == "1"
	return s.topologyPage(ctx, r.PathValue("id"), w, sys, s.restStats(ctx, r))
}

// topologyPage is what GET /api/v1/topology/{id} answers.
func (s *Server) topologyPage(ctx context.Context, name string, w stats.Window, sys bool, statsOf statsFunc) (*httpapi.TopologyPage, error) {
	d, err := s.Describe(ctx, &sparsev1.TopologyRef{Name: name})
	if err != nil {
		return nil, err
	}
	id := d.GetSummary().GetId()
	ts, ok, err := statsOf(id, w)
	if err != nil {
		return nil, err
	}
	p := &httpapi.TopologyPage{TopologyRow: topologyRow(d.GetSummary()), Window: w.Name, WindowHint: w.Label(), StatsSince: ts.Since.UTC().Format(time.RFC3339),
		StatsAvailable: ok, AssignmentVersion: d.GetAssignmentVersion(), ArtifactSHA256: d.GetArtifactSha256(),
		Spouts: []httpapi.ComponentRow{}, Bolts: []httpapi.ComponentRow{}, Workers: []httpapi.WorkerRow{}, Errors: nonNil(d.GetErrors()), Configuration: map[string]any{},
		Links: map[string]string{"visualization": "/api/v1/topology/" + url.PathEscape(id) + "/visualization"}}
	if rec, err := s.resolve(ctx, id, true); err == nil {
		p.MsgTimeout = messageTimeout(rec.Config)
		for k, v := range rec.Config {
			p.Configuration[k] = v
		}
	}
	for _, win := range stats.Windows {
		all := ts
		if win != w {
			all, _, _ = statsOf(id, win)
		}
		p.TopologyStats = append(p.TopologyStats, windowStats(win, all.Spouts))
	}
	for _, c := range d.GetComponents() {
		if c.GetKind() == "acker" && !sys {
			continue
		}
		cs, _, _ := ts.Component(c.GetId())
		row := componentRow(cs, int(c.GetExecutors()), len(c.GetTasks()))
		if c.GetKind() == "spout" {
			row.SpoutID = c.GetId()
			p.Spouts = append(p.Spouts, row)
		} else {
			row.BoltID = c.GetId()
			p.Bolts = append(p.Bolts, row)
		}
	}
	for _, wd := range d.GetWorkers() {
		p.Workers = append(p.Workers, httpapi.WorkerRow{ID: wd.GetId(), SupervisorID: wd.GetSupervisor(), Host: wd.GetHost(), Port: wd.GetPort(), Alive: wd.GetAlive(),
			Uptime: prettyDuration(time.Duration(wd.GetUptimeSecs()) * time.Second), UptimeSeconds: wd.GetUptimeSecs(), Tasks: nonNil(wd.GetTasks())})
	}
	return p, nil
}

func componentRow(c stats.ComponentStats, executors, tasks int) httpapi.ComponentRow {
	row := httpapi.ComponentRow{Executors: executors, Tasks: tasks, Emitted: c.Emitted, Transferred: c.Transferred, Acked: c.Acked, Failed: c.Failed,
		TimedOut: c.TimedOut, Executed: c.Executed, Capacity: round3(c.Capacity), Pending: c.Pending, QueueFill: round3(c.QueueFill), Errors: c.Errors,
		CompleteLatency: ms(c.CompleteLatency()), ExecuteLatency: ms(c.ExecuteLatency()), ProcessLatency: ms(c.ProcessLatency()), LastError: c.LastError}
	if !c.LastErrorAt.IsZero() {
		lapsed := int64(max(time.Since(c.LastErrorAt), 0) / time.Second)
		row.ErrorTime, row.ErrorLapsedSecs = c.LastErrorAt.UTC().Format(time.RFC3339), &lapsed
	}
	return row
}

func windowStats(w stats.Window, c stats.Counters) httpapi.WindowStats {
	return httpapi.WindowStats{Window: w.Name, WindowPretty: w.Label(), Emitted: c.Emitted, Transferred: c.Transferred, Acked: c.Acked, Failed: c.Failed,
		CompleteLatency: ms(c.CompleteLatency()), Executed: c.Executed, ExecuteLatency: ms(c.ExecuteLatency()), ProcessLatency: ms(c.ProcessLatency())}
}

func (s *Server) restComponent(ctx context.Context, r *http.Request) (any, error) {
	w, err := windowOf(r.URL.Query().Get("window"))
	if err != nil {
		return nil, err
	}
	return s.componentPage(ctx, r.PathValue("id"), r.PathValue("component"), w, s.restStats(ctx, r))
}

// componentPage is what GET /api/v1/topology/{id}/component/{component} answers.
func (s *Server) componentPage(ctx context.Context, topology, name string, w stats.Window, statsOf statsFunc) (*httpapi.ComponentPage, error) {
	d, err := s.Describe(ctx, &sparsev1.TopologyRef{Name: topology})
	if err != nil {
		return nil, err
	}
	var desc *sparsev1.ComponentDescription
	var ids []string
	for _, c := range d.GetComponents() {
		ids = append(ids, c.GetId())
		if c.GetId() == name {
			desc = c
		}
	}
	if desc == nil {
		return nil, status.Errorf(codes.NotFound, "topology %s has no component %q (components: %s)", d.GetSummary().GetId(), name, strings.Join(ids, ", "))
	}
	id := d.GetSummary().GetId()
	ts, _, err := statsOf(id, w)
	if err != nil {
		return nil, err
	}
	p := &httpapi.ComponentPage{ID: name, Name: d.GetSummary().GetName(), TopologyID: id, ComponentType: desc.GetKind(), Executors: int(desc.GetExecutors()),
		Tasks: len(desc.GetTasks()), Window: w.Name, WindowHint: w.Label(), StatsSince: ts.Since.UTC().Format(time.RFC3339),
		ExecutorStats: []httpapi.ExecutorRow{}, ComponentErrors: []httpapi.ComponentError{}}
	for _, win := range stats.Windows {
		all := ts
		if win != w {
			all, _, _ = statsOf(id, win)
		}
		c, _, _ := all.Component(name)
		p.Stats = append(p.Stats, windowStats(win, c.Counters))
	}
	_, execs, _ := ts.Component(name)
	now := time.Now()
	for _, x := range execs {
		host, port, _ := net.SplitHostPort(x.Address)
		pn, _ := strconv.Atoi(port)
		p.ExecutorStats = append(p.ExecutorStats, httpapi.ExecutorRow{ID: fmt.Sprintf("[%d-%d]", x.FirstTask, x.LastTask), WorkerID: x.Worker, Host: host, Port: pn,
			Emitted: x.Emitted, Transferred: x.Transferred, Acked: x.Acked, Failed: x.Failed, CompleteLatency: ms(x.CompleteLatency()),
			Executed: x.Executed, ExecuteLatency: ms(x.ExecuteLatency()), ProcessLatency: ms(x.ProcessLatency()), Capacity: round3(x.Capacity),
			QueueFill: round3(x.QueueFill), Pending: x.Pending, LastReportSecs: int64(max(now.Sub(x.LastSeen), 0) / time.Second)})
		if x.LastError != "" {
			p.ComponentErrors = append(p.ComponentErrors, httpapi.ComponentError{Time: x.LastErrorAt.UTC().Format(time.RFC3339),
				ErrorLapsedSecs: int64(max(now.Sub(x.LastErrorAt), 0) / time.Second), ErrorHost: host, ErrorPort: pn, Error: x.LastError})
		}
	}
	return p, nil
}

func (s *Server) statsOverview(ctx context.Context, w stats.Window, statsOf statsFunc) (*httpapi.StatsOverview, error) {
	cs, err := s.clusterSummary(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.topologyStatsRows(ctx, w, func(id string, w stats.Window) (stats.TopologyStats, bool, error) {
		ts, _, err := statsOf(id, w)
		return ts, err == nil, err // the leader: figures even before the first report
	})
	if err != nil {
		return nil, err
	}
	return &httpapi.StatsOverview{Cluster: cs, Window: w.Name, WindowHint: w.Label(), Topologies: rows}, nil
}

// Stats answers sparsectl stats with the REST API's JSON.
func (s *Server) Stats(ctx context.Context, req *sparsev1.StatsRequest) (*sparsev1.StatsReply, error) {
	w, err := windowOf(req.GetWindow())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if _, err := s.leading(ctx); err != nil {
		return nil, err // only the leader holds statistics
	}
	var v any
	switch {
	case req.GetGraph():
		v, err = s.topologyGraph(ctx, req.GetName())
	case req.GetName() == "":
		v, err = s.statsOverview(ctx, w, s.rpcStats(ctx))
	case req.GetComponent() != "":
		v, err = s.componentPage(ctx, req.GetName(), req.GetComponent(), w, s.rpcStats(ctx))
	default:
		v, err = s.topologyPage(ctx, req.GetName(), w, req.GetSys(), s.rpcStats(ctx))
	}
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encoding the statistics: %v", err)
	}
	return &sparsev1.StatsReply{Json: b}, nil
}

// restVisualization is the topology's graph (JSON; ?format=svg or dot for a drawing).
func (s *Server) restVisualization(ctx context.Context, r *http.Request) (any, error) {
	g, err := s.topologyGraph(ctx, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		return g, nil
	case "svg":
		return rawBody{contentType: "image/svg+xml", body: g.SVG()}, nil
	case "dot":
		return rawBody{contentType: "text/vnd.graphviz", body: g.DOT()}, nil
	default:
		return nil, badRequest("unknown format %q; use json, svg or dot", f)
	}
}

// topologyGraph is a topology's graph, each edge's rate the source's tuples per second
// over the last 10 minutes when this nimbus leads.
func (s *Server) topologyGraph(ctx context.Context, name string) (*graph.Graph, error) {
	rec, err := s.resolve(ctx, name, true)
	if err != nil {
		return nil, err
	}
	if rec.Spec == nil {
		return nil, status.Errorf(codes.FailedPrecondition, "topology %s has no readable spec", rec.ID)
	}
	g := graph.FromSpec(rec.Spec)
	if t := s.currentTerm(); t != nil {
		ts, _ := t.stats.Topology(rec.ID, stats.Window10m, time.Now())
		if span := time.Since(ts.Since); span > 0 {
			for i, e := range g.Edges {
				c, _, _ := ts.Component(e.From)
				g.Edges[i].Rate = round3(float64(c.Emitted) / span.Seconds())
			}
		}
	}
	return &g, nil
}

// rawBody is an answer that is not JSON.
type rawBody struct {
	contentType, body string
}

func (s *Server) restActivate(ctx context.Context, r *http.Request) (any, error) {
	return s.restStatus(ctx, r, "activate", s.Activate)
}

func (s *Server) restDeactivate(ctx context.Context, r *http.Request) (any, error) {
	return s.restStatus(ctx, r, "deactivate", s.Deactivate)
}

func (s *Server) restStatus(ctx context.Context, r *http.Request, op string, call func(context.Context, *sparsev1.TopologyRef) (*sparsev1.StatusReply, error)) (any, error) {
	rec, err := s.resolve(ctx, r.PathValue("id"), true)
	if err != nil {
		return nil, err
	}
	if _, err := call(ctx, &sparsev1.TopologyRef{Name: rec.ID}); err != nil {
		return nil, err
	}
	return httpapi.ActionResult{TopologyOperation: op, TopologyID: rec.ID, Status: "success"}, nil
}

// waitOf reads the {wait} of a path: seconds, or -1 for the topology's message timeout.
func waitOf(r *http.Request) (int, error) {
	n, err := strconv.Atoi(r.PathValue("wait"))
	if err != nil || n < -1 {
		return 0, badRequest("the wait %q is not a number of seconds (0 or more, or -1 for the topology's message timeout)", r.PathValue("wait"))
	}
	return n, nil
}

// maxRESTBody bounds a request body (a rebalance's options).
const maxRESTBody = 1 << 20

func (s *Server) restRebalance(ctx context.Context, r *http.Request) (any, error) {
	wait, err := waitOf(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRESTBody+1))
	if err != nil {
		return nil, badRequest("reading the body: %v", err)
	}
	rec, err := s.resolve(ctx, r.PathValue("id"), true)
	if err != nil {
		return nil, err
	}
	req, err := rebalanceRequest(rec.ID, wait, body)
	if err != nil {
		return nil, err
	}
	if _, err := s.rebalance(ctx, req, false); err != nil {
		return nil, err
	}
	return httpapi.ActionResult{TopologyOperation: "rebalance", TopologyID: rec.ID, Status: "success", WaitSecs: &wait}, nil
}

// rebalanceRequest reads a rebalance's body (Storm's rebalanceOptions; empty: spread the
// topology again as it is) into the gRPC request.
func rebalanceRequest(id string, wait int, body []byte) (*sparsev1.RebalanceRequest, error) {
	var opts httpapi.RebalanceOptions
	switch {
	case len(body) > maxRESTBody:
		return nil, badRequest("the body is over %d bytes", maxRESTBody)
	case len(bytes.TrimSpace(body)) > 0:
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&opts); err != nil {
			return nil, badRequest(`the body is not {"rebalanceOptions": {"numWorkers": N, "executors": {"component": N}}}: %v`, err)
		}
	}
	clamp := func(n int) int32 { return int32(min(max(n, -1), 1<<30)) }
	req := &sparsev1.RebalanceRequest{Name: id, Workers: clamp(opts.RebalanceOptions.NumWorkers), WaitSecs: clamp(wait)}
	for comp, n := range opts.RebalanceOptions.Executors {
		if req.Executors == nil {
			req.Executors = map[string]int32{}
		}
		req.Executors[comp] = clamp(n)
	}
	return req, nil
}

// restKill records the kill and answers at once; the topology is removed after the
// wait (GET .../topology/{id} answers 404 from then on).
func (s *Server) restKill(ctx context.Context, r *http.Request) (any, error) {
	wait, err := waitOf(r)
	if err != nil {
		return nil, err
	}
	id, secs, err := s.markKilled(ctx, &sparsev1.KillRequest{Name: r.PathValue("id"), WaitSecs: int32(wait)})
	if err != nil {
		return nil, err
	}
	return httpapi.ActionResult{TopologyOperation: "kill", TopologyID: id, Status: "success", WaitSecs: &secs}, nil
}

// --- formatting

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// prettyDuration is Storm's uptime format: "1d 2h 3m 4s".
func prettyDuration(d time.Duration) string {
	secs := int64(d / time.Second)
	days, secs := secs/86400, secs%86400
	h, secs := secs/3600, secs%3600
	m, secs := secs/60, secs%60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh %dm %ds", days, h, m, secs)
	case h > 0:
		return fmt.Sprintf("%dh %dm %ds", h, m, secs)
	case m > 0:
		return fmt.Sprintf("%dm %ds", m, secs)
	}
	return fmt.Sprintf("%ds", secs)
}

// nonNil makes an empty list [] rather than null in JSON.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
