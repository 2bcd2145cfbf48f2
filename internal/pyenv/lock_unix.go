//go:build unix

package pyenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lock takes an exclusive lock on path, waiting for it at most as long as ctx lets.
// Sweep removes the lock file of what it sweeps while it holds the lock, so a lock
// taken on a file no longer at path locks nothing: lock then opens path again.
func lock(ctx context.Context, path string) (func(), error) {
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return nil, fmt.Errorf("locking the virtualenv: %w", err)
		}
		if err := flock(ctx, f); err != nil {
			f.Close()
			return nil, err
		}
		held, err1 := f.Stat()
		now, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		f.Close() // swept while this waited
		if ctx.Err() != nil {
			return nil, fmt.Errorf("waiting for another build of the same virtualenv: %w", ctx.Err())
		}
	}
}

// flock takes an exclusive lock on f, trying again until ctx ends.
func flock(ctx context.Context, f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("locking the virtualenv: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for another build of the same virtualenv: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
