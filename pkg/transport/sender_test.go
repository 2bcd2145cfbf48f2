package transport

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/wire"
)

// countingStream records how many entries each frame carried.
type countingStream struct {
	mu     sync.Mutex
	added  *atomic.Int64
	prev   int64
	frames []int64
	sent   chan struct{}
}

func (c *countingStream) SendMsg(m any) error {
	f := m.(*batchFrame)
	f.pool.Put(f.buf)
	c.mu.Lock()
	n := c.added.Load()
	c.frames = append(c.frames, n-c.prev)
	c.prev = n
	c.mu.Unlock()
	c.sent <- struct{}{}
	return nil
}

// TestPumpSendsAtOnceThenCoalescesATrickle: the first batch of a quiet stream leaves
// at once, alone; batches that follow it closely share a frame instead of each paying
// for one.
func TestPumpSendsAtOnceThenCoalescesATrickle(t *testing.T) {
	const perFrame = 16
	var enc wire.Encoder
	for range perFrame {
		enc.AddControl(wire.Control{Kind: 1, Task: 1, Root: 1, Val: 1})
	}
	var added atomic.Int64
	s := &Sender{maxFrame: enc.Size(), linger: time.Minute} // a linger no scheduler can outlast
	stream := &countingStream{added: &added, sent: make(chan struct{}, 4)}
	queue := make(chan int, 64)
	add := func(f *frame, _ int) bool {
		f.room()
		f.enc.AddControl(wire.Control{Kind: 1, Task: 1, Root: 1, Val: 1})
		f.add()
		added.Add(1)
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sent atomic.Int64
	done := make(chan error, 1)
	go func() { done <- pump(ctx, s, stream, queue, add, &sent) }()

	queue <- 0
	<-stream.sent             // alone, without waiting for company: the stream was quiet
	for i := range perFrame { // a trickle: each batch would otherwise find the queue empty
		time.Sleep(2 * time.Millisecond)
		queue <- i
	}
	select {
	case <-stream.sent:
	case <-time.After(30 * time.Second):
		t.Fatal("the trickle was never sent")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stream.mu.Lock()
	defer stream.mu.Unlock()
	if len(stream.frames) != 2 || stream.frames[0] != 1 || stream.frames[1] != perFrame {
		t.Errorf("frames carried %v entries, want [1 %d]: the first at once, the trickle together", stream.frames, perFrame)
	}
	if sent.Load() != perFrame+1 {
		t.Errorf("sent counts %d entries, want %d", sent.Load(), perFrame+1)
	}
}

// TestPumpSendsWhenTheProducerGoesIdle: a batch marked idle (executor.Batch.Idle) ends the
// wait for company at once, even as an empty mark, and a mark alone sends no frame.
func TestPumpSendsWhenTheProducerGoesIdle(t *testing.T) {
	type batch struct {
		entries int
		idle    bool
	}
	var added atomic.Int64
	s := &Sender{maxFrame: 1 << 20, linger: time.Hour} // only an idle mark ends a wait
	stream := &countingStream{added: &added, sent: make(chan struct{}, 4)}
	queue := make(chan batch, 64)
	add := func(f *frame, b batch) bool {
		for range b.entries {
			f.room()
			f.enc.AddControl(wire.Control{Kind: 1, Task: 1, Root: 1, Val: 1})
			f.add()
			added.Add(1)
		}
		return b.idle
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sent atomic.Int64
	done := make(chan error, 1)
	go func() { done <- pump(ctx, s, stream, queue, add, &sent) }()
	waitFrame := func(what string) {
		t.Helper()
		select {
		case <-stream.sent:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s was never sent", what)
		}
	}

	// Each batch below comes 2ms after the one before, so that the pump has taken the
	// first and is waiting (or idle) when the next arrives; the wait for company is an
	// hour, so no sleep can end it.
	queue <- batch{entries: 1}
	waitFrame("the first batch") // the stream was quiet
	queue <- batch{entries: 2}   // follows closely: waits for company
	time.Sleep(2 * time.Millisecond)
	queue <- batch{idle: true} // the producer went idle: the mark alone ends the wait
	waitFrame("the batch before the idle mark")
	queue <- batch{idle: true} // a mark with nothing before it: no frame
	time.Sleep(2 * time.Millisecond)
	queue <- batch{entries: 3, idle: true}
	waitFrame("the idle batch")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stream.mu.Lock()
	defer stream.mu.Unlock()
	if want := []int64{1, 2, 3}; !slices.Equal(stream.frames, want) {
		t.Errorf("frames carried %v entries, want %v", stream.frames, want)
	}
	if sent.Load() != 6 {
		t.Errorf("sent counts %d entries, want 6", sent.Load())
	}
}
