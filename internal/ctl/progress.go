package ctl

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Progress shows how a long operation goes on a terminal: one line, rewritten in place.
// Off a terminal (a pipe, a file, a CI log) it shows nothing, so scripts see only the
// results.
type Progress struct {
	w   io.Writer
	mu  sync.Mutex
	len int // of the line on screen
}

// NewProgress returns a Progress writing to w, or nil when w is not a terminal; a nil
// Progress does nothing.
func NewProgress(w io.Writer) *Progress {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return &Progress{w: w}
}

// Show replaces the line with msg.
func (p *Progress) Show(msg string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pad := max(p.len-len(msg), 0)
	fmt.Fprintf(p.w, "\r%s%*s", msg, pad, "")
	p.len = len(msg)
}

// Done clears the line.
func (p *Progress) Done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.len > 0 {
		fmt.Fprintf(p.w, "\r%*s\r", p.len, "")
		p.len = 0
	}
}

// Upload is a Submission's Progress callback that shows the bytes sent.
func (p *Progress) Upload(name string) func(sent, total int64) {
	if p == nil {
		return nil
	}
	return func(sent, total int64) {
		pct := 100.0
		if total > 0 {
			pct = float64(sent) * 100 / float64(total)
		}
		p.Show(fmt.Sprintf("uploading %s: %s of %s (%.0f%%)", name, FormatBytes(sent), FormatBytes(total), pct))
	}
}

// Countdown shows what is awaited and how long is left, every second, until ctx ends
// or stop is called; past the expected time it counts the overrun.
func (p *Progress) Countdown(ctx context.Context, what string, expected time.Duration) (stop func()) {
	if p == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			el := time.Since(start).Round(time.Second)
			if left := expected - el; left > 0 {
				p.Show(fmt.Sprintf("%s: %s left", what, left))
			} else {
				p.Show(fmt.Sprintf("%s: %s (the wait is over; nimbus is finishing)", what, el))
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
		p.Done()
	}
}

// FormatBytes is a size for people: 512 B, 3.2 MiB.
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
