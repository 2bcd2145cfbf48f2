package scheduler

import (
	"encoding/json"
	"maps"
	"net"
	"slices"
	"strconv"
	"time"
)

// assignmentJSON is the stored form of an Assignment: the etcd record and, byte for
// byte, a worker's assignment file. Each worker carries its id, address and tasks (all a
// worker of any release reads) beside its slot and executors. Records written before
// executors, the request fields or the slot were kept still read (see UnmarshalJSON).
type assignmentJSON struct {
	TopologyID       string         `json:"topology_id"`
	Version          int64          `json:"version"`
	Workers          []workerJSON   `json:"workers"`
	RequestedWorkers int            `json:"requested_workers,omitempty"`
	Generation       int64          `json:"generation,omitempty"`
	Parallelism      map[string]int `json:"parallelism,omitempty"`
	UpdatedAt        time.Time      `json:"updated_at,omitzero"`
}

type workerJSON struct {
	ID      string  `json:"id"`
	Address string  `json:"address"` // host:port of its transport
	Tasks   []int32 `json:"tasks"`
	// Supervisor and Port are the slot; a static assignment has no supervisor.
	Supervisor string    `json:"supervisor,omitempty"`
	Port       int       `json:"port,omitempty"`
	Executors  [][]int32 `json:"executors,omitempty"`
}

// MarshalJSON writes the stored form.
func (a Assignment) MarshalJSON() ([]byte, error) {
	out := assignmentJSON{TopologyID: a.TopologyID, Version: a.Version, RequestedWorkers: a.RequestedWorkers,
		Generation: a.Generation, Parallelism: a.Parallelism, UpdatedAt: a.UpdatedAt, Workers: make([]workerJSON, 0, len(a.Workers))}
	for _, w := range a.Workers {
		wj := workerJSON{ID: w.ID(), Address: w.Address(), Tasks: w.Tasks(), Supervisor: w.Supervisor}
		if w.Supervisor != "" {
			wj.Port = w.Port
		}
		if a.KeepsExecutors() {
			wj.Executors = w.Executors
		}
		out.Workers = append(out.Workers, wj)
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads the stored form, from this release or an earlier one. A worker
// without executors (written before they were kept) gets one executor per task, and
// KeepsExecutors reports false. A worker without a slot takes its port from its address,
// and its supervisor from an id of the form "<supervisor>:<port>".
func (a *Assignment) UnmarshalJSON(b []byte) error {
	var in assignmentJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*a = Assignment{TopologyID: in.TopologyID, Version: in.Version, RequestedWorkers: in.RequestedWorkers,
		Generation: in.Generation, Parallelism: in.Parallelism, UpdatedAt: in.UpdatedAt}
	if in.Workers != nil {
		a.Workers = make([]WorkerSlot, 0, len(in.Workers))
	}
	for _, wj := range in.Workers {
		w := readSlot(wj)
		if wj.Executors != nil {
			w.Executors = wj.Executors
		} else if len(wj.Tasks) > 0 {
			a.tasksOnly = true
			for _, t := range wj.Tasks {
				w.Executors = append(w.Executors, []int32{t})
			}
		}
		a.Workers = append(a.Workers, w)
	}
	return nil
}

// readSlot recovers a worker's slot and name from what a record of any release holds.
func readSlot(wj workerJSON) WorkerSlot {
	w := WorkerSlot{Supervisor: wj.Supervisor, Port: wj.Port, Host: wj.Address}
	if h, p, err := net.SplitHostPort(wj.Address); err == nil {
		w.Host = h
		if n, err := strconv.Atoi(p); err == nil && w.Port == 0 {
			w.Port = n
		}
	}
	if sup, port, ok := splitWorkerID(wj.ID); ok && w.Supervisor == "" && (w.Port == 0 || w.Port == port) {
		w.Supervisor, w.Port = sup, port
	}
	if w.Supervisor == "" || wj.ID != w.Supervisor+":"+strconv.Itoa(w.Port) {
		w.Name = wj.ID
	}
	return w
}

// splitWorkerID reads "<supervisor>:<port>".
func splitWorkerID(id string) (string, int, bool) {
	i := len(id) - 1
	for i >= 0 && id[i] != ':' {
		i--
	}
	if i <= 0 {
		return "", 0, false
	}
	p, err := strconv.Atoi(id[i+1:])
	if err != nil || p < 1 || p > 65535 {
		return "", 0, false
	}
	return id[:i], p, true
}

// GroupTasks forms the executors of an assignment read from a record that kept only
// each worker's tasks (see KeepsExecutors), from execs, the executors it was placed with.
// An executor whose tasks are split between workers, a task the topology does not have,
// or a task assigned twice each becomes an executor of its own, so that Schedule sees the
// placement does not fit and places the topology again. A nil execs (the topology is
// unknown or malformed) makes every task an executor. An assignment that keeps its
// executors is left as it is.
func (a *Assignment) GroupTasks(execs map[string][][]int32) {
	if a.KeepsExecutors() {
		return
	}
	a.tasksOnly = false
	owner := map[int32]int{}
	var odd [][2]int32 // (worker index, task) that fit no executor
	for i := range a.Workers {
		for _, e := range a.Workers[i].Executors {
			for _, t := range e {
				if _, dup := owner[t]; dup {
					odd = append(odd, [2]int32{int32(i), t})
					continue
				}
				owner[t] = i
			}
		}
		a.Workers[i].Executors = nil
	}
	used := map[int32]bool{}
	for _, comp := range slices.Sorted(maps.Keys(execs)) {
		for _, e := range execs[comp] {
			groups := map[int][]int32{}
			var order []int
			for _, t := range e {
				wi, ok := owner[t]
				if !ok {
					continue
				}
				if _, seen := groups[wi]; !seen {
					order = append(order, wi)
				}
				groups[wi] = append(groups[wi], t)
				used[t] = true
			}
			for _, wi := range order {
				a.Workers[wi].Executors = append(a.Workers[wi].Executors, groups[wi])
			}
		}
	}
	for t, wi := range owner {
		if !used[t] {
			odd = append(odd, [2]int32{int32(wi), t})
		}
	}
	for _, o := range odd {
		a.Workers[o[0]].Executors = append(a.Workers[o[0]].Executors, []int32{o[1]})
	}
	for i := range a.Workers {
		sortExecs(a.Workers[i].Executors)
	}
}
