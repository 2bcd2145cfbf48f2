// Package scheduler decides where the workers of every topology run. Schedule is a pure
// function from the cluster's state (supervisors and their slots, the topologies, the
// current assignments) to new assignments, in the manner of Storm's default (even)
// scheduler. It does no I/O and keeps no state: nimbus reads a snapshot, calls Schedule,
// and writes back what changed.
//
// The rules, in order of precedence:
//
//   - Stability. A topology whose placement is healthy and whose request has not changed
//     keeps its assignment exactly: same slots, same executors, same version. When some
//     of its workers are lost (their supervisor is dead, their slot is unhealthy or gone),
//     only those workers' executors move, to free slots; the other workers stay as they
//     are. When no slot is free, the lost executors join the surviving workers.
//   - Rebalance. A change of topology.workers, of the executors (an override regroups a
//     component's tasks), or of the topology's rebalance Generation re-places the whole
//     topology evenly; it keeps the number of slots it held, can take free ones, and
//     prefers its old ports.
//   - Evenness. Executors are dealt round robin over a topology's workers, components in
//     sorted order, so every component is spread and worker loads differ by at most one
//     executor. A topology's next worker goes to the supervisor with the fewest of its
//     workers, then the one with the most free slots, then the smallest id; the lowest
//     free port is used.
//   - Fairness. Free slots are handed out one at a time to the topology that holds the
//     fewest (ties by id) among those that want more, so a new topology gets a slot
//     before a running one grows.
//   - Shortage. A topology that gets fewer slots than it asks for runs degraded on the
//     slots it got, with all its executors placed, and a reason says so; with no slot at
//     all it waits, unassigned, with a reason. When slots free up later, a degraded
//     topology takes them and is re-placed evenly. A topology never gets more workers
//     than it has executors.
//   - Determinism. The same input gives the same output.
package scheduler

import (
	"cmp"
	"container/heap"
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/sparsestream/sparse/pkg/topology"
)

// Status is a topology's lifecycle state.
type Status string

// Topology states. Active and inactive topologies are scheduled alike (an inactive one
// keeps its workers, its spouts are just paused); a killed one is not scheduled and its
// slots are free for others.
const (
	Active   Status = "active"
	Inactive Status = "inactive"
	Killed   Status = "killed"
)

// Supervisor is one node agent and its worker slots.
type Supervisor struct {
	ID string `json:"id"`
	// Host is the address its workers are reached on (a host name or IP, without port).
	Host string `json:"host"`
	// Slots are the ports of its worker slots.
	Slots []int `json:"slots"`
	// Alive is false once the supervisor's lease has expired: its slots are not used
	// and its workers are moved elsewhere.
	Alive bool `json:"alive"`
	// Unhealthy lists the slots whose worker stopped heartbeating. Their workers are
	// moved, and the slots are not used this round. The caller decides what unhealthy
	// means (a worker that has not heartbeat yet after being placed deserves a grace
	// period) and stops listing a slot once it is healthy or empty again.
	Unhealthy []int `json:"unhealthy,omitempty"`
}

// Topology is one topology to schedule.
type Topology struct {
	ID     string `json:"id"`
	Status Status `json:"status"` // "" is Active
	// Workers is topology.workers, the number of workers asked for (below 1 means 1).
	Workers int `json:"workers"`
	// Executors are the topology's executors as task ids per component, acker executors
	// under "__acker" included: topology.Layout.Executors.
	Executors map[string][][]int32 `json:"executors"`
	// ExecutorOverrides sets a component's number of executors, from a rebalance. Its
	// tasks stay the same and are regrouped (see Regroup and EffectiveExecutors); the
	// workers must derive the same executors, for example from a spec whose parallelism
	// nimbus has updated.
	ExecutorOverrides map[string]int `json:"executor_overrides,omitempty"`
	// Generation is bumped by each rebalance request; a change re-places the topology
	// evenly even when nothing else changed (to spread it over new supervisors).
	Generation int64 `json:"generation,omitempty"`
}

// Cluster is the state Schedule works from.
type Cluster struct {
	Supervisors []Supervisor
	// Topologies are all the topologies the cluster knows. An assignment whose topology
	// is missing here is removed like a killed one's.
	Topologies []Topology
	// Assignments are the current assignments, by topology id.
	Assignments map[string]Assignment
}

// Result is the outcome of one scheduling round.
type Result struct {
	// Assignments holds the assignment of every topology that has one after this
	// round, by topology id, including the unchanged ones.
	Assignments map[string]Assignment
	// Changed lists, sorted, the topologies whose assignment is new or differs from the
	// current one: the ones to write back.
	Changed []string
	// Removed lists, sorted, the topologies that had an assignment and have none now:
	// killed or gone, or waiting because they lost every worker and no slot is free.
	// Schedule gives a topology assigned again later version 1; nimbus stores every new
	// placement under a version from the topology's counter in etcd instead, so that
	// versions never repeat.
	Removed []string
	// Reasons says, by topology id, why a topology is not fully scheduled: waiting for
	// a slot, running on fewer workers than asked, or not schedulable as described.
	Reasons map[string]string
}

// Schedule places the workers of every topology that is not killed on the supervisors'
// slots (see the package documentation for the rules). It fails only when the input is
// malformed as a whole (an empty or repeated supervisor or topology id, an assignment
// filed under another topology's id); a topology whose own data is malformed is reported
// in Reasons and its current assignment is kept as it is.
func Schedule(c Cluster) (Result, error) {
	if err := checkIDs(c); err != nil {
		return Result{}, err
	}
	s := newRound(c)
	s.claim()
	s.reserve()
	s.fill()
	return s.build(), nil
}

func checkIDs(c Cluster) error {
	var errs []error
	seen := map[string]bool{}
	for _, sup := range c.Supervisors {
		switch {
		case sup.ID == "":
			errs = append(errs, fmt.Errorf("a supervisor (host %q) has no id", sup.Host))
		case seen[sup.ID]:
			errs = append(errs, fmt.Errorf("supervisor id %q is used twice", sup.ID))
		}
		seen[sup.ID] = true
	}
	clear(seen)
	for _, t := range c.Topologies {
		switch {
		case t.ID == "":
			errs = append(errs, errors.New("a topology has no id"))
		case seen[t.ID]:
			errs = append(errs, fmt.Errorf("topology id %q is used twice", t.ID))
		}
		seen[t.ID] = true
	}
	for _, id := range slices.Sorted(maps.Keys(c.Assignments)) {
		if a := c.Assignments[id]; a.TopologyID != "" && a.TopologyID != id {
			errs = append(errs, fmt.Errorf("the assignment filed under %q is for topology %q", id, a.TopologyID))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	return nil
}

type slotKey struct {
	sup  string
	port int
}

type supState struct {
	id, host string
	idx      int   // position in round.sups
	ports    []int // usable ports, sorted
	free     []int // free usable ports, sorted
}

type executor struct {
	comp  string
	tasks []int32
}

// topoState is one topology's scheduling state during a round.
type topoState struct {
	t         Topology
	requested int // topology.workers, at least 1
	want      int // workers to place: requested, at most one per executor
	execs     []executor
	cur       Assignment // canonical
	hasCur    bool
	err       error // the topology's data is malformed: keep cur as it is

	rebalance bool
	kept      []WorkerSlot // surviving workers, with their executors (not when rebalancing)
	lost      []WorkerSlot // workers that lost their slot, with their executors
	reserved  int          // rebalance: slots it may take back before the others fill
	prevPorts map[string][]int
	granted   []WorkerSlot // new slots, in the order taken
	onSup     map[string]int
}

func (t *topoState) held() int { return len(t.kept) + len(t.granted) }

func (t *topoState) demand() int {
	if t.err != nil {
		return 0
	}
	return t.want - t.held()
}

type round struct {
	sups    []*supState // sorted by id; live ones only
	supByID map[string]*supState
	// byFree[f] has bit i set when sups[i] has exactly f free slots (f >= 1): take
	// finds the supervisor with the most free slots without looking at every one.
	byFree  [][]uint64
	usable  map[slotKey]bool
	claimed map[slotKey]bool
	topos   []*topoState // sorted by id; not killed
	removed []string

	// capacity, for reasons
	usableSlots, liveSups, downSups, unhealthySlots int
}

func newRound(c Cluster) *round {
	r := &round{supByID: map[string]*supState{}, usable: map[slotKey]bool{}, claimed: map[slotKey]bool{}}
	sups := slices.Clone(c.Supervisors)
	slices.SortFunc(sups, func(a, b Supervisor) int { return cmp.Compare(a.ID, b.ID) })
	addrOwner := map[string]bool{}
	for _, sup := range sups {
		if !sup.Alive || sup.Host == "" {
			r.downSups++
			continue
		}
		r.liveSups++
		st := &supState{id: sup.ID, host: sup.Host, idx: len(r.sups)}
		r.sups = append(r.sups, st)
		r.supByID[sup.ID] = st
		ports := slices.Clone(sup.Slots)
		slices.Sort(ports)
		for _, p := range slices.Compact(ports) {
			if p < 1 || p > 65535 {
				continue
			}
			if slices.Contains(sup.Unhealthy, p) {
				r.unhealthySlots++
				continue
			}
			// Two supervisors advertising one host:port cannot both run a worker there.
			addr := net.JoinHostPort(sup.Host, strconv.Itoa(p))
			if addrOwner[addr] {
				continue
			}
			addrOwner[addr] = true
			r.usable[slotKey{sup.ID, p}] = true
			st.ports = append(st.ports, p)
			r.usableSlots++
		}
	}

	known := map[string]bool{}
	topos := slices.Clone(c.Topologies)
	slices.SortFunc(topos, func(a, b Topology) int { return cmp.Compare(a.ID, b.ID) })
	for _, t := range topos {
		known[t.ID] = true
		cur, hasCur := c.Assignments[t.ID]
		if t.Status == Killed {
			if hasCur {
				r.removed = append(r.removed, t.ID)
			}
			continue
		}
		st := &topoState{t: t, requested: max(t.Workers, 1), onSup: map[string]int{}, hasCur: hasCur}
		if hasCur {
			st.cur = cur.canonical()
			st.cur.TopologyID = t.ID
		}
		st.err = st.prepare()
		r.topos = append(r.topos, st)
	}
	for _, id := range slices.Sorted(maps.Keys(c.Assignments)) {
		if !known[id] {
			r.removed = append(r.removed, id)
		}
	}
	slices.Sort(r.removed)
	return r
}

// prepare computes the topology's executors and decides whether it is re-placed whole.
func (t *topoState) prepare() error {
	switch t.t.Status {
	case "", Active, Inactive:
	default:
		return fmt.Errorf("status %q is not %s, %s or %s", t.t.Status, Active, Inactive, Killed)
	}
	execs, err := t.t.EffectiveExecutors()
	if err != nil {
		return err
	}
	n := 0
	for _, es := range execs {
		n += len(es)
	}
	t.execs = make([]executor, 0, n)
	flat := make([][]int32, 0, n)
	for _, comp := range slices.Sorted(maps.Keys(execs)) {
		for _, e := range execs[comp] {
			t.execs = append(t.execs, executor{comp, e})
			flat = append(flat, e)
		}
	}
	t.want = min(t.requested, len(t.execs))
	if !t.hasCur {
		t.rebalance = true
		return nil
	}
	placed := make([][]int32, 0, n)
	for _, w := range t.cur.Workers {
		placed = append(placed, w.Executors...)
	}
	slices.SortFunc(flat, compareExec)
	slices.SortFunc(placed, compareExec)
	t.rebalance = t.cur.RequestedWorkers != t.requested || t.cur.Generation != t.t.Generation ||
		len(t.cur.Workers) > t.want || !slices.EqualFunc(flat, placed, slices.Equal)
	return nil
}

// claim keeps the surviving workers of every topology that is not re-placed whole, in
// topology id order (should two assignments name one slot, the first keeps it), then
// counts the slots each re-placed topology may take back.
func (r *round) claim() {
	for _, t := range r.topos {
		if t.rebalance && t.err == nil {
			continue
		}
		for _, w := range t.cur.Workers {
			k := slotKey{w.Supervisor, w.Port}
			ok := r.usable[k] && !r.claimed[k]
			if t.err != nil {
				// Malformed topology: its assignment stays as it is; its slots stay taken.
				if ok {
					r.claimed[k] = true
				}
				continue
			}
			if len(w.Executors) == 0 {
				continue // an empty worker has no reason to run
			}
			if !ok {
				t.lost = append(t.lost, w)
				continue
			}
			r.claimed[k] = true
			w.Host = r.supByID[w.Supervisor].host
			w.Executors = cloneExecs(w.Executors)
			t.kept = append(t.kept, w)
			t.onSup[w.Supervisor]++
		}
	}
	counted := map[slotKey]bool{}
	for _, t := range r.topos {
		if !t.rebalance || t.err != nil {
			continue
		}
		t.prevPorts = map[string][]int{}
		n := 0
		for _, w := range t.cur.Workers {
			k := slotKey{w.Supervisor, w.Port}
			if !r.usable[k] || r.claimed[k] || counted[k] {
				continue
			}
			counted[k] = true
			t.prevPorts[w.Supervisor] = append(t.prevPorts[w.Supervisor], w.Port)
			n++
		}
		t.reserved = min(n, t.want)
	}
	words := (len(r.sups) + 63) / 64
	for _, sup := range r.sups {
		for _, p := range sup.ports {
			if !r.claimed[slotKey{sup.id, p}] {
				sup.free = append(sup.free, p)
			}
		}
		for len(r.byFree) <= len(sup.free) {
			r.byFree = append(r.byFree, make([]uint64, words))
		}
		r.setFreeBit(sup, true)
	}
}

// setFreeBit marks (or unmarks) sup in the set of supervisors with its number of free
// slots.
func (r *round) setFreeBit(sup *supState, on bool) {
	f := len(sup.free)
	if f == 0 {
		return
	}
	w, bit := sup.idx/64, uint64(1)<<(sup.idx%64)
	if on {
		r.byFree[f][w] |= bit
	} else {
		r.byFree[f][w] &^= bit
	}
}

// reserve lets every re-placed topology take back as many slots as it held (at most
// what it wants), one slot per topology in turn, before the free slots are shared.
func (r *round) reserve() {
	for {
		progress := false
		for _, t := range r.topos {
			if t.reserved > len(t.granted) && r.take(t) {
				progress = true
			}
		}
		if !progress {
			return
		}
	}
}

// fill hands out the free slots one at a time to the topology that wants more and holds
// the fewest (ties by id), until no one wants more or no slot is left.
func (r *round) fill() {
	// A heap of the topologies that want more, by (held, id order): the one at the top is
	// the one the rule picks, and only it changes when it gets a slot.
	h := &fillHeap{}
	for i, t := range r.topos {
		if t.demand() > 0 {
			h.items = append(h.items, fillItem{t, i})
		}
	}
	heap.Init(h)
	for h.Len() > 0 {
		next := h.items[0].t
		if !r.take(next) {
			return
		}
		if next.demand() > 0 {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
}

type fillItem struct {
	t     *topoState
	order int // position in round.topos: ties go to the smaller id
}

type fillHeap struct{ items []fillItem }

func (h *fillHeap) Len() int { return len(h.items) }
func (h *fillHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if ha, hb := a.t.held(), b.t.held(); ha != hb {
		return ha < hb
	}
	return a.order < b.order
}
func (h *fillHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *fillHeap) Push(x any)    { h.items = append(h.items, x.(fillItem)) }
func (h *fillHeap) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}

// take gives t one free slot: on the supervisor with the fewest of t's workers, then the
// most free slots, then the smallest id; t's old port there if free, else the lowest.
func (r *round) take(t *topoState) bool {
	best := r.bestFor(t)
	if best == nil {
		return false
	}
	i := 0
	for j, p := range best.free {
		if slices.Contains(t.prevPorts[best.id], p) {
			i = j
			break
		}
	}
	port := best.free[i]
	r.setFreeBit(best, false)
	best.free = slices.Delete(best.free, i, i+1)
	r.setFreeBit(best, true)
	t.granted = append(t.granted, WorkerSlot{Supervisor: best.id, Host: best.host, Port: port})
	t.onSup[best.id]++
	return true
}

// bestFor is the supervisor take picks for t. A supervisor that holds none of t's
// workers beats every one that holds some, so it is the first, in id order, among those
// with the most free slots, skipping the few that t is on; only when every supervisor
// with a free slot holds some of t's workers are those compared.
func (r *round) bestFor(t *topoState) *supState {
	for f := len(r.byFree) - 1; f >= 1; f-- {
		for w, word := range r.byFree[f] {
			for word != 0 {
				i := w*64 + bits.TrailingZeros64(word)
				word &= word - 1
				if s := r.sups[i]; t.onSup[s.id] == 0 {
					return s
				}
			}
		}
	}
	var best *supState
	for id, n := range t.onSup {
		s := r.supByID[id]
		if n == 0 || s == nil || len(s.free) == 0 {
			continue
		}
		if best == nil || n < t.onSup[best.id] ||
			(n == t.onSup[best.id] && (len(s.free) > len(best.free) || (len(s.free) == len(best.free) && s.idx < best.idx))) {
			best = s
		}
	}
	return best
}

func (r *round) build() Result {
	res := Result{Assignments: map[string]Assignment{}, Reasons: map[string]string{}, Removed: r.removed}
	for _, t := range r.topos {
		id := t.t.ID
		if t.err != nil {
			verdict := "it is not scheduled"
			if t.hasCur {
				res.Assignments[id] = t.cur
				verdict = "its current assignment is left as it is"
			}
			res.Reasons[id] = fmt.Sprintf("cannot be scheduled: %s; %s", strings.ReplaceAll(t.err.Error(), "\n", "; "), verdict)
			continue
		}
		workers := t.place()
		if len(workers) == 0 {
			if t.hasCur {
				res.Removed = append(res.Removed, id)
			}
			res.Reasons[id] = fmt.Sprintf("needs %s, got none (%s); waiting for a free slot; add supervisors or slots, or kill a topology to free its slots",
				plural(t.want, "worker slot"), r.capacity())
			continue
		}
		for i := range workers {
			sortExecs(workers[i].Executors)
		}
		slices.SortFunc(workers, compareSlots)
		a := Assignment{TopologyID: id, Version: 1, RequestedWorkers: t.requested, Generation: t.t.Generation, Workers: workers}
		if t.hasCur {
			a.Version = t.cur.Version + 1
			if samePlacement(t.cur, a) {
				a.Version = t.cur.Version
			}
		}
		res.Assignments[id] = a
		if !t.hasCur || !sameAssignment(t.cur, a) {
			res.Changed = append(res.Changed, id)
		}
		if len(workers) < t.want {
			res.Reasons[id] = fmt.Sprintf("needs %s, got %d (%s); running degraded on %s; add supervisors or slots, or lower %s",
				plural(t.want, "worker slot"), len(workers), r.capacity(), plural(len(workers), "worker"), topology.ConfWorkers)
		}
	}
	slices.Sort(res.Removed)
	return res
}

// place decides the topology's workers and their executors from what it kept, lost and
// was granted.
func (t *topoState) place() []WorkerSlot {
	g := len(t.granted)
	switch {
	case t.rebalance || g > len(t.lost):
		// Re-place everything evenly over the slots it holds.
		ws := slices.Concat(t.kept, t.granted) // a new array: sorting it must not reorder t.kept
		if len(ws) == 0 {
			return nil
		}
		for i := range ws {
			ws[i].Executors = nil
		}
		slices.SortFunc(ws, compareSlots)
		for i, e := range t.execs {
			w := &ws[i%len(ws)]
			w.Executors = append(w.Executors, slices.Clone(e.tasks))
		}
		return ws
	case len(t.lost) == 0:
		return t.kept
	case g == len(t.lost):
		// Each lost worker moves whole to a new slot.
		for i := range t.granted {
			t.granted[i].Executors = cloneExecs(t.lost[i].Executors)
		}
		return append(t.kept, t.granted...)
	case g > 0:
		// Too few new slots for the lost workers: deal their executors over the new ones.
		t.adopt(t.granted)
		return append(t.kept, t.granted...)
	case len(t.kept) > 0:
		// No free slot: the surviving workers take the lost executors.
		t.adopt(t.kept)
		return t.kept
	}
	return nil
}

// adopt gives each executor of the lost workers to the target with the fewest executors
// of its component, then the fewest executors, then the first.
func (t *topoState) adopt(targets []WorkerSlot) {
	compOf := make(map[int32]string, len(t.execs)) // an executor's first task -> component
	for _, e := range t.execs {
		compOf[e.tasks[0]] = e.comp
	}
	var orphans []executor
	for _, w := range t.lost {
		for _, e := range w.Executors {
			orphans = append(orphans, executor{compOf[e[0]], e})
		}
	}
	slices.SortFunc(orphans, func(a, b executor) int {
		return cmp.Or(cmp.Compare(a.comp, b.comp), compareExec(a.tasks, b.tasks))
	})
	perComp := make([]map[string]int, len(targets))
	total := make([]int, len(targets))
	for i, w := range targets {
		perComp[i] = map[string]int{}
		for _, e := range w.Executors {
			perComp[i][compOf[e[0]]]++
			total[i]++
		}
	}
	for _, e := range orphans {
		best := 0
		for i := 1; i < len(targets); i++ {
			if pc, pb := perComp[i][e.comp], perComp[best][e.comp]; pc < pb || (pc == pb && total[i] < total[best]) {
				best = i
			}
		}
		targets[best].Executors = append(targets[best].Executors, slices.Clone(e.tasks))
		perComp[best][e.comp]++
		total[best]++
	}
}

// capacity describes the cluster's slots for a reason.
func (r *round) capacity() string {
	var b strings.Builder
	if r.usableSlots == 0 {
		fmt.Fprintf(&b, "the cluster has no usable slot; %s live", plural(r.liveSups, "supervisor"))
	} else {
		fmt.Fprintf(&b, "the cluster has %s on %s, all in use", plural(r.usableSlots, "usable slot"), plural(r.liveSups, "live supervisor"))
	}
	if r.downSups > 0 {
		fmt.Fprintf(&b, "; %s down", plural(r.downSups, "supervisor"))
	}
	if r.unhealthySlots > 0 {
		fmt.Fprintf(&b, "; %s unhealthy", plural(r.unhealthySlots, "slot"))
	}
	return b.String()
}

// plural writes "1 slot", "2 slots".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
