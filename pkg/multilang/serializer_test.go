package multilang_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/sparsestream/sparse/pkg/multilang"
)

func readAll(t *testing.T, s multilang.Serializer, data []byte, max int) ([]any, error) {
	t.Helper()
	dec := multilang.NewDecoder(s, bytes.NewReader(data), max)
	var out []any
	for {
		v, err := dec.ReadMessage()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
}

func TestJSONDecoder(t *testing.T) {
	long := `{"command":"log","msg":"` + strings.Repeat("x", 3000) + `"}`
	tests := []struct {
		name    string
		in      string
		want    []any
		errHas  []string // fragments of the error; nil: no error
		headHas string   // a fragment the quoted head must hold
	}{
		{name: "one message", in: "{\"command\":\"sync\"}\nend\n", want: []any{map[string]any{"command": "sync"}}},
		{name: "two messages and blank lines", in: "\n\n{\"command\":\"sync\"}\nend\n\n{\"pid\":12}\nend\n",
			want: []any{map[string]any{"command": "sync"}, map[string]any{"pid": int64(12)}}},
		{name: "a message over several lines", in: "{\"command\":\n\"emit\",\n\"tuple\":[1, 2.5, \"a\"]}\nend\n",
			want: []any{map[string]any{"command": "emit", "tuple": []any{int64(1), 2.5, "a"}}}},
		{name: "CRLF line ends", in: "{\"a\":true}\r\nend\r\n", want: []any{map[string]any{"a": true}}},
		{name: "a task id list", in: "[3, 4]\nend\n", want: []any{[]any{int64(3), int64(4)}}},
		{name: "big integers", in: "{\"u\":18446744073709551615,\"f\":1e400,\"n\":-9223372036854775808}\nend\n",
			want: []any{map[string]any{"u": uint64(math.MaxUint64), "f": math.Inf(1), "n": int64(math.MinInt64)}}},
		{name: "a long line", in: long + "\nend\n", want: []any{map[string]any{"command": "log", "msg": strings.Repeat("x", 3000)}}},
		{name: "only blanks", in: "\n\n  \n", want: nil},
		{name: "a stray print", in: "hello world\n{\"command\":\"sync\"}\nend\n",
			errHas: []string{"not a multi-lang message", "must not print to stdout"}, headHas: `"hello world\n"`},
		{name: "garbage inside a message", in: "{\"command\":\"sync\"\noops\n}\nend\n",
			errHas: []string{"not valid JSON"}, headHas: `"{\"command\":\"sync\"\noops\n}\n`},
		{name: "no end before EOF", in: "{\"command\":\"sync\"}\n", errHas: []string{"ended in the middle of a message"}, headHas: `{\"command\":\"sync\"}`},
		{name: "no newline before EOF", in: "{\"command\":\"sync\"}", errHas: []string{"ended in the middle of a message"}},
		{name: "two values in one message", in: "{\"a\":1}{\"b\":2}\nend\n", errHas: []string{"more than one JSON value"}},
		{name: "too big", in: long + "\nend\n", errHas: []string{"larger than the limit of 1024 bytes", multilang.ConfMaxMessageBytes}},
		{name: "too big without any newline", in: "{" + strings.Repeat(" ", 5000), errHas: []string{"larger than the limit"}},
		{name: "a lone end", in: "end\n", errHas: []string{"not a multi-lang message"}},
		{name: "binary garbage", in: "\x00\x01\x02\xff\n", errHas: []string{"not a multi-lang message"}, headHas: `"\x00\x01\x02\xff\n"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			max := 1 << 20
			if strings.HasPrefix(tc.name, "too big") {
				max = 1024
			}
			got, err := readAll(t, multilang.JSON, []byte(tc.in), max)
			if tc.errHas == nil {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("got %#v, want %#v", got, tc.want)
				}
				return
			}
			var pe *multilang.ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v (%T), want a *ProtocolError", err, err)
			}
			for _, frag := range tc.errHas {
				if !strings.Contains(err.Error(), frag) {
					t.Errorf("error %q does not contain %q", err, frag)
				}
			}
			if len(pe.Head) > 80 {
				t.Errorf("the error quotes %d bytes, want at most 80", len(pe.Head))
			}
			if tc.headHas != "" && !strings.Contains(err.Error(), tc.headHas) {
				t.Errorf("error %q does not quote %s", err, tc.headHas)
			}
		})
	}
}

func TestMsgpackDecoder(t *testing.T) {
	enc := func(v any) []byte {
		b, err := multilang.Encode(multilang.Msgpack, v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name   string
		in     []byte
		want   []any
		errHas string
	}{
		{name: "two messages back to back", in: cat(enc(map[string]any{"command": "sync"}), enc(map[string]any{"pid": 7})),
			want: []any{map[string]any{"command": "sync"}, map[string]any{"pid": int64(7)}}},
		{name: "every type", in: enc(map[string]any{"s": "snow ☃", "i": int64(-1 << 40), "u": uint64(math.MaxUint64), "f": 2.5, "t": true,
			"n": nil, "b": []byte{0, 1, 255}, "l": []any{int64(1), "x", []any{}}, "m": map[string]any{"k": int64(300)}}),
			want: []any{map[string]any{"s": "snow ☃", "i": int64(-1 << 40), "u": uint64(math.MaxUint64), "f": 2.5, "t": true,
				"n": nil, "b": []byte{0, 1, 255}, "l": []any{int64(1), "x", []any{}}, "m": map[string]any{"k": int64(300)}}}},
		{name: "float32 and integer keys", in: []byte{0x82, 0x01, 0xca, 0x3f, 0xc0, 0x00, 0x00, 0xa1, 'k', 0xc0},
			want: []any{map[string]any{"1": 1.5, "k": nil}}},
		{name: "truncated", in: enc(map[string]any{"command": "sync"})[:5], errHas: "ended in the middle"},
		{name: "a huge string header", in: []byte{0x81, 0xa1, 'k', 0xdb, 0xff, 0xff, 0xff, 0xff, 'x'}, errHas: "larger than the limit"},
		{name: "a huge array header", in: []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0x01}, errHas: "larger than the limit"},
		{name: "a huge map header", in: []byte{0xdf, 0x7f, 0xff, 0xff, 0xff, 0x01}, errHas: "larger than the limit"},
		{name: "an extension type", in: []byte{0xd4, 0x01, 0x02}, errHas: "extension types"},
		{name: "the unused byte", in: []byte{0xc1}, errHas: "not a msgpack type"},
		{name: "a list as a map key", in: []byte{0x81, 0x90, 0x01}, errHas: "keys must be strings"},
		{name: "deep nesting", in: bytes.Repeat([]byte{0x91}, 200), errHas: "nested deeper"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(t, multilang.Msgpack, tc.in, 4096)
			if tc.errHas == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("got %#v, want %#v", got, tc.want)
				}
				return
			}
			var pe *multilang.ProtocolError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("got %v, want a *ProtocolError containing %q", err, tc.errHas)
			}
			if len(pe.Head) > 80 || !strings.Contains(err.Error(), strconv.Quote(string(pe.Head))) {
				t.Errorf("error %q should quote at most 80 first bytes", err)
			}
		})
	}
}

// TestEncodeRoundTrip: what the engine encodes, the decoders read back, in both framings.
func TestEncodeRoundTrip(t *testing.T) {
	msg := map[string]any{
		"id": "17", "comp": "spout", "stream": "default", "task": int64(3),
		"tuple": []any{"a\nend\nb", int64(-5), 1.25, false, nil, []any{"x", int64(1 << 40)}, map[string]any{"k": "v"}},
	}
	for _, s := range []multilang.Serializer{multilang.JSON, multilang.Msgpack} {
		t.Run(string(s), func(t *testing.T) {
			var buf []byte
			for range 3 {
				b, err := multilang.Encode(s, msg)
				if err != nil {
					t.Fatal(err)
				}
				buf = append(buf, b...)
			}
			tasks, err := multilang.Encode(s, []int32{4, 5})
			if err != nil {
				t.Fatal(err)
			}
			buf = append(buf, tasks...)
			got, err := readAll(t, s, buf, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := []any{msg, msg, msg, []any{int64(4), int64(5)}}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %#v\nwant %#v", got, want)
			}
		})
	}
	if _, err := multilang.Encode(multilang.JSON, map[string]any{"f": math.NaN()}); err == nil {
		t.Error("JSON cannot carry NaN; Encode should say so")
	}
	if _, err := multilang.Encode(multilang.Msgpack, map[string]any{"c": make(chan int)}); err == nil {
		t.Error("msgpack cannot carry a channel; Encode should say so")
	}
}

func TestParseSerializer(t *testing.T) {
	for in, want := range map[string]multilang.Serializer{
		"": multilang.JSON, "json": multilang.JSON, "JSON": multilang.JSON,
		"org.apache.storm.multilang.JsonSerializer": multilang.JSON,
		"msgpack": multilang.Msgpack, "com.example.MsgpackSerializer": multilang.Msgpack,
	} {
		got, err := multilang.ParseSerializer(in)
		if err != nil || got != want {
			t.Errorf("ParseSerializer(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := multilang.ParseSerializer("xml"); err == nil || !strings.Contains(err.Error(), multilang.ConfSerializer) {
		t.Errorf("ParseSerializer(xml) = %v, want an error naming the config key", err)
	}
}

// FuzzReadMessage feeds arbitrary bytes to both decoders: they must never panic, must
// quote at most 80 bytes, and what they decode must encode again; msgpack must round-trip
// exactly.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte("{\"command\":\"emit\",\"tuple\":[1,\"a\"],\"anchors\":[\"1\"]}\nend\n"), false)
	f.Add([]byte("\n{\"pid\":1}\nend\n{\"command\":\"sync\"}\nend\n"), false)
	f.Add([]byte("hello\n"), false)
	f.Add([]byte("[1,2]\nend\n"), false)
	f.Add([]byte("{\"a\":\n1}\r\nend"), false)
	f.Add([]byte{0x82, 0xa7, 'c', 'o', 'm', 'm', 'a', 'n', 'd', 0xa4, 's', 'y', 'n', 'c', 0x01, 0xc4, 0x01, 0x00}, true)
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff}, true)
	f.Add([]byte{0x93, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 0xd3, 1, 2, 3, 4, 5, 6, 7, 8, 0xde, 0, 1, 0xa0, 0xc0}, true)
	f.Fuzz(func(t *testing.T, data []byte, useMsgpack bool) {
		s := multilang.JSON
		if useMsgpack {
			s = multilang.Msgpack
		}
		dec := multilang.NewDecoder(s, bytes.NewReader(data), 4096)
		for range 64 {
			v, err := dec.ReadMessage()
			if err == io.EOF {
				return
			}
			if err != nil {
				var pe *multilang.ProtocolError
				if !errors.As(err, &pe) {
					t.Fatalf("error %v (%T) is not a *ProtocolError", err, err)
				}
				if len(pe.Head) > 80 {
					t.Fatalf("the error quotes %d bytes", len(pe.Head))
				}
				return
			}
			b, err := multilang.Encode(s, v)
			if err != nil {
				continue // a value this framing cannot write back, such as JSON's 1e400
			}
			again, err := multilang.NewDecoder(s, bytes.NewReader(b), 0).ReadMessage()
			if err != nil {
				t.Fatalf("cannot read back %q: %v", b, err)
			}
			if useMsgpack && !reflect.DeepEqual(again, v) && !hasNaN(v) {
				t.Fatalf("round trip changed %#v into %#v", v, again)
			}
		}
	})
}

func hasNaN(v any) bool {
	switch x := v.(type) {
	case float64:
		return math.IsNaN(x)
	case []any:
		for _, e := range x {
			if hasNaN(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasNaN(e) {
				return true
			}
		}
	}
	return false
}
