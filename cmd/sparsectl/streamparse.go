package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/ctl"
	"github.com/sparsestream/sparse/internal/generic"
	"github.com/sparsestream/sparse/internal/pyenv"
	"github.com/sparsestream/sparse/internal/spec"
	"github.com/sparsestream/sparse/internal/streamparse"
	"github.com/sparsestream/sparse/pkg/app"
	"github.com/sparsestream/sparse/pkg/topology"
)

// streamparse projects (config.json with topology_specs, topologies/NAME.py, src/,
// virtualenvs/NAME.txt) are run and submitted here: the topology file is evaluated by
// the bundled Python client into a spec, which runs like any other spec with src/ as
// its resources folder.

// projectArg returns the streamparse project an invocation names: the argument when it
// is a project folder (and not a spec folder), or the working directory when there is
// no argument and it is a project.
func projectArg(args []string) (string, bool) {
	switch len(args) {
	case 0:
		return ".", streamparse.IsProject(".")
	case 1:
		st, err := os.Stat(args[0])
		return args[0], err == nil && st.IsDir() && !isSpec(args[0]) && streamparse.IsProject(args[0])
	}
	return "", false
}

// errNoArgument is returned by run and submit with no argument outside a project.
func errNoArgument(verb string) error {
	return fmt.Errorf("nothing to %s: pass a Go main package, a topology binary or a spec (topology.yaml), or run in a streamparse project folder (one holding a config.json with topology_specs)", verb)
}

// projectFlags are the flags of run and submit that only streamparse projects take.
type projectFlags struct {
	ackers     int
	workers    int
	debug      bool
	noVenv     bool
	verbose    bool
	wheelhouse string
	pipIndex   string
	// downloadWheels builds the wheels of the requirements at submit time (pip wheel),
	// to ship them in the bundle.
	downloadWheels bool
}

// localVenvCache is where sparsectl keeps the virtualenvs of local runs:
// $XDG_CACHE_HOME/sparse/venvs, else ~/.cache/sparse/venvs.
func localVenvCache() (string, error) {
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "sparse", "venvs"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding a folder for virtualenvs: %w; set XDG_CACHE_HOME or pass --no-venv", err)
	}
	return filepath.Join(home, ".cache", "sparse", "venvs"), nil
}

// projectVenv returns the local virtualenv of topology name (built from
// virtualenvs/NAME.txt if needed), or "" when the topology has no requirements beyond
// streamparse or --no-venv is given.
func projectVenv(ctx context.Context, dir, name string, pf *projectFlags, logOut io.Writer) (string, error) {
	if pf.noVenv {
		return "", nil
	}
	p, err := streamparse.Open(dir)
	if err != nil {
		return "", err
	}
	name, _, err = p.Resolve(name)
	if err != nil {
		return "", err
	}
	reqs := p.Requirements(name)
	if reqs == "" {
		return "", nil
	}
	cache, err := localVenvCache()
	if err != nil {
		return "", err
	}
	venv, _, err := pyenv.Ensure(ctx, cache, reqs, pyenv.Options{Wheelhouse: pf.wheelhouse, Index: pf.pipIndex,
		Log: func(msg string) { fmt.Fprintln(logOut, msg) }})
	if err != nil {
		return "", fmt.Errorf("the virtualenv of topology %s (%s, or run with --no-venv): %w", name, p.Requirements(name), err)
	}
	return venv, nil
}

// overrides are the config values the flags set, for any kind of topology.
func (pf *projectFlags) overrides(cmd *cobra.Command) []string {
	var out []string
	if cmd.Flags().Changed("ackers") {
		out = append(out, topology.ConfAckerExecutors+"="+strconv.Itoa(pf.ackers))
	}
	if cmd.Flags().Changed("workers") && cmd.Name() == "run" {
		out = append(out, topology.ConfWorkers+"="+strconv.Itoa(pf.workers))
	}
	if pf.debug {
		out = append(out, topology.ConfDebug+"=true")
	}
	return out
}

// projectSpec is a streamparse topology made a spec: a temporary folder holding the
// spec file, and the resources folder its components run in.
type projectSpec struct {
	project   *streamparse.Project
	name      string
	specPath  string
	resources string
	topology  *streamparse.Topology
	venv      string // the local virtualenv, if any
	dir       string // temporary; removed by cleanup
}

func (ps *projectSpec) cleanup() {
	if ps.dir != "" {
		os.RemoveAll(ps.dir)
	}
}

// loadProject evaluates topology name of the project in dir and writes its spec.
func loadProject(ctx context.Context, dir, name string, pf *projectFlags, logOut io.Writer) (*projectSpec, error) {
	venv, err := projectVenv(ctx, dir, name, pf, logOut)
	if err != nil {
		return nil, err
	}
	python := ""
	if venv != "" {
		python = filepath.Join(pyenv.BinDir(venv), streamparse.PythonCommand)
	}
	p, err := streamparse.Open(dir)
	if err != nil {
		return nil, err
	}
	name, _, err = p.Resolve(name)
	if err != nil {
		return nil, err
	}
	client, err := generic.ExtractPythonClient()
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(client)
	topo, err := p.Evaluate(ctx, name, streamparse.EvalOptions{Python: python, ClientDir: client})
	if err != nil {
		return nil, err
	}
	yml, err := topo.Spec(streamparse.SpecOptions{Serializer: p.Config.Serializer})
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "sparse-streamparse-")
	if err != nil {
		return nil, fmt.Errorf("making a folder for the spec: %w", err)
	}
	ps := &projectSpec{project: p, name: name, topology: topo, dir: tmp, resources: p.SrcDir(), venv: venv,
		specPath: filepath.Join(tmp, spec.BundleSpecName)}
	if err := os.WriteFile(ps.specPath, yml, 0o644); err != nil {
		ps.cleanup()
		return nil, fmt.Errorf("writing the spec: %w", err)
	}
	if pf.verbose {
		fmt.Fprintf(logOut, "topology %s of %s as a spec:\n%s", name, p.Dir, yml)
	}
	return ps, nil
}

// runProject runs a streamparse topology in local mode, in this process.
func runProject(cmd *cobra.Command, dir, name string, f app.RunFlags, pf *projectFlags) error {
	ps, err := loadProject(cmd.Context(), dir, name, pf, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer ps.cleanup()
	if ps.venv != "" {
		// Shell components find python3 through PATH: the virtualenv's comes first.
		for _, kv := range pyenv.Environ([]string{"PATH=" + os.Getenv("PATH")}, ps.venv) {
			k, v, _ := strings.Cut(kv, "=")
			if err := os.Setenv(k, v); err != nil {
				return err
			}
		}
	}
	return runSpec(cmd, ps.specPath, ps.resources, f, "topology "+ps.name)
}

// prepareProjectSubmit packs a streamparse topology into a spec bundle: the spec, the
// project's src folder as its resources, and under .sparse/ the topology file and the
// requirements.
func prepareProjectSubmit(ctx context.Context, dir string, pf *projectFlags, o ctl.SubmitOptions, logOut io.Writer) (*ctl.Submission, func(), error) {
	noop := func() {}
	ps, err := loadProject(ctx, dir, o.Name, pf, logOut)
	if err != nil {
		return nil, noop, err
	}
	defer ps.cleanup()
	o.Name = ps.name
	stage := filepath.Join(ps.dir, "bundle")
	if err := copyTree(ps.resources, stage); err != nil {
		return nil, noop, fmt.Errorf("packing %s: %w", ps.resources, err)
	}
	meta := filepath.Join(stage, ".sparse")
	if err := os.MkdirAll(meta, 0o755); err != nil {
		return nil, noop, err
	}
	_, file, _ := ps.project.Resolve(ps.name)
	if err := copyFile(file, filepath.Join(meta, "topology.py")); err != nil {
		return nil, noop, err
	}
	if reqs := ps.project.Requirements(ps.name); reqs != "" {
		if err := copyFile(reqs, filepath.Join(meta, bundleRequirements)); err != nil {
			return nil, noop, err
		}
	}
	if pf.wheelhouse != "" {
		if err := copyWheels(pf.wheelhouse, filepath.Join(meta, bundleWheelhouse)); err != nil {
			return nil, noop, err
		}
	}
	if pf.downloadWheels {
		if err := buildWheels(ctx, ps, pf, filepath.Join(meta, bundleWheelhouse), logOut); err != nil {
			return nil, noop, err
		}
	}
	w := generic.New(nil)
	defer w.Close()
	b, err := w.Load(ps.specPath, stage)
	if err != nil {
		return nil, noop, fmt.Errorf("topology %s: %w", ps.name, err)
	}
	sp, err := b.Build()
	if err != nil {
		return nil, noop, err
	}
	tmp, err := os.CreateTemp("", "sparse-bundle-*.tar.gz")
	if err != nil {
		return nil, noop, fmt.Errorf("making the bundle: %w", err)
	}
	cleanup := func() { os.Remove(tmp.Name()) }
	err = spec.Pack(tmp, ps.specPath, stage)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		cleanup()
		return nil, noop, fmt.Errorf("making the bundle of topology %s: %w", ps.name, err)
	}
	o.Binary = file
	sub, err := ctl.PrepareArtifact(sp, tmp.Name(), sparsev1.ArtifactKind_ARTIFACT_KIND_SPEC_BUNDLE, o)
	if err != nil {
		cleanup()
		return nil, noop, err
	}
	return sub, cleanup, nil
}

// Where a bundle of a streamparse topology keeps its requirements and wheels (read by
// supervisors: internal/supervisor's venv.go).
const (
	bundleRequirements = "requirements.txt"
	bundleWheelhouse   = "wheelhouse"
)

// buildWheels makes the wheels of the topology's requirements with pip wheel, from the
// index this machine has (--pip-index, or pip's own), into dst: the bundle then installs
// on nodes that have no index. The wheels are built for this machine's Python and
// platform, which must be the nodes'.
func buildWheels(ctx context.Context, ps *projectSpec, pf *projectFlags, dst string, logOut io.Writer) error {
	reqFile := ps.project.Requirements(ps.name)
	if reqFile == "" {
		return fmt.Errorf("--download-wheels: topology %s has no %s%s.txt", ps.name, ps.project.Config.VirtualenvSpecs, ps.name)
	}
	data, err := os.ReadFile(reqFile)
	if err != nil {
		return err
	}
	reqs, _ := pyenv.Requirements(data)
	if len(reqs) == 0 {
		return nil // streamparse only: nothing to ship
	}
	filtered := filepath.Join(ps.dir, "requirements.txt")
	if err := os.WriteFile(filtered, []byte(strings.Join(reqs, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	python := streamparse.PythonCommand
	if ps.venv != "" {
		python = filepath.Join(pyenv.BinDir(ps.venv), streamparse.PythonCommand)
	}
	args := []string{"-m", "pip", "wheel", "--disable-pip-version-check", "--no-input", "-r", filtered, "-w", dst}
	if pf.pipIndex != "" {
		args = append(args, "--index-url", pf.pipIndex)
	}
	fmt.Fprintf(logOut, "building the wheels of %s with pip wheel\n", reqFile)
	out, err := exec.CommandContext(ctx, python, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("--download-wheels: pip wheel failed (does this machine reach a package index? else pass --wheelhouse DIR): %w\n%s", err, lastLines(out, 15))
	}
	return nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// copyWheels copies the *.whl files of dir (and no others) to dst.
func copyWheels(dir, dst string) error {
	wheels, err := filepath.Glob(filepath.Join(dir, "*.whl"))
	if err != nil {
		return err
	}
	if len(wheels) == 0 {
		return fmt.Errorf("--wheelhouse %s holds no wheels (*.whl); fill it with pip wheel -r virtualenvs/NAME.txt -w %s on a machine with an index", dir, dir)
	}
	for _, w := range wheels {
		if err := copyFile(w, filepath.Join(dst, filepath.Base(w))); err != nil {
			return fmt.Errorf("--wheelhouse: %w", err)
		}
	}
	return nil
}

// copyTree copies the regular files under src to dst (links to files as files),
// leaving out what bundles leave out anyway.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "__pycache__" || (strings.HasPrefix(d.Name(), ".") && rel != ".") {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		return copyFile(p, filepath.Join(dst, rel))
	})
}

func copyFile(src, dst string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, st.Mode().Perm()|0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// secondsOrDuration is a --time value: seconds ("20", as streamparse's -t takes) or a
// Go duration ("20s", "1m30s").
type secondsOrDuration struct{ d *time.Duration }

func (v secondsOrDuration) String() string {
	if v.d == nil || *v.d == 0 {
		return "" // no default shown: the usage says what none means
	}
	return v.d.String()
}

func (v secondsOrDuration) Set(s string) error {
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if n < 0 {
			return fmt.Errorf("%q is negative; give seconds (20) or a duration (20s)", s)
		}
		*v.d = time.Duration(n * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("%q is neither seconds (20) nor a duration (20s, 1m30s)", s)
	}
	*v.d = d
	return nil
}

func (v secondsOrDuration) Type() string { return "seconds|duration" }

// useProjectConfig makes a streamparse project's config.json the config file of the
// connection (its envs name nimbus), unless --config or --nimbus says otherwise; with
// --verbose it notes the keys of the environment that sparse ignores.
func useProjectConfig(conn *ctl.ConnFlags, dir string, logOut io.Writer, verbose bool) {
	// SPARSE_NIMBUS still wins over the project's default environment, not over -e.
	if conn.Config == "" && len(conn.Nimbus) == 0 && (conn.Env != "" || os.Getenv(ctl.EnvNimbus) == "") {
		conn.Config = filepath.Join(dir, streamparse.ConfigName)
	}
	if !verbose {
		return
	}
	p, err := streamparse.Open(dir)
	if err != nil {
		return
	}
	env := conn.Env
	if env == "" && len(p.Config.Envs) == 1 {
		for name := range p.Config.Envs {
			env = name
		}
	}
	for _, note := range p.EnvNotes(env) {
		fmt.Fprintln(logOut, "note:", note)
	}
}

func updateVirtualenvCmd() *cobra.Command {
	var pf projectFlags
	var conn ctl.ConnFlags
	var local bool
	cmd := &cobra.Command{
		Use:   "update-virtualenv [NAME]",
		Short: "Build a Python topology's virtualenv again on every supervisor (or, with --local, here)",
		Long: `Have every supervisor build the virtualenv of the submitted topology NAME again, from the
requirements in its bundle, and restart the topology's workers with it (streamparse's
update_virtualenv): for requirements that are not pinned, a package index that has
changed, or a build that failed. In a streamparse project folder NAME may be left out
when it has one topology.

With --local, build the local virtualenv of a streamparse topology again instead (the
one "sparsectl run" uses), from virtualenvs/NAME.txt.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			dir, inProject := projectArg(nil)
			if !local {
				if name == "" && inProject {
					p, err := streamparse.Open(dir)
					if err != nil {
						return err
					}
					if name, _, err = p.Resolve(""); err != nil {
						return err
					}
				}
				if name == "" {
					return fmt.Errorf("name the topology: sparsectl update-virtualenv NAME")
				}
				return withClient(cmd, &conn, func(ctx context.Context, c *ctl.Client) error {
					r, err := c.UpdateVirtualenv(ctx, name)
					if err != nil {
						return err
					}
					_, err = fmt.Fprintf(cmd.OutOrStdout(), "topology %s: every supervisor builds its virtualenv again (generation %d) and restarts its workers with it; sparsectl describe %s shows them\n",
						name, r.GetGeneration(), name)
					return err
				})
			}
			if !inProject {
				return fmt.Errorf("update-virtualenv --local runs in a streamparse project folder (one holding a config.json with topology_specs)")
			}
			p, err := streamparse.Open(dir)
			if err != nil {
				return err
			}
			name, _, err = p.Resolve(name)
			if err != nil {
				return err
			}
			reqs := p.Requirements(name)
			if reqs == "" {
				return fmt.Errorf("topology %s has no %s%s.txt, so it needs no virtualenv", name, p.Config.VirtualenvSpecs, name)
			}
			cache, err := localVenvCache()
			if err != nil {
				return err
			}
			data, err := os.ReadFile(reqs)
			if err != nil {
				return err
			}
			kept, _ := pyenv.Requirements(data)
			if len(kept) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "topology %s needs nothing beyond streamparse, which sparse provides\n", name)
				return nil
			}
			o := pyenv.Options{Wheelhouse: pf.wheelhouse, Index: pf.pipIndex, Log: func(msg string) { fmt.Fprintln(cmd.ErrOrStderr(), msg) }}
			key, err := pyenv.Key(kept, o)
			if err != nil {
				return err
			}
			if err := pyenv.Remove(cache, key); err != nil {
				return err
			}
			venv, _, err := pyenv.Ensure(cmd.Context(), cache, reqs, o)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "virtualenv of topology %s: %s\n", name, venv)
			return err
		},
	}
	cmd.Flags().BoolVar(&local, "local", false, "build the local virtualenv of a streamparse project's topology instead of the cluster's")
	cmd.Flags().StringVar(&pf.wheelhouse, "wheelhouse", "", "with --local: install from the wheels (*.whl) of this folder, with no index")
	cmd.Flags().StringVar(&pf.pipIndex, "pip-index", "", "with --local: the package index (or proxy) to install from")
	conn.Register(cmd.Flags())
	return cmd
}
