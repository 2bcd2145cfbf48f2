package nimbus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/retry"
	"github.com/sparsestream/sparse/internal/stats"
)

// term is one period of leadership, with the scheduler's memory, which a new leader
// rebuilds from etcd.
type term struct {
	l     *cluster.Leadership
	store *cluster.Store // fenced by l
	ctx   context.Context
	since time.Time

	// mu guards reasons, which the API reads; it is never held across etcd calls. The
	// other fields belong to the scheduling loop alone. Everything a new leader must
	// continue is in etcd, not here: the rebalance generations and pending rebalances
	// (in the topology records), and the assignment versions (a counter per topology).
	mu sync.Mutex
	// reasons says why topologies are not fully scheduled (last round).
	reasons map[string]string

	// seen is when this leader first saw each topology's current assignment version: the
	// start of its workers' grace period.
	seen map[string]versionSeen
	// lastBeat is when each worker's heartbeat was last seen ("<topology>/<worker>").
	lastBeat map[string]time.Time
	// badSlots are slots found unhealthy, kept out of use until the time given.
	badSlots map[slotKey]time.Time
	// indexStale says the per-supervisor index of the assignments may disagree with
	// them (see cluster.SyncPlacements): at the start of a term, whose predecessor may
	// have stopped between an assignment and its index or run an older release, and
	// after a write of assignments that failed. A round repairs it first.
	indexStale bool

	// stats are the executor statistics workers reported during this term (see
	// stats.go); a new leader starts empty.
	stats *stats.Store
}

type versionSeen struct {
	version int64
	at      time.Time
}

type slotKey struct {
	sup  string
	port int
}

func newTerm(ctx context.Context, l *cluster.Leadership, store *cluster.Store) *term {
	return &term{
		l: l, store: store, ctx: ctx, since: time.Now(),
		reasons: map[string]string{}, seen: map[string]versionSeen{}, lastBeat: map[string]time.Time{},
		badSlots: map[slotKey]time.Time{}, stats: stats.NewStore(time.Now()),
		indexStale: true,
	}
}

// currentTerm returns the term while this nimbus leads, or nil.
func (s *Server) currentTerm() *term {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.term
}

// leading returns the current term, or the gRPC error a standby answers state-changing
// calls with.
func (s *Server) leading(ctx context.Context) (*term, error) {
	if t := s.currentTerm(); t != nil && t.ctx.Err() == nil {
		return t, nil
	}
	return nil, s.notLeader(ctx)
}

// notLeader says who leads instead: FailedPrecondition naming the leader (with an
// ErrorInfo detail whose metadata holds leader_id and leader_address), or Unavailable
// when nobody leads yet.
func (s *Server) notLeader(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	id, addr, err := s.store.Leader(ctx)
	switch {
	case err == nil && id != s.id:
		st := status.New(codes.FailedPrecondition, fmt.Sprintf("not the leader; the leader is nimbus %s at %s", id, addr))
		if d, derr := st.WithDetails(&errdetails.ErrorInfo{
			Reason:   "NOT_LEADER",
			Domain:   "sparse",
			Metadata: map[string]string{"leader_id": id, "leader_address": addr},
		}); derr == nil {
			st = d
		}
		return st.Err()
	case err == nil:
		return status.Errorf(codes.Unavailable, "nimbus %s was just elected leader and is taking over; retry in a moment", s.id)
	case errors.Is(err, cluster.ErrNoLeader):
		return status.Errorf(codes.Unavailable, "nimbus %s is not the leader, and no nimbus leads right now (an election is under way); retry in a few seconds", s.id)
	}
	return status.Errorf(codes.Unavailable, "nimbus %s is not the leader, and cannot tell which nimbus is: %v", s.id, err)
}

// electionLoop campaigns for leadership whenever this nimbus holds every artifact it
// needs, leads until the leadership ends, and campaigns again, until ctx ends.
func (s *Server) electionLoop(ctx context.Context) {
	pause := retry.New(500*time.Millisecond, 10*time.Second)
	for ctx.Err() == nil {
		if !s.waitReadyToLead(ctx) {
			return
		}
		l, err := s.store.Campaign(ctx, s.id, s.addr)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.metrics.EtcdErrors.Inc()
			d := pause.Next()
			s.log.Warn("cannot campaign for leadership; retrying", "error", err, "in", d)
			if retry.Sleep(ctx, d) != nil {
				return
			}
			continue
		}
		pause.Reset()
		s.lead(ctx, l)
	}
}

// waitReadyToLead waits until this nimbus holds every artifact of the topologies that are
// not killed (those no live nimbus holds excepted: waiting for them would leave the
// cluster without a leader).
func (s *Server) waitReadyToLead(ctx context.Context) bool {
	logged := false
	for {
		st, done := s.replication()
		if st.passes > 0 && len(st.missing) == 0 {
			return true
		}
		if st.passes > 0 && !logged {
			s.log.Info("not campaigning for leadership until the artifacts of every topology are stored here", "missing", st.missing)
			logged = true
			trigger(s.replKick)
		}
		// The replication loop passes every ReplicateEvery and on every change.
		select {
		case <-done:
		case <-ctx.Done():
			return false
		}
	}
}

// lead runs one term: the scheduler runs until the leadership ends or ctx ends; then
// the leadership is resigned so that a standby takes over at once.
func (s *Server) lead(ctx context.Context, l *cluster.Leadership) {
	tctx, cancel := context.WithCancel(ctx)
	t := newTerm(tctx, l, s.store.Fenced(l))
	s.log.Info("elected leader", "term", l.Rev())

	// Artifacts submitted while this nimbus waited in the election: fetch them before
	// scheduling (supervisors fetch from the leader first), but lead anyway.
	fctx, fcancel := context.WithTimeout(tctx, 30*time.Second)
	s.replicateOnce(fctx)
	fcancel()
	if st, _ := s.replication(); len(st.missing) > 0 {
		s.log.Error("leading without some artifacts; supervisors that lack them cannot start those topologies' workers; resubmit them",
			"missing", st.missing)
	}

	s.mu.Lock()
	s.term = t
	s.mu.Unlock()
	s.metrics.IsLeader.Set(1)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.scheduleLoop(t) }()
	wg.Add(1)
	go func() { defer wg.Done(); s.pruneStatsLoop(t) }()

	select {
	case <-l.Done():
		if ctx.Err() == nil {
			s.log.Warn("lost leadership (the lease expired or etcd was unreachable); campaigning again")
		}
	case <-ctx.Done():
	}
	s.mu.Lock()
	s.term = nil
	s.mu.Unlock()
	s.metrics.IsLeader.Set(0)
	cancel()
	wg.Wait()
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer rcancel()
	if err := l.Resign(rctx); err != nil {
		s.log.Warn("resigning leadership", "error", err)
	} else {
		s.log.Info("resigned leadership", "term", l.Rev())
	}
}
