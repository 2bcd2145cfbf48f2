//go:build unix

package pyenv

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestSweep: Sweep removes an unused virtualenv past the grace period with its lock and
// failure files, and the lock and failure files a failed build left behind once they
// are as old; nothing in use, recent, or locked by a build.
func TestSweep(t *testing.T) {
	const grace = time.Hour
	now := time.Now()
	old, recent := now.Add(-2*grace), now.Add(-time.Minute)
	type entry struct {
		key                 string
		env, failed, locked bool // which of its files exist
		at                  time.Time
	}
	for _, tc := range []struct {
		name    string
		entries []entry
		inUse   string // a key in use
		held    string // a key whose build holds the lock
		gone    []string
		removed []string // the virtualenvs Sweep says it removed
	}{
		{name: "an old virtualenv goes with its files",
			entries: []entry{{key: "a", env: true, failed: true, locked: true, at: old}},
			gone:    []string{"a", ".a.failed", ".a.lock"}, removed: []string{"a"}},
		{name: "an old virtualenv in use stays",
			entries: []entry{{key: "a", env: true, locked: true, at: old}}, inUse: "a"},
		{name: "a recent virtualenv stays",
			entries: []entry{{key: "a", env: true, locked: true, at: recent}}},
		{name: "a virtualenv being built stays",
			entries: []entry{{key: "a", env: true, locked: true, at: old}}, held: "a"},
		{name: "an old failed build's files go",
			entries: []entry{{key: "b", failed: true, locked: true, at: old}},
			gone:    []string{".b.failed", ".b.lock"}},
		{name: "an old lock file alone goes",
			entries: []entry{{key: "b", locked: true, at: old}}, gone: []string{".b.lock"}},
		{name: "a recent failure stays",
			entries: []entry{{key: "b", failed: true, locked: true, at: recent}}},
		{name: "a failed build retried now stays",
			entries: []entry{{key: "b", failed: true, locked: true, at: old}}, held: "b"},
		{name: "each key on its own",
			entries: []entry{
				{key: "a", env: true, locked: true, at: old},
				{key: "b", failed: true, locked: true, at: old},
				{key: "c", env: true, locked: true, at: recent},
				{key: "d", failed: true, locked: true, at: recent},
			},
			gone: []string{"a", ".a.lock", ".b.failed", ".b.lock"}, removed: []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			var all []string
			write := func(name string, at time.Time) {
				p := filepath.Join(cache, name)
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(p, at, at); err != nil {
					t.Fatal(err)
				}
				all = append(all, name)
			}
			for _, e := range tc.entries {
				if e.env {
					if err := os.Mkdir(filepath.Join(cache, e.key), 0o755); err != nil {
						t.Fatal(err)
					}
					write(filepath.Join(e.key, completeMarker), e.at)
					all = append(all, e.key)
				}
				if e.failed {
					write("."+e.key+".failed", e.at)
				}
				if e.locked {
					write("."+e.key+".lock", e.at)
				}
			}
			if tc.held != "" {
				unlock, err := lock(context.Background(), filepath.Join(cache, "."+tc.held+".lock"))
				if err != nil {
					t.Fatal(err)
				}
				defer unlock()
			}
			var want []string
			for _, r := range tc.removed {
				want = append(want, filepath.Join(cache, r))
			}
			if got := Sweep(cache, map[string]bool{tc.inUse: tc.inUse != ""}, grace, now); !slices.Equal(got, want) {
				t.Errorf("Sweep removed %v, want %v", got, want)
			}
			for _, name := range all {
				_, err := os.Stat(filepath.Join(cache, name))
				if gone := slices.Contains(tc.gone, name) || slices.Contains(tc.gone, filepath.Dir(name)); gone != os.IsNotExist(err) {
					t.Errorf("%s: removed %v, want %v (stat: %v)", name, os.IsNotExist(err), gone, err)
				}
			}
		})
	}
}

// TestLockAfterSweep: a build that waited for the lock while Sweep removed the lock file
// locks the file now at the path, so that a later build waits for it.
func TestLockAfterSweep(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".k.lock")
	sweeping, err := lock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		unlock, err := lock(context.Background(), path)
		if err != nil {
			t.Error(err)
			unlock = func() {}
		}
		got <- unlock
	}()
	time.Sleep(150 * time.Millisecond) // let the build open the file and wait on it
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	sweeping()
	unlock := <-got
	defer unlock()
	if _, err := lock(expired(), path); err == nil {
		t.Error("a second build locked the file at the path while the first holds the lock")
	}
}
