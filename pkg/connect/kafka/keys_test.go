package kafka

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sparsestream/sparse/pkg/topology"
)

func TestSpoutConfigFrom(t *testing.T) {
	base := func(kv ...any) topology.Config {
		c := topology.Config{"kafka.brokers": "localhost:9092", "kafka.topics": []any{"a", "b"}, "topology.max.spout.pending": int64(10)}
		for i := 0; i < len(kv); i += 2 {
			c[kv[i].(string)] = kv[i+1]
		}
		return c
	}
	for _, tc := range []struct {
		name    string
		conf    topology.Config
		wantErr string
		check   func(t *testing.T, c SpoutConfig)
	}{
		{"defaults", base(), "", func(t *testing.T, c SpoutConfig) {
			if c.Guarantee != AtLeastOnce || c.FirstPoll != UncommittedEarliest || c.CommitPeriod != DefaultCommitPeriod ||
				c.Retry.Initial != DefaultRetryInitial || c.Retry.Multiplier != 2 || c.MaxRetries != 0 || len(c.Topics) != 2 {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{"every option", base("kafka.processing.guarantee", "AT_MOST_ONCE", "kafka.first.poll.offset.strategy", "latest",
			"kafka.offset.commit.period", "250ms", "kafka.retry.initial.delay", "1s", "kafka.retry.multiplier", 1.5,
			"kafka.retry.max.delay", "1m", "kafka.retry.max.retries", int64(5), "kafka.max.uncommitted.offsets", "77",
			"kafka.record.format", "bytes", "kafka.headers", true, "kafka.skip.tombstones", "true",
			"kafka.brokers", "a:1, b:2", "kafka.group.id", "g"), "", func(t *testing.T, c SpoutConfig) {
			if c.Guarantee != AtMostOnce || c.FirstPoll != Latest || c.CommitPeriod != 250*time.Millisecond ||
				c.Retry.Initial != time.Second || c.Retry.Multiplier != 1.5 || c.Retry.Max != time.Minute || c.MaxRetries != 5 ||
				c.MaxUncommittedOffsets != 77 || !c.ValuesAsBytes || !c.Headers || !c.SkipTombstones || len(c.Brokers) != 2 || c.Group != "g" {
				t.Errorf("parsed: %+v", c)
			}
		}},
		{"pattern", topology.Config{"kafka.brokers": []any{"h:1"}, "kafka.topic.pattern": "logs-.*"}, "", func(t *testing.T, c SpoutConfig) {
			if !c.TopicPattern.MatchString("logs-x") || c.TopicPattern.MatchString("xlogs-x") {
				t.Errorf("pattern %v does not match whole names", c.TopicPattern)
			}
		}},
		{"no brokers", topology.Config{"kafka.topics": "a"}, "no brokers", nil},
		{"no topic", topology.Config{"kafka.brokers": "h:1"}, "no topic", nil},
		{"both topics and pattern", base("kafka.topic.pattern", "x"), "both", nil},
		{"unknown option with a suggestion", base("kafka.offset.comit.period", "1s"), "did you mean kafka.offset.commit.period", nil},
		{"a sink option", base("kafka.topic", "x"), "not an option of kafka-spout", nil},
		{"duration without unit", base("kafka.offset.commit.period", int64(5)), `write it with a unit`, nil},
		{"bad duration", base("kafka.retry.max.delay", "soon"), `config kafka.retry.max.delay: "soon"`, nil},
		{"negative duration", base("kafka.retry.max.delay", "-1s"), `not a positive duration`, nil},
		{"bad guarantee", base("kafka.processing.guarantee", "exactly_once"), "not one of at_least_once", nil},
		{"bad strategy", base("kafka.first.poll.offset.strategy", "middle"), "not one of earliest", nil},
		{"bad broker", base("kafka.brokers", "localhost"), "not host:port", nil},
		{"bad pattern", topology.Config{"kafka.brokers": "h:1", "kafka.topic.pattern": "("}, "not a regular expression", nil},
		{"bad multiplier", base("kafka.retry.multiplier", 0.5), "from 1 to 1000", nil},
		{"clear password", base("kafka.sasl.password", "hunter2"), "never written in a spec", nil},
		{"sasl without password", base("kafka.sasl.mechanism", "PLAIN", "kafka.sasl.username", "u"), "exactly one of", nil},
		{"sasl bad mechanism", base("kafka.sasl.mechanism", "GSSAPI", "kafka.sasl.username", "u", "kafka.sasl.password.env", "P"), "not one of PLAIN", nil},
		{"tls cert without key", base("kafka.tls.cert.file", "c.pem"), "go together", nil},
		{"bad format", base("kafka.record.format", "json"), "not string or bytes", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := SpoutConfigFrom(tc.conf)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestSinkConfigFrom(t *testing.T) {
	for _, tc := range []struct {
		name    string
		conf    topology.Config
		wantErr string
	}{
		{"fixed topic", topology.Config{"kafka.brokers": "h:1", "kafka.topic": "out", "kafka.key.field": "word"}, ""},
		{"topic field", topology.Config{"kafka.brokers": "h:1", "kafka.topic.field": "t", "kafka.linger": "1ms", "kafka.max.in.flight": int64(5)}, ""},
		{"no topic", topology.Config{"kafka.brokers": "h:1"}, "no topic"},
		{"both topics", topology.Config{"kafka.brokers": "h:1", "kafka.topic": "a", "kafka.topic.field": "t"}, "both set"},
		{"a spout option", topology.Config{"kafka.brokers": "h:1", "kafka.topic": "a", "kafka.topics": "a"}, "not an option of kafka-bolt"},
		{"bad in flight", topology.Config{"kafka.brokers": "h:1", "kafka.topic": "a", "kafka.max.in.flight": int64(0)}, "below 1"},
		{"bad linger", topology.Config{"kafka.brokers": "h:1", "kafka.topic": "a", "kafka.linger": "fast"}, "kafka.linger"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SinkConfigFrom(tc.conf)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestRuntimeConfigIsLenient: a task's config holds the topology's keys too, so at run
// time the other component's keys are let through; unknown ones are not.
func TestRuntimeConfigIsLenient(t *testing.T) {
	c := topology.Config{"kafka.brokers": "h:1", "kafka.topics": "in", "kafka.topic": "out"}
	if _, err := spoutConfigFrom(c, false); err != nil {
		t.Errorf("spout at run time: %v", err)
	}
	if _, err := sinkConfigFrom(c, false); err != nil {
		t.Errorf("sink at run time: %v", err)
	}
	c["kafka.bogus"] = "x"
	if _, err := spoutConfigFrom(c, false); err == nil {
		t.Error("an unknown key passed at run time")
	}
}

// FuzzConfigFrom feeds any string to every key: parsing returns a config or an error
// naming a key, and never panics.
func FuzzConfigFrom(f *testing.F) {
	for _, s := range []string{"", "5s", "-1", "localhost:9092", "a,b", "(", "at_least_once", "1e400", "NaN", "bytes"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range Keys {
			c := topology.Config{"kafka.brokers": "h:1", "kafka.topics": "a", "kafka.topic": "b", k.Name: s}
			if k.Name == "kafka.topic.pattern" {
				delete(c, "kafka.topics")
			}
			if k.Name == "kafka.topic.field" {
				delete(c, "kafka.topic")
			}
			_, err1 := spoutConfigFrom(c, false)
			_, err2 := sinkConfigFrom(c, false)
			for _, err := range []error{err1, err2} {
				if err != nil && !strings.Contains(err.Error(), "kafka") {
					t.Errorf("key %s = %q: error %q names no key", k.Name, s, err)
				}
			}
		}
	})
}

// TestDocsListEveryKey keeps docs/kafka.md true: every key is in its table.
func TestDocsListEveryKey(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "kafka.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys {
		if !strings.Contains(string(b), "| `"+k.Name+"` |") {
			t.Errorf("docs/kafka.md has no row for %s", k.Name)
		}
	}
}
