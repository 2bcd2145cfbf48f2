package kafka

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/sparsestream/sparse/internal/retry"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// Guarantee is the spout's processing guarantee, as storm-kafka-client names them.
type Guarantee string

const (
	// AtLeastOnce (the default): an offset is committed only once its tuple tree, and
	// that of every offset before it, is acked; a failed tuple is emitted again.
	AtLeastOnce Guarantee = "at_least_once"
	// AtMostOnce commits each polled batch before emitting it, unreliably: a crash
	// loses what was committed and not processed, and nothing is emitted twice.
	AtMostOnce Guarantee = "at_most_once"
	// None emits unreliably and commits, on the commit period, what was emitted.
	None Guarantee = "none"
)

// FirstPoll says where a partition is first read from.
type FirstPoll string

const (
	// Earliest starts at the partition's beginning when the topology is deployed;
	// later runs of the same topology resume from its commits.
	Earliest FirstPoll = "earliest"
	// Latest starts at the partition's end when the topology is deployed; later runs
	// of the same topology resume from its commits.
	Latest FirstPoll = "latest"
	// UncommittedEarliest (the default) resumes from the group's committed offset,
	// whoever committed it, and starts at the beginning when there is none.
	UncommittedEarliest FirstPoll = "uncommitted_earliest"
	// UncommittedLatest resumes from the committed offset, or starts at the end.
	UncommittedLatest FirstPoll = "uncommitted_latest"
)

// Defaults of the spout's and the sink's settings.
const (
	DefaultCommitPeriod          = 5 * time.Second
	DefaultMaxUncommittedOffsets = 100_000
	DefaultRetryInitial          = 100 * time.Millisecond
	DefaultRetryMultiplier       = 2.0
	DefaultRetryMaxDelay         = 10 * time.Second
	DefaultRefreshPeriod         = 2 * time.Second
	DefaultPollMaxRecords        = 1000
	DefaultMaxInFlight           = 10_000
	DefaultLinger                = 5 * time.Millisecond
	DefaultProduceTimeout        = 20 * time.Second
)

// Client is how to reach the cluster: brokers and security. Secrets are read from
// files or the environment when the client is made, never kept in a spec.
type Client struct {
	Brokers  []string
	ClientID string
	TLS      *TLS  // nil: plaintext
	SASL     *SASL // nil: no authentication
}

// TLS configures the client's TLS. All files are PEM.
type TLS struct {
	CAFile     string // the CA that signs the brokers' certificates ("": the system's)
	CertFile   string // the client's certificate, for mutual TLS
	KeyFile    string
	ServerName string // the name to check the brokers' certificates against ("": the host)
}

// SASL configures authentication.
type SASL struct {
	Mechanism    string // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	Username     string
	PasswordFile string // read when the client is made
	PasswordEnv  string // the environment variable holding the password
}

// Record is one Kafka record as the spout hands it to a Translator.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte // nil when the record has no key
	Value     []byte // nil for a tombstone
	Headers   []Header
	Timestamp time.Time
}

// Header is one record header.
type Header struct {
	Key   string
	Value []byte
}

// Translator turns a record into a tuple's values and the stream to emit them on
// ("" is the default stream). A nil values slice skips the record: it is committed past
// and never emitted. It runs on the spout's goroutine.
type Translator func(r *Record) (values []any, stream string)

// SpoutConfig configures a Spout.
type SpoutConfig struct {
	Client
	// Topics to read, or TopicPattern: every topic whose whole name matches it.
	Topics       []string
	TopicPattern *regexp.Regexp
	// Group is the consumer group the offsets are committed under; "" is
	// "sparse-<topology name>-<component>".
	Group     string
	Guarantee Guarantee // "" is AtLeastOnce
	// GroupMode makes the spout's tasks members of the consumer group, whose
	// coordinator divides the partitions, instead of dealing them out themselves.
	// earliest and latest then act as uncommitted_earliest and uncommitted_latest.
	GroupMode bool
	FirstPoll FirstPoll // "" is UncommittedEarliest
	// CommitPeriod is how often committable offsets are committed.
	CommitPeriod time.Duration
	// MaxUncommittedOffsets pauses a partition once it has this many emitted offsets
	// not yet committable, until they are.
	MaxUncommittedOffsets int
	// Retry is the backoff of failed tuples; MaxRetries is how many times one record
	// is emitted again before it is given up and committed past (0: for ever, as
	// Storm's default; below 0: never, a failed record is given up at once).
	Retry      retry.Schedule
	MaxRetries int
	// RefreshPeriod is how often the topics' partitions are listed again.
	RefreshPeriod  time.Duration
	PollMaxRecords int
	// SkipTombstones commits past records with a null value instead of emitting them.
	SkipTombstones bool
	// ValuesAsBytes emits key and value as []byte instead of strings.
	ValuesAsBytes bool
	// Headers adds a field "headers" (a map of header keys to string values) to the
	// default output.
	Headers bool
	// Translate, when set, replaces the default output: it chooses the values and the
	// stream of each record. Declare the streams it emits on yourself.
	Translate Translator
}

// DefaultFields are the spout's output fields without a Translator.
var DefaultFields = []string{"topic", "partition", "offset", "key", "value"}

// OutputFields returns the fields of the default output for c.
func (c *SpoutConfig) OutputFields() []string {
	if c.Headers {
		return append(append([]string{}, DefaultFields...), "headers")
	}
	return append([]string{}, DefaultFields...)
}

// withDefaults fills the zero settings and checks the rest.
func (c SpoutConfig) withDefaults() (SpoutConfig, error) {
	if err := c.Client.check(); err != nil {
		return c, err
	}
	if len(c.Topics) == 0 && c.TopicPattern == nil {
		return c, errors.New("kafka spout: no topic; set kafka.topics (a list) or kafka.topic.pattern (a regular expression)")
	}
	if len(c.Topics) > 0 && c.TopicPattern != nil {
		return c, errors.New("kafka spout: both kafka.topics and kafka.topic.pattern are set; keep one")
	}
	switch c.Guarantee {
	case "":
		c.Guarantee = AtLeastOnce
	case AtLeastOnce, AtMostOnce, None:
	default:
		return c, fmt.Errorf("kafka spout: processing guarantee %q is not one of at_least_once, at_most_once, none", c.Guarantee)
	}
	switch c.FirstPoll {
	case "":
		c.FirstPoll = UncommittedEarliest
	case Earliest, Latest, UncommittedEarliest, UncommittedLatest:
	default:
		return c, fmt.Errorf("kafka spout: first poll strategy %q is not one of earliest, latest, uncommitted_earliest, uncommitted_latest", c.FirstPoll)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.CommitPeriod, DefaultCommitPeriod)
	def(&c.RefreshPeriod, DefaultRefreshPeriod)
	if c.Retry == (retry.Schedule{}) {
		c.Retry = retry.Schedule{Initial: DefaultRetryInitial, Multiplier: DefaultRetryMultiplier, Max: DefaultRetryMaxDelay}
	}
	if c.MaxUncommittedOffsets <= 0 {
		c.MaxUncommittedOffsets = DefaultMaxUncommittedOffsets
	}
	if c.PollMaxRecords <= 0 {
		c.PollMaxRecords = DefaultPollMaxRecords
	}
	return c, nil
}

func (c Client) check() error {
	if len(c.Brokers) == 0 {
		return errors.New("kafka: no brokers; set kafka.brokers to host:port of one or more brokers")
	}
	for _, b := range c.Brokers {
		if b == "" {
			return errors.New("kafka: an empty broker address in kafka.brokers")
		}
	}
	if s := c.SASL; s != nil {
		switch s.Mechanism {
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		default:
			return fmt.Errorf("kafka: SASL mechanism %q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", s.Mechanism)
		}
		if s.Username == "" {
			return errors.New("kafka: SASL needs kafka.sasl.username")
		}
		if (s.PasswordFile == "") == (s.PasswordEnv == "") {
			return errors.New("kafka: SASL needs exactly one of kafka.sasl.password.file and kafka.sasl.password.env")
		}
	}
	if t := c.TLS; t != nil && (t.CertFile == "") != (t.KeyFile == "") {
		return errors.New("kafka: kafka.tls.cert.file and kafka.tls.key.file go together; set both or neither")
	}
	return nil
}

// Mapper turns a tuple into the record the sink produces (its Topic "" means the
// sink's Topic; Partition and Offset are ignored). A nil record with a nil error acks
// the tuple without producing. An error is reported and counted and the tuple acked:
// replaying it would fail the same way.
type Mapper func(in *tuple.Tuple) (*Record, error)

// SinkConfig configures a Sink.
type SinkConfig struct {
	Client
	// Topic receives every record, unless TopicField names a field holding the topic.
	Topic      string
	TopicField string
	// KeyField and ValueField name the fields written as key and value (KeyField "":
	// no key; ValueField "": "value"). HeadersField names an optional field holding a
	// map of header keys to values.
	KeyField     string
	ValueField   string
	HeadersField string
	// Map, when set, replaces the fields above: it makes each record (its Topic ""
	// means Topic).
	Map Mapper
	// MaxInFlight bounds the records produced and not yet acknowledged by Kafka;
	// Execute waits when it is reached.
	MaxInFlight int
	// Linger is how long the producer waits to fill a batch.
	Linger time.Duration
	// ProduceTimeout fails a record Kafka has not acknowledged in this time; keep it
	// below topology.message.timeout.secs.
	ProduceTimeout time.Duration
	// Compression of the batches: none, gzip, snappy (the default), lz4 or zstd.
	// Consumers must support it; gzip is the one every client reads.
	Compression string
}

func (c SinkConfig) withDefaults() (SinkConfig, error) {
	if err := c.Client.check(); err != nil {
		return c, err
	}
	if c.Topic == "" && c.TopicField == "" && c.Map == nil {
		return c, errors.New("kafka bolt: no topic; set kafka.topic, or kafka.topic.field to take it from a field")
	}
	if c.ValueField == "" {
		c.ValueField = "value"
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.Linger <= 0 {
		c.Linger = DefaultLinger
	}
	if c.ProduceTimeout <= 0 {
		c.ProduceTimeout = DefaultProduceTimeout
	}
	switch c.Compression {
	case "":
		c.Compression = "snappy"
	case "none", "gzip", "snappy", "lz4", "zstd":
	default:
		return c, fmt.Errorf("kafka bolt: compression %q is not one of none, gzip, snappy, lz4, zstd", c.Compression)
	}
	return c, nil
}
