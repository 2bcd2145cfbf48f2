package kafka

import (
	"container/heap"
	"time"

	"github.com/sparsestream/sparse/internal/retry"
)

// retryQueue holds failed messages until their backoff has passed, earliest first. It
// is pure: the caller passes the time.
type retryQueue struct {
	schedule   retry.Schedule
	maxRetries int // 0: retry for ever; below 0: never
	h          retryHeap
}

// decision is what becomes of a failed message.
type decision int

const (
	retryLater decision = iota // queued; emitted again after its backoff
	giveUp                     // its retries are spent: log, count, commit past it
)

// failed queues m for its next attempt, or says to give up. m.fails counts its failures
// so far, this one included.
func (q *retryQueue) failed(m *message, now time.Time) decision {
	m.fails++
	if q.maxRetries < 0 || (q.maxRetries > 0 && m.fails > q.maxRetries) {
		return giveUp
	}
	m.due = now.Add(q.schedule.Delay(m.fails))
	heap.Push(&q.h, m)
	return retryLater
}

// due pops the earliest message whose backoff has passed, or returns nil.
func (q *retryQueue) due(now time.Time) *message {
	if len(q.h) == 0 || q.h[0].due.After(now) {
		return nil
	}
	return heap.Pop(&q.h).(*message)
}

// drop removes the messages of the partitions keep rejects (partitions no longer ours).
func (q *retryQueue) drop(keep func(TopicPartition) bool) {
	kept := q.h[:0]
	for _, m := range q.h {
		if keep(m.tp) {
			kept = append(kept, m)
		}
	}
	clear(q.h[len(kept):])
	q.h = kept
	heap.Init(&q.h)
}

type retryHeap []*message

func (h retryHeap) Len() int { return len(h) }
func (h retryHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].Offset < h[j].Offset
	}
	return h[i].due.Before(h[j].due)
}
func (h retryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *retryHeap) Push(x any)   { *h = append(*h, x.(*message)) }
func (h *retryHeap) Pop() any {
	old := *h
	m := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return m
}
