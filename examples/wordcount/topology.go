package main

import (
	"sort"
	"strings"

	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// ConfSentences limits how many sentences each spout task emits (0: no limit).
const ConfSentences = "wordcount.sentences"

// Sentences are cycled through by the spout.
var Sentences = []string{
	"the cow jumped over the moon",
	"an apple a day keeps the doctor away",
	"four score and seven years ago",
	"snow white and the seven dwarfs",
	"i am at two with nature",
}

// Topology wires the wordcount topology.
func Topology() *topology.Builder {
	b := topology.NewBuilder("wordcount")
	b.Config(topology.ConfMaxSpoutPending, 2000)
	b.Spout("sentences", func() topology.Spout { return &SentenceSpout{} }, 1).Output("sentence")
	b.Bolt("split", topology.Basic(func() topology.BasicBolt { return &SplitBolt{} }), 2).
		Shuffle("sentences").Output("word")
	b.Bolt("count", topology.Basic(func() topology.BasicBolt { return &CountBolt{} }), 2).
		Fields("split", "word").Output("word", "count")
	return b
}

// SentenceSpout emits sentences reliably: each has a message id, and a failed one is
// emitted again.
type SentenceSpout struct {
	topology.BaseSpout
	out     topology.SpoutCollector
	limit   int64
	next    int64
	replays []int64
}

// Open reads the sentence limit.
func (s *SentenceSpout) Open(ctx *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	n, err := ctx.Config.Int(ConfSentences, 0)
	s.limit = n
	return err
}

// NextTuple emits a replay if there is one, else the next sentence.
func (s *SentenceSpout) NextTuple() {
	var id int64
	switch {
	case len(s.replays) > 0:
		id = s.replays[len(s.replays)-1]
		s.replays = s.replays[:len(s.replays)-1]
	case s.limit == 0 || s.next < s.limit:
		id = s.next
		s.next++
	default:
		return
	}
	s.out.Emit([]any{Sentences[id%int64(len(Sentences))]}, id)
}

// Fail queues the sentence for replay.
func (s *SentenceSpout) Fail(id any) { s.replays = append(s.replays, id.(int64)) }

// SplitBolt splits a sentence into words.
type SplitBolt struct{}

// Prepare does nothing.
func (*SplitBolt) Prepare(*topology.Context) error { return nil }

// Execute emits one tuple per word.
func (*SplitBolt) Execute(in *tuple.Tuple, out topology.BasicCollector) error {
	for _, w := range strings.Fields(in.String(0)) {
		out.Emit(w)
	}
	return nil
}

// Cleanup does nothing.
func (*SplitBolt) Cleanup() {}

// CountBolt keeps a running count per word and emits it.
type CountBolt struct {
	ctx    *topology.Context
	counts map[string]int64
}

// Prepare starts empty counts.
func (c *CountBolt) Prepare(ctx *topology.Context) error {
	c.ctx = ctx
	c.counts = map[string]int64{}
	return nil
}

// Execute counts a word.
func (c *CountBolt) Execute(in *tuple.Tuple, out topology.BasicCollector) error {
	w := in.String(0)
	c.counts[w]++
	out.Emit(w, c.counts[w])
	return nil
}

// Cleanup logs the most frequent words this task counted.
func (c *CountBolt) Cleanup() {
	words := make([]string, 0, len(c.counts))
	for w := range c.counts {
		words = append(words, w)
	}
	sort.Slice(words, func(i, j int) bool { return c.counts[words[i]] > c.counts[words[j]] })
	top := []any{}
	for _, w := range words[:min(5, len(words))] {
		top = append(top, w, c.counts[w])
	}
	c.ctx.Logger().Info("final counts", top...)
}
