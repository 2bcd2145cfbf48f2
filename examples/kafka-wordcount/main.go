// Command kafka-wordcount reads lines of text from a Kafka topic, counts the words, and
// writes each word's running count to another topic, keyed by the word. See README.md.
//
//	sparsectl dev kafka --topic lines --topic counts &
//	sparsectl run ./examples/kafka-wordcount --time 30s
package main

import "github.com/sparsestream/sparse/pkg/app"

func main() { app.Main(Topology()) }
