package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sparsestream/sparse/internal/retry"
)

// Registration keeps one record alive under a lease: the record exists while its owner
// lives and disappears a TTL after the owner stops refreshing it. If the lease is lost
// (etcd unreachable for longer than the TTL, or the lease revoked by hand), the record is
// registered again under a new lease as soon as etcd answers.
//
// The lease is refreshed until the context given at registration ends; the record then
// expires after its TTL, as it would if the process died. Close removes it at once.
type Registration[T any] struct {
	s     *Store
	key   string
	ttl   int64 // seconds
	stamp func(*T)
	// encode validates a record and returns its key and JSON.
	encode func(*T) (string, []byte, error)

	mu    sync.Mutex
	rec   T
	lease clientv3.LeaseID
	count int // registrations so far (1 + re-registrations)
	// expiry is when the lease ends unless it is refreshed, as etcd last said.
	expiry time.Time

	cancel context.CancelFunc
	done   chan struct{}
}

// RegisterSupervisor registers a live supervisor under a lease of the given TTL and keeps
// it alive until ctx ends. StartedAt is set to now if it is zero. A registration with the
// id of a record that still exists (a restart within the TTL) takes that record over.
func (s *Store) RegisterSupervisor(ctx context.Context, r *SupervisorRecord, ttl time.Duration) (*Registration[SupervisorRecord], error) {
	return register(ctx, s, supervisorKind, r, ttl, func(r *SupervisorRecord) {
		if r.StartedAt.IsZero() {
			r.StartedAt = time.Now().UTC()
		}
	})
}

// HeartbeatWorker registers a live worker under a lease of the given TTL and keeps it
// alive until ctx ends. Time is set to now whenever the record is written (registration,
// re-registration, Update); liveness itself is the lease, not Time.
func (s *Store) HeartbeatWorker(ctx context.Context, hb *WorkerHeartbeat, ttl time.Duration) (*Registration[WorkerHeartbeat], error) {
	return register(ctx, s, workerKind, hb, ttl, func(r *WorkerHeartbeat) { r.Time = time.Now().UTC() })
}

// RegisterNimbus registers a live nimbus under a lease of the given TTL and keeps it
// alive until ctx ends. StartedAt is set to now if it is zero.
func (s *Store) RegisterNimbus(ctx context.Context, r *NimbusRecord, ttl time.Duration) (*Registration[NimbusRecord], error) {
	return register(ctx, s, nimbusKind, r, ttl, func(r *NimbusRecord) {
		if r.StartedAt.IsZero() {
			r.StartedAt = time.Now().UTC()
		}
	})
}

func register[T any, P interface {
	*T
	record
}](ctx context.Context, s *Store, kd kind[T], r *T, ttl time.Duration, stamp func(*T)) (*Registration[T], error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("registering a %s: the lease TTL must be positive, not %s", kd.name, ttl)
	}
	if r == nil {
		return nil, fmt.Errorf("registering a nil %s record", kd.name)
	}
	reg := &Registration[T]{s: s, ttl: int64(math.Ceil(ttl.Seconds())), stamp: stamp, rec: *r, done: make(chan struct{})}
	reg.encode = func(r *T) (string, []byte, error) { return encode[T, P](s.keys, kd, r) }
	stamp(&reg.rec)
	key, _, err := reg.encode(&reg.rec)
	if err != nil {
		return nil, err
	}
	reg.key = key
	rctx, cancel := context.WithCancel(ctx)
	reg.cancel = cancel
	ka, err := reg.grant(rctx)
	if err != nil {
		cancel()
		return nil, err
	}
	go reg.run(rctx, ka)
	return reg, nil
}

// grant takes a new lease, writes the record under it and starts refreshing it.
func (r *Registration[T]) grant(ctx context.Context) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
	cli := r.s.cli
	asked := time.Now()
	lresp, err := cli.Grant(ctx, r.ttl)
	if err != nil {
		return nil, r.s.wrap("registering "+r.key+": taking a lease", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stamp(&r.rec)
	_, val, err := r.encode(&r.rec)
	if err == nil {
		_, err = cli.Put(ctx, r.key, string(val), clientv3.WithLease(lresp.ID))
	}
	if err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_, _ = cli.Revoke(rctx, lresp.ID)
		cancel()
		return nil, r.s.wrap("registering "+r.key, err)
	}
	ka, err := cli.KeepAlive(ctx, lresp.ID)
	if err != nil {
		return nil, r.s.wrap("registering "+r.key+": keeping the lease alive", err)
	}
	r.lease = lresp.ID
	r.count++
	r.expiry = asked.Add(time.Duration(lresp.TTL) * time.Second)
	return ka, nil
}

func (r *Registration[T]) run(ctx context.Context, ka <-chan *clientv3.LeaseKeepAliveResponse) {
	defer close(r.done)
	for {
		for resp := range ka {
			// Each response is a refresh; the channel closes when the lease is lost or
			// ctx ends. The remaining TTL is counted from now, a little after etcd
			// counted it: LeaseExpiry errs late by the time the answer took.
			r.mu.Lock()
			r.expiry = time.Now().Add(time.Duration(resp.TTL) * time.Second)
			r.mu.Unlock()
		}
		if ctx.Err() != nil || r.s.cli.Ctx().Err() != nil {
			return
		}
		r.s.log.Warn("lease lost; registering again", "key", r.key)
		pause := retry.New(watchBackoffMin, watchBackoffMax)
		for {
			var err error
			if ka, err = r.grant(ctx); err == nil {
				r.s.log.Info("registered again", "key", r.key)
				break
			}
			if ctx.Err() != nil || r.s.cli.Ctx().Err() != nil {
				return
			}
			d := pause.Next()
			r.s.log.Warn("cannot register again; retrying", "key", r.key, "error", err, "in", d)
			if retry.Sleep(ctx, d) != nil {
				return
			}
		}
	}
}

// LeaseExpiry is when the record's lease ends unless etcd hears from this process
// before: the last refresh that etcd answered plus the TTL it gave. Past it, the rest of
// the cluster may take the record's owner for dead (see the supervisor's self-fencing).
func (r *Registration[T]) LeaseExpiry() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.expiry
}

// Key is the etcd key of the registered record.
func (r *Registration[T]) Key() string { return r.key }

// Record returns a copy of the record as last written.
func (r *Registration[T]) Record() T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rec
}

// Done is closed when the registration stops refreshing: its context ended, Close was
// called, or the client was closed.
func (r *Registration[T]) Done() <-chan struct{} { return r.done }

// Update rewrites the record under the same lease (for example a heartbeat's new
// assignment version). Its ids must not change. If the lease was lost, the new record is
// the one registered again.
func (r *Registration[T]) Update(ctx context.Context, rec *T) error {
	if rec == nil {
		return fmt.Errorf("updating %s: nil record", r.key)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	nr := *rec
	r.stamp(&nr)
	key, val, err := r.encode(&nr)
	if err != nil {
		return err
	}
	if key != r.key {
		return fmt.Errorf("updating %s: the record now belongs under %s; ids cannot change, register it anew", r.key, key)
	}
	r.rec = nr
	if _, err := r.s.cli.Put(ctx, r.key, string(val), clientv3.WithLease(r.lease)); err != nil {
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return nil // lost: run registers r.rec again
		}
		return r.s.wrap("updating "+r.key, err)
	}
	return nil
}

// Close stops refreshing and revokes the lease, which removes the record now. ctx bounds
// the revoke: pass a live one, not the registration's own context if that has ended. It
// is safe to call more than once.
func (r *Registration[T]) Close(ctx context.Context) error {
	r.cancel()
	<-r.done
	r.mu.Lock()
	lease := r.lease
	r.mu.Unlock()
	if _, err := r.s.cli.Revoke(ctx, lease); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return r.s.wrap("removing "+r.key, err)
	}
	return nil
}

// registrations reports how many times the record was registered (for tests).
func (r *Registration[T]) registrations() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}
