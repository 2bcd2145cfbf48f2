package topology

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
)

// User metrics, in the way of Storm's metrics v2: a spout or bolt registers counters,
// gauges and histograms through its Context (usually in Open or Prepare) and updates
// them as it runs. A worker exports them on its /metrics with the engine's own, as
// sparse_user_<name> with the labels topology, component and task.

// Counter only goes up.
type Counter struct{ v atomic.Int64 }

// Inc adds 1.
func (c *Counter) Inc() { c.v.Add(1) }

// Add adds n; a negative n is ignored, since a counter only goes up.
func (c *Counter) Add(n int64) {
	if n > 0 {
		c.v.Add(n)
	}
}

// Value is the count so far.
func (c *Counter) Value() int64 { return c.v.Load() }

// Gauge is a value that goes up and down.
type Gauge struct{ bits atomic.Uint64 }

// Set sets the value.
func (g *Gauge) Set(v float64) { g.bits.Store(math.Float64bits(v)) }

// Value is the last value set.
func (g *Gauge) Value() float64 { return math.Float64frombits(g.bits.Load()) }

// DefaultBuckets are a histogram's upper bounds unless given: from 0.5 ms to 10 s, for
// durations in seconds.
var DefaultBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Histogram counts observations into buckets by upper bound. Observe takes no lock:
// user code may call it for every tuple.
type Histogram struct {
	bounds  []float64
	counts  []atomic.Uint64 // per bucket, the last for +Inf; their total is the count
	sumBits atomic.Uint64   // the sum, as float64 bits
}

// Observe records one value.
func (h *Histogram) Observe(v float64) {
	h.counts[sort.SearchFloat64s(h.bounds, v)].Add(1)
	for {
		old := h.sumBits.Load()
		if h.sumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Snapshot returns the upper bounds, the cumulative count at each, the count and the
// sum. Observations made meanwhile may be counted in some of them only.
func (h *Histogram) Snapshot() (bounds []float64, cumulative []uint64, count uint64, sum float64) {
	cumulative = make([]uint64, len(h.bounds))
	for i := range h.counts {
		count += h.counts[i].Load()
		if i < len(cumulative) {
			cumulative[i] = count
		}
	}
	return h.bounds, cumulative, count, math.Float64frombits(h.sumBits.Load())
}

// MetricKind says what a user metric is.
type MetricKind string

const (
	MetricCounter   MetricKind = "counter"
	MetricGauge     MetricKind = "gauge"
	MetricHistogram MetricKind = "histogram"
)

var metricName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// maxUserMetrics bounds the metrics of one runtime, so that a bug that registers a name
// per tuple cannot exhaust the worker's memory or its scraper.
const maxUserMetrics = 10000

// UserMetric is one registered metric of one task.
type UserMetric struct {
	Name      string
	Kind      MetricKind
	Component string
	Task      int32
	Counter   *Counter
	Gauge     *Gauge
	Histogram *Histogram
}

type userKey struct {
	name string
	task int32
}

// UserMetrics holds the user metrics of a runtime's tasks. The engine makes one per
// runtime and gives it to every task's Context.
type UserMetrics struct {
	mu     sync.Mutex
	byKey  map[userKey]*UserMetric
	kinds  map[string]MetricKind // one kind per name across the runtime
	sorted []*UserMetric
}

// NewUserMetrics makes an empty registry.
func NewUserMetrics() *UserMetrics {
	return &UserMetrics{byKey: map[userKey]*UserMetric{}, kinds: map[string]MetricKind{}}
}

// Each calls f for every metric, in the order of name and task.
func (m *UserMetrics) Each(f func(*UserMetric)) {
	if m == nil {
		return
	}
	m.mu.Lock()
	list := m.sorted
	m.mu.Unlock()
	for _, um := range list {
		f(um)
	}
}

// register finds or makes the metric name of a task; a name already registered with
// another kind, a malformed name or one too many is an error, and the caller gets a
// metric that works but is not exported.
func (m *UserMetrics) register(name string, kind MetricKind, component string, task int32, buckets []float64) (*UserMetric, error) {
	if !metricName.MatchString(name) {
		return nil, fmt.Errorf("metric name %q: use letters, digits and underscores, not starting with a digit", name)
	}
	if m == nil {
		return nil, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if k, ok := m.kinds[name]; ok && k != kind {
		return nil, fmt.Errorf("metric %q is already a %s; register the %s under another name", name, k, kind)
	}
	key := userKey{name, task}
	if um, ok := m.byKey[key]; ok {
		return um, nil
	}
	if len(m.byKey) >= maxUserMetrics {
		return nil, fmt.Errorf("metric %q: this worker already has %d user metrics, the most it exports", name, maxUserMetrics)
	}
	um := newUserMetric(name, kind, component, task, buckets)
	m.kinds[name] = kind
	m.byKey[key] = um
	sorted := append(slices.Clone(m.sorted), um)
	slices.SortFunc(sorted, func(a, b *UserMetric) int {
		if a.Name != b.Name {
			if a.Name < b.Name {
				return -1
			}
			return 1
		}
		return int(a.Task - b.Task)
	})
	m.sorted = sorted
	return um, nil
}

func newUserMetric(name string, kind MetricKind, component string, task int32, buckets []float64) *UserMetric {
	um := &UserMetric{Name: name, Kind: kind, Component: component, Task: task}
	switch kind {
	case MetricCounter:
		um.Counter = &Counter{}
	case MetricGauge:
		um.Gauge = &Gauge{}
	case MetricHistogram:
		bounds := slices.Clone(buckets)
		if len(bounds) == 0 {
			bounds = slices.Clone(DefaultBuckets)
		}
		slices.Sort(bounds)
		bounds = slices.Compact(bounds)
		um.Histogram = &Histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
	}
	return um
}

// SetMetrics is used by the engine to give the context its runtime's registry.
func (c *Context) SetMetrics(m *UserMetrics) { c.metrics = m }

// userMetric registers a metric of this task; a refusal is logged and the caller gets
// a metric that works but is not exported, so that a metrics mistake never stops a
// topology.
func (c *Context) userMetric(name string, kind MetricKind, buckets []float64) *UserMetric {
	um, err := c.metrics.register(name, kind, c.ComponentID, c.TaskID, buckets)
	if err != nil && c.log != nil {
		c.log.Error("the metric is not exported", "error", err)
	}
	if um == nil {
		um = newUserMetric(name, kind, c.ComponentID, c.TaskID, buckets)
	}
	return um
}

// RegisterCounter returns this task's counter name, made on first use (Storm's
// registerCounter). Names are letters, digits and underscores.
func (c *Context) RegisterCounter(name string) *Counter {
	return c.userMetric(name, MetricCounter, nil).Counter
}

// RegisterGauge returns this task's gauge name (Storm's registerGauge).
func (c *Context) RegisterGauge(name string) *Gauge {
	return c.userMetric(name, MetricGauge, nil).Gauge
}

// RegisterHistogram returns this task's histogram name with the given bucket upper
// bounds (DefaultBuckets when none), as Storm's registerHistogram.
func (c *Context) RegisterHistogram(name string, buckets ...float64) *Histogram {
	return c.userMetric(name, MetricHistogram, buckets).Histogram
}
