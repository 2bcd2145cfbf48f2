package ctl

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/wire"
)

// The JSON that --json prints. Field names follow the protobuf messages; numbers are
// JSON numbers and configuration values plain JSON values, so that jq and friends read
// them directly.

// TopologyJSON is one topology in list and describe output.
type TopologyJSON struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	Status           string `json:"status"`
	Workers          int32  `json:"workers"`
	RequestedWorkers int32  `json:"requested_workers"`
	Executors        int32  `json:"executors"`
	Tasks            int32  `json:"tasks"`
	UptimeSecs       int64  `json:"uptime_secs"`
	Scheduling       string `json:"scheduling"`
	// Owner is the token that submitted it (clusters with ACLs).
	Owner string `json:"owner,omitempty"`
}

// ListJSON is list's output.
type ListJSON struct {
	Topologies []TopologyJSON `json:"topologies"`
}

// ComponentJSON is a component in describe output, with the workers its tasks run in.
type ComponentJSON struct {
	ID        string   `json:"id"`
	Kind      string   `json:"kind"`
	Executors int32    `json:"executors"`
	Tasks     []int32  `json:"tasks"`
	Workers   []string `json:"workers"`
}

// WorkerJSON is a worker in describe output, with the components whose tasks it runs.
type WorkerJSON struct {
	ID         string   `json:"id"`
	Supervisor string   `json:"supervisor"`
	Host       string   `json:"host"`
	Port       int32    `json:"port"`
	Tasks      []int32  `json:"tasks"`
	Components []string `json:"components"`
	Alive      bool     `json:"alive"`
	UptimeSecs int64    `json:"uptime_secs"`
}

// DescribeJSON is describe's output.
type DescribeJSON struct {
	Summary           TopologyJSON    `json:"summary"`
	Components        []ComponentJSON `json:"components"`
	Workers           []WorkerJSON    `json:"workers"`
	Errors            []string        `json:"errors"`
	ArtifactSHA256    string          `json:"artifact_sha256"`
	Config            map[string]any  `json:"config"`
	AssignmentVersion int64           `json:"assignment_version"`
}

// SupervisorJSON is one supervisor in supervisors output.
type SupervisorJSON struct {
	ID         string  `json:"id"`
	Host       string  `json:"host"`
	Slots      []int32 `json:"slots"`
	UsedSlots  []int32 `json:"used_slots"`
	UptimeSecs int64   `json:"uptime_secs"`
}

// SupervisorsJSON is supervisors' output.
type SupervisorsJSON struct {
	Supervisors []SupervisorJSON `json:"supervisors"`
}

// WriteJSON prints v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func topologyJSON(s *sparsev1.TopologySummary) TopologyJSON {
	return TopologyJSON{
		ID: s.GetId(), Name: s.GetName(), Status: s.GetStatus(),
		Workers: s.GetWorkers(), RequestedWorkers: s.GetRequestedWorkers(),
		Executors: s.GetExecutors(), Tasks: s.GetTasks(),
		UptimeSecs: s.GetUptimeSecs(), Scheduling: s.GetScheduling(), Owner: s.GetOwner(),
	}
}

// ToListJSON converts List's answer.
func ToListJSON(ts []*sparsev1.TopologySummary) ListJSON {
	out := ListJSON{Topologies: []TopologyJSON{}}
	for _, t := range ts {
		out.Topologies = append(out.Topologies, topologyJSON(t))
	}
	return out
}

// ToSupervisorsJSON converts ListSupervisors' answer.
func ToSupervisorsJSON(ss []*sparsev1.SupervisorDescription) SupervisorsJSON {
	out := SupervisorsJSON{Supervisors: []SupervisorJSON{}}
	for _, s := range ss {
		out.Supervisors = append(out.Supervisors, SupervisorJSON{
			ID: s.GetId(), Host: s.GetHost(),
			Slots: orEmpty(s.GetSlots()), UsedSlots: orEmpty(s.GetUsedSlots()),
			UptimeSecs: s.GetUptimeSecs(),
		})
	}
	return out
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// ToDescribeJSON converts Describe's answer, adding where each component runs.
func ToDescribeJSON(d *sparsev1.TopologyDescription) (DescribeJSON, error) {
	conf, err := wire.MapFromProto(d.GetConfig())
	if err != nil {
		return DescribeJSON{}, fmt.Errorf("the topology's config: %w", err)
	}
	if conf == nil {
		conf = map[string]any{}
	}
	out := DescribeJSON{
		Summary:           topologyJSON(d.GetSummary()),
		Components:        []ComponentJSON{},
		Workers:           []WorkerJSON{},
		Errors:            orEmpty(d.GetErrors()),
		ArtifactSHA256:    d.GetArtifactSha256(),
		Config:            conf,
		AssignmentVersion: d.GetAssignmentVersion(),
	}
	compOf := map[int32]string{}
	for _, c := range d.GetComponents() {
		for _, t := range c.GetTasks() {
			compOf[t] = c.GetId()
		}
	}
	workersOf := map[int32][]string{}
	for _, w := range d.GetWorkers() {
		var comps []string
		for _, t := range w.GetTasks() {
			workersOf[t] = append(workersOf[t], w.GetId())
			if c, ok := compOf[t]; ok && !slices.Contains(comps, c) {
				comps = append(comps, c)
			}
		}
		out.Workers = append(out.Workers, WorkerJSON{
			ID: w.GetId(), Supervisor: w.GetSupervisor(), Host: w.GetHost(), Port: w.GetPort(),
			Tasks: orEmpty(w.GetTasks()), Components: orEmpty(comps),
			Alive: w.GetAlive(), UptimeSecs: w.GetUptimeSecs(),
		})
	}
	for _, c := range d.GetComponents() {
		var ws []string
		for _, t := range c.GetTasks() {
			for _, w := range workersOf[t] {
				if !slices.Contains(ws, w) {
					ws = append(ws, w)
				}
			}
		}
		out.Components = append(out.Components, ComponentJSON{
			ID: c.GetId(), Kind: c.GetKind(), Executors: c.GetExecutors(),
			Tasks: orEmpty(c.GetTasks()), Workers: orEmpty(ws),
		})
	}
	return out, nil
}

// FormatUptime renders seconds as a short duration: 45s, 12m03s, 3h04m, 2d03h.
func FormatUptime(secs int64) string {
	switch {
	case secs <= 0:
		return "-"
	case secs < 60:
		return fmt.Sprintf("%ds", secs)
	case secs < 3600:
		return fmt.Sprintf("%dm%02ds", secs/60, secs%60)
	case secs < 86400:
		return fmt.Sprintf("%dh%02dm", secs/3600, secs%3600/60)
	}
	return fmt.Sprintf("%dd%02dh", secs/86400, secs%86400/3600)
}

// FormatTasks renders task ids as sorted ranges: [1 2 3 5 7 8] is "1-3,5,7-8".
func FormatTasks(tasks []int32) string {
	if len(tasks) == 0 {
		return "-"
	}
	ts := slices.Clone(tasks)
	slices.Sort(ts)
	ts = slices.Compact(ts)
	var b strings.Builder
	for i := 0; i < len(ts); {
		j := i
		for j+1 < len(ts) && ts[j+1] == ts[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(ts[i])))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(int(ts[j])))
		}
		i = j + 1
	}
	return b.String()
}

func formatPorts(ps []int32) string {
	if len(ps) == 0 {
		return "-"
	}
	ss := make([]string, len(ps))
	for i, p := range ps {
		ss[i] = strconv.Itoa(int(p))
	}
	return strings.Join(ss, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// WriteList prints List's answer as a table.
func WriteList(w io.Writer, ts []*sparsev1.TopologySummary) error {
	if len(ts) == 0 {
		_, err := fmt.Fprintln(w, "no topologies are running")
		return err
	}
	ts = slices.Clone(ts)
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].GetName() < ts[j].GetName() })
	tw := newTable(w)
	fmt.Fprintln(tw, "NAME\tID\tSTATUS\tWORKERS\tEXECUTORS\tTASKS\tUPTIME\tSCHEDULING")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d\t%d\t%s\t%s\n", t.GetName(), t.GetId(), t.GetStatus(),
			t.GetWorkers(), t.GetRequestedWorkers(), t.GetExecutors(), t.GetTasks(),
			FormatUptime(t.GetUptimeSecs()), orDash(t.GetScheduling()))
	}
	return tw.Flush()
}

// WriteSupervisors prints ListSupervisors' answer as a table.
func WriteSupervisors(w io.Writer, ss []*sparsev1.SupervisorDescription) error {
	if len(ss) == 0 {
		_, err := fmt.Fprintln(w, "no supervisors are registered; start supervisord on the worker nodes")
		return err
	}
	ss = slices.Clone(ss)
	sort.SliceStable(ss, func(i, j int) bool { return ss[i].GetId() < ss[j].GetId() })
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tHOST\tSLOTS\tUSED\tFREE\tUPTIME")
	for _, s := range ss {
		free := len(s.GetSlots()) - len(s.GetUsedSlots())
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", s.GetId(), s.GetHost(), formatPorts(s.GetSlots()),
			formatPorts(s.GetUsedSlots()), max(free, 0), FormatUptime(s.GetUptimeSecs()))
	}
	return tw.Flush()
}

// WriteLeader prints Leader's answer.
func WriteLeader(w io.Writer, l LeaderInfo) error {
	if l.LeaderAddress == "" && l.LeaderID == "" {
		_, err := fmt.Fprintf(w, "no nimbus leads right now (asked %s); an election may be under way\n", l.AnsweredBy)
		return err
	}
	by := "a standby"
	if l.AnsweredByLeader {
		by = "the leader itself"
	}
	_, err := fmt.Fprintf(w, "leader: nimbus %s at %s (answered by %s, %s)\n", orDash(l.LeaderID), orDash(l.LeaderAddress), l.AnsweredBy, by)
	return err
}

// WriteSubmit prints what a submit did.
func WriteSubmit(w io.Writer, r SubmitResult) error {
	_, err := fmt.Fprintf(w, "submitted topology %s as %s (artifact sha256 %s, %d bytes, to nimbus %s)\n",
		r.Name, r.TopologyID, r.ArtifactSHA256, r.ArtifactSize, r.Nimbus)
	return err
}

// WriteDescribe prints Describe's answer: the summary, the components and the workers
// they run in, the workers, the configuration and the recent errors.
func WriteDescribe(w io.Writer, d *sparsev1.TopologyDescription) error {
	j, err := ToDescribeJSON(d)
	if err != nil {
		return err
	}
	s := j.Summary
	tw := newTable(w)
	fmt.Fprintf(tw, "Topology:\t%s\n", s.Name)
	fmt.Fprintf(tw, "ID:\t%s\n", s.ID)
	fmt.Fprintf(tw, "Status:\t%s\n", s.Status)
	if s.Owner != "" {
		fmt.Fprintf(tw, "Owner:\ttoken %s\n", s.Owner)
	}
	fmt.Fprintf(tw, "Uptime:\t%s\n", FormatUptime(s.UptimeSecs))
	fmt.Fprintf(tw, "Workers:\t%d of %d requested\n", s.Workers, s.RequestedWorkers)
	fmt.Fprintf(tw, "Executors:\t%d\n", s.Executors)
	fmt.Fprintf(tw, "Tasks:\t%d\n", s.Tasks)
	fmt.Fprintf(tw, "Artifact:\tsha256 %s\n", orDash(j.ArtifactSHA256))
	fmt.Fprintf(tw, "Assignment:\tversion %d\n", j.AssignmentVersion)
	sched := s.Scheduling
	if sched == "" {
		sched = "fully scheduled"
	}
	fmt.Fprintf(tw, "Scheduling:\t%s\n", sched)
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	tw = newTable(w)
	fmt.Fprintln(tw, "COMPONENT\tKIND\tEXECUTORS\tTASKS\tWORKERS")
	for _, c := range j.Components {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", c.ID, c.Kind, c.Executors, FormatTasks(c.Tasks), orDash(strings.Join(c.Workers, " ")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	if len(j.Workers) == 0 {
		fmt.Fprintln(w, "No workers are assigned.")
	} else {
		tw = newTable(w)
		fmt.Fprintln(tw, "WORKER\tSUPERVISOR\tADDRESS\tALIVE\tUPTIME\tTASKS\tCOMPONENTS")
		for _, wk := range j.Workers {
			addr := fmt.Sprintf("%s:%d", wk.Host, wk.Port)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", wk.ID, orDash(wk.Supervisor), addr, yesNo(wk.Alive),
				FormatUptime(wk.UptimeSecs), FormatTasks(wk.Tasks), orDash(strings.Join(wk.Components, " ")))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	if len(j.Config) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Config:")
		keys := make([]string, 0, len(j.Config))
		for k := range j.Config {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		tw = newTable(w)
		for _, k := range keys {
			v, err := json.Marshal(j.Config[k])
			if err != nil {
				v = fmt.Appendf(nil, "%v", j.Config[k])
			}
			fmt.Fprintf(tw, "  %s\t%s\n", k, v)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintln(w)
	if len(j.Errors) == 0 {
		_, err = fmt.Fprintln(w, "Errors: none")
		return err
	}
	fmt.Fprintln(w, "Errors:")
	for _, e := range j.Errors {
		fmt.Fprintf(w, "  - %s\n", e)
	}
	return nil
}

// Count renders n with a noun, plural unless n is 1: "1 worker", "3 workers".
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
