// Package testutil holds the helpers the project's tests share. Only tests import it.
package testutil

import (
	"context"
	"io"
	"strings"
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
