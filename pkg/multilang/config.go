package multilang

import (
	"fmt"
	"time"

	"github.com/sparsestream/sparse/pkg/topology"
)

// Configuration keys read by shell components (topology-wide or per component).
const (
	// ConfSubprocessTimeoutSecs is how long a subprocess may take to answer: the
	// handshake, a heartbeat (bolts), a "next", "ack" or "fail" (spouts), or to take its
	// input. A subprocess that does not answer in time is killed and restarted. Storm's
	// key and default (30s).
	ConfSubprocessTimeoutSecs = "topology.subprocess.timeout.secs"
	// ConfSerializer chooses the encoding: "json" (Storm's, the default) or "msgpack"
	// (pystorm's). Storm's and streamparse's serializer class names are accepted too.
	ConfSerializer = "topology.multilang.serializer"
	// ConfMaxMessageBytes bounds one message read from a subprocess (default 16 MiB).
	ConfMaxMessageBytes = "topology.multilang.max.message.bytes"
)

// DefaultSubprocessTimeout is Storm's default for ConfSubprocessTimeoutSecs.
const DefaultSubprocessTimeout = 30 * time.Second

// Restart backoff: the first restart waits minBackoff, each further one twice as long up
// to maxBackoff, each less a random part of up to half (so that the subprocesses of many
// tasks that died together do not restart together); a subprocess that ran healthy for
// stableAfter resets it.
const (
	minBackoff  = 100 * time.Millisecond
	maxBackoff  = 10 * time.Second
	stableAfter = 30 * time.Second
)

// closeGrace is how long Cleanup and Close wait for a subprocess to exit after its stdin
// is closed before they kill it.
const closeGrace = time.Second

// options are the settings of one shell component, read from its task's config.
type options struct {
	timeout    time.Duration
	serializer Serializer
	maxBytes   int
	heartbeat  time.Duration // how often a bolt sends a heartbeat tuple
	batch      bool          // offer the batch extension in the handshake
}

func readOptions(conf topology.Config) (options, error) {
	o := options{timeout: DefaultSubprocessTimeout, serializer: JSON, maxBytes: DefaultMaxMessageBytes}
	secs, err := conf.Int(ConfSubprocessTimeoutSecs, int64(DefaultSubprocessTimeout/time.Second))
	if err != nil {
		return o, err
	}
	if secs < 1 {
		return o, fmt.Errorf("config %s is %d; it must be at least 1", ConfSubprocessTimeoutSecs, secs)
	}
	o.timeout = time.Duration(secs) * time.Second
	if o.serializer, err = ParseSerializer(conf.String(ConfSerializer, string(JSON))); err != nil {
		return o, err
	}
	n, err := conf.Int(ConfMaxMessageBytes, DefaultMaxMessageBytes)
	if err != nil {
		return o, err
	}
	if n < 1024 || n > 1<<30 {
		return o, fmt.Errorf("config %s is %d; it must be between 1024 and 1073741824", ConfMaxMessageBytes, n)
	}
	o.maxBytes = int(n)
	if o.batch, err = conf.Bool(ConfBatch, true); err != nil {
		return o, err
	}
	// Storm sends a heartbeat every second; a short timeout (tests) gets them more often
	// so that a healthy subprocess always has several chances to answer.
	o.heartbeat = min(time.Second, o.timeout/4)
	return o, nil
}

// Bolt declares a shell bolt on b.
func Bolt(b *topology.Builder, id string, cmd ShellCommand, parallelism int) *topology.BoltDeclarer {
	return b.Bolt(id, NewShellBolt(cmd), parallelism)
}

// Spout declares a shell spout on b.
func Spout(b *topology.Builder, id string, cmd ShellCommand, parallelism int) *topology.SpoutDeclarer {
	return b.Spout(id, NewShellSpout(cmd), parallelism)
}
