package kafka

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sparsestream/sparse/pkg/local"
	"github.com/sparsestream/sparse/pkg/topology"
)

// interopScript produces or consumes with kafka-python, a client that is not franz-go.
const interopScript = `
import sys
from kafka import KafkaConsumer, KafkaProducer

mode, brokers, topic, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if mode == "produce":
    p = KafkaProducer(bootstrap_servers=brokers, acks="all")
    for i in range(n):
        p.send(topic, key=b"k%d" % i, value=b"py %d" % i)
    p.flush()
    p.close()
else:
    c = KafkaConsumer(topic, bootstrap_servers=brokers, auto_offset_reset="earliest",
                      enable_auto_commit=False, consumer_timeout_ms=15000)
    seen = set()
    for r in c:
        seen.add((r.key, r.value))
        if len(seen) >= n:
            break
    bad = [kv for kv in seen if kv[1] != b"py " + kv[0][1:]]
    print(len(seen), len(bad))
`

// debianPython is the interpreter with Debian's python3-kafka (scripts/test-deps.sh).
func debianPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import kafka").Run() == nil {
			return py
		}
	}
	if testing.Short() {
		t.Skip("kafka-python is not installed (scripts/test-deps.sh installs python3-kafka)")
	}
	t.Fatal("kafka-python is not installed: run scripts/test-deps.sh, which installs Debian's python3-kafka")
	return ""
}

// TestInteropKafkaPython: records produced by kafka-python are read by the spout, and
// what the sink writes is read back by kafka-python.
func TestInteropKafkaPython(t *testing.T) {
	py := debianPython(t)
	script := filepath.Join(t.TempDir(), "interop.py")
	if err := os.WriteFile(script, []byte(interopScript), 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 500
	c := newBroker(t, 3, "in", "out")
	addr := c.ListenAddrs()[0]
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), py, append([]string{script}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kafka-python %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("produce", addr, "in", strconv.Itoa(n))

	client := Client{Brokers: []string{addr}}
	b := topology.NewBuilder("interop")
	scfg := SpoutConfig{Client: client, Topics: []string{"in"}, Group: "g", CommitPeriod: 100 * time.Millisecond}
	b.Spout("kafka", NewSpout(scfg), 2).Output(scfg.OutputFields()...)
	// gzip: Debian's kafka-python reads no other codec without more packages.
	b.Bolt("sink", NewSink(SinkConfig{Client: client, Topic: "out", KeyField: "key", ValueField: "value", Compression: "gzip"}), 2).Shuffle("kafka")
	spec, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := local.RunUntil(t.Context(), local.Options{Spec: spec, Logger: testLogger(t), Duration: 60 * time.Second},
		func(s local.Summary) bool { return s.Component("kafka").Acked >= n }); err != nil {
		t.Fatalf("the records kafka-python produced were not all acked: %v", err)
	}
	if got := run("consume", addr, "out", strconv.Itoa(n)); got != strconv.Itoa(n)+" 0" {
		t.Errorf("kafka-python read back %q (distinct records, mismatched), want \"%d 0\"", got, n)
	}
}
