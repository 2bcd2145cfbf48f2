package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/internal/quickstart"
)

func quickstartCmd() *cobra.Command {
	var (
		o      quickstart.Options
		source string
	)
	cmd := &cobra.Command{
		Use:   "quickstart NAME",
		Short: "Make a new topology project, a wordcount in Go or Python, ready to run",
		Long: `Make a new topology project in the folder NAME: a wordcount topology (a spout of
sentences, a bolt that splits them, a bolt that counts the words) with a README, ready to
run with "sparsectl run ." and to submit to a cluster.

--lang go (the default) writes a Go main package: the spout and bolts in topology.go and
a main.go calling app.Main. Its go.mod requires github.com/sparsestream/sparse; when this
sparsectl was built from a source checkout (the module is not published), the project
also gets a go.work file, local to this machine, that builds it against that checkout,
found next to sparsectl or given with --sparse-source.

--lang python writes a spec, topology.yaml, and its resources: the spout and bolts as
Python scripts, with a copy of sparse's Python client beside them (standard library
only). sparsectl runs and submits it as it is; it needs python3, and no Go.

--lang streamparse writes a project in streamparse's layout, as "sparse quickstart"
does: config.json, topologies/wordcount.py (streamparse's DSL), the spout and bolt under
src/ and virtualenvs/wordcount.txt; run it with "sparsectl run -n wordcount".

quickstart never overwrites anything: NAME must not exist, or be an empty folder.`,
		Example: `  sparsectl quickstart wordcount
  sparsectl quickstart pywords --lang python --dir ~/src
  cd wordcount && sparsectl run . --time 10s`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			o.Lang = strings.ToLower(strings.TrimSpace(o.Lang))
			if err := quickstart.CheckName(o.Name); err != nil {
				return err
			}
			if o.Lang == quickstart.Python || o.Lang == quickstart.Streamparse {
				for _, name := range []string{"module", "sparse-source"} {
					if cmd.Flags().Changed(name) {
						return fmt.Errorf("--%s is for Go projects; a Python project has no Go module", name)
					}
				}
			}
			if o.Lang == quickstart.Go || o.Lang == "" {
				sp, err := quickstart.LocateSparse(source)
				if err != nil {
					return err
				}
				o.Sparse = sp
			}
			p, err := quickstart.Generate(o)
			if err != nil {
				return err
			}
			return quickstart.NextSteps(cmd.OutOrStdout(), p)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Lang, "lang", quickstart.Go, fmt.Sprintf("the language of the spouts and bolts: %s", strings.Join(quickstart.Langs, " or ")))
	f.StringVar(&o.Parent, "dir", ".", "the folder to make the project NAME in")
	f.StringVar(&o.Module, "module", "", "Go: the module path of the project (default: NAME)")
	f.StringVar(&source, "sparse-source", "", "Go: build the project against the sparse source tree in this folder, through go.work (default: the checkout this sparsectl was built from, if any)")
	return cmd
}
