package multilang

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// referenceJSON is what the JSON decoder did with encoding/json before parseJSON: a
// Decoder with UseNumber, a check that nothing but space follows, and the numbers turned
// into int64, uint64 or float64. It returns the error class parseJSON must give.
func referenceJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errJSONEmpty
		}
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errJSONTrailing
	}
	return referenceNumbers(v), nil
}

func referenceNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
		if !strings.ContainsAny(s, ".eE") {
			if u, err := strconv.ParseUint(s, 10, 64); err == nil {
				return u
			}
		}
		f, _ := strconv.ParseFloat(s, 64)
		return f
	case []any:
		for i := range x {
			x[i] = referenceNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = referenceNumbers(x[k])
		}
	}
	return v
}

// sameAsReference fails t unless parseJSON and encoding/json agree on b: the same value,
// or errors of the same class (empty, trailing, invalid).
func sameAsReference(t *testing.T, b []byte) {
	t.Helper()
	got, gerr := parseJSON(b)
	want, werr := referenceJSON(b)
	class := func(err error) string {
		switch err {
		case nil:
			return "ok"
		case errJSONEmpty, errJSONTrailing:
			return err.Error()
		}
		return "invalid"
	}
	if class(gerr) != class(werr) {
		t.Fatalf("%q: parseJSON says %v (%v), encoding/json %v (%v)", b, class(gerr), gerr, class(werr), werr)
	}
	if gerr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: parseJSON = %#v, encoding/json = %#v", b, got, want)
	}
}

var jsonSeeds = []string{
	`{"command":"emit","anchors":["17"],"tuple":["some data"],"need_task_ids":false}`,
	`{"command":"ack","id":"17"}`,
	`{"command":"sync"}`, `{"pid":1234}`, `[1,2,3]`, `[]`, `{}`, `"s"`, `0`, `-0`, `true`, `null`,
	`{"a":{"b":[1,{"c":[]}]}}`, `  {"a" : 1 , "b" : [ 1 , 2 ] }  `,
	`[0, -1, 9223372036854775807, -9223372036854775808, 9223372036854775808, 18446744073709551615, 18446744073709551616]`,
	`[1.5, -2.25e-7, 1e21, 1E+2, 0.0, 1e400, -1e400, 1e-400]`,
	`["\"\\\/\b\f\n\r\t", "\u00e9\u65e5", "\ud83c\udf89", "\ud800", "\ud800x", "\udc00\ud800", "\ud800\u0041", "é日本"]`,
	"[\"a\xffb\", \"\xed\xa0\x80\"]",
	`{"a":1,"a":2}`, `{"a":1}{"b":2}`, `{"a":1} x`, `01`, `[01]`, `1.`, `.5`, `1e`, `-`, `+1`, `[1,]`, `{"a":1,}`,
	`{a:1}`, `"\x"`, `"\u12"`, "\"a\nb\"", `tru`, `nul`, `[`, `{`, `{"a"`, `{"a":`, `"abc`, ``, `   `, "\t\r\n",
	`[1 2]`, `{"a" 1}`, `[[[[[[[[[[]]]]]]]]]]`, "\x00",
}

func TestParseJSONMatchesEncodingJSON(t *testing.T) {
	for _, s := range jsonSeeds {
		sameAsReference(t, []byte(s))
	}
	deep := strings.Repeat("[", jsonMaxDepth+1) + strings.Repeat("]", jsonMaxDepth+1)
	if _, err := parseJSON([]byte(deep)); err == nil {
		t.Error("nesting deeper than encoding/json's limit was accepted")
	}
}

// FuzzParseJSON: parseJSON accepts and refuses exactly what encoding/json does, and
// decodes to the same values.
func FuzzParseJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { sameAsReference(t, b) })
}

func BenchmarkParseJSON(b *testing.B) {
	msg := []byte(`{"command":"emit","anchors":["1234567"],"tuple":["some data"],"need_task_ids":false}`)
	b.Run("parseJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseJSON(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := referenceJSON(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
}
