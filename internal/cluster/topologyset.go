package cluster

import (
	"context"
	"maps"
	"slices"
	"sync"
)

// TopologySetWatch follows the records of a set of topologies that changes: a
// supervisor's, the topologies its assignments name. Watching every topology would
// send each submission, status change and rebalance to every supervisor of the cluster;
// this watches one key per topology of the set.
//
// Events says what WatchTopologies would say of the topologies in the set: a put for
// each record as its watch starts and for each change, a delete when a record is
// deleted or its topology leaves the set (with the last record sent), and a sync
// whenever the watch of every topology in the latest set has listed its key. No sync
// comes before the first Set.
type TopologySetWatch struct {
	s      *Store
	out    chan Event[TopologyRecord]
	poke   chan struct{}
	mu     sync.Mutex
	latest map[string]bool
	set    bool // Set was called
}

// WatchTopologySet starts following the topologies given to Set, until ctx ends; then
// Events closes.
func (s *Store) WatchTopologySet(ctx context.Context) *TopologySetWatch {
	w := &TopologySetWatch{s: s, out: make(chan Event[TopologyRecord], 64), poke: make(chan struct{}, 1)}
	go w.run(ctx)
	return w
}

// Events is the stream of changes; it closes when the watch's context ends.
func (w *TopologySetWatch) Events() <-chan Event[TopologyRecord] { return w.out }

// Set replaces the set of topologies followed. It never blocks; ids that are not valid
// topology ids are left out (no record can be stored under them).
func (w *TopologySetWatch) Set(ids []string) {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		if ValidateID("topology id", id) == nil {
			m[id] = true
		}
	}
	w.mu.Lock()
	w.latest, w.set = m, true
	w.mu.Unlock()
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

// topoEvent is an event of one topology's watch, tagged with that watch.
type topoEvent struct {
	f  *topoFollow
	ev Event[TopologyRecord]
}

type topoFollow struct {
	id     string
	cancel context.CancelFunc
	synced bool
}

func (w *TopologySetWatch) run(ctx context.Context) {
	defer close(w.out)
	in := make(chan topoEvent)
	var wg sync.WaitGroup
	defer wg.Wait()
	follows := map[string]*topoFollow{}
	sent := map[string]*TopologyRecord{}
	defer func() {
		for _, f := range follows {
			f.cancel()
		}
	}()
	send := func(ev Event[TopologyRecord]) bool {
		select {
		case w.out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	gone := func(id string, rev int64) bool {
		last, ok := sent[id]
		if !ok {
			return true
		}
		delete(sent, id)
		return send(Event[TopologyRecord]{Type: EventDelete, Key: w.s.keys.Topology(id), ID: id, Record: last, Revision: rev})
	}
	// pending says a sync is owed: the set changed, or a watch listed again.
	pending := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.poke:
			w.mu.Lock()
			ids, set := w.latest, w.set
			w.mu.Unlock()
			if !set {
				continue
			}
			for _, id := range slices.Sorted(maps.Keys(follows)) {
				if !ids[id] {
					follows[id].cancel()
					delete(follows, id)
					if !gone(id, 0) {
						return
					}
				}
			}
			for id := range ids {
				if follows[id] != nil {
					continue
				}
				fctx, cancel := context.WithCancel(ctx)
				f := &topoFollow{id: id, cancel: cancel}
				follows[id] = f
				ch := watchKeys(fctx, w.s, topologyKind, w.s.keys.Topology(id), false)
				wg.Go(func() {
					for ev := range ch {
						select {
						case in <- topoEvent{f: f, ev: ev}:
						case <-fctx.Done():
						}
					}
				})
			}
			pending = true
		case te := <-in:
			f, ev := te.f, te.ev
			if follows[f.id] != f {
				continue // from a watch stopped since
			}
			ok := true
			switch ev.Type {
			case EventSync:
				f.synced, pending = true, true
			case EventDelete:
				ok = gone(f.id, ev.Revision)
			default:
				if ev.Record != nil {
					sent[f.id] = ev.Record
				}
				ok = send(ev)
			}
			if !ok {
				return
			}
		}
		if pending && allSynced(follows) {
			pending = false
			if !send(Event[TopologyRecord]{Type: EventSync, Key: w.s.keys.TopologiesPrefix()}) {
				return
			}
		}
	}
}

func allSynced(follows map[string]*topoFollow) bool {
	for _, f := range follows {
		if !f.synced {
			return false
		}
	}
	return true
}
