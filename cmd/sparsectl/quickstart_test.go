//go:build unix

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestQuickstartRuns makes a Go and a Python project with the sparsectl binary, the way
// a user does, and runs each with `sparsectl run --time 3s`: the final summary must show
// sentences acked (all of them for Go), nothing failed, and no errors. The Go project is run from its
// folder (`sparsectl run .`, as its README says: the go tool finds its go.mod and go.work
// from the working directory) and its own test must pass; sparsectl finds the source tree
// it was built from by itself. The Python project, a spec, is run by its path from
// elsewhere (`sparsectl run <dir>`) and needs no Go at all.
func TestQuickstartRuns(t *testing.T) {
	ctl := sparsectl(t)
	for _, tc := range []struct {
		lang, name string
		sentences  int
	}{
		{"go", "gowords", 1000},
		{"python", "pywords", 100},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			if tc.lang == "python" {
				if _, err := exec.LookPath("python3"); err != nil {
					t.Skip("python3 is not on PATH")
				}
			}
			parent := t.TempDir()
			out, errOut, err := runIn(t, ".", 2*time.Minute, ctl, "quickstart", tc.name, "--lang", tc.lang, "--dir", parent)
			if err != nil {
				t.Fatalf("sparsectl quickstart: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
			}
			dir := filepath.Join(parent, tc.name)
			for _, w := range []string{"Created " + dir, "cd " + dir, "sparsectl run . --time 10s", "sparsectl submit ."} {
				if !strings.Contains(out, w) {
					t.Errorf("quickstart's next steps do not say %q:\n%s", w, out)
				}
			}
			_, err = os.Stat(filepath.Join(dir, "go.work"))
			if tc.lang == "go" && err != nil {
				t.Errorf("no go.work in a Go project made by a sparsectl built from source: %v", err)
			}

			runDir, target := dir, "."
			if tc.lang == "python" {
				runDir, target = t.TempDir(), dir
			}
			limit := tc.name + ".sentences=" + strconv.Itoa(tc.sentences)
			out, errOut, err = runIn(t, runDir, 4*time.Minute, ctl, "run", target, "--time", "3s", "--stats-every", "0", "-o", limit)
			if err != nil {
				t.Fatalf("sparsectl run %s: %v\nstdout:\n%s\nstderr:\n%s", target, err, out, errOut)
			}
			spout := finalLine(t, out, "sentences")
			want := `^sentences\s+spout\s+emitted=\d+ acked=[1-9]\d* failed=0 `
			if tc.lang == "go" {
				// In Go, the whole limit is done in well under the 3s.
				n := strconv.Itoa(tc.sentences)
				want = `^sentences\s+spout\s+emitted=` + n + ` acked=` + n + ` failed=0 pending=0 `
			}
			if !regexp.MustCompile(want).MatchString(spout) {
				t.Errorf("final spout line = %q, want it to match %s\nstderr:\n%s", spout, want, errOut)
			}
			for _, c := range []string{"split", "count"} {
				if l := finalLine(t, out, c); !strings.Contains(l, " failed=0") || strings.Contains(l, " acked=0") {
					t.Errorf("final %s line = %q, want acked tuples and failed=0", c, l)
				}
			}
			if _, final, _ := strings.Cut(out, "final:"); strings.Contains(final, "errors=") {
				t.Errorf("the final summary reports errors:\n%s\nstderr:\n%s", final, errOut)
			}

			if tc.lang == "go" {
				if out, errOut, err := runIn(t, dir, 4*time.Minute, "go", "test", "./..."); err != nil {
					t.Errorf("go test in the Go project: %v\n%s%s", err, out, errOut)
				}
			}
		})
	}
}

// TestQuickstartRefuses: quickstart never touches an existing non-empty folder, and
// rejects a bad name or language before writing anything.
func TestQuickstartRefuses(t *testing.T) {
	parent := t.TempDir()
	mine := filepath.Join(parent, "taken", "notes.txt")
	if err := os.MkdirAll(filepath.Dir(mine), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mine, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"quickstart", "taken", "--dir", parent}, "already exists and is not empty"},
		{[]string{"quickstart", "bad/name", "--dir", parent}, "cannot name a project"},
		{[]string{"quickstart", "fresh", "--lang", "cobol", "--dir", parent}, `language "cobol" is not one quickstart knows; use go or python`},
		{[]string{"quickstart", "fresh", "--dir", parent, "--sparse-source", parent}, "no go.mod there"},
		{[]string{"quickstart", "fresh", "--dir", parent, "--lang", "python", "--module", "example.com/x"}, "--module is for Go projects"},
		{[]string{"quickstart", "--dir", parent}, "accepts 1 arg(s), received 0"},
	} {
		cmd := rootCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(tc.args)
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("sparsectl %v: error %v, want one saying %q", tc.args, err, tc.want)
		}
	}
	ents, _ := os.ReadDir(parent)
	if len(ents) != 1 {
		t.Errorf("the parent folder holds %d entries after refused quickstarts, want only the one that was there", len(ents))
	}
	if b, err := os.ReadFile(mine); err != nil || string(b) != "mine" {
		t.Errorf("the existing file was touched: %q, %v", b, err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(mine)); len(ents) != 1 {
		t.Errorf("files were added to the existing folder: %v", ents)
	}
}

// runIn runs a program in dir to completion, killing it after timeout.
func runIn(t *testing.T, dir string, timeout time.Duration, prog string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %v did not finish within %v\nstdout:\n%s\nstderr:\n%s", prog, args, timeout, o.String(), e.String())
	}
	return o.String(), e.String(), err
}
