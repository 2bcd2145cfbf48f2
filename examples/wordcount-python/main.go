// Command wordcount-python is the wordcount topology with its spout and bolts written in
// Python, run as multi-lang subprocesses with the bundled client (python/sparse_multilang).
// It needs python3 on PATH. From the repository root:
//
//	go run ./examples/wordcount-python run --time 10s
//	go run ./examples/wordcount-python run --time 10s -o topology.multilang.serializer=msgpack
package main

import (
	"os"
	"path/filepath"

	"github.com/sparsestream/sparse/pkg/app"
	"github.com/sparsestream/sparse/pkg/multilang"
	"github.com/sparsestream/sparse/pkg/topology"
)

// Topology wires the Python wordcount. resources is the folder holding the scripts; the
// bundled client is found through PYTHONPATH or, in a source checkout, next to it.
func Topology(resources string) *topology.Builder {
	py := func(script string) multilang.ShellCommand {
		return multilang.ShellCommand{Command: "python3", Args: []string{script}, Dir: resources}
	}
	b := topology.NewBuilder("wordcount-python")
	b.Config(topology.ConfMaxSpoutPending, 500)
	multilang.Spout(b, "sentences", py("spout.py"), 1).Output("sentence")
	multilang.Bolt(b, "split", py("split.py"), 2).Shuffle("sentences").Output("word")
	multilang.Bolt(b, "count", py("count.py"), 2).Fields("split", "word").Output("word", "count")
	return b
}

// resourcesDir finds the scripts: the working directory when they are there, else this
// example's folder under the repository root.
func resourcesDir() string {
	if _, err := os.Stat("split.py"); err == nil {
		return "."
	}
	return filepath.Join("examples", "wordcount-python")
}

func main() { app.Main(Topology(resourcesDir())) }
