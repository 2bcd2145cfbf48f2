package multilang

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

type nopSpout struct{ topology.BaseSpout }

func (nopSpout) Open(*topology.Context, topology.SpoutCollector) error { return nil }
func (nopSpout) NextTuple()                                            {}

type nopBolt struct{ topology.BaseBolt }

func (nopBolt) Prepare(*topology.Context, topology.BoltCollector) error { return nil }
func (nopBolt) Execute(*tuple.Tuple)                                    {}

// TestHandshakeContext checks the context a subprocess gets against Storm's shape.
func TestHandshakeContext(t *testing.T) {
	b := topology.NewBuilder("wc")
	b.Config(topology.ConfMessageTimeoutSecs, 7)
	b.Config("custom.list", []string{"a", "b"})
	b.Config("not.json", func() {})
	b.Spout("sentences", func() topology.Spout { return nopSpout{} }, 1).Output("sentence")
	b.Bolt("split", func() topology.Bolt { return nopBolt{} }, 2).Shuffle("sentences").Output("word").OutputStream("lengths", "n")
	b.Bolt("count", func() topology.Bolt { return nopBolt{} }, 1).Fields("split", "word")
	b.Bolt("total", func() topology.Bolt { return nopBolt{} }, 1).Global("split")
	spec, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	l := topology.NewLayout(spec, 1)
	task := l.Tasks["split"][1]
	ctx := topology.NewContext("wc-1", l, "split", task, spec.Config.Merge(spec.Component("split").Config), hclog.NewNullLogger())
	msg := handshakeMessage(ctx, "/pids", false, hclog.NewNullLogger())

	// Compare through JSON, as the subprocess sees it.
	enc, err := Encode(JSON, msg)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(enc[:len(enc)-len("end\n")], &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"pidDir": "/pids",
		"conf": map[string]any{
			topology.ConfMessageTimeoutSecs: 7.0,
			"custom.list":                   []any{"a", "b"},
			"topology.name":                 "wc",
		},
		"context": map[string]any{
			"task->component": map[string]any{"1": "__acker", "2": "count", "3": "sentences", "4": "split", "5": "split", "6": "total"},
			"taskid":          float64(task),
			"componentid":     "split",
			"streams":         []any{"default", "lengths"},
			"stream->outputfields": map[string]any{
				"default": []any{"word"},
				"lengths": []any{"n"},
			},
			"stream->target->grouping": map[string]any{
				"default": map[string]any{
					"count": map[string]any{"type": "FIELDS", "fields": []any{"word"}},
					"total": map[string]any{"type": "FIELDS", "fields": []any{}},
				},
				"lengths": map[string]any{},
			},
			"source->stream->grouping": map[string]any{"sentences": map[string]any{"default": map[string]any{"type": "SHUFFLE"}}},
			"source->stream->fields":   map[string]any{"sentences": map[string]any{"default": []any{"sentence"}}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("handshake:\n got %s\nwant %s", g, w)
	}
}
