// Package quickstart makes new topology projects: a wordcount in Go, or in Python run
// through the multi-lang protocol, ready to run with `sparsectl run .` (sparsectl
// quickstart, after streamparse's `sparse quickstart`).
//
// A Go project is a main package calling app.Main, with a go.mod requiring sparse; how
// it gets sparse is decided by LocateSparse (see Sparse). A Python project is a spec
// (topology.yaml, see internal/spec) and its resources folder: the scripts and a copy of
// sparse's Python client (python/sparse_multilang), so that they run with nothing
// installed but python3; it needs no Go.
//
// The project's files are text/template templates embedded in this package
// (templates/common, and templates/go or templates/python); a template's name loses its
// ".tmpl" suffix, and "gitignore" becomes ".gitignore".
package quickstart

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/sparsestream/sparse/python"
)

// The languages a project can be written in.
const (
	Go     = "go"
	Python = "python"
	// Streamparse is Python in streamparse's project layout (config.json, topologies/,
	// src/, virtualenvs/), as streamparse's own quickstart makes it.
	Streamparse = "streamparse"
)

// Langs lists the languages, for messages.
var Langs = []string{Go, Python, Streamparse}

//go:embed all:templates
var templates embed.FS

// Options say what project to make.
type Options struct {
	// Name is the project's folder, topology name and, by default, module path.
	Name string
	// Lang is Go (the default) or Python.
	Lang string
	// Parent is the folder the project is made in (default: the working directory).
	Parent string
	// Module is the module path of a Go project's go.mod (default: Name).
	Module string
	// Sparse says how a Go project depends on sparse (see LocateSparse).
	Sparse Sparse
}

// Project is a project that was made.
type Project struct {
	Options
	Dir   string   // the project's folder
	Files []string // its files, relative to Dir, sorted
}

var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]*$`)

// CheckName reports whether name can name a project: a folder, a topology and a Go
// module.
func CheckName(name string) error {
	if !nameRE.MatchString(name) || strings.HasSuffix(name, ".") || len(name) > 100 {
		return fmt.Errorf("%q cannot name a project: use letters, digits, '.', '_' and '-', starting with a letter (it names the folder, the topology and the Go module), e.g. wordcount", name)
	}
	return nil
}

var modulePathRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~/-]*$`)

func (o *Options) check() error {
	if err := CheckName(o.Name); err != nil {
		return err
	}
	if o.Lang == "" {
		o.Lang = Go
	}
	if !slices.Contains(Langs, o.Lang) {
		return fmt.Errorf("language %q is not one quickstart knows; use %s", o.Lang, strings.Join(Langs, " or "))
	}
	if o.Module == "" {
		o.Module = o.Name
	}
	if !modulePathRE.MatchString(o.Module) || strings.Contains(o.Module, "//") || strings.HasSuffix(o.Module, "/") {
		return fmt.Errorf("module path %q is not a Go module path, e.g. example.com/you/%s", o.Module, o.Name)
	}
	if o.Lang != Go {
		o.Module, o.Sparse = "", Sparse{}
		return nil
	}
	if o.Sparse.Version == "" {
		return errors.New("no sparse version to require; use LocateSparse")
	}
	if o.Sparse.GoVersion == "" {
		o.Sparse.GoVersion = defaultGoVersion
	}
	return nil
}

// Generate makes the project in a new folder Parent/Name, or in an empty existing one.
// It refuses a folder that has anything in it, and removes what it wrote when it
// fails.
func Generate(o Options) (*Project, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	files, err := render(o)
	if err != nil {
		return nil, err
	}
	parent := o.Parent
	if parent == "" {
		parent = "."
	}
	dir := filepath.Join(parent, o.Name)
	created, err := makeEmptyDir(dir)
	if err != nil {
		return nil, err
	}
	p := &Project{Options: o, Dir: dir}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if err := writeFile(filepath.Join(dir, filepath.FromSlash(name)), files[name]); err != nil {
			cleanup(dir, created, p.Files)
			return nil, fmt.Errorf("writing %s: %w", filepath.Join(dir, name), err)
		}
		p.Files = append(p.Files, name)
	}
	return p, nil
}

// makeEmptyDir makes dir, or checks that it is an empty folder; created says whether it
// made it.
func makeEmptyDir(dir string) (created bool, err error) {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return false, fmt.Errorf("making the project folder: %w", err)
		}
		return true, nil
	case err != nil:
		return false, fmt.Errorf("checking the project folder: %w", err)
	case !st.IsDir():
		return false, fmt.Errorf("%s exists and is not a folder; choose another name or --dir", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("checking the project folder: %w", err)
	}
	if len(ents) > 0 {
		return false, fmt.Errorf("%s already exists and is not empty (it has %s); quickstart never overwrites files: choose another name or --dir, or remove it", dir, ents[0].Name())
	}
	return false, nil
}

func writeFile(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cleanup removes what Generate wrote: the folder when it made it, else the files.
func cleanup(dir string, created bool, files []string) {
	if created {
		_ = os.RemoveAll(dir)
		return
	}
	for _, f := range files {
		_ = os.Remove(filepath.Join(dir, filepath.FromSlash(f)))
	}
	_ = os.RemoveAll(filepath.Join(dir, "sparse_multilang")) // left empty
}

// templateData is what the templates see.
type templateData struct {
	Name, Lang, Module, GoVersion string
	Sparse                        Sparse
}

// render returns the project's files by slash-separated name.
func render(o Options) (map[string][]byte, error) {
	data := templateData{Name: o.Name, Lang: o.Lang, Module: o.Module, GoVersion: o.Sparse.GoVersion, Sparse: o.Sparse}
	funcs := template.FuncMap{"modpath": modPath}
	files := map[string][]byte{}
	for _, root := range []string{"templates/common", "templates/" + o.Lang} {
		err := fs.WalkDir(templates, root, func(name string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel := strings.TrimPrefix(name, root+"/")
			if rel == "go.work.tmpl" && o.Sparse.Source == "" {
				return nil // a published sparse needs no workspace
			}
			src, err := fs.ReadFile(templates, name)
			if err != nil {
				return err
			}
			out := src
			if strings.HasSuffix(rel, ".tmpl") {
				rel = strings.TrimSuffix(rel, ".tmpl")
				t, err := template.New(rel).Funcs(funcs).Option("missingkey=error").Parse(string(src))
				if err != nil {
					return fmt.Errorf("template %s: %w", name, err)
				}
				var buf bytes.Buffer
				if err := t.Execute(&buf, data); err != nil {
					return fmt.Errorf("template %s: %w", name, err)
				}
				out = buf.Bytes()
				if len(out) > 0 && out[len(out)-1] != '\n' {
					out = append(out, '\n')
				}
			}
			if path.Base(rel) == "gitignore" {
				rel = path.Join(path.Dir(rel), ".gitignore")
			}
			files[rel] = out
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if o.Lang == Python {
		if err := addClient(files); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// addClient adds sparse's Python client, python/sparse_multilang, to the files.
func addClient(files map[string][]byte) error {
	n := 0
	err := fs.WalkDir(python.Client, "sparse_multilang", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(name, ".py") {
			return err
		}
		b, err := fs.ReadFile(python.Client, name)
		if err != nil {
			return err
		}
		files[name] = b
		n++
		return nil
	})
	if err == nil && n == 0 {
		err = errors.New("the bundled Python client is empty")
	}
	if err != nil {
		return fmt.Errorf("copying the Python client: %w", err)
	}
	return nil
}

// modPath writes a file path as go.mod and go.work do: bare, or quoted when it has
// spaces or quotes.
func modPath(p string) string {
	if strings.ContainsAny(p, " \t\"'`") || p == "" {
		return strconv.Quote(p)
	}
	return p
}

// NextSteps writes what to do with the project.
func NextSteps(w io.Writer, p *Project) error {
	var b strings.Builder
	if p.Lang == Streamparse {
		fmt.Fprintf(&b, "Created %s: a streamparse project with a wordcount topology (%d files): topologies/wordcount.py\n", p.Dir, len(p.Files))
		b.WriteString("wires the spout and the bolt of src/ with streamparse's DSL.\n")
		fmt.Fprintf(&b, "\nNext steps:\n\n  cd %s\n  sparsectl run -n wordcount -t 10\n", p.Dir)
		b.WriteString("\nand, on a cluster (the nimbus of config.json's prod environment):\n\n  sparsectl submit -n wordcount -e prod\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	if p.Lang == Python {
		fmt.Fprintf(&b, "Created %s: a wordcount topology in Python (%d files). topology.yaml wires the spout\n", p.Dir, len(p.Files))
		b.WriteString("and the bolts, Python scripts that sparse runs with python3.\n")
		fmt.Fprintf(&b, "\nNext steps:\n\n  cd %s\n  sparsectl run . --time 10s\n", p.Dir)
		b.WriteString("\nand, on a cluster:\n\n  sparsectl submit .\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "Created %s: a wordcount topology in Go (%d files).\n", p.Dir, len(p.Files))
	if p.Sparse.Source != "" {
		fmt.Fprintf(&b, "It builds against the sparse source tree at %s (see go.work and the README).\n", p.Sparse.Source)
	} else {
		fmt.Fprintf(&b, "It requires github.com/sparsestream/sparse %s.\n", p.Sparse.Version)
	}
	fmt.Fprintf(&b, "\nNext steps:\n\n  cd %s\n", p.Dir)
	if p.Sparse.Source == "" {
		b.WriteString("  go mod tidy                  # fetches sparse and writes go.sum, once\n")
	}
	b.WriteString("  sparsectl run . --time 10s\n")
	fmt.Fprintf(&b, "\nand, on a cluster:\n\n  go build -o %s .\n  sparsectl submit ./%s\n", p.Name, p.Name)
	_, err := io.WriteString(w, b.String())
	return err
}
