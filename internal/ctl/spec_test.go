package ctl

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/proto"

	"github.com/sparsestream/sparse/internal/specpb"
	"github.com/sparsestream/sparse/pkg/grouping"
	"github.com/sparsestream/sparse/pkg/topology"
)

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

// TestSpecRoundTripThroughJSON: a spec survives describe's JSON, as sparsectl submit
// reads it, and the conversion to protobuf and back, with integers still int64 (apart
// from []byte, which JSON carries as base64 text, as describe prints it). The direct
// conversion (Spec -> proto -> wire -> Spec) is internal/specpb's, tested there with the
// same spec (TestSpecRoundTripThroughTheWire).
func TestSpecRoundTripThroughJSON(t *testing.T) {
	orig := fullSpec(t)
	j, err := json.Marshal(orig)
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := DecodeSpecJSON(j)
	if err != nil {
		t.Fatal(err)
	}
	if v := fromJSON.Config[topology.ConfMaxSpoutPending]; v != int64(2000) {
		t.Errorf("JSON integer config = %#v, want int64(2000)", v)
	}
	if v := fromJSON.Config["app.ratio"]; v != 0.25 {
		t.Errorf("JSON float config = %#v, want 0.25", v)
	}
	p, err := specpb.SpecToProto(fromJSON)
	if err != nil {
		t.Fatal(err)
	}
	got, err := specpb.SpecFromProto(p)
	if err != nil {
		t.Fatal(err)
	}
	want := *orig
	want.Config = orig.Config.Clone()
	want.Config[topology.ConfMaxSpoutPending] = int64(2000) // int became int64
	want.Components = nil
	for _, c := range orig.Components {
		cc := *c
		if c.ID == "custom" {
			cc.Config = topology.Config{"bolt.bytes": "AAEC"} // base64 in JSON
		}
		want.Components = append(want.Components, &cc)
	}
	if d := cmp.Diff(&want, got, specOpts); d != "" {
		t.Errorf("spec changed through JSON and protobuf (-want +got):\n%s", d)
	}
	direct, err := specpb.SpecToProto(orig)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(p.GetComponents()[0], direct.GetComponents()[0]) {
		t.Errorf("the spout's protobuf differs between the direct and the JSON path:\n%v\n%v", direct.GetComponents()[0], p.GetComponents()[0])
	}
}

// TestDecodeSpecJSONErrors: output that is not a spec is refused with a reason.
func TestDecodeSpecJSONErrors(t *testing.T) {
	cases := map[string]string{
		"":                       "not a topology spec in JSON",
		"hello":                  "not a topology spec in JSON",
		"{}":                     "neither a name nor components",
		`{"name": "a"} {}`:       "more than one JSON value",
		`{"name": 5}`:            "not a topology spec in JSON",
		`{"components": [null]}`: "component 0 is null",
		`{"components": "x"}`:    "not a topology spec in JSON",
		`{"name": "x", "config"`: "not a topology spec in JSON",
	}
	for in, want := range cases {
		_, err := DecodeSpecJSON([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("DecodeSpecJSON(%q) = %v, want an error saying %q", in, err, want)
		}
	}
}
