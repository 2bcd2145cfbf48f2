package kafka

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sparsestream/sparse/internal/editdist"
	"github.com/sparsestream/sparse/internal/retry"
	"github.com/sparsestream/sparse/pkg/topology"
)

// Key is one config key of the YAML components kafka-spout and kafka-bolt (or of a Go
// component made with NewSpoutFromConfig or NewSinkFromConfig).
type Key struct {
	Name    string
	Spout   bool // a key of the spout
	Sink    bool // a key of the sink
	Default string
	Doc     string
}

// Prefix starts every key; other keys of a component's config (topology.*) are left to
// the engine.
const Prefix = "kafka."

// Keys lists every config key, in the order of the docs.
var Keys = []Key{
	{"kafka.brokers", true, true, "", "the brokers to start from, a list or a comma-separated string of host:port (required)"},
	{"kafka.client.id", true, true, "franz-go's", "the client id the brokers see"},
	{"kafka.tls", true, true, "false", "connect with TLS"},
	{"kafka.tls.ca.file", true, true, "the system's roots", "PEM file of the CA that signs the brokers' certificates (implies kafka.tls)"},
	{"kafka.tls.cert.file", true, true, "", "PEM client certificate, for mutual TLS (with kafka.tls.key.file)"},
	{"kafka.tls.key.file", true, true, "", "PEM key of the client certificate"},
	{"kafka.tls.server.name", true, true, "the broker's host", "the name the brokers' certificates are checked against"},
	{"kafka.sasl.mechanism", true, true, "", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
	{"kafka.sasl.username", true, true, "", "the SASL user"},
	{"kafka.sasl.password.file", true, true, "", "a file holding the SASL password (trailing newline removed)"},
	{"kafka.sasl.password.env", true, true, "", "an environment variable of the worker holding the SASL password"},

	{"kafka.topics", true, false, "", "the topics to read, a list or a comma-separated string"},
	{"kafka.topic.pattern", true, false, "", "a regular expression: read every topic whose whole name matches (instead of kafka.topics)"},
	{"kafka.group.id", true, false, "sparse-<topology name>-<component>", "the consumer group the offsets are committed under"},
	{"kafka.partition.mode", true, false, "manual", "manual: the tasks deal the partitions out among themselves; group: the consumer group's coordinator assigns them"},
	{"kafka.processing.guarantee", true, false, "at_least_once", "at_least_once, at_most_once or none"},
	{"kafka.first.poll.offset.strategy", true, false, "uncommitted_earliest", "earliest, latest, uncommitted_earliest or uncommitted_latest"},
	{"kafka.offset.commit.period", true, false, DefaultCommitPeriod.String(), "how often committable offsets are committed"},
	{"kafka.max.uncommitted.offsets", true, false, strconv.Itoa(DefaultMaxUncommittedOffsets), "a partition is paused while it has this many emitted offsets not yet committable"},
	{"kafka.retry.initial.delay", true, false, DefaultRetryInitial.String(), "the backoff before a failed record's first retry"},
	{"kafka.retry.multiplier", true, false, "2", "the growth of the backoff from one retry to the next"},
	{"kafka.retry.max.delay", true, false, DefaultRetryMaxDelay.String(), "the longest backoff"},
	{"kafka.retry.max.retries", true, false, "0 (for ever)", "retries of one record before it is logged, counted and committed past; -1: none"},
	{"kafka.partition.refresh.period", true, false, DefaultRefreshPeriod.String(), "how often the topics' partitions are listed, to pick up new ones"},
	{"kafka.poll.max.records", true, false, strconv.Itoa(DefaultPollMaxRecords), "records taken from the client at a time"},
	{"kafka.skip.tombstones", true, false, "false", "commit past records with a null value instead of emitting them"},
	{"kafka.record.format", true, false, "string", "string: key and value emitted as strings; bytes: as bytes"},
	{"kafka.headers", true, false, "false", "add a field headers (a map); declare the outputs topic, partition, offset, key, value, headers"},

	{"kafka.topic", false, true, "", "the topic every record is written to"},
	{"kafka.topic.field", false, true, "", "the field holding each record's topic (instead of kafka.topic)"},
	{"kafka.key.field", false, true, "", "the field written as the key (none: records without key)"},
	{"kafka.value.field", false, true, "value", "the field written as the value"},
	{"kafka.headers.field", false, true, "", "a field holding a map written as headers"},
	{"kafka.max.in.flight", false, true, strconv.Itoa(DefaultMaxInFlight), "records produced and not yet acknowledged, at most"},
	{"kafka.linger", false, true, DefaultLinger.String(), "how long the producer waits to fill a batch"},
	{"kafka.compression", false, true, "snappy", "the batches' compression: none, gzip, snappy, lz4 or zstd (gzip is the one every client reads)"},
	{"kafka.produce.timeout", false, true, DefaultProduceTimeout.String(), "a record not acknowledged in this time fails its tuple; keep it below topology.message.timeout.secs"},
}

// confReader reads keys of one component's config, remembering the first error.
type confReader struct {
	c   topology.Config
	err error
}

func (r *confReader) fail(format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, a...)
	}
}

func (r *confReader) str(key string) string {
	v, ok := r.c[key]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		r.fail("config %s: %v (%T) is not a string", key, v, v)
	}
	return strings.TrimSpace(s)
}

func (r *confReader) list(key string) []string {
	v, ok := r.c[key]
	if !ok || v == nil {
		return nil
	}
	var raw []string
	switch x := v.(type) {
	case string:
		raw = strings.Split(x, ",")
	case []string:
		raw = x
	case []any:
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				r.fail("config %s: the element %v (%T) is not a string", key, e, e)
				return nil
			}
			raw = append(raw, s)
		}
	default:
		r.fail("config %s: %v (%T) is not a list of strings", key, v, v)
		return nil
	}
	var out []string
	for _, s := range raw {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (r *confReader) duration(key string) time.Duration {
	v, ok := r.c[key]
	if !ok || v == nil {
		return 0
	}
	s, ok := v.(string)
	if !ok {
		r.fail("config %s: %v is not a duration; write it with a unit, as \"5s\" or \"200ms\"", key, v)
		return 0
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d <= 0 {
		r.fail("config %s: %q is not a positive duration; write it with a unit, as \"5s\" or \"200ms\"", key, s)
		return 0
	}
	return d
}

func (r *confReader) int(key string, least int64) int {
	n, err := r.c.Int(key, 0)
	if err != nil {
		r.fail("%w", err)
		return 0
	}
	if _, set := r.c[key]; set && n < least {
		r.fail("config %s: %d is below %d", key, n, least)
		return 0
	}
	if n > 1<<31 {
		r.fail("config %s: %d is too large", key, n)
		return 0
	}
	return int(n)
}

func (r *confReader) bool(key string) bool {
	b, err := r.c.Bool(key, false)
	if err != nil {
		r.fail("%w", err)
	}
	return b
}

func (r *confReader) float(key string) float64 {
	v, ok := r.c[key]
	if !ok || v == nil {
		return 0
	}
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case int64:
		f = float64(x)
	case int:
		f = float64(x)
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
			r.fail("config %s: %q is not a number", key, x)
			return 0
		}
	default:
		r.fail("config %s: %v (%T) is not a number", key, v, v)
		return 0
	}
	if f < 1 || f > 1000 || f != f {
		r.fail("config %s: %v is not a number from 1 to 1000", key, v)
		return 0
	}
	return f
}

// checkKeys refuses a kafka.* key that is not one of the component's, naming the
// closest known one. Not strict, it lets the other component's keys pass: a task's
// config holds the topology's too, which may set keys for both.
func checkKeys(c topology.Config, spout, strict bool) error {
	var names []string
	for _, k := range Keys {
		if (spout && k.Spout) || (!spout && k.Sink) || !strict {
			names = append(names, k.Name)
		}
	}
	what := "kafka-bolt"
	if spout {
		what = "kafka-spout"
	}
	var keys []string
	for k := range c {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !strings.HasPrefix(k, Prefix) || slices.Contains(names, k) {
			continue
		}
		if k == "kafka.sasl.password" {
			return errors.New("config kafka.sasl.password: a password is never written in a spec; put it in a file (kafka.sasl.password.file) or an environment variable of the workers (kafka.sasl.password.env)")
		}
		return fmt.Errorf("config %s: not an option of %s%s; its options are listed in docs/kafka.md", k, what, closest(k, names))
	}
	return nil
}

// closest suggests the known name nearest to k, when one is near.
func closest(k string, names []string) string {
	best, bestD := "", 4
	for _, n := range names {
		if d := editdist.Distance(k, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

func (r *confReader) client() Client {
	c := Client{Brokers: r.list("kafka.brokers"), ClientID: r.str("kafka.client.id")}
	for _, b := range c.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			r.fail("config kafka.brokers: %q is not host:port", b)
		}
	}
	t := &TLS{CAFile: r.str("kafka.tls.ca.file"), CertFile: r.str("kafka.tls.cert.file"),
		KeyFile: r.str("kafka.tls.key.file"), ServerName: r.str("kafka.tls.server.name")}
	if r.bool("kafka.tls") || *t != (TLS{}) {
		c.TLS = t
	}
	if m := r.str("kafka.sasl.mechanism"); m != "" || r.str("kafka.sasl.username") != "" {
		c.SASL = &SASL{Mechanism: strings.ToUpper(m), Username: r.str("kafka.sasl.username"),
			PasswordFile: r.str("kafka.sasl.password.file"), PasswordEnv: r.str("kafka.sasl.password.env")}
	}
	return c
}

// SpoutConfigFrom reads a spout's settings from a component's own config (the keys of
// Keys), checking every one: an unknown kafka.* key, a bad value, no brokers or no
// topic is an error that names the key. It is the check of kafka-spout in a spec.
func SpoutConfigFrom(c topology.Config) (SpoutConfig, error) { return spoutConfigFrom(c, true) }

func spoutConfigFrom(c topology.Config, strict bool) (SpoutConfig, error) {
	if err := checkKeys(c, true, strict); err != nil {
		return SpoutConfig{}, err
	}
	r := &confReader{c: c}
	cfg := SpoutConfig{
		Client:                r.client(),
		Topics:                r.list("kafka.topics"),
		Group:                 r.str("kafka.group.id"),
		Guarantee:             Guarantee(strings.ToLower(r.str("kafka.processing.guarantee"))),
		FirstPoll:             FirstPoll(strings.ToLower(r.str("kafka.first.poll.offset.strategy"))),
		CommitPeriod:          r.duration("kafka.offset.commit.period"),
		MaxUncommittedOffsets: r.int("kafka.max.uncommitted.offsets", 1),
		Retry: retry.Schedule{
			Initial:    r.duration("kafka.retry.initial.delay"),
			Multiplier: r.float("kafka.retry.multiplier"),
			Max:        r.duration("kafka.retry.max.delay"),
		},
		MaxRetries:     r.int("kafka.retry.max.retries", -1),
		RefreshPeriod:  r.duration("kafka.partition.refresh.period"),
		PollMaxRecords: r.int("kafka.poll.max.records", 1),
		SkipTombstones: r.bool("kafka.skip.tombstones"),
		Headers:        r.bool("kafka.headers"),
	}
	switch m := strings.ToLower(r.str("kafka.partition.mode")); m {
	case "", "manual":
	case "group":
		cfg.GroupMode = true
	default:
		r.fail("config kafka.partition.mode: %q is not manual or group", m)
	}
	switch f := r.str("kafka.record.format"); f {
	case "", "string":
	case "bytes":
		cfg.ValuesAsBytes = true
	default:
		r.fail("config kafka.record.format: %q is not string or bytes", f)
	}
	if p := r.str("kafka.topic.pattern"); p != "" {
		re, err := regexp.Compile("^(?:" + p + ")$")
		if err != nil {
			r.fail("config kafka.topic.pattern: %q is not a regular expression: %v", p, err)
		}
		cfg.TopicPattern = re
	}
	if r.err != nil {
		return SpoutConfig{}, r.err
	}
	// The parts of the schedule left out take their defaults.
	if cfg.Retry.Initial == 0 {
		cfg.Retry.Initial = DefaultRetryInitial
	}
	if cfg.Retry.Multiplier == 0 {
		cfg.Retry.Multiplier = DefaultRetryMultiplier
	}
	if cfg.Retry.Max == 0 {
		cfg.Retry.Max = DefaultRetryMaxDelay
	}
	return cfg.withDefaults()
}

// SinkConfigFrom reads a sink's settings from a component's own config, checking every
// one as SpoutConfigFrom does.
func SinkConfigFrom(c topology.Config) (SinkConfig, error) {
	cfg, err := parseSinkConfig(c, true)
	if err != nil {
		return cfg, err
	}
	return cfg.withDefaults()
}

func sinkConfigFrom(c topology.Config, strict bool) (SinkConfig, error) {
	cfg, err := parseSinkConfig(c, strict)
	if err != nil {
		return cfg, err
	}
	return cfg.withDefaults()
}

// parseSinkConfig reads the keys without applying defaults or the checks that
// depend on a mapper (a mapper may choose the topic).
func parseSinkConfig(c topology.Config, strict bool) (SinkConfig, error) {
	if err := checkKeys(c, false, strict); err != nil {
		return SinkConfig{}, err
	}
	r := &confReader{c: c}
	cfg := SinkConfig{
		Client:         r.client(),
		Topic:          r.str("kafka.topic"),
		TopicField:     r.str("kafka.topic.field"),
		KeyField:       r.str("kafka.key.field"),
		ValueField:     r.str("kafka.value.field"),
		HeadersField:   r.str("kafka.headers.field"),
		MaxInFlight:    r.int("kafka.max.in.flight", 1),
		Linger:         r.duration("kafka.linger"),
		ProduceTimeout: r.duration("kafka.produce.timeout"),
		Compression:    strings.ToLower(r.str("kafka.compression")),
	}
	if cfg.Topic != "" && cfg.TopicField != "" {
		r.fail("config kafka.topic and kafka.topic.field are both set; keep one")
	}
	if r.err != nil {
		return SinkConfig{}, r.err
	}
	return cfg, nil
}

// NewSpoutFromConfig returns a factory of spouts that read their settings from their
// task's config when they open (the keys of Keys), so that `-o kafka.brokers=...`
// reaches them: what kafka-spout is. translate, when not nil, replaces the default
// output.
func NewSpoutFromConfig(translate Translator) topology.SpoutFactory {
	return func() topology.Spout { return &Spout{fromConfig: true, cfg: SpoutConfig{Translate: translate}} }
}

// NewSinkFromConfig returns a factory of sinks that read their settings from their
// task's config: what kafka-bolt is. m, when not nil, makes the records.
func NewSinkFromConfig(m Mapper) topology.BoltFactory {
	return func() topology.Bolt { return &Sink{fromConfig: true, cfg: SinkConfig{Map: m}} }
}

// CheckSpoutConfig checks a spout's config before the topology starts: own is the
// component's config, whose kafka.* keys must all be the spout's; topo is the
// topology's, which may also hold the sink's keys. The task sees own over topo.
func CheckSpoutConfig(topo, own topology.Config) error {
	if err := checkKeys(own, true, true); err != nil {
		return err
	}
	_, err := spoutConfigFrom(topology.Config(topo).Merge(own), false)
	return err
}

// CheckSinkConfig is CheckSpoutConfig for a sink.
func CheckSinkConfig(topo, own topology.Config) error {
	if err := checkKeys(own, false, true); err != nil {
		return err
	}
	_, err := sinkConfigFrom(topology.Config(topo).Merge(own), false)
	return err
}
