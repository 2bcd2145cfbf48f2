package execmetrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sparsestream/sparse/pkg/topology"
)

func TestUserCollector(t *testing.T) {
	m := topology.NewUserMetrics()
	ctx := topology.NewContext("topo", nil, "count", 7, nil, nil)
	ctx.SetMetrics(m)
	ctx.RegisterCounter("words").Add(3)
	ctx.RegisterGauge("words_total").Set(9) // shares the counter's exported name: skipped
	ctx.RegisterGauge("backlog").Set(1.5)
	ctx.RegisterHistogram("size", 1, 10).Observe(5)

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewUserCollector("topo", m))
	want := `
# HELP sparse_user_backlog A gauge registered by the topology's code as "backlog".
# TYPE sparse_user_backlog gauge
sparse_user_backlog{component="count",task="7",topology="topo"} 1.5
# HELP sparse_user_size A histogram registered by the topology's code as "size".
# TYPE sparse_user_size histogram
sparse_user_size_bucket{component="count",task="7",topology="topo",le="1"} 0
sparse_user_size_bucket{component="count",task="7",topology="topo",le="10"} 1
sparse_user_size_bucket{component="count",task="7",topology="topo",le="+Inf"} 1
sparse_user_size_sum{component="count",task="7",topology="topo"} 5
sparse_user_size_count{component="count",task="7",topology="topo"} 1
# HELP sparse_user_words_total A counter registered by the topology's code as "words".
# TYPE sparse_user_words_total counter
sparse_user_words_total{component="count",task="7",topology="topo"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}
