package quickstart

import (
	"bytes"
	"go/format"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/sparsestream/sparse/internal/spec"
	"github.com/sparsestream/sparse/python"
)

// fakeSource is a sparse source tree for tests that do not build the project.
const fakeSource = "/src/sparse"

func workspaceSparse() Sparse {
	return Sparse{Version: PlaceholderVersion, Source: fakeSource, GoVersion: "1.26.0"}
}

func generate(t *testing.T, o Options) (*Project, map[string]string) {
	t.Helper()
	if o.Parent == "" {
		o.Parent = t.TempDir()
	}
	p, err := Generate(o)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	files := map[string]string{}
	err = filepath.WalkDir(p.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(p.Dir, path)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(files)); !slices.Equal(got, p.Files) {
		t.Errorf("Project.Files = %v, but the folder holds %v", p.Files, got)
	}
	return p, files
}

// checkGo checks that every Go file is gofmt-formatted Go.
func checkGo(t *testing.T, files map[string]string) {
	t.Helper()
	for name, src := range files {
		if !strings.HasSuffix(name, ".go") {
			continue
		}
		out, err := format.Source([]byte(src))
		if err != nil {
			t.Errorf("%s is not Go: %v\n%s", name, err, src)
		} else if !bytes.Equal(out, []byte(src)) {
			t.Errorf("%s is not gofmt-formatted:\n%s", name, src)
		}
	}
}

func contains(t *testing.T, files map[string]string, name string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(files[name], w) {
			t.Errorf("%s does not contain %q:\n%s", name, w, files[name])
		}
	}
}

func TestGenerateGo(t *testing.T) {
	p, files := generate(t, Options{Name: "wc", Sparse: workspaceSparse()})
	want := []string{".gitignore", "README.md", "go.mod", "go.work", "main.go", "topology.go", "topology_test.go"}
	if !slices.Equal(p.Files, want) {
		t.Errorf("files = %v, want %v", p.Files, want)
	}
	checkGo(t, files)
	contains(t, files, "go.mod", "module wc\n", "go 1.26.0\n", "require github.com/sparsestream/sparse "+PlaceholderVersion+"\n")
	if strings.Contains(files["go.mod"], "replace") {
		t.Errorf("go.mod has a replace directive; the local path belongs in go.work:\n%s", files["go.mod"])
	}
	contains(t, files, "go.work", "go 1.26.0\n", "use (\n\t.\n\t"+fakeSource+"\n)\n",
		"replace github.com/sparsestream/sparse "+PlaceholderVersion+" => "+fakeSource+"\n")
	contains(t, files, ".gitignore", "/wc\n", "go.work\ngo.work.sum\n")
	contains(t, files, "main.go", "app.Main(Topology())")
	contains(t, files, "topology.go", `topology.NewBuilder("wc")`, `ConfSentences = "wc.sentences"`)
	contains(t, files, "README.md", "sparsectl run . --time 10s", "sparsectl submit ./wc", fakeSource, "go work use")
}

func TestGeneratePython(t *testing.T) {
	// A Python project ignores the Go settings.
	p, files := generate(t, Options{Name: "pywc", Lang: Python, Module: "example.com/x", Sparse: workspaceSparse()})
	for _, f := range []string{".gitignore", "README.md", "topology.yaml", "spout.py", "split.py", "count.py"} {
		if _, ok := files[f]; !ok {
			t.Errorf("no %s among %v", f, p.Files)
		}
	}
	for name := range files {
		if strings.HasSuffix(name, ".go") || strings.HasPrefix(name, "go.") {
			t.Errorf("a Python project has the Go file %s", name)
		}
	}
	// The client is sparse's, file for file.
	n := 0
	err := fs.WalkDir(python.Client, "sparse_multilang", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(python.Client, name)
		if files[name] != string(b) {
			t.Errorf("%s differs from sparse's Python client", name)
		}
		n++
		return err
	})
	if err != nil || n == 0 {
		t.Fatalf("reading the bundled client: %v (%d files)", err, n)
	}
	for name := range files {
		if strings.HasPrefix(name, "sparse_multilang/") && !strings.HasSuffix(name, ".py") {
			t.Errorf("%s is not a file of the client", name)
		}
	}
	contains(t, files, "spout.py", `conf.get("pywc.sentences")`)
	contains(t, files, ".gitignore", "__pycache__/\n")
	contains(t, files, "README.md", "sparsectl run . --time 10s", "sparsectl submit .", "python3")
	if strings.Contains(files["README.md"], "go.work") {
		t.Errorf("the README of a Python project mentions go.work:\n%s", files["README.md"])
	}

	// The spec is valid and names scripts that are there.
	b, err := spec.Load(filepath.Join(p.Dir, "topology.yaml"), spec.Options{})
	if err != nil {
		t.Fatalf("the generated topology.yaml does not load: %v", err)
	}
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "pywc" || len(s.Components) != 3 {
		t.Errorf("spec %q has %d components, want pywc with 3", s.Name, len(s.Components))
	}
}

// TestGeneratePublished: with a published sparse, go.mod requires it and there is no
// workspace.
func TestGeneratePublished(t *testing.T) {
	p, files := generate(t, Options{Name: "wc", Module: "example.com/me/wc", Sparse: Sparse{Version: "v1.2.3", GoVersion: "1.26.2"}})
	if _, ok := files["go.work"]; ok {
		t.Error("a project on a published sparse has a go.work")
	}
	contains(t, files, "go.mod", "module example.com/me/wc\n", "go 1.26.2\n", "require github.com/sparsestream/sparse v1.2.3\n")
	for _, f := range []string{".gitignore", "README.md"} {
		if strings.Contains(files[f], "go.work") {
			t.Errorf("%s mentions go.work:\n%s", f, files[f])
		}
	}
	contains(t, files, "README.md", "## Run it locally\n\nOnce, to fetch sparse and write `go.sum`: `go mod tidy`.\n\nEvery component")
	var b strings.Builder
	if err := NextSteps(&b, p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "cd "+p.Dir+"\n  go mod tidy ") {
		t.Errorf("next steps do not say to run go mod tidy first:\n%s", b.String())
	}
}

func TestGenerateQuotesPathsWithSpaces(t *testing.T) {
	sp := workspaceSparse()
	sp.Source = "/home/me/my src/sparse"
	_, files := generate(t, Options{Name: "wc", Sparse: sp})
	contains(t, files, "go.work", "\t\"/home/me/my src/sparse\"\n", `=> "/home/me/my src/sparse"`)
}

// TestGenerateRefusesExisting: an existing non-empty folder, or a file, is left alone;
// an empty folder is used.
func TestGenerateRefusesExisting(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "wc")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Generate(Options{Name: "wc", Parent: parent, Sparse: workspaceSparse()})
	if err == nil || !strings.Contains(err.Error(), "already exists and is not empty") || !strings.Contains(err.Error(), "never overwrites") {
		t.Fatalf("Generate into a non-empty folder: %v, want a refusal", err)
	}
	ents, _ := os.ReadDir(dir)
	if b, _ := os.ReadFile(filepath.Join(dir, "main.go")); len(ents) != 1 || string(b) != "mine" {
		t.Errorf("the folder was touched: %d entries, main.go = %q", len(ents), b)
	}

	if err := os.WriteFile(filepath.Join(parent, "afile"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(Options{Name: "afile", Parent: parent, Sparse: workspaceSparse()}); err == nil || !strings.Contains(err.Error(), "is not a folder") {
		t.Errorf("Generate onto a file: %v, want a refusal", err)
	}

	if err := os.Mkdir(filepath.Join(parent, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(Options{Name: "empty", Parent: parent, Sparse: workspaceSparse()}); err != nil {
		t.Errorf("Generate into an empty folder: %v", err)
	}
}

func TestOptionsRejected(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Name: "9lives"}, "cannot name a project"},
		{Options{Name: "a/b"}, "cannot name a project"},
		{Options{Name: "../x"}, "cannot name a project"},
		{Options{Name: ""}, "cannot name a project"},
		{Options{Name: "wc."}, "cannot name a project"},
		{Options{Name: "wc", Lang: "java"}, `language "java"`},
		{Options{Name: "wc", Module: "bad module"}, "not a Go module path"},
	} {
		tc.o.Parent = t.TempDir()
		tc.o.Sparse = workspaceSparse()
		_, err := Generate(tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Generate(%+v) = %v, want an error saying %q", tc.o, err, tc.want)
		}
		if ents, _ := os.ReadDir(tc.o.Parent); len(ents) != 0 {
			t.Errorf("Generate(%+v) failed but wrote %v", tc.o, ents)
		}
	}
	for _, ok := range []string{"wordcount", "word-count", "wc_2", "my.topology"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q): %v", ok, err)
		}
	}
}

// repoRoot is the sparse source tree these tests run in.
func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	root, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestLocateSparse(t *testing.T) {
	root := repoRoot(t)
	// A test binary is built from the source tree: it finds it by itself.
	sp, err := LocateSparse("")
	if err != nil {
		t.Fatalf("LocateSparse: %v", err)
	}
	if sp.Source != root || sp.Version == "" || sp.GoVersion != goDirective(filepath.Join(root, "go.mod")) {
		t.Errorf("LocateSparse = %+v, want the source tree %s with its go version", sp, root)
	}
	// An explicit folder is checked.
	rel, err := filepath.Rel(mustWd(t), root)
	if err != nil {
		t.Fatal(err)
	}
	if sp, err := LocateSparse(rel); err != nil || sp.Source != root {
		t.Errorf("LocateSparse(%q) = %+v, %v; want %s", rel, sp, err, root)
	}
	if _, err := LocateSparse(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no go.mod there") {
		t.Errorf("LocateSparse(an empty folder) = %v, want an error", err)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other // not sparse\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LocateSparse(other); err == nil || !strings.Contains(err.Error(), "is module example.com/other") {
		t.Errorf("LocateSparse(another module) = %v, want an error", err)
	}
}

func mustWd(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

func TestToolchainGoVersion(t *testing.T) {
	v := toolchainGoVersion()
	if strings.Count(v, ".") != 2 {
		t.Errorf("toolchainGoVersion() = %q, want a version like 1.26.0", v)
	}
}

func TestNextSteps(t *testing.T) {
	for _, tc := range []struct {
		lang string
		want []string
	}{
		{Go, []string{"in Go", "/src/sparse (see go.work", "sparsectl run . --time 10s", "go build -o wc .", "sparsectl submit ./wc"}},
		{Python, []string{"in Python", "python3", "sparsectl run . --time 10s", "sparsectl submit ."}},
	} {
		p, _ := generate(t, Options{Name: "wc", Lang: tc.lang, Sparse: workspaceSparse()})
		var b strings.Builder
		if err := NextSteps(&b, p); err != nil {
			t.Fatal(err)
		}
		for _, w := range append(tc.want, "Created "+p.Dir, "cd "+p.Dir+"\n") {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s next steps do not say %q:\n%s", tc.lang, w, b.String())
			}
		}
	}
}
