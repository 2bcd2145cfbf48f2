// Command sparsectl is the operator's command line: it runs topologies locally and, with
// a cluster, submits and manages them.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:           "sparsectl",
		Short:         "Run and manage sparse topologies",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(runCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
