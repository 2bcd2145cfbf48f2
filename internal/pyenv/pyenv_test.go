package pyenv_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/pyenv"
	"github.com/sparsestream/sparse/internal/streamparse/sptest"
)

func TestRequirements(t *testing.T) {
	cases := []struct {
		in      string
		kept    []string
		dropped bool
	}{
		{"streamparse\n", nil, true},
		{"streamparse>=3.0  # the CLI\nredis==4.0\n", []string{"redis==4.0"}, true},
		{"# comment\n\nStreamParse ; python_version>'3'\nsimplejson\n", []string{"simplejson"}, true},
		{"streamparse-extras\nstream_parse\n", []string{"streamparse-extras", "stream_parse"}, false},
		{"-r other.txt\nfoo[bar]\n", []string{"-r other.txt", "foo[bar]"}, false},
	}
	for _, tc := range cases {
		kept, dropped := pyenv.Requirements([]byte(tc.in))
		if !slices.Equal(kept, tc.kept) || dropped != tc.dropped {
			t.Errorf("Requirements(%q) = %q, %v; want %q, %v", tc.in, kept, dropped, tc.kept, tc.dropped)
		}
	}
}

func writeReqs(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "reqs.txt")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEnsureFromWheelhouse: a requirement found in a wheelhouse is installed with no
// index into a virtualenv whose python imports it; asking again reuses the virtualenv;
// a requirement listing only streamparse needs none.
func TestEnsureFromWheelhouse(t *testing.T) {
	wheels := t.TempDir()
	sptest.WriteWheel(t, wheels, "sparsetestpkg", "w-")
	cache := t.TempDir()
	ctx := context.Background()
	o := pyenv.Options{Wheelhouse: wheels}
	dir, key, err := pyenv.Ensure(ctx, cache, writeReqs(t, "streamparse", "sparsetestpkg==1.0"), o)
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(cache, key) {
		t.Errorf("dir %s is not the cache's %s", dir, key)
	}
	out, err := exec.Command(filepath.Join(pyenv.BinDir(dir), "python3"), "-c", "import sparsetestpkg; print(sparsetestpkg.transform('x'))").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "w-x" {
		t.Fatalf("the virtualenv's python: %v\n%s", err, out)
	}
	mark := filepath.Join(dir, "kept")
	if err := os.WriteFile(mark, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	again, key2, err := pyenv.Ensure(ctx, cache, writeReqs(t, "sparsetestpkg==1.0"), o)
	if err != nil || again != dir || key2 != key {
		t.Fatalf("second Ensure = %s, %s, %v; want the same virtualenv", again, key2, err)
	}
	if _, err := os.Stat(mark); err != nil {
		t.Error("the virtualenv was built again")
	}
	if d, _, err := pyenv.Ensure(ctx, cache, writeReqs(t, "# only", "streamparse"), o); d != "" || err != nil {
		t.Errorf("only streamparse: Ensure = %q, %v; want no virtualenv", d, err)
	}
	env := pyenv.Environ([]string{"PATH=/usr/bin", "HOME=/h", "VIRTUAL_ENV=/old"}, dir)
	if !slices.Contains(env, "PATH="+pyenv.BinDir(dir)+":/usr/bin") || !slices.Contains(env, "VIRTUAL_ENV="+dir) || slices.Contains(env, "VIRTUAL_ENV=/old") {
		t.Errorf("Environ = %q", env)
	}

	// Unused and old: swept; in use: kept.
	if got := pyenv.Sweep(cache, map[string]bool{key: true}, 0, time.Now().Add(time.Hour)); len(got) != 0 {
		t.Errorf("Sweep removed %v, which is in use", got)
	}
	if got := pyenv.Sweep(cache, nil, time.Minute, time.Now()); len(got) != 0 {
		t.Errorf("Sweep removed %v, used a moment ago", got)
	}
	if got := pyenv.Sweep(cache, nil, time.Minute, time.Now().Add(time.Hour)); !slices.Equal(got, []string{dir}) {
		t.Errorf("Sweep removed %v, want %s", got, dir)
	}
}

// TestEnsureBadRequirement: pip's failure comes back as an InstallError naming the
// requirement, with pip's last lines; it is remembered, and Remove forgets it.
func TestEnsureBadRequirement(t *testing.T) {
	cache := t.TempDir()
	o := pyenv.Options{Wheelhouse: t.TempDir()}
	reqs := writeReqs(t, "streamparse", "nosuchpkg-sparse==9.9")
	_, key, err := pyenv.Ensure(context.Background(), cache, reqs, o)
	var ie *pyenv.InstallError
	if !errors.As(err, &ie) {
		t.Fatalf("Ensure = %v, want an InstallError", err)
	}
	if ie.Requirement != "nosuchpkg-sparse==9.9" || !strings.Contains(ie.Output, "No matching distribution found") {
		t.Errorf("InstallError = %+v", ie)
	}
	if !strings.Contains(err.Error(), `requirement "nosuchpkg-sparse==9.9"`) || !strings.Contains(err.Error(), "--wheelhouse") {
		t.Errorf("message: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cache, key)); err == nil {
		t.Error("a failed virtualenv was kept")
	}
	_, _, err2 := pyenv.Ensure(context.Background(), cache, reqs, o)
	if !errors.As(err2, &ie) || ie.Requirement != "nosuchpkg-sparse==9.9" {
		t.Errorf("the failure is not remembered: %v", err2)
	}
	if err := pyenv.Remove(cache, key); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cache, "."+key+".failed")); err == nil {
		t.Error("Remove kept the failure")
	}
}
