package topology_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/sparsestream/sparse/pkg/grouping"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

func shuffleGrouper() grouping.Grouper {
	g, err := grouping.New(grouping.Spec{Type: grouping.Shuffle})
	if err != nil {
		panic(err)
	}
	return g
}

// validBuilder declares a topology that uses every grouping, a named and a direct stream,
// and configuration values in every accepted representation.
func validBuilder() *topology.Builder {
	b := topology.NewBuilder("word-count_v1.2").
		Config(topology.ConfMessageTimeoutSecs, 60).
		Config(topology.ConfAckerExecutors, int64(0)).
		Config(topology.ConfMaxSpoutPending, "1000").
		Config(topology.ConfWorkers, float64(2)).
		Config(topology.ConfTickTupleFreqSecs, json.Number("0")).
		Config(topology.ConfDebug, "true").
		Config("user.key", []any{"anything", "goes"})
	b.Spout("sentences", newSpout, 2).
		Output("sentence").
		OutputStream("meta", "key", "value").
		DirectStream("direct", "payload").
		Tasks(4).
		Config(topology.ConfMaxSpoutPending, int32(10))
	b.Bolt("split", newBolt, 3).
		Shuffle("sentences").
		Output("word")
	b.Bolt("count", newBolt, 2).
		Fields("split", "word").
		Output("word", "count").
		Config(topology.ConfTickTupleFreqSecs, 5).
		Config(topology.ConfDebug, false)
	b.Bolt("report", newBolt, 1).
		All("count").
		InputStream("sentences", "meta", grouping.Spec{Type: grouping.Global}).
		Direct("sentences", "direct")
	b.Bolt("misc", newBolt, 1).
		LocalOrShuffle("split").
		None("sentences").
		PartialKey("count", "word", "count").
		Custom("sentences", "meta", "mine", shuffleGrouper)
	return b
}

func TestBuildValid(t *testing.T) {
	b := validBuilder()
	s, err := b.Build()
	if err != nil {
		t.Fatalf("Build() of a valid topology: %v", err)
	}
	if s.Name != "word-count_v1.2" {
		t.Errorf("Name = %q", s.Name)
	}
	if err := topology.Validate(s); err != nil {
		t.Errorf("Validate(built spec) = %v, want nil", err)
	}
	if got := s.Config[topology.ConfMessageTimeoutSecs]; got != 60 {
		t.Errorf("Config[timeout] = %#v, want 60", got)
	}

	var ids []string
	for _, c := range s.Components {
		ids = append(ids, c.ID)
	}
	if want := []string{"sentences", "split", "count", "report", "misc"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("components = %v, want declaration order %v", ids, want)
	}

	comps := []struct {
		id          string
		kind        topology.Kind
		parallelism int
		tasks       int
	}{
		{"sentences", topology.KindSpout, 2, 4},
		{"split", topology.KindBolt, 3, 3}, // tasks default to the parallelism
		{"count", topology.KindBolt, 2, 2},
		{"report", topology.KindBolt, 1, 1},
		{"misc", topology.KindBolt, 1, 1},
	}
	for _, tc := range comps {
		c := s.Component(tc.id)
		if c == nil {
			t.Errorf("Component(%q) = nil", tc.id)
			continue
		}
		if c.Kind != tc.kind || c.Parallelism != tc.parallelism || c.Tasks != tc.tasks {
			t.Errorf("%s: kind %s parallelism %d tasks %d; want %s %d %d", tc.id, c.Kind, c.Parallelism, c.Tasks, tc.kind, tc.parallelism, tc.tasks)
		}
		if (c.Spout != nil) != (tc.kind == topology.KindSpout) || (c.Bolt != nil) != (tc.kind == topology.KindBolt) {
			t.Errorf("%s: wrong factory set (spout %v, bolt %v)", tc.id, c.Spout != nil, c.Bolt != nil)
		}
	}
	if s.Component("nope") != nil {
		t.Error("Component(nope) != nil")
	}

	spout := s.Component("sentences")
	wantStreams := []topology.StreamSpec{
		{ID: tuple.DefaultStream, Fields: []string{"sentence"}},
		{ID: "meta", Fields: []string{"key", "value"}},
		{ID: "direct", Fields: []string{"payload"}, Direct: true},
	}
	if !reflect.DeepEqual(spout.Streams, wantStreams) {
		t.Errorf("spout streams = %+v, want %+v", spout.Streams, wantStreams)
	}
	if st := spout.Stream("meta"); st == nil || st.ID != "meta" {
		t.Errorf("Stream(meta) = %+v", st)
	}
	if st := spout.Stream("direct"); st == nil || !st.Direct {
		t.Errorf("Stream(direct) = %+v, want a direct stream", st)
	}
	if st := spout.Stream("nope"); st != nil {
		t.Errorf("Stream(nope) = %+v, want nil", st)
	}
	if got := spout.Config[topology.ConfMaxSpoutPending]; got != int32(10) {
		t.Errorf("spout config = %#v", spout.Config)
	}

	type in struct {
		comp, stream string
		typ          grouping.Type
		fields       []string
	}
	inputs := map[string][]in{
		"split": {{"sentences", "default", grouping.Shuffle, nil}},
		"count": {{"split", "default", grouping.Fields, []string{"word"}}},
		"report": {
			{"count", "default", grouping.All, nil},
			{"sentences", "meta", grouping.Global, nil},
			{"sentences", "direct", grouping.Direct, nil},
		},
		"misc": {
			{"split", "default", grouping.LocalOrShuffle, nil},
			{"sentences", "default", grouping.None, nil},
			{"count", "default", grouping.PartialKey, []string{"word", "count"}},
			{"sentences", "meta", grouping.Custom, nil},
		},
	}
	for id, want := range inputs {
		c := s.Component(id)
		var got []in
		for _, i := range c.Inputs {
			got = append(got, in{i.Component, i.Stream, i.Grouping.Type, i.Grouping.Fields})
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s inputs = %+v, want %+v", id, got, want)
		}
	}
	custom := s.Component("misc").Inputs[3].Grouping
	if custom.CustomName != "mine" || custom.NewCustom == nil {
		t.Errorf("custom grouping = %+v", custom)
	}
}

func TestBuildClonesTopologyConfig(t *testing.T) {
	b := topology.NewBuilder("t").Config("a", 1)
	b.Spout("s", newSpout, 1)
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	b.Config("a", 2).Config("b", 3)
	if !reflect.DeepEqual(s.Config, topology.Config{"a": 1}) {
		t.Errorf("spec config changed after the builder was: %v", s.Config)
	}
}

func TestBuildMinimal(t *testing.T) {
	// A single spout with no output streams is a valid topology.
	b := topology.NewBuilder("t")
	b.Spout("s", newSpout, 1)
	s, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if len(s.Components) != 1 || s.Config == nil {
		t.Errorf("spec = %+v", s)
	}
}

func TestValidateNilConfigs(t *testing.T) {
	// A hand-built spec with nil configs is valid: a nil Config reads as empty.
	s := &topology.Spec{Name: "t", Components: []*topology.ComponentSpec{
		{ID: "s", Kind: topology.KindSpout, Parallelism: 1, Tasks: 1, Spout: newSpout},
	}}
	if err := topology.Validate(s); err != nil {
		t.Errorf("Validate = %v", err)
	}
}

func TestSpecJSON(t *testing.T) {
	s, err := validBuilder().Build()
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("json.Marshal(spec): %v", err)
	}
	var back topology.Spec
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("json.Unmarshal: %v", err)
	}
	if back.Name != s.Name || len(back.Components) != len(s.Components) {
		t.Errorf("round trip = %+v", back)
	}
}
