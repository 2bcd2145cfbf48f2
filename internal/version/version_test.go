package version

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/sparsestream/sparse/internal/wire"
)

func TestVersionCommandAndFlag(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		root := &cobra.Command{Use: "prog", RunE: func(*cobra.Command, []string) error { return nil }}
		AddTo(root, "prog")
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs(args)
		if err := root.Execute(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		for _, want := range []string{"prog ", runtime.Version(), "wire protocol " + strconv.FormatUint(uint64(wire.ProtocolVersion), 10)} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%v printed %q, want it to hold %q", args, out.String(), want)
			}
		}
	}
}
