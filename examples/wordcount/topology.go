package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// Configuration of the example.
const (
	// ConfSentences limits how many sentences the spout emits in all (0: no limit).
	ConfSentences = "wordcount.sentences"
	// ConfStateDir, when set, makes the spout durable and the counts observable: each
	// spout task appends the ids it was acked for to acked-<task>.log there and skips
	// them when it starts again (as a spout over a durable queue would), and each count
	// task writes its counts to counts-<task>.json when it shuts down.
	ConfStateDir = "wordcount.state.dir"
	// ConfRate limits the topology to this many new sentences per second (0: no
	// limit), shared evenly by the spout tasks; replays are not limited.
	ConfRate = "wordcount.rate"
)

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
	b.Spout("sentences", func() topology.Spout { return &SentenceSpout{} }, 3).Output("sentence")
	b.Bolt("split", topology.Basic(func() topology.BasicBolt { return &SplitBolt{} }), 3).
		Shuffle("sentences").Output("word")
	b.Bolt("count", topology.Basic(func() topology.BasicBolt { return &CountBolt{} }), 3).
		Fields("split", "word").Output("word", "count")
	return b
}

// SentenceSpout emits sentences reliably: each has a message id, and a failed one is
// emitted again. With several spout tasks, task i of n emits the ids i, i+n, i+2n, ...
type SentenceSpout struct {
	topology.BaseSpout
	out     topology.SpoutCollector
	limit   int64
	next    int64
	step    int64
	replays []int64
	done    map[int64]bool // acked in an earlier run (durable mode)
	log     *os.File
	logBuf  *bufio.Writer
	rate    float64 // new sentences per second for this task (0: no limit)
	started time.Time
	sent    int64
}

// Open reads the limit and, in durable mode, the ids acked by earlier runs.
func (s *SentenceSpout) Open(ctx *topology.Context, out topology.SpoutCollector) error {
	s.out = out
	n, err := ctx.Config.Int(ConfSentences, 0)
	if err != nil {
		return err
	}
	s.limit = n
	s.next = int64(ctx.ThisTaskIndex())
	s.step = int64(len(ctx.ComponentTasks(ctx.ComponentID)))
	rate, err := ctx.Config.Int(ConfRate, 0)
	if err != nil {
		return err
	}
	s.rate = float64(rate) / float64(s.step)
	dir := ctx.Config.String(ConfStateDir, "")
	if dir == "" {
		return nil
	}
	path := filepath.Join(dir, fmt.Sprintf("acked-%d.log", ctx.TaskID))
	s.done = map[int64]bool{}
	if b, err := os.ReadFile(path); err == nil {
		for _, line := range strings.Fields(string(b)) {
			if id, err := strconv.ParseInt(line, 10, 64); err == nil {
				s.done[id] = true
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading the ack log: %w", err)
	}
	s.log, err = os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("opening the ack log: %w", err)
	}
	s.logBuf = bufio.NewWriter(s.log)
	return nil
}

// NextTuple emits a replay if there is one, else the next sentence.
func (s *SentenceSpout) NextTuple() {
	if s.logBuf != nil && s.logBuf.Buffered() > 0 {
		// Persist acks before doing more work; a crash loses at most what NextTuple
		// has not yet seen, and those are replayed, never lost.
		if err := s.logBuf.Flush(); err != nil {
			s.out.ReportError(fmt.Errorf("writing the ack log: %w", err))
		}
	}
	var id int64
	switch {
	case len(s.replays) > 0:
		id = s.replays[len(s.replays)-1]
		s.replays = s.replays[:len(s.replays)-1]
	default:
		for s.done[s.next] {
			s.next += s.step
		}
		if s.limit != 0 && s.next >= s.limit {
			return
		}
		if s.rate > 0 {
			if s.started.IsZero() {
				s.started = time.Now()
			}
			if float64(s.sent) >= time.Since(s.started).Seconds()*s.rate {
				return // ahead of the rate: the engine backs off and calls again
			}
			s.sent++
		}
		id = s.next
		s.next += s.step
	}
	s.out.Emit([]any{Sentences[id%int64(len(Sentences))]}, id)
}

// Ack records a finished sentence in durable mode.
func (s *SentenceSpout) Ack(id any) {
	if s.logBuf != nil {
		// A write error sticks to the Writer; the next Flush reports it.
		_, _ = s.logBuf.WriteString(strconv.FormatInt(id.(int64), 10) + "\n")
	}
}

// Fail queues the sentence for replay.
func (s *SentenceSpout) Fail(id any) { s.replays = append(s.replays, id.(int64)) }

// Close flushes the ack log.
func (s *SentenceSpout) Close() {
	if s.log != nil {
		s.logBuf.Flush()
		s.log.Close()
	}
}

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
	// distinct is a metric of the topology's own: a worker exports it as
	// sparse_user_distinct_words on its /metrics.
	distinct *topology.Gauge
}

// Prepare starts empty counts.
func (c *CountBolt) Prepare(ctx *topology.Context) error {
	c.ctx = ctx
	c.counts = map[string]int64{}
	c.distinct = ctx.RegisterGauge("distinct_words")
	return nil
}

// Execute counts a word.
func (c *CountBolt) Execute(in *tuple.Tuple, out topology.BasicCollector) error {
	w := in.String(0)
	c.counts[w]++
	if c.counts[w] == 1 {
		c.distinct.Set(float64(len(c.counts)))
	}
	if log := c.ctx.Logger(); log.IsDebug() { // sparsectl set-log-level wordcount --component count debug
		log.Debug("counted", "word", w, "count", c.counts[w])
	}
	out.Emit(w, c.counts[w])
	return nil
}

// Cleanup logs the most frequent words this task counted and, in durable mode, writes
// its counts.
func (c *CountBolt) Cleanup() {
	if dir := c.ctx.Config.String(ConfStateDir, ""); dir != "" {
		b, _ := json.Marshal(c.counts)
		path := filepath.Join(dir, fmt.Sprintf("counts-%d.json", c.ctx.TaskID))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			c.ctx.Logger().Error("cannot write the counts", "error", err)
		}
	}
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
