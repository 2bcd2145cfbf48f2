package multilang

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// stdJSON is what encoding/json writes for v with HTML escaping off.
func stdJSON(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
	}{
		{"nil", nil},
		{"bools", []any{true, false}},
		{"ascii", "hello world"},
		{"quotes and backslashes", `say "hi" \ bye`},
		{"control characters", "a\nb\rc\td\be\ff\x00g\x1fh\x7f"},
		{"html is not escaped", "<a href='x'>&amp;</a>"},
		{"utf-8", "héllo wörld 日本語 🎉"},
		{"invalid utf-8", "a\xffb\xc3(c\xed\xa0\x80"},
		{"line and paragraph separators", "a\u2028b\u2029c"},
		{"integers", []any{int64(0), int64(-1), int64(math.MaxInt64), int64(math.MinInt64), 7, int32(-9), uint64(math.MaxUint64)}},
		{"floats fall back", []any{1.5, 0.0, 1e21, -2.25e-7, float64(3)}},
		{"bytes fall back", []any{[]byte("raw"), []byte{}}},
		{"json numbers fall back", []any{json.Number("12"), json.Number("1.5e3")}},
		{"task ids", []int32{3, 4, -1}},
		{"empty task ids", []int32{}},
		{"nil task ids", []int32(nil)},
		{"nil list and map", []any{[]any(nil), map[string]any(nil)}},
		{"input message", map[string]any{"id": "17", "comp": "spout", "stream": "default", "task": int64(1), "tuple": []any{"some data", int64(3), nil, true}}},
		{"sorted keys, many of them", map[string]any{"k": 1, "j": 2, "i": 3, "h": 4, "g": 5, "f": 6, "e": 7, "d": 8, "c": 9, "b": 10, "a": 11, "é": "x", "": "empty"}},
		{"nested", map[string]any{"a": []any{map[string]any{"b": []any{"c", []any{}}}, map[string]any{}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := appendJSON(nil, tc.v, 0)
			if err != nil {
				t.Fatalf("appendJSON: %v", err)
			}
			if want := stdJSON(t, tc.v); !bytes.Equal(got, want) {
				t.Errorf("appendJSON = %s\nencoding/json = %s", got, want)
			}
		})
	}
}

func TestAppendJSONRefusesDeepValues(t *testing.T) {
	var v any = "leaf"
	for range maxDepth + 2 {
		v = []any{v}
	}
	if _, err := appendJSON(nil, v, 0); err == nil {
		t.Fatal("a value nested deeper than the limit was encoded")
	}
}

// FuzzAppendJSONString: any string, valid UTF-8 or not, is quoted exactly as
// encoding/json quotes it, alone and as a map key.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\", "\x00\x1f\x7f", "é\xff\u2028\u2029", "\xed\xa0\x80", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, v := range []any{s, map[string]any{s: s}} {
			got, err := appendJSON(nil, v, 0)
			if err != nil {
				t.Fatal(err)
			}
			if want := stdJSON(t, v); !bytes.Equal(got, want) {
				t.Fatalf("appendJSON(%q) = %s, encoding/json = %s", s, got, want)
			}
		}
	})
}
