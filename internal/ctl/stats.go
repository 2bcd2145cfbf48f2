package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/graph"
	"github.com/sparsestream/sparse/internal/httpapi"
)

// Stats asks the leader the REST API's statistics document for r (see
// nimbus.Server.Stats) and returns its JSON.
func (c *Client) Stats(ctx context.Context, r *sparsev1.StatsRequest) ([]byte, error) {
	var out []byte
	_, err := c.call(ctx, func(ctx context.Context, n sparsev1.NimbusClient) error {
		rep, err := n.Stats(ctx, r)
		out = rep.GetJson()
		return err
	})
	return out, err
}

// Graph is a submitted topology's graph.
func (c *Client) Graph(ctx context.Context, name string) (*graph.Graph, error) {
	b, err := c.Stats(ctx, &sparsev1.StatsRequest{Name: name, Graph: true})
	if err != nil {
		return nil, err
	}
	var g graph.Graph
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("nimbus answered a graph sparsectl cannot read: %w", err)
	}
	return &g, nil
}

// WriteStatsOverview prints the cluster and every topology's spouts in the window.
func WriteStatsOverview(w io.Writer, o *httpapi.StatsOverview) error {
	c := o.Cluster
	fmt.Fprintf(w, "cluster: leader %s, %s, %d/%d slots used, %s, %d executors, %d tasks\n",
		orDash(c.Leader), Count(c.Supervisors, "supervisor"), c.SlotsUsed, c.SlotsTotal, Count(c.Topologies, "topology"), c.ExecutorsTotal, c.TasksTotal)
	if len(o.Topologies) == 0 {
		_, err := fmt.Fprintln(w, "no topologies are running")
		return err
	}
	fmt.Fprintf(w, "spouts over %s:\n", o.WindowHint)
	tw := newTable(w)
	fmt.Fprintln(tw, "NAME\tSTATUS\tWORKERS\tEXECUTORS\tUPTIME\tEMITTED\tACKED\tFAILED\tCOMPLETE LATENCY\tSINCE")
	for _, t := range o.Topologies {
		st := t.Stats
		if st == nil {
			st = &httpapi.WindowStats{}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t%d\t%d\t%s\t%s\n", t.Name, t.Status, t.WorkersTotal, t.ExecutorsTotal, FormatUptime(t.UptimeSeconds),
			st.Emitted, st.Acked, st.Failed, latency(st.CompleteLatency), orDash(t.StatsSince))
	}
	return tw.Flush()
}

// WriteTopologyStats prints a topology's spouts and bolts in the window, as Storm's
// topology page and streamparse's `sparse stats` show them.
func WriteTopologyStats(w io.Writer, p *httpapi.TopologyPage) error {
	fmt.Fprintf(w, "topology %s (%s): %s, %d workers, %d executors, up %s\n", p.Name, p.ID, p.Status, p.WorkersTotal, p.ExecutorsTotal, FormatUptime(p.UptimeSeconds))
	if !p.StatsAvailable {
		fmt.Fprintln(w, "no worker has reported statistics yet (they report every few seconds once running)")
	}
	fmt.Fprintf(w, "figures over %s, since %s\n\n", p.WindowHint, p.StatsSince)
	tw := newTable(w)
	fmt.Fprintln(tw, "SPOUT\tEXECUTORS\tTASKS\tEMITTED\tTRANSFERRED\tACKED\tFAILED\tCOMPLETE LATENCY\tPENDING\tLAST ERROR")
	for _, s := range p.Spouts {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t%s\n", s.SpoutID, s.Executors, s.Tasks, s.Emitted, s.Transferred, s.Acked, s.Failed,
			latency(s.CompleteLatency), s.Pending, lastError(s))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = newTable(w)
	fmt.Fprintln(tw, "BOLT\tEXECUTORS\tTASKS\tEXECUTED\tEMITTED\tACKED\tFAILED\tCAPACITY\tEXECUTE LATENCY\tPROCESS LATENCY\tQUEUE\tLAST ERROR")
	for _, b := range p.Bolts {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", b.BoltID, b.Executors, b.Tasks, b.Executed, b.Emitted, b.Acked, b.Failed,
			capacity(b.Capacity), latency(b.ExecuteLatency), latency(b.ProcessLatency), percent(b.QueueFill), lastError(b))
	}
	return tw.Flush()
}

// WriteComponentStats prints one component's executors in the window.
func WriteComponentStats(w io.Writer, p *httpapi.ComponentPage) error {
	fmt.Fprintf(w, "%s %s of topology %s: %d executors, %d tasks; figures over %s, since %s\n\n", p.ComponentType, p.ID, p.Name, p.Executors, p.Tasks, p.WindowHint, p.StatsSince)
	tw := newTable(w)
	fmt.Fprintln(tw, "EXECUTOR\tWORKER\tEMITTED\tTRANSFERRED\tACKED\tFAILED\tEXECUTED\tCAPACITY\tLATENCY\tQUEUE\tREPORTED")
	for _, x := range p.ExecutorStats {
		lat := x.CompleteLatency
		if p.ComponentType != "spout" {
			lat = x.ExecuteLatency
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%ss ago\n", x.ID, x.WorkerID, x.Emitted, x.Transferred, x.Acked, x.Failed, x.Executed,
			capacity(x.Capacity), latency(lat), percent(x.QueueFill), strconv.FormatInt(x.LastReportSecs, 10))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range p.ComponentErrors {
		fmt.Fprintf(w, "last error on %s:%d at %s: %s\n", e.ErrorHost, e.ErrorPort, e.Time, e.Error)
	}
	return nil
}

func latency(ms float64) string {
	if ms == 0 {
		return "-"
	}
	return strconv.FormatFloat(ms, 'f', 3, 64) + "ms"
}

func capacity(c float64) string {
	s := strconv.FormatFloat(c, 'f', 3, 64)
	if c >= 0.8 {
		s += " (busy)"
	}
	return s
}

func percent(f float64) string { return strconv.FormatFloat(f*100, 'f', 0, 64) + "%" }

func lastError(c httpapi.ComponentRow) string {
	if c.LastError == "" {
		return "-"
	}
	msg := c.LastError
	if r := []rune(msg); len(r) > 60 {
		msg = string(r[:59]) + "…"
	}
	if c.ErrorLapsedSecs != nil {
		msg += fmt.Sprintf(" (%ss ago)", strconv.FormatInt(*c.ErrorLapsedSecs, 10))
	}
	return msg
}
