package multilang

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/pkg/topology"
)

// TestBatchOffer: the handshake's conf offers the extension unless ConfBatch is false,
// and only an answer naming this version accepts it.
func TestBatchOffer(t *testing.T) {
	b := topology.NewBuilder("offer")
	b.Spout("s", func() topology.Spout { return nopSpout{} }, 1).Output("v")
	spec, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	l := topology.NewLayout(spec, 1)
	for _, tt := range []struct {
		conf  topology.Config
		offer bool
	}{
		{topology.Config{}, true},
		{topology.Config{ConfBatch: true}, true},
		{topology.Config{ConfBatch: false}, false},
		{topology.Config{ConfBatch: "false"}, false},
	} {
		o, err := readOptions(tt.conf)
		if err != nil {
			t.Fatal(err)
		}
		ctx := topology.NewContext("offer-1", l, "s", l.Tasks["s"][0], tt.conf, hclog.NewNullLogger())
		conf := handshakeMessage(ctx, "/pids", o.batch, hclog.NewNullLogger())["conf"].(map[string]any)
		if _, offered := conf[BatchOfferKey]; offered != tt.offer || (offered && conf[BatchOfferKey] != int64(BatchVersion)) {
			t.Errorf("conf %v: handshake conf %v, want the offer %v", tt.conf, conf, tt.offer)
		}
	}
	if _, err := readOptions(topology.Config{ConfBatch: "maybe"}); err == nil {
		t.Errorf("%s: maybe was accepted", ConfBatch)
	}
	for _, tt := range []struct {
		answer map[string]any
		want   bool
	}{
		{map[string]any{"pid": int64(1)}, false},
		{map[string]any{"pid": int64(1), "batch": int64(1)}, true},
		{map[string]any{"pid": int64(1), "batch": float64(1)}, true},
		{map[string]any{"pid": int64(1), "batch": int64(2)}, false},
		{map[string]any{"pid": int64(1), "batch": true}, false},
		{map[string]any{"pid": int64(1), "batch": "1"}, false},
	} {
		if got := acceptsBatch(tt.answer); got != tt.want {
			t.Errorf("acceptsBatch(%v) = %v, want %v", tt.answer, got, tt.want)
		}
	}
}

// TestAppendBatchRoundTrip: a batch frame decodes to the batch of the messages it holds,
// in order, with both serializers.
func TestAppendBatchRoundTrip(t *testing.T) {
	msgs := []any{
		map[string]any{"id": "1", "comp": "spout", "stream": "default", "task": int64(1), "tuple": []any{"a\nb", int64(2)}},
		[]any{int64(4), int64(5)},
		map[string]any{"command": "next"},
	}
	for _, s := range []Serializer{JSON, Msgpack} {
		t.Run(string(s), func(t *testing.T) {
			for n := 1; n <= len(msgs); n++ {
				var framed [][]byte
				for _, m := range msgs[:n] {
					b, err := Encode(s, m)
					if err != nil {
						t.Fatal(err)
					}
					framed = append(framed, b)
				}
				dec := NewDecoder(s, bytes.NewReader(appendBatch(nil, s, framed)), 0)
				got, err := dec.ReadMessage()
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]any{"command": "batch", "msgs": msgs[:n]}
				if !reflect.DeepEqual(normalize(got), normalize(want)) {
					t.Errorf("decoded %#v, want %#v", got, want)
				}
			}
		})
	}
}

// normalize turns the numbers of a decoded value into float64, as JSON has them.
func normalize(v any) any {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	}
	return v
}

// TestBatchMessages: what a subprocess may send as a batch, and the errors for the rest.
func TestBatchMessages(t *testing.T) {
	ack := map[string]any{"command": "ack", "id": "1"}
	for _, tt := range []struct {
		name string
		in   map[string]any
		n    int
		err  string
	}{
		{"two", map[string]any{"command": "batch", "msgs": []any{ack, ack}}, 2, ""},
		{"empty", map[string]any{"command": "batch", "msgs": []any{}}, 0, ""},
		{"no msgs", map[string]any{"command": "batch"}, 0, `needs a "msgs" list`},
		{"msgs not a list", map[string]any{"command": "batch", "msgs": "x"}, 0, `needs a "msgs" list`},
		{"a list inside", map[string]any{"command": "batch", "msgs": []any{ack, []any{}}}, 0, "message 1 of a batch is a list"},
		{"nested", map[string]any{"command": "batch", "msgs": []any{map[string]any{"command": "batch", "msgs": []any{}}}}, 0, "batches do not nest"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := batchMessages(tt.in)
			if tt.err == "" {
				if err != nil || len(got) != tt.n {
					t.Errorf("got %d messages, %v; want %d", len(got), err, tt.n)
				}
				return
			}
			var pe *ProtocolError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %v, want a *ProtocolError saying %q", err, tt.err)
			}
		})
	}
}

// FuzzBatchFromSubprocess: whatever bytes a subprocess writes, decoding them and
// unpacking a batch returns messages that are maps, or an error; it never panics.
func FuzzBatchFromSubprocess(f *testing.F) {
	f.Add(byte(0), []byte(`{"command":"batch","msgs":[{"command":"ack","id":"1"},{"command":"sync"}]}`+"\nend\n"))
	f.Add(byte(0), []byte(`{"command":"batch","msgs":[[1],{"command":"batch","msgs":[]}]}`+"\nend\n"))
	f.Add(byte(0), []byte(`{"command":"batch","msgs":{}}`+"\nend\n"))
	ack, _ := Encode(Msgpack, map[string]any{"command": "ack", "id": "1"})
	f.Add(byte(1), appendBatch(nil, Msgpack, [][]byte{ack, ack}))
	f.Add(byte(1), []byte{0x82, 0xa7, 'c', 'o', 'm', 'm', 'a', 'n', 'd', 0xa5, 'b', 'a', 't', 'c', 'h', 0xa4, 'm', 's', 'g', 's', 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, which byte, data []byte) {
		s := JSON
		if which&1 == 1 {
			s = Msgpack
		}
		dec := NewDecoder(s, bytes.NewReader(data), 4096)
		for range 4 {
			v, err := dec.ReadMessage()
			if err != nil {
				return
			}
			m, ok := v.(map[string]any)
			if !ok || m["command"] != "batch" {
				continue
			}
			msgs, err := batchMessages(m)
			if err != nil {
				if !strings.Contains(err.Error(), "batch") {
					t.Errorf("error %q does not say what is wrong with the batch", err)
				}
				continue
			}
			for _, sub := range msgs {
				if sm, ok := sub.(map[string]any); !ok || sm["command"] == "batch" {
					t.Errorf("batchMessages let %#v through", sub)
				}
			}
		}
	})
}

// TestEncodeTupleMatchesEncode: the direct encoding of an input is the encoding of the
// same map, byte for byte in JSON and value for value in msgpack.
func TestEncodeTupleMatchesEncode(t *testing.T) {
	tests := []struct {
		name   string
		values []any
	}{
		{"word", []any{"cow"}},
		{"empty", []any{}},
		{"mixed", []any{"a\"b\n", int64(-7), 2.5, true, nil, []any{"x", int64(1)}, map[string]any{"k": "v"}, []byte{0, 1}}},
	}
	for _, tt := range tests {
		for _, s := range []Serializer{JSON, Msgpack} {
			t.Run(tt.name+"/"+string(s), func(t *testing.T) {
				m := map[string]any{"id": "12", "comp": "split", "stream": "default", "task": int64(3), "tuple": tt.values}
				want, err := Encode(s, m)
				if err != nil {
					t.Fatal(err)
				}
				got, err := encodeTuple(s, "12", "split", "default", 3, tt.values)
				if err != nil {
					t.Fatal(err)
				}
				if s == JSON {
					if !bytes.Equal(got, want) {
						t.Errorf("got  %s\nwant %s", got, want)
					}
					return
				}
				g, err1 := NewDecoder(s, bytes.NewReader(got), 0).ReadMessage()
				w, err2 := NewDecoder(s, bytes.NewReader(want), 0).ReadMessage()
				if err1 != nil || err2 != nil || !reflect.DeepEqual(g, w) {
					t.Errorf("got %v (%v), want %v (%v)", g, err1, w, err2)
				}
			})
		}
	}
	if _, err := encodeTuple(JSON, "1", "c", "s", 1, []any{make(chan int)}); err == nil {
		t.Error("a channel value encoded without an error")
	}
}
