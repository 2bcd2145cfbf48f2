package perf

import (
	"strings"
	"sync/atomic"
	"time"
)

// The baselines do the shapes' work with no engine: goroutines connected by channels
// carrying batches of heap-allocated records, recycled through free lists, with the same
// batch size as the engine's default. They show what the engine costs on top of the
// plainest reasonable Go program.

const baseBatch = 128

type rec struct {
	values []any
	id     int64
}

type recBatch struct{ items []*rec }

func newPipe() (chan *recBatch, chan *recBatch) {
	free := make(chan *recBatch, 512)
	for range 512 {
		free <- &recBatch{items: make([]*rec, 0, baseBatch)}
	}
	return make(chan *recBatch, 256), free
}

// stopAfter returns a flag that turns true after d.
func stopAfter(d time.Duration) *atomic.Bool {
	var stop atomic.Bool
	time.AfterFunc(d, func() { stop.Store(true) })
	return &stop
}

// baselineNull: producer -> consumer.
func baselineNull(d time.Duration) float64 {
	data, free := newPipe()
	stop := stopAfter(d)
	var count int64
	done := make(chan struct{})
	go func() {
		for b := range data {
			for _, r := range b.items {
				if r.values != nil {
					count++
				}
			}
			clear(b.items)
			b.items = b.items[:0]
			free <- b
		}
		close(done)
	}()
	start := time.Now()
	values := constValues(false)
	for !stop.Load() {
		b := <-free
		for range baseBatch {
			b.items = append(b.items, &rec{values: values})
		}
		data <- b
	}
	close(data)
	<-done
	return float64(count) / time.Since(start).Seconds()
}

// baselineIDNull: producer -> id stage -> null stage, with completions returned to the
// producer, which keeps a pending map bounded like max spout pending.
func baselineIDNull(d time.Duration) float64 {
	const maxPending = 8192
	d1, free1 := newPipe()
	d2, free2 := newPipe()
	acks := make(chan []int64, 256)
	stop := stopAfter(d)
	go func() {
		for b := range d1 {
			out := <-free2
			for _, r := range b.items {
				out.items = append(out.items, &rec{values: r.values, id: r.id})
			}
			clear(b.items)
			b.items = b.items[:0]
			free1 <- b
			d2 <- out
		}
		close(d2)
	}()
	go func() {
		for b := range d2 {
			ids := make([]int64, 0, len(b.items))
			for _, r := range b.items {
				ids = append(ids, r.id)
			}
			clear(b.items)
			b.items = b.items[:0]
			free2 <- b
			acks <- ids
		}
		close(acks)
	}()
	pending := make(map[int64]time.Duration, maxPending)
	start := time.Now()
	values := constValues(true)
	var next, acked int64
	take := func(ids []int64) {
		for _, id := range ids {
			delete(pending, id)
		}
		acked += int64(len(ids))
	}
	for !stop.Load() {
		for len(pending) >= maxPending-baseBatch {
			take(<-acks)
		}
		select {
		case ids := <-acks:
			take(ids)
		default:
		}
		b := <-free1
		now := time.Since(start)
		for range baseBatch {
			next++
			pending[next] = now
			b.items = append(b.items, &rec{values: values, id: next})
		}
		d1 <- b
	}
	elapsed := time.Since(start)
	close(d1)
	for ids := range acks {
		take(ids)
	}
	return float64(acked) / elapsed.Seconds()
}

// baselineWordCount: producer -> splitter -> counter, with each word's completion
// returned to the producer, which completes a sentence when all its words are counted.
func baselineWordCount(d time.Duration) float64 {
	const maxPending = wordCountPending
	d1, free1 := newPipe()
	d2, free2 := newPipe()
	acks := make(chan []int64, 256)
	stop := stopAfter(d)
	var words atomic.Int64
	go func() {
		out := <-free2
		for b := range d1 {
			for _, r := range b.items {
				s := r.values[0].(string)
				for s != "" {
					i := strings.IndexByte(s, ' ')
					w := s
					if i < 0 {
						s = ""
					} else {
						w, s = s[:i], s[i+1:]
					}
					out.items = append(out.items, &rec{values: []any{w}, id: r.id})
					if len(out.items) == baseBatch {
						d2 <- out
						out = <-free2
					}
				}
			}
			clear(b.items)
			b.items = b.items[:0]
			free1 <- b
			if len(out.items) > 0 {
				d2 <- out
				out = <-free2
			}
		}
		close(d2)
	}()
	go func() {
		counts := map[string]int64{}
		for b := range d2 {
			ids := make([]int64, 0, len(b.items))
			for _, r := range b.items {
				counts[r.values[0].(string)]++
				ids = append(ids, r.id)
			}
			words.Add(int64(len(b.items)))
			clear(b.items)
			b.items = b.items[:0]
			free2 <- b
			acks <- ids
		}
		close(acks)
	}()
	remaining := make(map[int64]int, maxPending)
	take := func(ids []int64) {
		for _, id := range ids {
			if remaining[id]--; remaining[id] == 0 {
				delete(remaining, id)
			}
		}
	}
	var vals [][]any
	var nwords []int
	for _, s := range sentences {
		vals = append(vals, []any{s})
		nwords = append(nwords, len(strings.Fields(s)))
	}
	start := time.Now()
	var next int64
	for !stop.Load() {
		for len(remaining) >= maxPending-baseBatch {
			take(<-acks)
		}
		select {
		case ids := <-acks:
			take(ids)
		default:
		}
		b := <-free1
		for range baseBatch {
			next++
			i := next % int64(len(vals))
			remaining[next] = nwords[i]
			b.items = append(b.items, &rec{values: vals[i], id: next})
		}
		d1 <- b
	}
	elapsed := time.Since(start)
	n := words.Load()
	close(d1)
	for ids := range acks {
		take(ids)
	}
	return float64(n) / elapsed.Seconds()
}
