package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sparsestream/sparse/internal/retry"
)

// EventType says what happened to a key.
type EventType int

// The event types of a watch.
const (
	// EventPut: the record under Key was created or changed.
	EventPut EventType = iota + 1
	// EventDelete: the record under Key is gone (deleted, or its lease ended).
	EventDelete
	// EventSync: the events so far describe everything under the watched prefix as of
	// Revision. It follows the first listing and every re-listing.
	EventSync
)

func (t EventType) String() string {
	switch t {
	case EventPut:
		return "put"
	case EventDelete:
		return "delete"
	case EventSync:
		return "sync"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is one change seen by a watch.
type Event[T any] struct {
	Type EventType
	// Key is the etcd key; ID is the part after the kind's folder: the record's id, or
	// "<topology>/<worker>" for workers and "<digest>/<nimbus>" for artifact holders.
	Key, ID string
	// Record is the new record of a put, and the last known record of a delete (nil if
	// it was never seen valid). Nil for sync and when Err is set.
	Record *T
	// Revision is the etcd revision of the change (for sync: of the listing).
	Revision int64
	// Err is set on a put whose value is not a valid record (*InvalidRecordError). The
	// watch goes on.
	Err error
}

// watchBackoff bounds the pause between attempts when etcd fails.
const (
	watchBackoffMin = 100 * time.Millisecond
	watchBackoffMax = 5 * time.Second
)

// watch follows every record under prefix. The channel first gets a put for each
// existing record and a sync, then every change in order. When etcd has compacted the
// revisions the watch needed, or the watch breaks, it lists again and sends only the
// difference (puts for new or changed records, deletes for vanished ones) and a sync,
// then goes on. It closes when ctx ends or the client is closed.
func watch[T any, P interface {
	*T
	record
}](ctx context.Context, s *Store, kd kind[T], prefix string) <-chan Event[T] {
	return watchKeys[T, P](ctx, s, kd, prefix, true)
}

// watchKeys is watch of every key under prefix, or (all false) of the one key prefix.
func watchKeys[T any, P interface {
	*T
	record
}](ctx context.Context, s *Store, kd kind[T], prefix string, all bool) <-chan Event[T] {
	ch := make(chan Event[T], 64)
	go func() {
		defer close(ch)
		w := &watcher[T, P]{s: s, kd: kd, prefix: prefix, ch: ch, known: map[string]known[T]{}, exact: !all}
		pause := retry.New(watchBackoffMin, watchBackoffMax)
		for ctx.Err() == nil && s.cli.Ctx().Err() == nil {
			var d time.Duration
			rev, err := w.relist(ctx)
			if err == nil {
				err = w.follow(ctx, rev+1)
				if err == nil {
					continue // the watch channel closed; the loop checks why
				}
				pause.Reset()
				d = pause.Next()
				s.log.Info("watch of "+prefix+" interrupted; listing again", "error", err)
			} else {
				d = pause.Next()
				if ctx.Err() == nil {
					s.log.Warn("cannot list "+prefix+"; retrying", "error", err, "in", d)
				}
			}
			if retry.Sleep(ctx, d) != nil {
				return
			}
		}
	}()
	return ch
}

// failedWatch is a watch that could not start: one event carrying err, then closed.
func failedWatch[T any](ctx context.Context, key string, err error) <-chan Event[T] {
	ch := make(chan Event[T], 1)
	select {
	case ch <- Event[T]{Type: EventSync, Key: key, Err: err}:
	case <-ctx.Done():
	}
	close(ch)
	return ch
}

type known[T any] struct {
	modRev int64
	rec    *T
}

type watcher[T any, P interface {
	*T
	record
}] struct {
	s      *Store
	kd     kind[T]
	prefix string
	ch     chan<- Event[T]
	known  map[string]known[T]
	// exact: prefix is the one key watched, not a prefix.
	exact bool
}

// opts make a request cover every key under the prefix, or the one key.
func (w *watcher[T, P]) opts(more ...clientv3.OpOption) []clientv3.OpOption {
	if w.exact {
		return more
	}
	return append(more, clientv3.WithPrefix())
}

func (w *watcher[T, P]) send(ctx context.Context, ev Event[T]) bool {
	select {
	case w.ch <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

func (w *watcher[T, P]) id(key string) string {
	id, _ := splitID(key, w.kd.prefix(w.s.keys))
	return id
}

// put decodes a new value and sends it.
func (w *watcher[T, P]) put(ctx context.Context, key string, value []byte, modRev int64) bool {
	r, err := decode[T, P](w.s.keys, w.kd, key, value)
	w.known[key] = known[T]{modRev: modRev, rec: r}
	return w.send(ctx, Event[T]{Type: EventPut, Key: key, ID: w.id(key), Record: r, Revision: modRev, Err: err})
}

func (w *watcher[T, P]) delete(ctx context.Context, key string, rev int64, prev []byte) bool {
	last := w.known[key].rec
	if last == nil && prev != nil {
		last, _ = decode[T, P](w.s.keys, w.kd, key, prev)
	}
	delete(w.known, key)
	return w.send(ctx, Event[T]{Type: EventDelete, Key: key, ID: w.id(key), Record: last, Revision: rev})
}

// relist reads everything under the prefix, sends the difference from what was known,
// then a sync. It returns the listing's revision.
func (w *watcher[T, P]) relist(ctx context.Context) (int64, error) {
	resp, err := w.s.cli.Get(ctx, w.prefix, w.opts(clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))...)
	if err != nil {
		return 0, w.s.wrap("listing "+w.prefix, err)
	}
	rev := resp.Header.Revision
	seen := make(map[string]bool, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		key := string(kv.Key)
		seen[key] = true
		if k, ok := w.known[key]; ok && k.modRev == kv.ModRevision {
			continue
		}
		if !w.put(ctx, key, kv.Value, kv.ModRevision) {
			return 0, ctx.Err()
		}
	}
	var gone []string
	for key := range w.known {
		if !seen[key] {
			gone = append(gone, key)
		}
	}
	slices.Sort(gone)
	for _, key := range gone {
		if !w.delete(ctx, key, rev, nil) {
			return 0, ctx.Err()
		}
	}
	if !w.send(ctx, Event[T]{Type: EventSync, Key: w.prefix, Revision: rev}) {
		return 0, ctx.Err()
	}
	return rev, nil
}

// follow sends every change from revision from on. It returns nil when ctx ends or the
// channel closes, and an error when the watch broke (compaction, lost leader).
func (w *watcher[T, P]) follow(ctx context.Context, from int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := w.s.cli.Watch(wctx, w.prefix, w.opts(clientv3.WithRev(from), clientv3.WithPrevKV())...)
	for resp := range wch {
		if err := resp.Err(); err != nil {
			if resp.CompactRevision != 0 {
				return fmt.Errorf("revision %d was compacted (oldest kept: %d): %w", from, resp.CompactRevision, err)
			}
			return err
		}
		for _, ev := range resp.Events {
			key := string(ev.Kv.Key)
			var ok bool
			switch ev.Type {
			case mvccpb.PUT:
				ok = w.put(ctx, key, ev.Kv.Value, ev.Kv.ModRevision)
			case mvccpb.DELETE:
				var prev []byte
				if ev.PrevKv != nil {
					prev = ev.PrevKv.Value
				}
				ok = w.delete(ctx, key, ev.Kv.ModRevision, prev)
			default:
				ok = true
			}
			if !ok {
				return nil
			}
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("the etcd watch channel closed")
}
