package supervisor

import (
	"fmt"
	"slices"
	"time"

	"github.com/sparsestream/sparse/internal/retry"
	"github.com/sparsestream/sparse/internal/worker"
	"github.com/sparsestream/sparse/pkg/topology"
)

// This file is the supervisor's pure decision logic: what should run in each slot
// (Want), what runs there now (Have), and the actions that move one toward the other
// (Plan). It does no I/O and reads no clock: the caller passes now.

// Want is one worker this supervisor should run, as its assignments say.
type Want struct {
	Port       int
	TopologyID string
	WorkerID   string
	// Address is where the worker listens (host:port); WorkerAdmin is dialed there.
	Address string
	Version int64
	// Digest is the sha256 of the topology's artifact, and ArtifactSize its size (0:
	// unknown).
	Digest       string
	ArtifactSize int64
	// SpecBundle says the artifact is a spec bundle, run by the generic worker, rather
	// than a topology binary.
	SpecBundle bool
	// VenvGeneration is the generation of a spec bundle's virtualenv (see
	// cluster.TopologyRecord.VenvGeneration): a new one builds it again and replaces the
	// worker.
	VenvGeneration int64
	// Active says whether the topology's spouts should run (its status is active).
	Active bool
	// Assignment and Config are what the worker is started with: assignment.json and
	// config.json.
	Assignment *worker.Assignment
	Config     topology.Config
	// Problem, when set, says why this worker cannot be started as assigned (for
	// example its assignment does not fit the topology's spec yet); starting it fails
	// with this message and is retried with backoff.
	Problem string
}

// Identity is what makes two workers the same: a change of any of these replaces the
// process.
type Identity struct {
	TopologyID string `json:"topology_id"`
	WorkerID   string `json:"worker_id"`
	Version    int64  `json:"version"`
	Digest     string `json:"digest"`
	Venv       int64  `json:"venv,omitempty"`
}

// Identity returns the want's identity.
func (w Want) Identity() Identity {
	return Identity{TopologyID: w.TopologyID, WorkerID: w.WorkerID, Version: w.Version, Digest: w.Digest, Venv: w.VenvGeneration}
}

func (id Identity) String() string {
	return fmt.Sprintf("%s/%s version %d", id.TopologyID, id.WorkerID, id.Version)
}

// Phase is where a slot's worker is in its life.
type Phase int

// The phases of a slot. A slot with no worker has no Have at all.
const (
	// Found: a live worker process found through its pid file when the supervisor
	// started, not managed yet.
	Found Phase = iota + 1
	// Starting: fetching the artifact, writing the worker's files, launching it.
	Starting
	// Running: the process is alive.
	Running
	// Stopping: the process was told to stop (or its start was cancelled) and has not
	// exited yet.
	Stopping
	// Exited: the process died (or could not start) and waits out its backoff before
	// it is started again.
	Exited
)

func (p Phase) String() string {
	switch p {
	case Found:
		return "found"
	case Starting:
		return "starting"
	case Running:
		return "running"
	case Stopping:
		return "stopping"
	case Exited:
		return "exited"
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// Have is what a slot holds now.
type Have struct {
	Port  int
	Phase Phase
	// Identity is what the process runs (or was starting, or ran before it exited).
	Identity Identity
	// StartedAt is when the process was started or adopted; HeartbeatAt when it last
	// touched its heartbeat file (zero: not yet).
	StartedAt, HeartbeatAt time.Time
	// RetryAt is when an exited worker may be started again.
	RetryAt time.Time
	// ActiveKnown says the worker confirmed a SetActive, and Active what it was.
	ActiveKnown, Active bool
	// AdminPending: a SetActive call is in flight; AdminRetryAt: the next one may go
	// out then (after a failed one).
	AdminPending bool
	AdminRetryAt time.Time
	// Registered: the worker's heartbeat is kept in etcd.
	Registered bool
}

// ActionKind is what to do to a slot.
type ActionKind int

// The actions Plan asks for.
const (
	// Start launches the wanted worker in an empty (or exited) slot.
	Start ActionKind = iota + 1
	// Adopt takes a found live worker under management as it is.
	Adopt
	// Stop ends a worker that is not wanted (any more, or in this version): SIGTERM,
	// then SIGKILL after a grace period. A Starting slot's start is cancelled.
	Stop
	// Restart ends an unhealthy worker like Stop, then starts it again after a backoff.
	Restart
	// Forget clears an exited slot that is no longer wanted.
	Forget
	// SetActive tells a running worker whether its spouts should run.
	SetActive
	// Register starts keeping a healthy worker's heartbeat in etcd.
	Register
)

func (k ActionKind) String() string {
	switch k {
	case Start:
		return "start"
	case Adopt:
		return "adopt"
	case Stop:
		return "stop"
	case Restart:
		return "restart"
	case Forget:
		return "forget"
	case SetActive:
		return "set-active"
	case Register:
		return "register"
	}
	return fmt.Sprintf("ActionKind(%d)", int(k))
}

// Action is one step Plan asks for.
type Action struct {
	Kind ActionKind
	Port int
	// Want is the worker to start, adopt or activate (nil for Stop, Restart, Forget).
	Want *Want
	// Active is the SetActive value.
	Active bool
	// Reason says why, for the log.
	Reason string
}

// PlanParams are the timings Plan judges by.
type PlanParams struct {
	// WorkerTimeout: a running worker whose heartbeat file is older than this (or that
	// wrote none this long after it started) is restarted.
	WorkerTimeout time.Duration
}

// Plan compares what should run with what runs and returns the actions that reconcile
// them, sorted by port. It is called again after every change and on a timer, so each
// action only needs to move one step: a worker of a new version is first stopped, and
// started once its slot is free.
func Plan(wants []Want, haves []Have, now time.Time, p PlanParams) []Action {
	want := make(map[int]*Want, len(wants))
	for i := range wants {
		want[wants[i].Port] = &wants[i]
	}
	have := make(map[int]*Have, len(haves))
	for i := range haves {
		have[haves[i].Port] = &haves[i]
	}
	ports := make([]int, 0, len(want)+len(have))
	for port := range want {
		ports = append(ports, port)
	}
	for port := range have {
		if want[port] == nil {
			ports = append(ports, port)
		}
	}
	slices.Sort(ports)
	var out []Action
	for _, port := range ports {
		out = append(out, planSlot(want[port], have[port], now, p)...)
	}
	return out
}

func planSlot(w *Want, h *Have, now time.Time, p PlanParams) []Action {
	if h == nil {
		return []Action{{Kind: Start, Port: w.Port, Want: w, Reason: "assigned"}}
	}
	port := h.Port
	same := w != nil && w.Identity() == h.Identity
	// mismatch says why the slot's worker is not the wanted one.
	mismatch := func() string {
		switch {
		case w == nil:
			return "no longer assigned to this supervisor"
		case w.TopologyID != h.Identity.TopologyID || w.WorkerID != h.Identity.WorkerID:
			return fmt.Sprintf("the slot is now assigned to %s/%s", w.TopologyID, w.WorkerID)
		case w.Version != h.Identity.Version:
			return fmt.Sprintf("assignment version %d replaces %d", w.Version, h.Identity.Version)
		default:
			return fmt.Sprintf("the topology's artifact is now %s", short(w.Digest))
		}
	}
	switch h.Phase {
	case Found:
		if same {
			return []Action{{Kind: Adopt, Port: port, Want: w, Reason: "a live worker of the current assignment"}}
		}
		return []Action{{Kind: Stop, Port: port, Reason: "a worker left from before: " + mismatch()}}
	case Starting:
		if !same {
			return []Action{{Kind: Stop, Port: port, Reason: mismatch()}}
		}
	case Stopping:
		// Wait for the exit; the slot is not free before.
	case Exited:
		switch {
		case w == nil:
			return []Action{{Kind: Forget, Port: port, Reason: mismatch()}}
		case !same:
			return []Action{{Kind: Start, Port: port, Want: w, Reason: mismatch()}}
		case !now.Before(h.RetryAt):
			return []Action{{Kind: Start, Port: port, Want: w, Reason: "restarting after it exited"}}
		}
	case Running:
		if !same {
			return []Action{{Kind: Stop, Port: port, Reason: mismatch()}}
		}
		last := h.StartedAt
		if h.HeartbeatAt.After(last) {
			last = h.HeartbeatAt
		}
		if p.WorkerTimeout > 0 && now.Sub(last) > p.WorkerTimeout {
			what := "its heartbeat file is"
			if h.HeartbeatAt.IsZero() {
				what = "it wrote no heartbeat since it started, which is"
			}
			return []Action{{Kind: Restart, Port: port, Reason: fmt.Sprintf("%s %s old (--worker-timeout %s)", what, now.Sub(last).Round(time.Second), p.WorkerTimeout)}}
		}
		var out []Action
		if !h.Registered && !h.HeartbeatAt.IsZero() {
			out = append(out, Action{Kind: Register, Port: port, Want: w, Reason: "healthy"})
		}
		if (!h.ActiveKnown || h.Active != w.Active) && !h.AdminPending && !now.Before(h.AdminRetryAt) {
			out = append(out, Action{Kind: SetActive, Port: port, Want: w, Active: w.Active, Reason: activeReason(w.Active)})
		}
		return out
	}
	return nil
}

func activeReason(on bool) string {
	if on {
		return "the topology is active"
	}
	return "the topology is not active"
}

func short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}

// Backoff is the pause before the next start of a worker that failed failures times in
// a row: lo, doubled for each failure after the first, at most hi. Unlike the etcd
// retries it has no jitter: lo is the least pause the operator asked for, and a restart
// is local to its node, so no shared service sees the workers restart in lockstep.
func Backoff(failures int, lo, hi time.Duration) time.Duration {
	pause := retry.Exact(lo, hi)
	d := pause.Next()
	for i := 1; i < failures && d < hi; i++ {
		d = pause.Next()
	}
	return d
}

// NextFailures counts a worker's exit: a worker that ran healthily for at least
// healthyAfter starts a new count (its next restart comes after the shortest backoff).
func NextFailures(prev int, ranFor, healthyAfter time.Duration) int {
	if ranFor >= healthyAfter {
		return 1
	}
	return prev + 1
}
