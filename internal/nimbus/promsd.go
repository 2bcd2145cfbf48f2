package nimbus

import (
	"cmp"
	"context"
	"net"
	"net/http"
	"slices"
	"strconv"

	"github.com/sparsestream/sparse/internal/cluster"
)

// Prometheus HTTP service discovery (GET /api/v1/prometheus/sd, the format of
// http_sd_configs): every nimbus, supervisor and worker that serves /metrics, read from
// etcd on each request, so the list follows workers as they move. Any nimbus answers,
// leader or standby.

// sdGroup is one target group of the response.
type sdGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// The labels of every target: its role, and which nimbus, supervisor, worker and
// topology it is. __scheme__ makes Prometheus scrape an HTTPS target over HTTPS.
const (
	sdRole       = "role"
	sdNimbus     = "nimbus"
	sdSupervisor = "supervisor"
	sdWorker     = "worker"
	sdTopology   = "topology"
	sdTopoName   = "topology_name"
	sdScheme     = "__scheme__"
)

func (s *Server) restPrometheusSD(ctx context.Context, _ *http.Request) (any, error) {
	nimbuses, err := s.store.ListNimbus(ctx)
	if err != nil && !invalidOnly(err) {
		return nil, s.rpcErr(ctx, err)
	}
	sups, err := s.store.ListSupervisors(ctx)
	if err != nil && !invalidOnly(err) {
		return nil, s.rpcErr(ctx, err)
	}
	assignments, err := s.store.ListAssignments(ctx)
	if err != nil && !invalidOnly(err) {
		return nil, s.rpcErr(ctx, err)
	}
	topologies, err := s.store.ListTopologies(ctx)
	if err != nil && !invalidOnly(err) {
		return nil, s.rpcErr(ctx, err)
	}
	return sdTargets(nimbuses, sups, assignments, topologies), nil
}

// sdTargets lists the targets, one group each, sorted by role and address.
func sdTargets(nimbuses []*cluster.NimbusRecord, sups []*cluster.SupervisorRecord, assignments []*cluster.AssignmentRecord, topologies []*cluster.TopologyRecord) []sdGroup {
	scheme := func(tls bool) string {
		if tls {
			return "https"
		}
		return "http"
	}
	out := []sdGroup{}
	for _, n := range nimbuses {
		if n.Metrics != "" {
			out = append(out, sdGroup{Targets: []string{n.Metrics}, Labels: map[string]string{sdRole: "nimbus", sdNimbus: n.ID, sdScheme: scheme(n.MetricsTLS)}})
		}
	}
	byID := map[string]*cluster.SupervisorRecord{}
	for _, sp := range sups {
		byID[sp.ID] = sp
		if sp.Metrics != "" {
			out = append(out, sdGroup{Targets: []string{sp.Metrics}, Labels: map[string]string{sdRole: "supervisor", sdSupervisor: sp.ID, sdScheme: scheme(sp.MetricsTLS)}})
		}
	}
	names := map[string]string{}
	for _, t := range topologies {
		names[t.ID] = t.Name
	}
	for _, a := range assignments {
		for _, w := range a.Workers {
			sp := byID[w.Supervisor]
			if sp == nil || sp.WorkerMetricsOffset == 0 {
				continue // a dead supervisor's, or workers without metrics
			}
			port := w.Port + sp.WorkerMetricsOffset
			if port < 1 || port > 65535 {
				continue
			}
			host := cmp.Or(w.Host, sp.Host)
			out = append(out, sdGroup{Targets: []string{net.JoinHostPort(host, strconv.Itoa(port))}, Labels: map[string]string{
				sdRole: "worker", sdSupervisor: w.Supervisor, sdWorker: w.Supervisor + ":" + strconv.Itoa(w.Port),
				sdTopology: a.TopologyID, sdTopoName: names[a.TopologyID], sdScheme: scheme(sp.MetricsTLS)}})
		}
	}
	slices.SortFunc(out, func(a, b sdGroup) int {
		return cmp.Or(cmp.Compare(a.Labels[sdRole], b.Labels[sdRole]), cmp.Compare(a.Targets[0], b.Targets[0]))
	})
	return out
}
