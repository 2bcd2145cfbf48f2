package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/sparsestream/sparse/internal/retry"
)

// LeaderInfo is who leads, as seen by ObserveLeader.
type LeaderInfo struct {
	// ID and Address of the leading nimbus; both empty when nobody leads.
	ID, Address string
	// Revision is the creation revision of the leader's election key: it differs for
	// every term, even when the same nimbus is elected again.
	Revision int64
}

// leaderValue is what a candidate writes under its election key.
type leaderValue struct {
	ID      string `json:"id"`
	Address string `json:"address"`
}

// Leadership is a won election. It lasts until Resign, until the context given to
// Campaign ends, or until the session's lease is lost (etcd unreachable for longer than
// the session TTL): Done tells. A nimbus that sees Done must stop acting as leader at
// once and may campaign again.
type Leadership struct {
	s           *Store
	session     *concurrency.Session
	election    *concurrency.Election
	id, address string
	key         string
	rev         int64
	once        sync.Once
	resignErr   error
	done        chan struct{} // closed by watchKey
}

// Campaign blocks until this nimbus leads, ctx ends, or etcd fails. Candidates queue in
// the order they campaigned; the first leads. Give the returned Leadership to Fenced so
// that writes stop as soon as it ends.
func (s *Store) Campaign(ctx context.Context, nimbusID, address string) (*Leadership, error) {
	if err := ValidateID("nimbus id", nimbusID); err != nil {
		return nil, err
	}
	if address == "" {
		return nil, fmt.Errorf("campaigning as nimbus %s: the address is empty; give the address its API listens on", nimbusID)
	}
	val, err := json.Marshal(leaderValue{ID: nimbusID, Address: address})
	if err != nil {
		return nil, err
	}
	ttl := int(math.Ceil(s.opts.SessionTTL.Seconds()))
	for {
		session, err := concurrency.NewSession(s.cli, concurrency.WithTTL(ttl), concurrency.WithContext(ctx))
		if err != nil {
			return nil, s.campaignErr(ctx, nimbusID, err)
		}
		e := concurrency.NewElection(session, s.keys.LeaderPrefix())
		if err := e.Campaign(ctx, string(val)); err != nil {
			closeSession(ctx, s.cli, session)
			return nil, s.campaignErr(ctx, nimbusID, err)
		}
		// Campaign can return after the session's lease expired while it waited (its
		// key is then gone): check that the key is still ours before claiming to lead.
		resp, err := s.cli.Get(ctx, e.Key())
		if err == nil && len(resp.Kvs) == 1 && resp.Kvs[0].CreateRevision == e.Rev() && session.Ctx().Err() == nil {
			l := &Leadership{s: s, session: session, election: e, id: nimbusID, address: address, key: e.Key(), rev: e.Rev(), done: make(chan struct{})}
			go l.watchKey(resp.Header.Revision + 1)
			return l, nil
		}
		closeSession(ctx, s.cli, session)
		if err != nil {
			return nil, s.campaignErr(ctx, nimbusID, err)
		}
		s.log.Warn("the election key expired while waiting to lead; campaigning again", "nimbus", nimbusID)
	}
}

func (s *Store) campaignErr(ctx context.Context, id string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("nimbus %s stopped campaigning for leadership: %w", id, ctx.Err())
	}
	return s.wrap("nimbus "+id+" campaigning for leadership", err)
}

// closeSession stops refreshing a session and revokes its lease, even when ctx has ended.
func closeSession(ctx context.Context, cli *clientv3.Client, s *concurrency.Session) {
	s.Orphan()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_, _ = cli.Revoke(rctx, s.Lease())
}

// ID is the leading nimbus's id.
func (l *Leadership) ID() string { return l.id }

// Address is the leading nimbus's address.
func (l *Leadership) Address() string { return l.address }

// Key is the election key of this term.
func (l *Leadership) Key() string { return l.key }

// Rev is the creation revision of Key: the term's identity.
func (l *Leadership) Rev() int64 { return l.rev }

// Done is closed when the leadership ends: Resign, the Campaign context ended, the lease
// was lost, or the election key was deleted by someone else.
func (l *Leadership) Done() <-chan struct{} { return l.done }

// watchKey closes done when the session ends or the election key goes away. It stops
// with the session (whose context ends on Resign, on the Campaign context's end, and on
// lease loss).
func (l *Leadership) watchKey(from int64) {
	defer close(l.done)
	ctx := l.session.Ctx()
	cli := l.s.cli
	for ctx.Err() == nil {
		wch := cli.Watch(clientv3.WithRequireLeader(ctx), l.key, clientv3.WithRev(from))
		for resp := range wch {
			if resp.Err() != nil {
				break
			}
			for _, ev := range resp.Events {
				if ev.Type == clientv3.EventTypeDelete {
					l.s.log.Warn("the leader key was deleted; leadership ends", "nimbus", l.id, "key", l.key)
					return
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
		// The watch broke (compaction, no etcd leader): check the key directly.
		resp, err := cli.Get(ctx, l.key)
		if err == nil {
			if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != l.rev {
				return
			}
			from = resp.Header.Revision + 1
		}
		if retry.Sleep(ctx, watchBackoffMin) != nil {
			return
		}
	}
}

// Resign gives up leadership at once, so that the next candidate leads without waiting
// for the TTL. It is safe to call more than once, and after Done.
func (l *Leadership) Resign(ctx context.Context) error {
	l.once.Do(func() {
		err := l.election.Resign(ctx)
		closeSession(ctx, l.s.cli, l.session)
		<-l.done
		if err != nil {
			l.resignErr = l.s.wrap("nimbus "+l.id+" resigning leadership", err)
		}
	})
	return l.resignErr
}

// Leader returns the current leader's id and address; an error wrapping ErrNoLeader when
// nobody leads.
func (s *Store) Leader(ctx context.Context) (id, address string, err error) {
	pfx := s.keys.LeaderPrefix() + "/"
	resp, err := s.cli.Get(ctx, pfx, clientv3.WithFirstCreate()...)
	if err != nil {
		return "", "", s.wrap("reading the nimbus leader", err)
	}
	if len(resp.Kvs) == 0 {
		return "", "", fmt.Errorf("%w; start a nimbus or wait for one to be elected", ErrNoLeader)
	}
	kv := resp.Kvs[0]
	v, err := decodeLeader(string(kv.Key), kv.Value)
	if err != nil {
		return "", "", err
	}
	return v.ID, v.Address, nil
}

func decodeLeader(key string, b []byte) (*leaderValue, error) {
	var v leaderValue
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, &InvalidRecordError{Key: key, Kind: "leader", Err: err}
	}
	if err := ValidateID("nimbus id", v.ID); err != nil {
		return nil, &InvalidRecordError{Key: key, Kind: "leader", Err: err}
	}
	if v.Address == "" {
		return nil, &InvalidRecordError{Key: key, Kind: "leader", Err: errors.New("the leader has no address")}
	}
	return &v, nil
}

// ObserveLeader sends who leads now, then every change of leader (including "nobody",
// with an empty ID), until ctx ends. Intermediate changes may be skipped; the last one
// always arrives.
func (s *Store) ObserveLeader(ctx context.Context) <-chan LeaderInfo {
	ch := make(chan LeaderInfo, 1)
	go func() {
		defer close(ch)
		pfx := s.keys.LeaderPrefix() + "/"
		var last LeaderInfo
		first := true
		pause := retry.New(watchBackoffMin, watchBackoffMax)
		for ctx.Err() == nil && s.cli.Ctx().Err() == nil {
			resp, err := s.cli.Get(ctx, pfx, clientv3.WithFirstCreate()...)
			if err != nil {
				d := pause.Next()
				if ctx.Err() == nil {
					s.log.Warn("cannot read the nimbus leader; retrying", "error", err, "in", d)
				}
				if retry.Sleep(ctx, d) != nil {
					return
				}
				continue
			}
			pause.Reset()
			var info LeaderInfo
			if len(resp.Kvs) > 0 {
				kv := resp.Kvs[0]
				info.Revision = kv.CreateRevision
				if v, err := decodeLeader(string(kv.Key), kv.Value); err != nil {
					s.log.Warn("the leader key holds an invalid value", "error", err)
				} else {
					info.ID, info.Address = v.ID, v.Address
				}
			}
			if first || info != last {
				select {
				case ch <- info:
				case <-ctx.Done():
					return
				}
				first, last = false, info
			}
			// Wait for any change under the prefix after what was read.
			wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
			wch := s.cli.Watch(wctx, pfx, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
			wr, ok := <-wch
			cancel()
			if ok && wr.Err() != nil && ctx.Err() == nil {
				if retry.Sleep(ctx, watchBackoffMin) != nil {
					return
				}
			}
		}
	}()
	return ch
}
