package testutil

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// fatalT records Fatalf instead of ending the test.
type fatalT struct {
	testing.TB
	failed string
}

func (f *fatalT) Helper() {}
func (f *fatalT) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	panic(f) // Fatalf does not return
}

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, 10*time.Second, "the third call", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Errorf("cond called %d times, want 3", n)
	}

	f := &fatalT{TB: t}
	func() {
		defer func() { _ = recover() }()
		Eventually(f, 30*time.Millisecond, "the impossible", func() bool { return false })
	}()
	if !strings.Contains(f.failed, "waiting for the impossible") {
		t.Errorf("failure %q does not say what it waited for", f.failed)
	}
}

func TestLogWriter(t *testing.T) {
	var w = LogWriter(t)
	if n, err := w.Write([]byte("a line\n")); n != 7 || err != nil {
		t.Errorf("Write = %d, %v; want 7, nil", n, err)
	}
}

func TestContext(t *testing.T) {
	var ctx context.Context
	t.Run("inner", func(t *testing.T) {
		ctx = Context(t, time.Hour)
		if ctx.Err() != nil {
			t.Fatalf("a fresh context has ended: %v", ctx.Err())
		}
	})
	if ctx.Err() == nil {
		t.Error("the context outlived its test")
	}
}
