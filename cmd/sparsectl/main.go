// Command sparsectl is the operator's command line: it runs topologies locally and, with
// a cluster, submits and manages them.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/internal/version"
)

func main() {
	if err := rootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// rootCmd builds sparsectl's command tree; tests run it in-process.
func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "sparsectl",
		Short:         "Run and manage sparse topologies",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		runCmd(),
		submitCmd(),
		listCmd(),
		describeCmd(),
		killCmd(),
		activateCmd(),
		deactivateCmd(),
		rebalanceCmd(),
		supervisorsCmd(),
		leaderCmd(),
		aclCmd(),
		tokenCmd(),
		devCmd(),
		quickstartCmd(),
		tlsCmd(),
		updateVirtualenvCmd(),
		statsCmd(),
		visualizeCmd(),
		logsCmd(),
		removeLogsCmd(),
		setLogLevelCmd(),
		debugCmd(),
	)
	version.AddTo(root, "sparsectl")
	return root
}
