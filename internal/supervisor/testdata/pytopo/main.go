// Command pytopo is a test topology whose bolts are Python multi-lang subprocesses:
// "py" runs bolt.py directly, "wrapped" runs it under a shell that stays its parent, as
// a shell wrapper script does. The tests kill its worker and look for Python processes
// left behind. The test builds it with -ldflags "-X main.script=<absolute bolt.py>".
package main

import (
	"time"

	"github.com/sparsestream/sparse/pkg/app"
	"github.com/sparsestream/sparse/pkg/multilang"
	"github.com/sparsestream/sparse/pkg/topology"
)

var script = "bolt.py"

type spout struct {
	topology.BaseSpout
	out topology.SpoutCollector
	n   int64
}

func (s *spout) Open(_ *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	return nil
}

func (s *spout) NextTuple() {
	s.n++
	s.out.Emit([]any{s.n}, nil)
	time.Sleep(10 * time.Millisecond)
}

func main() {
	b := topology.NewBuilder("pytopo")
	b.Spout("ticks", func() topology.Spout { return &spout{} }, 1).Output("n")
	multilang.Bolt(b, "py", multilang.ShellCommand{Command: "python3", Args: []string{script}}, 1).Shuffle("ticks")
	// "; exit" keeps the shell from replacing itself with python3.
	multilang.Bolt(b, "wrapped", multilang.ShellCommand{Command: "sh", Args: []string{"-c", `python3 "$0"; exit $?`, script}}, 1).Shuffle("ticks")
	app.Main(b)
}
