package multilang

import (
	"bytes"
	"reflect"
	"testing"
)

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
