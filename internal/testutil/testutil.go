// Package testutil holds the helpers the project's tests share. Only tests import it.
package testutil

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/retry"
)

// LogWriter returns a writer that sends each line logged to t's log, for a logger's
// output. Lines written after the test ended, by goroutines still winding down, are
// dropped.
func LogWriter(t testing.TB) io.Writer { return logWriter{t} }

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // t.Log panics once the test is over
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Eventually polls cond until it holds, and fails the test naming what it waited for if
// within passes first. It polls often at first, for conditions that are met at once, and
// then less often, for conditions that cost a request to check.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	poll := retry.Exact(time.Millisecond, 20*time.Millisecond)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(poll.Next())
	}
}

// Context returns a context that ends after d or when the test ends, whichever is first.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// SyncBuffer is a bytes.Buffer that goroutines of the code under test may write while
// the test reads it (a logger's or a command's output).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is what has been written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
