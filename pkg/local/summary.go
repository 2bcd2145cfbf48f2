package local

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sparsestream/sparse/internal/executor"
)

// ComponentSummary is one component's counters, added up over its executors.
type ComponentSummary struct {
	Component string
	Kind      string // "spout", "bolt" or "acker"
	Executors int

	Emitted     int64 // tuples emitted by user code
	Transferred int64 // tuple copies delivered to receiving tasks
	Executed    int64 // bolts: inputs given to Execute
	Acked       int64 // spouts: tuple trees completed; bolts: inputs acked
	Failed      int64 // spouts: trees failed or timed out; bolts: inputs failed
	TimedOut    int64 // spouts: trees that timed out (also counted in Failed)
	Errors      int64 // errors reported by user code, and recovered panics
	Pending     int64 // spouts: reliable tuples in flight
	Backpressed int64 // sends that found the receiver's queue full

	// LatencyMean, LatencyP50 and LatencyP99 are a spout's complete latency, from emit
	// to ack, over the run so far.
	LatencyMean, LatencyP50, LatencyP99 time.Duration
	// LastError is the most recent error reported or panic recovered, or "".
	LastError string
}

// Summary is the summary of every component of a running topology, the acker included,
// in the topology's order.
type Summary []ComponentSummary

// Component returns the summary of the component with this id, or a zero summary (with
// an empty Component) when the topology has none.
func (s Summary) Component(id string) ComponentSummary {
	for _, c := range s {
		if c.Component == id {
			return c
		}
	}
	return ComponentSummary{}
}

// String returns the lines PrintSummary writes.
func (s Summary) String() string {
	var b strings.Builder
	PrintSummary(&b, s)
	return b.String()
}

// PrintSummary writes one line per component: emitted, acked, failed and, for spouts,
// complete latency.
func PrintSummary(w io.Writer, s Summary) {
	for _, c := range s {
		line := fmt.Sprintf("%-12s %-6s emitted=%d acked=%d failed=%d", c.Component, c.Kind, c.Emitted, c.Acked, c.Failed)
		if c.Kind == "spout" {
			line += fmt.Sprintf(" pending=%d timed_out=%d complete_ms(mean/p50/p99)=%.2f/%.2f/%.2f",
				c.Pending, c.TimedOut, ms(c.LatencyMean), ms(c.LatencyP50), ms(c.LatencyP99))
		}
		if c.Errors > 0 {
			line += fmt.Sprintf(" errors=%d last_error=%q", c.Errors, c.LastError)
		}
		fmt.Fprintln(w, line)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// summarize copies the executor's summaries field by field, so that the executor's
// types stay internal and free to change.
func summarize(stats []*executor.Stats) Summary {
	cs := executor.Summarize(stats)
	out := make(Summary, len(cs))
	for i, c := range cs {
		out[i] = ComponentSummary{
			Component:   c.Component,
			Kind:        c.Kind,
			Executors:   c.Executors,
			Emitted:     c.Emitted,
			Transferred: c.Transferred,
			Executed:    c.Executed,
			Acked:       c.Acked,
			Failed:      c.Failed,
			TimedOut:    c.TimedOut,
			Errors:      c.Errors,
			Pending:     c.Pending,
			Backpressed: c.Backpressed,
			LatencyMean: c.LatencyMean,
			LatencyP50:  c.LatencyP50,
			LatencyP99:  c.LatencyP99,
			LastError:   c.LastError,
		}
	}
	return out
}
