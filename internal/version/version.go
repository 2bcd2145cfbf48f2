// Package version says what a sparse binary is: its module version, the git commit it
// was built from, the Go version, and the wire protocol its workers speak. Every binary's
// `version` subcommand and `--version` flag print it.
package version

import (
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/internal/wire"
)

// Module is sparse's module path.
const Module = "github.com/sparsestream/sparse"

// Info describes one binary.
type Info struct {
	// Program is the binary's name.
	Program string `json:"program"`
	// Version is sparse's module version ("(devel)" when built from a checkout).
	Version string `json:"version"`
	// Commit is the VCS revision (with "+dirty" when the tree had changes), or "".
	Commit string `json:"commit,omitempty"`
	// GoVersion is the Go toolchain that built it.
	GoVersion string `json:"go"`
	// WireProtocol is the protocol of the batches between workers.
	WireProtocol uint32 `json:"wireProtocol"`
}

// Get reads the running binary's build information.
func Get(program string) Info {
	in := Info{Program: program, Version: "(unknown)", WireProtocol: wire.ProtocolVersion}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return in
	}
	in.GoVersion = bi.GoVersion
	if bi.Main.Path == Module {
		in.Version = bi.Main.Version
	} else {
		// A topology binary: sparse is one of its dependencies.
		for _, d := range bi.Deps {
			if d.Path == Module {
				in.Version = d.Version
				if d.Replace != nil {
					in.Version += " => " + d.Replace.Path
				}
			}
		}
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Commit = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if in.Commit != "" && dirty {
		in.Commit += "+dirty"
	}
	return in
}

// String is the one line `version` prints.
func (in Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", in.Program, in.Version)
	if in.Commit != "" {
		fmt.Fprintf(&b, " commit %s", in.Commit)
	}
	fmt.Fprintf(&b, " %s wire protocol %d", in.GoVersion, in.WireProtocol)
	return b.String()
}

// AddTo gives a cobra root command a `version` subcommand and a `--version` flag, both
// printing Get(program).
func AddTo(root *cobra.Command, program string) {
	root.Version = Get(program).String()
	root.SetVersionTemplate("{{.Version}}\n")
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, git commit, Go version and wire protocol",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := Get(program)
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(in)
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), in)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (sparsectl submit reads a topology binary's wire protocol so)")
	root.AddCommand(cmd)
}
