package nimbus

import (
	"reflect"
	"testing"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/pkg/scheduler"
)

func TestSDTargets(t *testing.T) {
	nimbuses := []*cluster.NimbusRecord{
		{ID: "n1", Address: "10.0.0.1:6627", Metrics: "10.0.0.1:9627", MetricsTLS: true},
		{ID: "n2", Address: "10.0.0.2:6627"}, // no metrics: not a target
	}
	sups := []*cluster.SupervisorRecord{
		{ID: "s1", Host: "10.0.1.1", Slots: []int{6700, 6701}, Metrics: "10.0.1.1:9628", WorkerMetricsOffset: 1000},
		{ID: "s2", Host: "10.0.1.2", Slots: []int{6700}}, // workers without metrics
	}
	assignments := []*cluster.AssignmentRecord{{TopologyID: "wc-1", Workers: []scheduler.WorkerSlot{
		{Supervisor: "s1", Host: "10.0.1.1", Port: 6701},
		{Supervisor: "s2", Host: "10.0.1.2", Port: 6700},
		{Supervisor: "gone", Host: "10.0.1.9", Port: 6700}, // a dead supervisor's
	}}}
	topologies := []*cluster.TopologyRecord{{ID: "wc-1", Name: "wc"}}
	got := sdTargets(nimbuses, sups, assignments, topologies)
	want := []sdGroup{
		{Targets: []string{"10.0.0.1:9627"}, Labels: map[string]string{"role": "nimbus", "nimbus": "n1", "__scheme__": "https"}},
		{Targets: []string{"10.0.1.1:9628"}, Labels: map[string]string{"role": "supervisor", "supervisor": "s1", "__scheme__": "http"}},
		{Targets: []string{"10.0.1.1:7701"}, Labels: map[string]string{"role": "worker", "supervisor": "s1", "worker": "s1:6701",
			"topology": "wc-1", "topology_name": "wc", "__scheme__": "http"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("targets:\n got %+v\nwant %+v", got, want)
	}
	if got := sdTargets(nil, nil, nil, nil); got == nil || len(got) != 0 {
		t.Errorf("an empty cluster gives %#v; want an empty list (Prometheus needs [])", got)
	}
}
