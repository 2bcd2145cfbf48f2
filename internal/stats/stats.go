// Package stats keeps the executor statistics workers report to the leading nimbus, in
// rolling windows of 10 minutes, 3 hours and a day, and all time, as Storm shows them.
// It is pure: the caller passes the time, and the I/O (the ReportStats call) lives in
// nimbus. See docs/stats.md for the semantics across worker restarts and nimbus
// failover.
package stats

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Counters are the additive figures of one executor (or of a sum of executors). Latency
// sums and counts are kept rather than means, so that windows and components add up.
type Counters struct {
	Emitted, Transferred, Executed, Acked, Failed, TimedOut, Errors int64

	CompleteCount, CompleteSumNanos int64
	ExecuteCount, ExecuteSumNanos   int64
	ProcessCount, ProcessSumNanos   int64
}

// fields lists the counters, for the arithmetic below.
func (c *Counters) fields() [13]*int64 {
	return [13]*int64{&c.Emitted, &c.Transferred, &c.Executed, &c.Acked, &c.Failed, &c.TimedOut, &c.Errors,
		&c.CompleteCount, &c.CompleteSumNanos, &c.ExecuteCount, &c.ExecuteSumNanos, &c.ProcessCount, &c.ProcessSumNanos}
}

// Add adds o to c.
func (c *Counters) Add(o Counters) {
	dst, src := c.fields(), o.fields()
	for i := range dst {
		*dst[i] += *src[i]
	}
}

// delta is cur - prev, field by field; a field that went down (which a cumulative counter
// of one incarnation never does) counts as 0 rather than as a negative figure.
func delta(cur, prev Counters) Counters {
	out := cur
	d, p := out.fields(), prev.fields()
	for i := range d {
		*d[i] = max(*d[i]-*p[i], 0)
	}
	return out
}

// CompleteLatency, ExecuteLatency and ProcessLatency are the mean latencies (0 without
// samples).
func (c Counters) CompleteLatency() time.Duration { return mean(c.CompleteSumNanos, c.CompleteCount) }

// ExecuteLatency is the mean time in Execute.
func (c Counters) ExecuteLatency() time.Duration { return mean(c.ExecuteSumNanos, c.ExecuteCount) }

// ProcessLatency is the mean time from Execute's start to the ack.
func (c Counters) ProcessLatency() time.Duration { return mean(c.ProcessSumNanos, c.ProcessCount) }

func mean(sum, n int64) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(sum / n)
}

// Window is a span the figures are added up over.
type Window struct {
	// Name is what the REST API calls it: "600", "10800", "86400" or ":all-time".
	Name string
	// Span is its length; 0 for all time.
	Span time.Duration
	// bucket is the width of one bucket of its ring.
	bucket time.Duration
}

// The windows, as Storm has them.
var (
	Window10m     = Window{Name: "600", Span: 10 * time.Minute, bucket: time.Minute}
	Window3h      = Window{Name: "10800", Span: 3 * time.Hour, bucket: 15 * time.Minute}
	Window1d      = Window{Name: "86400", Span: 24 * time.Hour, bucket: 2 * time.Hour}
	WindowAllTime = Window{Name: ":all-time"}
	// Windows lists them, shortest first.
	Windows = []Window{Window10m, Window3h, Window1d, WindowAllTime}
)

// rings are the windows that keep buckets.
var rings = Windows[:3]

// ParseWindow reads a window by its REST name (600, 10800, 86400, :all-time) or its
// short name (10m, 3h, 1d, all); "" is the 10-minute window.
func ParseWindow(s string) (Window, error) {
	switch strings.TrimSpace(s) {
	case "", "600", "10m":
		return Window10m, nil
	case "10800", "3h":
		return Window3h, nil
	case "86400", "1d", "24h":
		return Window1d, nil
	case ":all-time", "all-time", "all":
		return WindowAllTime, nil
	}
	return Window{}, fmt.Errorf("unknown window %q; use 600 (10m), 10800 (3h), 86400 (1d) or :all-time (all)", s)
}

// Label is a short human name: 10m, 3h, 1d or all time.
func (w Window) Label() string {
	switch w.Name {
	case Window10m.Name:
		return "10m"
	case Window3h.Name:
		return "3h"
	case Window1d.Name:
		return "1d"
	}
	return "all time"
}

// ring is a rolling window: one bucket per bucket width, each knowing which period it
// holds, so a bucket left from an earlier turn of the ring is never counted.
type ring struct {
	slots []slot
	width time.Duration
}

type slot struct {
	n int64 // the period: unix nanoseconds / width
	c Counters
}

func newRing(w Window) ring {
	return ring{slots: make([]slot, int(w.Span/w.bucket)), width: w.bucket}
}

func (r *ring) add(now time.Time, c Counters) {
	n := now.UnixNano() / int64(r.width)
	s := &r.slots[n%int64(len(r.slots))]
	if s.n != n {
		*s = slot{n: n}
	}
	s.c.Add(c)
}

func (r *ring) sum(now time.Time) Counters {
	n := now.UnixNano() / int64(r.width)
	var out Counters
	for i := range r.slots {
		if s := &r.slots[i]; s.n <= n && s.n > n-int64(len(r.slots)) {
			out.Add(s.c)
		}
	}
	return out
}

// ExecutorKey names an executor: its topology, component and task range.
type ExecutorKey struct {
	Topology  string
	Component string
	FirstTask int32
	LastTask  int32
}

// Sample is one executor's cumulative figures in one report.
type Sample struct {
	Component           string
	Kind                string
	FirstTask, LastTask int32
	Counters
	LastError   string
	LastErrorAt time.Time
	QueueLength int
	QueueCap    int
	Pending     int64
}

// Report is one worker's report.
type Report struct {
	Topology    string
	Worker      string
	Address     string
	Incarnation string
	// Started is when the incarnation started (the worker's clock).
	Started   time.Time
	Executors []Sample
}

// Store keeps the statistics of every executor that reported since the store was made.
// It is safe for concurrent use.
type Store struct {
	mu    sync.Mutex
	since time.Time
	// execs holds each topology's executors, so a topology's figures are found
	// without going through every other topology's.
	execs map[string]map[ExecutorKey]*execState
	// incs holds the last cumulative figures of each worker incarnation.
	incs map[incKey]*incState
}

type incKey struct{ topology, worker, incarnation string }

type incState struct {
	last     map[ExecutorKey]Counters
	lastSeen time.Time
}

type execState struct {
	kind                string
	worker, address     string
	firstSeen, lastSeen time.Time
	rings               [3]ring
	total               Counters
	lastError           string
	lastErrorAt         time.Time
	queueLen, queueCap  int
	pending             int64
}

// NewStore returns an empty store whose figures count from since (for nimbus: when it
// became the leader).
func NewStore(since time.Time) *Store {
	return &Store{since: since, execs: map[string]map[ExecutorKey]*execState{}, incs: map[incKey]*incState{}}
}

// Since is when the store began counting.
func (s *Store) Since() time.Time { return s.since }

// Ingest adds a report received at now. A report of an incarnation seen before adds
// what grew since its last report. The first report of an incarnation adds all it
// carries when the incarnation started after the store did (a worker restarted: it
// counts from zero), and nothing when it started before (the store is new, as after a
// nimbus failover: what the worker counted before is not in any window); either way it
// becomes the base of the next report.
func (s *Store) Ingest(now time.Time, r Report) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := incKey{r.Topology, r.Worker, r.Incarnation}
	inc := s.incs[k]
	baseOnly := false
	if inc == nil {
		inc = &incState{last: make(map[ExecutorKey]Counters, len(r.Executors))}
		s.incs[k] = inc
		baseOnly = r.Started.Before(s.since)
	}
	inc.lastSeen = now
	topo := s.execs[r.Topology]
	if topo == nil {
		topo = map[ExecutorKey]*execState{}
		s.execs[r.Topology] = topo
	}
	for i := range r.Executors {
		x := &r.Executors[i]
		key := ExecutorKey{Topology: r.Topology, Component: x.Component, FirstTask: x.FirstTask, LastTask: x.LastTask}
		prev, seen := inc.last[key]
		inc.last[key] = x.Counters
		var d Counters
		if seen || !baseOnly {
			d = delta(x.Counters, prev)
		}
		e := topo[key]
		if e == nil {
			e = &execState{firstSeen: now}
			for j, w := range rings {
				e.rings[j] = newRing(w)
			}
			topo[key] = e
		}
		e.kind, e.worker, e.address, e.lastSeen = x.Kind, r.Worker, r.Address, now
		e.queueLen, e.queueCap, e.pending = x.QueueLength, x.QueueCap, x.Pending
		if x.LastError != "" && !x.LastErrorAt.Before(e.lastErrorAt) {
			e.lastError, e.lastErrorAt = x.LastError, x.LastErrorAt
		}
		if d != (Counters{}) {
			e.total.Add(d)
			for j := range e.rings {
				e.rings[j].add(now, d)
			}
		}
	}
}

// Prune forgets the topologies keep says no to, and the worker incarnations not heard
// from for a day (their executors stay in the windows).
func (s *Store) Prune(now time.Time, keep func(topology string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, topo := range s.execs {
		for k, e := range topo {
			if !keep(id) || now.Sub(e.lastSeen) > Window1d.Span {
				delete(topo, k)
			}
		}
		if len(topo) == 0 {
			delete(s.execs, id)
		}
	}
	for k, inc := range s.incs {
		if !keep(k.topology) || now.Sub(inc.lastSeen) > Window1d.Span {
			delete(s.incs, k)
		}
	}
}

// ExecutorStats are one executor's figures in a window.
type ExecutorStats struct {
	ExecutorKey
	Kind    string
	Worker  string
	Address string
	Counters
	// Capacity is the fraction of the window (or of the time since the executor first
	// reported, when shorter) spent in Execute: executed × mean execute latency / time.
	Capacity float64
	// QueueFill is the receive queue's length over its capacity at the last report.
	QueueFill   float64
	Pending     int64
	LastError   string
	LastErrorAt time.Time
	FirstSeen   time.Time
	LastSeen    time.Time
}

// ComponentStats add up a component's executors.
type ComponentStats struct {
	Component string
	Kind      string
	Executors int
	Tasks     int
	Counters
	// Capacity and QueueFill are the highest of its executors'.
	Capacity    float64
	QueueFill   float64
	Pending     int64
	LastError   string
	LastErrorAt time.Time
}

// TopologyStats are a topology's figures in one window.
type TopologyStats struct {
	Topology string
	Window   Window
	// Since is when the figures start: the store's start, or now - the window when
	// later.
	Since      time.Time
	Components []ComponentStats
	Executors  []ExecutorStats
	// Spouts adds up the spouts (Storm's topology totals: emitted, transferred,
	// acked, failed and complete latency of the spouts).
	Spouts Counters
	// All adds up every executor.
	All Counters
}

// Topology returns a topology's figures in window w at now; ok is false when none of its
// executors has reported.
func (s *Store) Topology(id string, w Window, now time.Time) (ts TopologyStats, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts = TopologyStats{Topology: id, Window: w, Since: s.since}
	if w.Span > 0 && now.Add(-w.Span).After(s.since) {
		ts.Since = now.Add(-w.Span)
	}
	idx := -1
	for j, r := range rings {
		if r.Name == w.Name {
			idx = j
		}
	}
	comps := map[string]*ComponentStats{}
	for k, e := range s.execs[id] {
		ok = true
		c := e.total
		if idx >= 0 {
			c = e.rings[idx].sum(now)
		}
		x := ExecutorStats{ExecutorKey: k, Kind: e.kind, Worker: e.worker, Address: e.address, Counters: c,
			Pending: e.pending, LastError: e.lastError, LastErrorAt: e.lastErrorAt, FirstSeen: e.firstSeen, LastSeen: e.lastSeen}
		span := now.Sub(e.firstSeen)
		if w.Span > 0 {
			span = min(span, w.Span)
		}
		if span > 0 {
			x.Capacity = float64(c.Executed) * float64(c.ExecuteLatency()) / float64(span)
		}
		if e.queueCap > 0 {
			x.QueueFill = float64(e.queueLen) / float64(e.queueCap)
		}
		ts.Executors = append(ts.Executors, x)
	}
	slices.SortFunc(ts.Executors, func(a, b ExecutorStats) int {
		if c := strings.Compare(a.Component, b.Component); c != 0 {
			return c
		}
		return int(a.FirstTask - b.FirstTask)
	})
	for _, x := range ts.Executors {
		cs := comps[x.Component]
		if cs == nil {
			cs = &ComponentStats{Component: x.Component, Kind: x.Kind}
			comps[x.Component] = cs
		}
		cs.Executors++
		cs.Tasks += int(x.LastTask-x.FirstTask) + 1
		cs.Counters.Add(x.Counters)
		cs.Capacity = max(cs.Capacity, x.Capacity)
		cs.QueueFill = max(cs.QueueFill, x.QueueFill)
		cs.Pending += x.Pending
		if x.LastError != "" && !x.LastErrorAt.Before(cs.LastErrorAt) {
			cs.LastError, cs.LastErrorAt = x.LastError, x.LastErrorAt
		}
		ts.All.Add(x.Counters)
		if x.Kind == "spout" {
			ts.Spouts.Add(x.Counters)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(comps)) {
		ts.Components = append(ts.Components, *comps[name])
	}
	return ts, ok
}

// Component returns one component of a topology's figures.
func (ts TopologyStats) Component(name string) (ComponentStats, []ExecutorStats, bool) {
	var execs []ExecutorStats
	for _, x := range ts.Executors {
		if x.Component == name {
			execs = append(execs, x)
		}
	}
	for _, c := range ts.Components {
		if c.Component == name {
			return c, execs, true
		}
	}
	return ComponentStats{}, nil, false
}
