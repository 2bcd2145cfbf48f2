// Command topo is a tiny topology for the supervisor's tests: its spout counts what it
// emits and writes the count to <test.emit.dir>/emits-<task> (a config value the test
// passes through config.json), so a test can tell whether the spouts run.
package main

import (
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/sparsestream/sparse/pkg/app"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

type spout struct {
	topology.BaseSpout
	out   topology.SpoutCollector
	path  string
	n     int64
	wrote time.Time
}

func (s *spout) Open(ctx *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	if dir := ctx.Config.String("test.emit.dir", ""); dir != "" {
		s.path = filepath.Join(dir, "emits-"+strconv.Itoa(int(ctx.TaskID)))
	}
	return nil
}

func (s *spout) NextTuple() {
	s.n++
	s.out.Emit([]any{s.n}, s.n)
	if s.path != "" && time.Since(s.wrote) > 50*time.Millisecond {
		s.wrote = time.Now()
		_ = os.WriteFile(s.path, []byte(strconv.FormatInt(s.n, 10)), 0o644)
	}
	time.Sleep(time.Millisecond)
}

type sink struct{ topology.BaseBolt }

func (sink) Prepare(*topology.Context) error                     { return nil }
func (sink) Execute(*tuple.Tuple, topology.BasicCollector) error { return nil }

func main() {
	b := topology.NewBuilder("topo")
	b.Spout("ticks", func() topology.Spout { return &spout{} }, 1).Output("n")
	b.Bolt("sink", topology.Basic(func() topology.BasicBolt { return sink{} }), 2).Shuffle("ticks")
	app.Main(b)
}
