package topology

import (
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestUserMetrics(t *testing.T) {
	var logged strings.Builder
	log := hclog.New(&hclog.LoggerOptions{Output: &logged})
	m := NewUserMetrics()
	ctx := func(component string, task int32) *Context {
		c := NewContext("topo", nil, component, task, nil, log)
		c.SetMetrics(m)
		return c
	}
	a, b := ctx("split", 3), ctx("split", 4)
	a.RegisterCounter("words").Add(5)
	a.RegisterCounter("words").Inc() // the same counter again
	a.RegisterCounter("words").Add(-7)
	b.RegisterCounter("words").Inc()
	a.RegisterGauge("backlog").Set(2.5)
	h := a.RegisterHistogram("size", 10, 1, 100, 10)
	for _, v := range []float64{0.5, 5, 50, 500} {
		h.Observe(v)
	}

	// Refused: a name of another kind, a malformed name. The caller still gets a
	// working metric, and the log says why.
	a.RegisterGauge("words").Set(1)
	a.RegisterCounter("no spaces").Inc()
	for _, want := range []string{`metric \"words\" is already a counter`, `metric name \"no spaces\"`} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, logged.String())
		}
	}

	type row struct {
		name  string
		kind  MetricKind
		task  int32
		value float64
	}
	var got []row
	m.Each(func(um *UserMetric) {
		r := row{um.Name, um.Kind, um.Task, 0}
		switch um.Kind {
		case MetricCounter:
			r.value = float64(um.Counter.Value())
		case MetricGauge:
			r.value = um.Gauge.Value()
		case MetricHistogram:
			bounds, cum, n, sum := um.Histogram.Snapshot()
			if len(bounds) != 3 || cum[0] != 1 || cum[1] != 2 || cum[2] != 3 || n != 4 || sum != 555.5 {
				t.Errorf("histogram: bounds %v cumulative %v count %d sum %v", bounds, cum, n, sum)
			}
			r.value = float64(n)
		}
		got = append(got, r)
	})
	want := []row{{"backlog", MetricGauge, 3, 2.5}, {"size", MetricHistogram, 3, 4}, {"words", MetricCounter, 3, 6}, {"words", MetricCounter, 4, 1}}
	if len(got) != len(want) {
		t.Fatalf("metrics %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("metric %d = %+v, want %+v", i, got[i], want[i])
		}
	}

	// A context without a registry (a test building one by hand) still works.
	loose := NewContext("topo", nil, "c", 1, nil, nil)
	c := loose.RegisterCounter("x")
	c.Add(2)
	if c.Value() != 2 {
		t.Errorf("a counter of a context without a registry holds %d, want 2", c.Value())
	}
}

func TestUserMetricsLimit(t *testing.T) {
	m := NewUserMetrics()
	for i := range maxUserMetrics {
		if _, err := m.register("m", MetricCounter, "c", int32(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.register("m", MetricCounter, "c", maxUserMetrics, nil); err == nil || !strings.Contains(err.Error(), "the most it exports") {
		t.Fatalf("one metric too many: %v", err)
	}
}
