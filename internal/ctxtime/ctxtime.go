// Package ctxtime holds the one wait the daemons' retry loops share.
package ctxtime

import (
	"context"
	"time"
)

// Sleep waits for d or until ctx ends, and reports whether the whole wait passed (false:
// ctx ended, stop retrying). Unlike time.After in a select, its timer is released at
// once either way.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
