package quickstart

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// ModulePath is sparse's Go module.
const ModulePath = "github.com/sparsestream/sparse"

// PlaceholderVersion is the version a project requires when sparse's own is not known:
// the one `go mod tidy` writes for a module that a workspace or a replace provides.
const PlaceholderVersion = "v0.0.0-00010101000000-000000000000"

// defaultGoVersion is the go line of a project when neither sparse's go.mod nor the
// toolchain says better: sparse's own minimum.
const defaultGoVersion = "1.26.0"

// Sparse says how a project depends on sparse.
//
// A sparsectl installed from a published module (go install ...@v1.2.3) knows its
// version: the project's go.mod requires it and nothing else is needed. A sparsectl built
// from a source checkout has no published version to require, so the project requires
// Version (the pseudo-version of the build when the go tool stamped one, else
// PlaceholderVersion) and gets a go.work file that makes it a Go workspace with the
// checkout: `use` for the checkout (whose go.sum then covers sparse's dependencies) and a
// `replace` of that version by it. The checkout's path is found when sparsectl runs
// (never written into sparse's own files) and lives only in go.work, which is local to
// the machine by Go's convention, so go.mod stays the portable file it would be with a
// published sparse. A `replace` in go.mod would do the same job but put this machine's
// path into a file that is committed.
type Sparse struct {
	// Version is the version of github.com/sparsestream/sparse that go.mod requires.
	Version string
	// Source is the folder of the sparse source tree that go.work points the project
	// at (absolute); empty when Version is published.
	Source string
	// GoVersion is the go line of go.mod and go.work.
	GoVersion string
}

// LocateSparse decides how a project made by this program depends on sparse. source,
// when not empty, is a sparse source tree to build against (sparsectl's --sparse-source).
// Otherwise a published build requires its own version, and a build from a source
// checkout looks for the checkout: where this file was compiled from, then above the
// running executable (a `make build` puts it in the checkout's bin/), then above the
// working directory.
func LocateSparse(source string) (Sparse, error) {
	version, published := buildVersion()
	if source != "" {
		root, err := checkSource(source)
		if err != nil {
			return Sparse{}, err
		}
		return workspace(root, version), nil
	}
	if published {
		return Sparse{Version: version, GoVersion: toolchainGoVersion()}, nil
	}
	for _, start := range candidates() {
		if root, ok := findSource(start); ok {
			return workspace(root, version), nil
		}
	}
	return Sparse{}, fmt.Errorf("this sparsectl was built from a source tree of %s, which is not published on a module proxy, "+
		"and that source tree is not found around it; pass its folder with --sparse-source DIR (the folder holding sparse's go.mod)", ModulePath)
}

// workspace is the dependency on the source tree at root.
func workspace(root, version string) Sparse {
	if version == "" {
		version = PlaceholderVersion
	}
	gov := goDirective(filepath.Join(root, "go.mod"))
	if gov == "" {
		gov = toolchainGoVersion()
	}
	return Sparse{Version: version, Source: root, GoVersion: gov}
}

var semverRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)

// buildVersion returns the version of sparse this program was built from, usable in a
// go.mod require ("" when there is none), and whether it is published: a module
// version built from the module cache, not from a VCS checkout.
func buildVersion() (version string, published bool) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", false
	}
	var v string
	switch bi.Main.Path {
	case ModulePath:
		v = bi.Main.Version
	default: // sparse as a dependency of another program
		for _, d := range bi.Deps {
			if d.Path == ModulePath {
				if d.Replace != nil {
					return "", false
				}
				v = d.Version
			}
		}
	}
	vcs := false
	for _, s := range bi.Settings {
		if s.Key == "vcs" {
			vcs = true
		}
	}
	// A checkout build may be stamped v0.0.0-<time>-<commit>+dirty; the +dirty part has
	// no place in a go.mod.
	clean, dirty := strings.CutSuffix(v, "+dirty")
	if !semverRE.MatchString(clean) {
		return "", false
	}
	return clean, !vcs && !dirty
}

// candidates are the folders to look for the source tree above.
func candidates() []string {
	var out []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) { // not with -trimpath
		out = append(out, filepath.Dir(file))
	}
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		out = append(out, filepath.Dir(exe))
	}
	if wd, err := os.Getwd(); err == nil {
		out = append(out, wd)
	}
	return out
}

// findSource looks for sparse's go.mod in start and the folders above it.
func findSource(start string) (string, bool) {
	for dir := start; ; {
		if modulePath(filepath.Join(dir, "go.mod")) == ModulePath {
			if abs, err := filepath.Abs(dir); err == nil {
				return abs, true
			}
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", false
		}
		dir = up
	}
}

// checkSource checks that dir holds sparse's go.mod and returns it absolute.
func checkSource(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	switch got := modulePath(filepath.Join(abs, "go.mod")); got {
	case ModulePath:
		return abs, nil
	case "":
		return "", fmt.Errorf("--sparse-source %s: no go.mod there; give the folder of a sparse source tree (the one holding the go.mod of %s)", dir, ModulePath)
	default:
		return "", fmt.Errorf("--sparse-source %s: its go.mod is module %s, not %s", dir, got, ModulePath)
	}
}

// modulePath reads the module line of a go.mod ("" when there is none).
func modulePath(gomod string) string {
	return directive(gomod, "module")
}

// goDirective reads the go line of a go.mod.
func goDirective(gomod string) string {
	return directive(gomod, "go")
}

func directive(gomod, key string) string {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == key {
			if s, err := strconv.Unquote(f[1]); err == nil {
				return s
			}
			return f[1]
		}
	}
	return ""
}

var toolchainRE = regexp.MustCompile(`go([0-9]+\.[0-9]+(\.[0-9]+)?)`)

// toolchainGoVersion is the Go version this program was built with, which is at least
// the go line of sparse's go.mod.
func toolchainGoVersion() string {
	if m := toolchainRE.FindStringSubmatch(runtime.Version()); m != nil {
		if m[2] == "" {
			return m[1] + ".0"
		}
		return m[1]
	}
	return defaultGoVersion
}
