// Command wordcount is the classic first topology: a spout of sentences, a bolt that
// splits them into words, and a bolt that counts words on a fields grouping so that each
// word is always counted by the same task.
//
//	go run ./examples/wordcount run --time 10s
//	sparsectl run ./examples/wordcount --time 10s -o wordcount.sentences=100000
package main

import (
	"github.com/sparsestream/sparse/pkg/app"
)

func main() { app.Main(Topology()) }
