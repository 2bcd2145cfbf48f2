package specpb

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/proto"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/pkg/grouping"
	"github.com/sparsestream/sparse/pkg/topology"
)

// everyGrouping is a spec that uses every grouping type, a direct stream, custom names
// and config maps of every value type.
func everyGrouping() *topology.Spec {
	out := []topology.StreamSpec{{ID: "default", Fields: []string{"word", "n"}}, {ID: "direct", Fields: []string{"x"}, Direct: true}}
	in := func(t grouping.Type, stream string, fields ...string) topology.Input {
		return topology.Input{Component: "src", Stream: stream, Grouping: grouping.Spec{Type: t, Fields: fields}}
	}
	return &topology.Spec{
		Name: "every",
		Config: topology.Config{
			"topology.workers": int64(3), "topology.debug": true, "ratio": 0.25, "name": "x",
			"bytes": []byte{0, 1, 2}, "nothing": nil,
			"list": []any{int64(1), "two", []any{false}},
			"map":  map[string]any{"a": int64(-7), "b": map[string]any{"c": "d"}},
		},
		Components: []*topology.ComponentSpec{
			{ID: "src", Kind: topology.KindSpout, Parallelism: 2, Tasks: 4, Streams: out, Config: topology.Config{"k": "v"}},
			{ID: "sink", Kind: topology.KindBolt, Parallelism: 1, Tasks: 1, Inputs: []topology.Input{
				in(grouping.Shuffle, "default"),
				in(grouping.Direct, "direct"),
			}},
			{ID: "f", Kind: topology.KindBolt, Parallelism: 1, Tasks: 2, Inputs: []topology.Input{in(grouping.Fields, "default", "word")}},
			{ID: "pk", Kind: topology.KindBolt, Parallelism: 1, Tasks: 2, Inputs: []topology.Input{in(grouping.PartialKey, "default", "word", "n")}},
			{ID: "all", Kind: topology.KindBolt, Parallelism: 1, Tasks: 1, Inputs: []topology.Input{in(grouping.All, "default")}},
			{ID: "glob", Kind: topology.KindBolt, Parallelism: 1, Tasks: 1, Inputs: []topology.Input{in(grouping.Global, "default")}},
			{ID: "los", Kind: topology.KindBolt, Parallelism: 1, Tasks: 1, Inputs: []topology.Input{in(grouping.LocalOrShuffle, "default")}},
			{ID: "none", Kind: topology.KindBolt, Parallelism: 1, Tasks: 1, Inputs: []topology.Input{in(grouping.None, "default")}},
			{ID: "cust", Kind: topology.KindBolt, Parallelism: 3, Tasks: 3, Inputs: []topology.Input{
				{Component: "src", Stream: "default", Grouping: grouping.Spec{Type: grouping.Custom, CustomName: "my.hash"}},
			}, Config: topology.Config{"topology.tick.tuple.freq.secs": int64(5)}},
		},
	}
}

func TestSpecRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		spec *topology.Spec
	}{
		{"every grouping and value type", everyGrouping()},
		{"minimal", &topology.Spec{Name: "m", Components: []*topology.ComponentSpec{{ID: "s", Kind: topology.KindSpout, Parallelism: 1, Tasks: 1}}}},
		{"invalid shapes still convert", &topology.Spec{Name: "", Components: []*topology.ComponentSpec{{ID: "", Kind: "gadget", Parallelism: -1}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := SpecToProto(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			back, err := SpecFromProto(p)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tc.spec) {
				a, _ := json.MarshalIndent(tc.spec, "", " ")
				b, _ := json.MarshalIndent(back, "", " ")
				t.Fatalf("round trip differs:\nwant %s\ngot  %s", a, b)
			}
		})
	}
}

func TestSpecFromProtoFields(t *testing.T) {
	p, err := SpecToProto(everyGrouping())
	if err != nil {
		t.Fatal(err)
	}
	s, err := SpecFromProto(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := topology.ValidateShape(s); err != nil {
		t.Fatalf("the converted spec is not valid: %v", err)
	}
	cust := s.Component("cust").Inputs[0].Grouping
	if cust.Type != grouping.Custom || cust.CustomName != "my.hash" {
		t.Errorf("custom grouping = %+v", cust)
	}
	pk := s.Component("pk").Inputs[0].Grouping
	if pk.Type != grouping.PartialKey || !reflect.DeepEqual(pk.Fields, []string{"word", "n"}) {
		t.Errorf("partial key grouping = %+v", pk)
	}
	if !s.Component("src").Stream("direct").Direct {
		t.Error("the direct stream lost its flag")
	}
	if n, _ := s.Config.Int("topology.workers", 0); n != 3 {
		t.Errorf("topology.workers = %v", s.Config["topology.workers"])
	}
	if _, ok := s.Config["topology.workers"].(int64); !ok {
		t.Errorf("topology.workers is a %T, want int64", s.Config["topology.workers"])
	}
}

func TestSpecConversionErrors(t *testing.T) {
	if _, err := SpecFromProto(nil); err == nil || !strings.Contains(err.Error(), "no topology spec") {
		t.Errorf("nil spec: %v", err)
	}
	deep := &sparsev1.Value{}
	for range 200 {
		deep = &sparsev1.Value{Kind: &sparsev1.Value_ListValue{ListValue: &sparsev1.List{Values: []*sparsev1.Value{deep}}}}
	}
	p := &sparsev1.TopologySpec{
		Name:       "x",
		Config:     map[string]*sparsev1.Value{"deep": deep},
		Components: []*sparsev1.ComponentSpec{nil, {Id: "b", Config: map[string]*sparsev1.Value{"deep": deep}}},
	}
	_, err := SpecFromProto(p)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"topology config", "component 0 is empty", `component "b": config`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := SpecToProto(&topology.Spec{Name: "x", Config: topology.Config{"bad": struct{}{}}}); err == nil {
		t.Error("a config value that is not a tuple value was converted")
	}
}

func TestConfigToProtoNormalizesJSONNumbers(t *testing.T) {
	var c topology.Config
	if err := json.Unmarshal([]byte(`{"a": 3, "b": 2.5, "c": [1, 1.5], "d": {"e": 4}}`), &c); err != nil {
		t.Fatal(err)
	}
	m, err := ConfigToProto(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ConfigFromProto(m)
	if err != nil {
		t.Fatal(err)
	}
	want := topology.Config{"a": int64(3), "b": 2.5, "c": []any{int64(1), 1.5}, "d": map[string]any{"e": int64(4)}}
	if !reflect.DeepEqual(back, want) {
		t.Errorf("got %#v, want %#v", back, want)
	}
}

// fullSpec builds a spec that uses every grouping and every kind of config value.
func fullSpec(t *testing.T) *topology.Spec {
	t.Helper()
	b := topology.NewBuilder("everything")
	b.Config(topology.ConfMaxSpoutPending, 2000).
		Config(topology.ConfDebug, true).
		Config("app.ratio", 0.25).
		Config("app.name", "ünïcode").
		Config("app.list", []any{int64(1), "two", 3.5, nil}).
		Config("app.map", map[string]any{"k": int64(1), "nested": map[string]any{"x": false}})
	b.Spout("src", func() topology.Spout { return nil }, 2).Tasks(4).
		Output("id", "word").
		OutputStream("side", "n").
		DirectStream("direct", "v").
		Config("spout.setting", int64(-7))
	b.Bolt("shuffle", func() topology.Bolt { return nil }, 3).Shuffle("src").Output("word")
	b.Bolt("fields", func() topology.Bolt { return nil }, 1).Fields("src", "word", "id")
	b.Bolt("all", func() topology.Bolt { return nil }, 1).All("src").
		InputStream("shuffle", "default", grouping.Spec{Type: grouping.Global})
	b.Bolt("local", func() topology.Bolt { return nil }, 1).LocalOrShuffle("src").
		InputStream("src", "side", grouping.Spec{Type: grouping.None})
	b.Bolt("pk", func() topology.Bolt { return nil }, 2).Tasks(6).PartialKey("src", "word")
	b.Bolt("direct", func() topology.Bolt { return nil }, 1).Direct("src", "direct")
	b.Bolt("custom", func() topology.Bolt { return nil }, 1).
		Custom("shuffle", "default", "my-grouping", func() grouping.Grouper { return nil }).
		Config("bolt.bytes", []byte{0, 1, 2})
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// specOpts compares specs as data: no factories, and nil equals empty.
var specOpts = cmp.Options{
	cmpopts.IgnoreFields(topology.ComponentSpec{}, "Spout", "Bolt"),
	cmpopts.IgnoreFields(grouping.Spec{}, "NewCustom"),
	cmpopts.EquateEmpty(),
}

// TestSpecRoundTripThroughTheWire: a spec built with the builder survives the
// conversion to protobuf, the wire and the conversion back, with integers int64.
func TestSpecRoundTripThroughTheWire(t *testing.T) {
	orig := fullSpec(t)
	p, err := SpecToProto(orig)
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back sparsev1.TopologySpec
	if err := proto.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got, err := SpecFromProto(&back)
	if err != nil {
		t.Fatal(err)
	}
	want := *orig
	want.Config = orig.Config.Clone()
	want.Config[topology.ConfMaxSpoutPending] = int64(2000) // int became int64
	if d := cmp.Diff(&want, got, specOpts); d != "" {
		t.Errorf("spec changed in the proto round trip (-want +got):\n%s", d)
	}
	if err := topology.ValidateShape(got); err != nil {
		t.Errorf("the spec from protobuf does not validate: %v", err)
	}
	if g := p.GetComponents()[len(p.GetComponents())-1].GetInputs()[0].GetGrouping(); g.GetType() != "custom" || g.GetCustomName() != "my-grouping" {
		t.Errorf("custom grouping = %v, want type custom named my-grouping", g)
	}
}

// TestSpecToProtoErrors: values that protobuf cannot carry are named.
func TestSpecToProtoErrors(t *testing.T) {
	s := &topology.Spec{Name: "t", Config: topology.Config{"bad": struct{}{}}}
	if _, err := SpecToProto(s); err == nil || !strings.Contains(err.Error(), `topology "t" config: map key "bad"`) {
		t.Errorf("SpecToProto with a struct value = %v", err)
	}
	s = &topology.Spec{Name: "t", Components: []*topology.ComponentSpec{{ID: "c", Parallelism: 1 << 40, Tasks: 1}}}
	if _, err := SpecToProto(s); err == nil || !strings.Contains(err.Error(), `component "c": parallelism 1099511627776 does not fit`) {
		t.Errorf("SpecToProto with a huge parallelism = %v", err)
	}
	if _, err := SpecFromProto(nil); err == nil {
		t.Error("SpecFromProto(nil) succeeded")
	}
	if _, err := SpecToProto(nil); err == nil {
		t.Error("SpecToProto(nil) succeeded")
	}
	s = &topology.Spec{Name: "t", Components: []*topology.ComponentSpec{nil}}
	if _, err := SpecToProto(s); err == nil || !strings.Contains(err.Error(), `component 0 is nil`) {
		t.Errorf("SpecToProto with a nil component = %v", err)
	}
}
