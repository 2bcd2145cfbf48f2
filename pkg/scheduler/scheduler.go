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
// in Reasons and its current assignment is kept as it is. It does not change c, and its
// result shares no memory with c.
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
	var misfiled []string
	for id, a := range c.Assignments {
		if a.TopologyID != "" && a.TopologyID != id {
			misfiled = append(misfiled, id)
		}
	}
	slices.Sort(misfiled)
	for _, id := range misfiled {
		errs = append(errs, fmt.Errorf("the assignment filed under %q is for topology %q", id, c.Assignments[id].TopologyID))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	return nil
}

// maxDenseTask is the largest task id indexed by a slice rather than looked up the slow
// way: topology.NewLayout numbers tasks from 1 up, so real ids are far below it.
const maxDenseTask = 1 << 20

// slotState is what a round knows of one usable slot.
type slotState uint8

const (
	slotFree    slotState = iota
	slotClaimed           // a surviving worker keeps it
	slotCounted           // free, and counted as one a re-placed topology held
)

type supState struct {
	id, host string
	idx      int         // position in round.sups
	ports    []int       // usable ports, sorted
	state    []slotState // of each of ports
	free     []int       // free usable ports, sorted
	// sameHost is the previous live supervisor, in id order, on the same host: two
	// supervisors advertising one host:port cannot both run a worker there.
	sameHost *supState
}

// slot returns the position of port among the supervisor's usable ports, or -1.
func (s *supState) slot(port int) int {
	if i, ok := slices.BinarySearch(s.ports, port); ok {
		return i
	}
	return -1
}

type executor struct {
	comp  string
	tasks []int32 // read only: it may be the input's
}

// prevPort is a slot a re-placed topology held, which it takes back when it is free.
type prevPort struct{ sup, port int }

// supCount is how many of a topology's workers a supervisor runs.
type supCount struct {
	sup *supState
	n   int
}

// topoState is one topology's scheduling state during a round.
type topoState struct {
	t         Topology
	requested int // topology.workers, at least 1
	want      int // workers to place: requested, at most one per executor
	// execs are the effective executors in component order; nil until needed when
	// direct: the topology's own executors are already canonical and not overridden.
	execs  []executor
	direct bool
	nexecs int
	// cur is the current assignment, canonical. It is the input's own when that was
	// canonical already (shared is then true): a round only reads it.
	cur    Assignment
	shared bool
	hasCur bool
	err    error // the topology's data is malformed: keep cur as it is

	rebalance bool
	kept      []WorkerSlot // surviving workers, with their executors (not when rebalancing)
	keptWhole bool         // kept is cur's workers, every one kept as it was
	lost      []WorkerSlot // workers that lost their slot, with their executors
	reserved  int          // rebalance: slots it may take back before the others fill
	prevPorts []prevPort   // the slots it held, by supervisor position then port
	granted   []WorkerSlot // new slots, in the order taken

	// The supervisors its workers are on, made when it first takes a slot: a bit per
	// supervisor position, and the counts.
	onBits  []uint64
	onCount []supCount
}

func (t *topoState) held() int { return len(t.kept) + len(t.granted) }

func (t *topoState) demand() int {
	if t.err != nil {
		return 0
	}
	return t.want - t.held()
}

// on reports whether one of the topology's workers runs on sup.
func (t *topoState) on(sup *supState) bool {
	return t.onBits[sup.idx/64]&(1<<(sup.idx%64)) != 0
}

// addOn counts one more of the topology's workers on sup.
func (t *topoState) addOn(sup *supState) {
	if !t.on(sup) {
		t.onBits[sup.idx/64] |= 1 << (sup.idx % 64)
		t.onCount = append(t.onCount, supCount{sup, 1})
		return
	}
	for i := range t.onCount {
		if t.onCount[i].sup == sup {
			t.onCount[i].n++
			return
		}
	}
}

type round struct {
	sups    []*supState // sorted by id; live ones only
	supByID map[string]*supState
	// byFree[f] has bit i set when sups[i] has exactly f free slots (f >= 1): take
	// finds the supervisor with the most free slots without looking at every one.
	byFree  [][]uint64
	topos   []*topoState // sorted by id; not killed
	removed []string

	// capacity, for reasons
	usableSlots, liveSups, downSups, unhealthySlots int
	capacityText                                    string

	// Scratch space reused from one topology to the next: flat holds the executors of
	// the topology being prepared, in any order. Indexed by task id, seen holds the
	// stamp of the last topology that had the task, and first the position + 1 in flat
	// of the executor the task starts (zero between uses).
	flat  [][]int32
	seen  []uint32
	stamp uint32
	first []int32
}

// slot returns the usable slot (supervisor and position) of a worker, or nil.
func (r *round) slot(sup string, port int) (*supState, int) {
	s := r.supByID[sup]
	if s == nil {
		return nil, -1
	}
	i := s.slot(port)
	if i < 0 {
		return nil, -1
	}
	return s, i
}

func newRound(c Cluster) *round {
	r := &round{supByID: make(map[string]*supState, len(c.Supervisors))}
	sups := sortedByID(c.Supervisors, func(s Supervisor) string { return s.ID })
	nports := 0
	for _, sup := range sups {
		nports += len(sup.Slots)
	}
	// One array each for every supervisor's ports, slot states and free ports.
	ports, states, free := make([]int, 0, nports), make([]slotState, nports), make([]int, nports)
	live := make([]supState, 0, len(sups))
	lastOnHost := make(map[string]*supState, len(sups))
	for _, sup := range sups {
		if !sup.Alive || sup.Host == "" {
			r.downSups++
			continue
		}
		r.liveSups++
		live = append(live, supState{id: sup.ID, host: sup.Host, idx: len(live), sameHost: lastOnHost[sup.Host]})
		st := &live[len(live)-1] // live never grows past its capacity: st stays valid
		lastOnHost[sup.Host] = st
		start := len(ports)
		ports = append(ports, sup.Slots...)
		mine := ports[start:]
		slices.Sort(mine)
		n := 0
		for i, p := range mine {
			if (i > 0 && p == ports[start+i-1]) || p < 1 || p > 65535 {
				continue
			}
			if slices.Contains(sup.Unhealthy, p) {
				r.unhealthySlots++
				continue
			}
			if usedOnHost(st.sameHost, p) {
				continue
			}
			mine[n] = p
			n++
		}
		st.ports = mine[:n:n]
		st.state = states[start : start+n : start+n]
		st.free = free[start : start : start+n]
		ports = ports[:start+n]
		r.usableSlots += n
	}
	r.sups = make([]*supState, len(live))
	for i := range live {
		r.sups[i] = &live[i]
		r.supByID[live[i].id] = &live[i]
	}

	known := make(map[string]bool, len(c.Topologies))
	topos := sortedByID(c.Topologies, func(t Topology) string { return t.ID })
	all := make([]topoState, 0, len(topos))
	for _, t := range topos {
		known[t.ID] = true
		cur, hasCur := c.Assignments[t.ID]
		if t.Status == Killed {
			if hasCur {
				r.removed = append(r.removed, t.ID)
			}
			continue
		}
		all = append(all, topoState{t: t, requested: max(t.Workers, 1), hasCur: hasCur})
		st := &all[len(all)-1]
		if hasCur {
			// The previous round's output is canonical already: read it in place.
			if cur.isCanonical() {
				st.cur, st.shared = cur, true
			} else {
				st.cur = cur.canonical()
			}
			st.cur.TopologyID = t.ID
		}
		st.err = r.prepare(st)
		r.topos = append(r.topos, st)
	}
	for id := range c.Assignments {
		if !known[id] {
			r.removed = append(r.removed, id)
		}
	}
	slices.Sort(r.removed)
	return r
}

// sortedByID returns xs sorted by id: xs itself when it is sorted already (it is then
// only read), else a sorted copy.
func sortedByID[T any](xs []T, id func(T) string) []T {
	byID := func(a, b T) int { return cmp.Compare(id(a), id(b)) }
	if slices.IsSortedFunc(xs, byID) {
		return xs
	}
	xs = slices.Clone(xs)
	slices.SortFunc(xs, byID)
	return xs
}

// usedOnHost reports whether a supervisor before, on the same host, uses port.
func usedOnHost(s *supState, port int) bool {
	for ; s != nil; s = s.sameHost {
		if s.slot(port) >= 0 {
			return true
		}
	}
	return false
}

// prepare computes the topology's executors and decides whether it is re-placed whole.
func (r *round) prepare(t *topoState) error {
	switch t.t.Status {
	case "", Active, Inactive:
	default:
		return fmt.Errorf("status %q is not %s, %s or %s", t.t.Status, Active, Inactive, Killed)
	}
	execs, direct, ok := r.effective(&t.t)
	if !ok {
		// Malformed, or task ids too large to index: EffectiveExecutors says what is
		// wrong, or does the work the slow way.
		m, err := t.t.EffectiveExecutors()
		if err != nil {
			return err
		}
		for _, comp := range slices.Sorted(maps.Keys(m)) {
			for _, e := range m[comp] {
				execs = append(execs, executor{comp, e})
			}
		}
	}
	t.execs, t.direct = execs, direct
	if !direct {
		r.flat = r.flat[:0]
		for _, e := range execs {
			r.flat = append(r.flat, e.tasks)
		}
	}
	t.nexecs = len(r.flat)
	t.want = min(t.requested, t.nexecs)
	if !t.hasCur {
		t.rebalance = true
		return nil
	}
	t.rebalance = t.cur.RequestedWorkers != t.requested || t.cur.Generation != t.t.Generation ||
		len(t.cur.Workers) > t.want || !r.placed(r.flat, t.cur.Workers)
	return nil
}

// eachExecutor calls yield with the topology's effective executors in component order.
func (t *topoState) eachExecutor(yield func(comp string, tasks []int32)) {
	if !t.direct {
		for _, e := range t.execs {
			yield(e.comp, e.tasks)
		}
		return
	}
	for _, comp := range slices.Sorted(maps.Keys(t.t.Executors)) {
		for _, e := range t.t.Executors[comp] {
			yield(comp, e)
		}
	}
}

// effective is EffectiveExecutors as a list in component order, made without copying
// executors that are sorted already. When every component's executors are canonical and
// none is overridden, it makes no list (direct) and leaves the executors in r.flat. It
// returns ok false when the topology is malformed (or has task ids above maxDenseTask),
// leaving the rest to EffectiveExecutors.
func (r *round) effective(t *Topology) (execs []executor, direct, ok bool) {
	for comp, k := range t.ExecutorOverrides {
		if _, ok := t.Executors[comp]; !ok || k < 1 {
			return nil, false, false
		}
	}
	r.stamp++
	if r.stamp == 0 { // wrapped: old stamps would look current
		clear(r.seen)
		r.stamp = 1
	}
	r.flat = r.flat[:0]
	direct = len(t.ExecutorOverrides) == 0
	for comp, es := range t.Executors {
		if comp == "" || len(es) == 0 {
			return nil, false, false
		}
		for i, e := range es {
			if len(e) == 0 {
				return nil, false, false
			}
			for j, task := range e {
				if task < 1 || task > maxDenseTask {
					return nil, false, false
				}
				r.seen = growTo(r.seen, int(task)+1)
				if r.seen[task] == r.stamp {
					return nil, false, false // used twice
				}
				r.seen[task] = r.stamp
				if j > 0 && task < e[j-1] {
					direct = false
				}
			}
			if i > 0 && e[0] < es[i-1][0] {
				direct = false
			}
			r.flat = append(r.flat, e)
		}
	}
	if len(r.flat) == 0 {
		return nil, false, false
	}
	if direct {
		return nil, true, true
	}
	for _, comp := range slices.Sorted(maps.Keys(t.Executors)) {
		es := t.Executors[comp]
		switch k, ok := t.ExecutorOverrides[comp]; {
		case ok:
			var tasks []int32
			for _, e := range es {
				tasks = append(tasks, e...)
			}
			slices.Sort(tasks)
			for _, e := range Regroup(tasks, k) {
				execs = append(execs, executor{comp, e})
			}
		case canonicalExecs(es):
			for _, e := range es {
				execs = append(execs, executor{comp, e})
			}
		default:
			cl := cloneExecs(es)
			sortExecs(cl)
			for _, e := range cl {
				execs = append(execs, executor{comp, e})
			}
		}
	}
	return execs, false, true
}

// canonicalExecs reports whether each executor's tasks are sorted and the executors
// ordered by first task, with no ties.
func canonicalExecs(es [][]int32) bool {
	for i, e := range es {
		if !slices.IsSorted(e) || (i > 0 && compareExec(es[i-1], e) >= 0) {
			return false
		}
	}
	return true
}

// placed reports whether the workers run exactly the executors execs (whose tasks are
// all distinct, each executor's sorted), in any order; the workers' executors have their
// tasks sorted.
func (r *round) placed(execs [][]int32, workers []WorkerSlot) bool {
	n := 0
	for _, w := range workers {
		n += len(w.Executors)
	}
	if n != len(execs) {
		return false
	}
	for _, e := range execs {
		if e[0] > maxDenseTask {
			return placedSlow(execs, workers)
		}
	}
	for i, e := range execs {
		f := int(e[0])
		r.first = growTo(r.first, f+1)
		r.first[f] = int32(i + 1)
	}
	same := true
match:
	for _, w := range workers {
		for _, e := range w.Executors {
			if len(e) == 0 || e[0] < 1 || int(e[0]) >= len(r.first) || r.first[e[0]] == 0 {
				same = false
				break match
			}
			i := r.first[e[0]] - 1
			r.first[e[0]] = 0 // each executor matches once
			if !slices.Equal(execs[i], e) {
				same = false
				break match
			}
		}
	}
	for _, e := range execs {
		r.first[e[0]] = 0
	}
	return same
}

// placedSlow is placed by sorting both lists.
func placedSlow(execs [][]int32, workers []WorkerSlot) bool {
	flat := slices.Clone(execs)
	var placed [][]int32
	for _, w := range workers {
		placed = append(placed, w.Executors...)
	}
	slices.SortFunc(flat, compareExec)
	slices.SortFunc(placed, compareExec)
	return slices.EqualFunc(flat, placed, slices.Equal)
}

// claim keeps the surviving workers of every topology that is not re-placed whole, in
// topology id order (should two assignments name one slot, the first keeps it), then
// counts the slots each re-placed topology may take back.
func (r *round) claim() {
	for _, t := range r.topos {
		if t.rebalance && t.err == nil {
			continue
		}
		// While every worker so far is kept as it is, t.kept is a prefix of cur's
		// workers, not a copy.
		shared := t.err == nil
		for i, w := range t.cur.Workers {
			sup, at := r.slot(w.Supervisor, w.Port)
			ok := sup != nil && sup.state[at] != slotClaimed
			if t.err != nil {
				// Malformed topology: its assignment stays as it is; its slots stay taken.
				if ok {
					sup.state[at] = slotClaimed
				}
				continue
			}
			if shared && (len(w.Executors) == 0 || !ok || w.Host != sup.host) {
				shared = false
				t.kept = append(make([]WorkerSlot, 0, len(t.cur.Workers)), t.cur.Workers[:i]...)
			}
			if len(w.Executors) == 0 {
				continue // an empty worker has no reason to run
			}
			if !ok {
				t.lost = append(t.lost, w)
				continue
			}
			sup.state[at] = slotClaimed
			if !shared {
				w.Host = sup.host
				t.kept = append(t.kept, w) // its executors are cur's: read only
			}
		}
		if shared {
			t.kept = slices.Clip(t.cur.Workers) // read only: nothing was lost, so nothing appends to it
			t.keptWhole = true
		}
	}
	for _, t := range r.topos {
		if !t.rebalance || t.err != nil {
			continue
		}
		n := 0
		for _, w := range t.cur.Workers {
			sup, i := r.slot(w.Supervisor, w.Port)
			if sup == nil || sup.state[i] != slotFree {
				continue
			}
			sup.state[i] = slotCounted
			t.prevPorts = append(t.prevPorts, prevPort{sup.idx, w.Port})
			n++
		}
		t.reserved = min(n, t.want)
	}
	words := (len(r.sups) + 63) / 64
	for _, sup := range r.sups {
		for i, p := range sup.ports {
			if sup.state[i] != slotClaimed {
				sup.free = append(sup.free, p)
			}
		}
		for len(r.byFree) <= len(sup.free) {
			r.byFree = append(r.byFree, make([]uint64, words))
		}
		r.setFreeBit(sup, true)
	}
}

// growTo returns s with at least n elements, the new ones zero.
func growTo[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	out := make([]T, max(n, 2*len(s)))
	copy(out, s)
	return out
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
	if t.onBits == nil {
		t.onBits = make([]uint64, (len(r.sups)+63)/64)
		t.onCount = make([]supCount, 0, t.want)
		for _, w := range t.kept {
			t.addOn(r.supByID[w.Supervisor])
		}
		t.granted = make([]WorkerSlot, 0, t.demand())
	}
	best := r.bestFor(t)
	if best == nil {
		return false
	}
	i := 0
	if prev := t.prevOn(best); len(prev) > 0 {
	search:
		for j, p := range best.free {
			for _, pp := range prev {
				if pp.port == p {
					i = j
					break search
				}
			}
		}
	}
	port := best.free[i]
	r.setFreeBit(best, false)
	best.free = slices.Delete(best.free, i, i+1)
	r.setFreeBit(best, true)
	t.granted = append(t.granted, WorkerSlot{Supervisor: best.id, Host: best.host, Port: port})
	t.addOn(best)
	return true
}

// prevOn returns the slots t held on sup.
func (t *topoState) prevOn(sup *supState) []prevPort {
	lo, _ := slices.BinarySearchFunc(t.prevPorts, sup.idx, func(p prevPort, idx int) int { return cmp.Compare(p.sup, idx) })
	hi := lo
	for hi < len(t.prevPorts) && t.prevPorts[hi].sup == sup.idx {
		hi++
	}
	return t.prevPorts[lo:hi]
}

// bestFor is the supervisor take picks for t. A supervisor that holds none of t's
// workers beats every one that holds some, so it is the first, in id order, among those
// with the most free slots, skipping the few that t is on; only when every supervisor
// with a free slot holds some of t's workers are those compared.
func (r *round) bestFor(t *topoState) *supState {
	for f := len(r.byFree) - 1; f >= 1; f-- {
		for w, word := range r.byFree[f] {
			word &^= t.onBits[w]
			if word != 0 {
				return r.sups[w*64+bits.TrailingZeros64(word)]
			}
		}
	}
	var best *supState
	bestN := 0
	for _, c := range t.onCount {
		s, n := c.sup, c.n
		if len(s.free) == 0 {
			continue
		}
		if best == nil || n < bestN ||
			(n == bestN && (len(s.free) > len(best.free) || (len(s.free) == len(best.free) && s.idx < best.idx))) {
			best, bestN = s, n
		}
	}
	return best
}

func (r *round) build() Result {
	res := Result{Assignments: make(map[string]Assignment, len(r.topos)), Reasons: map[string]string{}, Removed: r.removed}
	// Place every topology, then copy the results into one set of arrays: the workers'
	// executors may be the input's, and the result must not share memory with it.
	placed := make([][]WorkerSlot, len(r.topos))
	var size arenaSize
	for i, t := range r.topos {
		if t.err == nil {
			placed[i] = t.place()
			size.add(placed[i])
		}
	}
	out := size.alloc()
	for i, t := range r.topos {
		id := t.t.ID
		if t.err != nil {
			verdict := "it is not scheduled"
			if t.hasCur {
				a := t.cur
				if t.shared {
					a = a.Clone()
				}
				res.Assignments[id] = a
				verdict = "its current assignment is left as it is"
			}
			res.Reasons[id] = fmt.Sprintf("cannot be scheduled: %s; %s", strings.ReplaceAll(t.err.Error(), "\n", "; "), verdict)
			continue
		}
		workers := placed[i]
		if len(workers) == 0 {
			if t.hasCur {
				res.Removed = append(res.Removed, id)
			}
			res.Reasons[id] = fmt.Sprintf("needs %s, got none (%s); waiting for a free slot; add supervisors or slots, or kill a topology to free its slots",
				plural(t.want, "worker slot"), r.capacity())
			continue
		}
		// Kept whole, the workers are cur's, as they were (the common case): the copy
		// needs no sorting and the placement no comparing.
		unmoved := t.keptWhole && len(t.granted) == 0 && !t.rebalance
		workers = out.canonicalCopy(workers, unmoved)
		a := Assignment{TopologyID: id, Version: 1, RequestedWorkers: t.requested, Generation: t.t.Generation, Workers: workers}
		same := false
		if t.hasCur {
			same = unmoved || samePlacement(t.cur, a)
			a.Version = t.cur.Version + 1
			if same {
				a.Version = t.cur.Version
			}
		}
		res.Assignments[id] = a
		if !same || !sameRequest(t.cur, a) {
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

// arena holds the workers, executors and tasks of a round's results, handed out in
// pieces whose capacity ends where they do (an append copies rather than overwrite the
// next piece). Three allocations a round rather than three a topology; the price is that
// one result kept alive keeps all of them.
type arena struct {
	workers []WorkerSlot
	execs   [][]int32
	tasks   []int32
}

// arenaSize counts what an arena is to hold.
type arenaSize struct{ workers, execs, tasks int }

func (a *arenaSize) add(ws []WorkerSlot) {
	a.workers += len(ws)
	for _, w := range ws {
		a.execs += len(w.Executors)
		for _, e := range w.Executors {
			a.tasks += len(e)
		}
	}
}

func (a arenaSize) alloc() *arena {
	return &arena{make([]WorkerSlot, a.workers), make([][]int32, a.execs), make([]int32, a.tasks)}
}

// canonicalCopy returns a deep copy of workers from the arena, with every executor's
// tasks sorted, each worker's executors ordered by first task, and the workers ordered
// by slot; sorted says they are so already.
func (a *arena) canonicalCopy(workers []WorkerSlot, sorted bool) []WorkerSlot {
	out := a.workers[:len(workers):len(workers)]
	a.workers = a.workers[len(workers):]
	copy(out, workers)
	for i := range out {
		es := out[i].Executors
		if len(es) == 0 {
			out[i].Executors = es[:0:0] // nothing to share
			continue
		}
		mine := a.execs[:len(es):len(es)]
		a.execs = a.execs[len(es):]
		for j, e := range es {
			if e == nil {
				continue
			}
			c := a.tasks[:len(e):len(e)]
			a.tasks = a.tasks[len(e):]
			copy(c, e)
			// Every executor placed is the topology's effective one or cur's, whose
			// tasks are sorted: this sort is a check that finds nothing to do.
			for k := 1; k < len(c) && !sorted; k++ {
				if c[k] < c[k-1] {
					slices.Sort(c)
					break
				}
			}
			mine[j] = c
		}
		if !sorted {
			slices.SortFunc(mine, compareExec)
		}
		out[i].Executors = mine
	}
	if !sorted {
		slices.SortFunc(out, compareSlots)
	}
	return out
}

// place decides the topology's workers and their executors from what it kept, lost and
// was granted. The executors it hands out may be the input's, to be copied.
func (t *topoState) place() []WorkerSlot {
	g := len(t.granted)
	switch {
	case t.rebalance || g > len(t.lost):
		// Re-place everything evenly over the slots it holds.
		ws := slices.Concat(t.kept, t.granted) // a new array: sorting it must not reorder t.kept
		if len(ws) == 0 {
			return nil
		}
		slices.SortFunc(ws, compareSlots)
		// Worker i gets executors i, i+n, i+2n...: one array holds them all.
		all := make([][]int32, t.nexecs)
		per, extra := t.nexecs/len(ws), t.nexecs%len(ws)
		for i := range ws {
			n := per
			if i < extra {
				n++
			}
			ws[i].Executors = nil
			if n > 0 {
				ws[i].Executors, all = all[:0:n], all[n:]
			}
		}
		i := 0
		t.eachExecutor(func(_ string, e []int32) {
			w := &ws[i%len(ws)]
			w.Executors = append(w.Executors, e)
			i++
		})
		return ws
	case len(t.lost) == 0:
		return t.kept
	case g == len(t.lost):
		// Each lost worker moves whole to a new slot.
		for i := range t.granted {
			t.granted[i].Executors = t.lost[i].Executors
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
	// Components by number, in id order from 1 (0 for an executor of none), and the
	// component of each executor's first task.
	type firstComp struct{ first, comp int32 }
	byFirst := make([]firstComp, 0, t.nexecs)
	var last string
	ncomps := 0
	t.eachExecutor(func(comp string, e []int32) {
		if ncomps == 0 || comp != last {
			last = comp
			ncomps++
		}
		byFirst = append(byFirst, firstComp{e[0], int32(ncomps)})
	})
	slices.SortFunc(byFirst, func(a, b firstComp) int { return cmp.Compare(a.first, b.first) })
	compOf := func(e []int32) int {
		i, ok := slices.BinarySearchFunc(byFirst, e[0], func(fc firstComp, first int32) int { return cmp.Compare(fc.first, first) })
		if !ok {
			return 0
		}
		return int(byFirst[i].comp)
	}
	type orphan struct {
		comp  int
		tasks []int32
	}
	var orphans []orphan
	for _, w := range t.lost {
		for _, e := range w.Executors {
			orphans = append(orphans, orphan{compOf(e), e})
		}
	}
	slices.SortFunc(orphans, func(a, b orphan) int {
		return cmp.Or(cmp.Compare(a.comp, b.comp), compareExec(a.tasks, b.tasks))
	})
	stride := ncomps + 1
	perComp := make([]int, len(targets)*stride) // target i, component c: perComp[i*stride+c]
	total := make([]int, len(targets))
	for i, w := range targets {
		// A kept worker's executors are cur's: appending must not write into them.
		targets[i].Executors = slices.Clip(w.Executors)
		for _, e := range w.Executors {
			perComp[i*stride+compOf(e)]++
			total[i]++
		}
	}
	for _, e := range orphans {
		best := 0
		for i := 1; i < len(targets); i++ {
			if pc, pb := perComp[i*stride+e.comp], perComp[best*stride+e.comp]; pc < pb || (pc == pb && total[i] < total[best]) {
				best = i
			}
		}
		targets[best].Executors = append(targets[best].Executors, e.tasks)
		perComp[best*stride+e.comp]++
		total[best]++
	}
}

// capacity describes the cluster's slots for a reason.
func (r *round) capacity() string {
	if r.capacityText != "" {
		return r.capacityText
	}
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
	r.capacityText = b.String()
	return r.capacityText
}

// plural writes "1 slot", "2 slots".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
