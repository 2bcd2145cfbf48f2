package topology

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sparsestream/sparse/pkg/tuple"
)

// Configuration keys, named as in Storm so that existing configs carry over.
const (
	ConfAckerExecutors      = "topology.acker.executors"
	ConfMessageTimeoutSecs  = "topology.message.timeout.secs"
	ConfMaxSpoutPending     = "topology.max.spout.pending"
	ConfTickTupleFreqSecs   = "topology.tick.tuple.freq.secs"
	ConfWorkers             = "topology.workers"
	ConfDebug               = "topology.debug"
	ConfReceiveBufferSize   = "topology.executor.receive.buffer.size"
	ConfProducerBatchSize   = "topology.producer.batch.size"
	ConfFlushIntervalMillis = "topology.flush.tuple.freq.millis"
	ConfSpoutWaitMaxMillis  = "topology.spout.wait.max.millis"
	// ConfHeapFloorMB is sparse's own: the heap size below which the Go garbage
	// collector of a process running the topology does not run (0: Go's default of 4 MB).
	ConfHeapFloorMB = "topology.worker.heap.floor.mb"
)

// Defaults for the keys above; Storm's where Storm has one.
const (
	DefaultMessageTimeoutSecs = 30
	DefaultReceiveBufferSize  = 32768 // tuples per executor inbox
	DefaultProducerBatchSize  = 128
	DefaultFlushInterval      = time.Millisecond
	DefaultSpoutWaitMax       = time.Millisecond
	DefaultHeapFloorMB        = 64
)

// Config is a topology's or a component's configuration: string keys to JSON-like values
// (string, int64, float64, bool, lists, maps), as Storm's is.
type Config map[string]any

// Clone returns a shallow copy; nil stays an empty config.
func (c Config) Clone() Config {
	out := make(Config, len(c))
	maps.Copy(out, c)
	return out
}

// Merge returns c overlaid with o (o wins).
func (c Config) Merge(o Config) Config {
	out := c.Clone()
	maps.Copy(out, o)
	return out
}

// Int returns an integer setting. JSON numbers, Go integers and numeric strings are
// accepted; anything else is an error naming the key.
func (c Config) Int(key string, def int64) (int64, error) {
	v, ok := c[key]
	if !ok || v == nil {
		return def, nil
	}
	notInt := func() (int64, error) { return 0, fmt.Errorf("config %s: %v (%T) is not an integer", key, v, v) }
	if n, ok, err := tuple.Int64(v); ok {
		if err != nil {
			return 0, fmt.Errorf("config %s: %w", key, err)
		}
		return n, nil
	}
	switch x := v.(type) {
	case float64:
		return floatInt(key, x)
	case float32:
		return floatInt(key, float64(x))
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		f, err := x.Float64()
		if err != nil {
			return notInt()
		}
		return floatInt(key, f)
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("config %s: %q is not an integer", key, x)
		}
		return n, nil
	}
	return notInt()
}

// floatInt accepts a float that is a whole number within int64's range (JSON has only
// one number type, so 3 may arrive as 3.0).
func floatInt(key string, x float64) (int64, error) {
	if x != math.Trunc(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("config %s: %v is not a whole number", key, x)
	}
	if x >= 1<<63 || x < -(1<<63) {
		return 0, fmt.Errorf("config %s: %v is out of range", key, x)
	}
	return int64(x), nil
}

// Bool returns a boolean setting; "true"/"false" strings are accepted.
func (c Config) Bool(key string, def bool) (bool, error) {
	v, ok := c[key]
	if !ok || v == nil {
		return def, nil
	}
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		b, err := strconv.ParseBool(x)
		if err != nil {
			return false, fmt.Errorf("config %s: %q is not true or false", key, x)
		}
		return b, nil
	}
	return false, fmt.Errorf("config %s: %v (%T) is not a boolean", key, v, v)
}

// String returns a string setting.
func (c Config) String(key, def string) string {
	v, ok := c[key]
	if !ok || v == nil {
		return def
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// ParseOverride parses one `key=value` override as given to `-o`. The value is read as
// JSON when it is valid JSON (numbers, true/false, lists, maps, quoted strings) and as a
// plain string otherwise, so `-o topology.workers=3` sets a number and `-o env=prod` a
// string.
func ParseOverride(kv string) (string, any, error) {
	key, raw, ok := strings.Cut(kv, "=")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return "", nil, fmt.Errorf("option %q is not key=value; write for example -o %s=10", kv, ConfMaxSpoutPending)
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil || dec.More() {
		return key, raw, nil
	}
	return key, NormalizeJSON(v), nil
}

// normalizeJSON turns json.Number into int64 or float64, recursively.
func NormalizeJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = NormalizeJSON(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = NormalizeJSON(x[k])
		}
	}
	return v
}

// AckerTasks is the number of __acker tasks a configuration asks for: Storm's default is
// one per worker; 0 turns acking off.
func (c Config) AckerTasks() int {
	workers, _ := c.Int(ConfWorkers, 1)
	n, _ := c.Int(ConfAckerExecutors, workers)
	return int(max(n, 0))
}
