//go:build !unix

package pyenv

import "context"

// lock is a no-op where there is no flock: builds of one virtualenv by two processes at
// once are not prevented.
func lock(ctx context.Context, path string) (func(), error) { return func() {}, nil }
