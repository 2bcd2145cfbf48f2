package topology_test

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/sparsestream/sparse/pkg/topology"
)

func TestConfigInt(t *testing.T) {
	tests := []struct {
		name    string
		value   any // absentValue: the key is not set
		def     int64
		want    int64
		wantErr string // fragment of the error; "" for success
	}{
		{name: "absent gives default", value: absentValue{}, def: 7, want: 7},
		{name: "nil gives default", value: nil, def: 7, want: 7},
		{name: "int", value: int(12), want: 12},
		{name: "negative int", value: int(-3), def: 5, want: -3},
		{name: "int32", value: int32(math.MaxInt32), want: math.MaxInt32},
		{name: "int64", value: int64(math.MinInt64), want: math.MinInt64},
		{name: "zero overrides default", value: int64(0), def: 9, want: 0},
		{name: "whole float64", value: float64(30), want: 30},
		{name: "negative whole float64", value: float64(-2), want: -2},
		{name: "json number", value: json.Number("123"), want: 123},
		{name: "string", value: "42", want: 42},
		{name: "string with spaces", value: " 42\t", want: 42},
		{name: "negative string", value: "-8", want: -8},
		{name: "fractional float64", value: 2.5, wantErr: "config k: 2.5 is not a whole number"},
		{name: "NaN", value: math.NaN(), wantErr: "config k: NaN is not a whole number"},
		{name: "non-numeric string", value: "abc", wantErr: `config k: "abc" is not an integer`},
		{name: "float string", value: "1.5", wantErr: `config k: "1.5" is not an integer`},
		{name: "empty string", value: "", wantErr: `config k: "" is not an integer`},
		{name: "string overflow", value: "9223372036854775808", wantErr: "is not an integer"},
		{name: "bool", value: true, wantErr: "config k: true (bool) is not an integer"},
		{name: "list", value: []any{int64(1)}, wantErr: "([]interface {}) is not an integer"},
		{name: "json number fraction", value: json.Number("1.5"), wantErr: "config k"},
		{name: "+Inf", value: math.Inf(1), wantErr: "config k"},
		{name: "float64 above int64 range", value: 1e30, wantErr: "config k"},
		{name: "float64 below int64 range", value: -1e30, wantErr: "config k"},
		{name: "int8", value: int8(5), want: 5},
		{name: "int16", value: int16(5), want: 5},
		{name: "uint", value: uint(5), want: 5},
		{name: "uint32", value: uint32(5), want: 5},
		{name: "uint64", value: uint64(5), want: 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := topology.Config{"other": "x"}
			if _, absent := tc.value.(absentValue); !absent {
				c["k"] = tc.value
			}
			got, err := c.Int("k", tc.def)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("Int = %d, nil; want an error containing %q", got, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %q does not contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Int: %v", err)
			}
			if got != tc.want {
				t.Errorf("Int = %d, want %d", got, tc.want)
			}
		})
	}
}

// absentValue marks a table case where the key is not in the config at all.
type absentValue struct{}

func TestConfigIntNilConfig(t *testing.T) {
	var c topology.Config
	if n, err := c.Int("k", 3); n != 3 || err != nil {
		t.Errorf("nil Config Int = %d, %v; want 3, nil", n, err)
	}
	if b, err := c.Bool("k", true); !b || err != nil {
		t.Errorf("nil Config Bool = %v, %v; want true, nil", b, err)
	}
	if s := c.String("k", "d"); s != "d" {
		t.Errorf("nil Config String = %q, want d", s)
	}
}

func TestConfigBool(t *testing.T) {
	tests := []struct {
		name    string
		value   any
		def     bool
		want    bool
		wantErr string
	}{
		{name: "absent gives default true", value: absentValue{}, def: true, want: true},
		{name: "absent gives default false", value: absentValue{}, def: false, want: false},
		{name: "nil gives default", value: nil, def: true, want: true},
		{name: "true", value: true, want: true},
		{name: "false overrides default", value: false, def: true, want: false},
		{name: "string true", value: "true", want: true},
		{name: "string false", value: "false", def: true, want: false},
		{name: "string TRUE", value: "TRUE", want: true},
		{name: "string 1", value: "1", want: true},
		{name: "string 0", value: "0", def: true, want: false},
		{name: "string yes", value: "yes", wantErr: `config k: "yes" is not true or false`},
		{name: "empty string", value: "", wantErr: `config k: "" is not true or false`},
		{name: "int", value: 1, wantErr: "config k: 1 (int) is not a boolean"},
		{name: "int64", value: int64(0), wantErr: "config k: 0 (int64) is not a boolean"},
		{name: "float", value: 1.0, wantErr: "(float64) is not a boolean"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := topology.Config{}
			if _, absent := tc.value.(absentValue); !absent {
				c["k"] = tc.value
			}
			got, err := c.Bool("k", tc.def)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("Bool = %v, nil; want an error containing %q", got, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %q does not contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Bool: %v", err)
			}
			if got != tc.want {
				t.Errorf("Bool = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestConfigString(t *testing.T) {
	tests := []struct {
		name  string
		value any
		def   string
		want  string
	}{
		{"absent gives default", absentValue{}, "d", "d"},
		{"nil gives default", nil, "d", "d"},
		{"string", "prod", "d", "prod"},
		{"empty string overrides default", "", "d", ""},
		{"int64 rendered", int64(5), "d", "5"},
		{"int rendered", -3, "d", "-3"},
		{"float rendered", 1.5, "d", "1.5"},
		{"bool rendered", true, "d", "true"},
		{"list rendered", []any{int64(1), "a"}, "d", "[1 a]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := topology.Config{}
			if _, absent := tc.value.(absentValue); !absent {
				c["k"] = tc.value
			}
			if got := c.String("k", tc.def); got != tc.want {
				t.Errorf("String = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestConfigMerge(t *testing.T) {
	tests := []struct {
		name string
		c, o topology.Config
		want topology.Config
	}{
		{"other wins", topology.Config{"a": 1, "b": 2}, topology.Config{"b": 3, "c": 4}, topology.Config{"a": 1, "b": 3, "c": 4}},
		{"nil other", topology.Config{"a": 1}, nil, topology.Config{"a": 1}},
		{"nil base", nil, topology.Config{"a": 1}, topology.Config{"a": 1}},
		{"both nil", nil, nil, topology.Config{}},
		{"nil value in other still wins", topology.Config{"a": 1}, topology.Config{"a": nil}, topology.Config{"a": nil}},
		{"different types", topology.Config{"a": "1"}, topology.Config{"a": int64(1)}, topology.Config{"a": int64(1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.c.Clone()
			beforeO := tc.o.Clone()
			got := tc.c.Merge(tc.o)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Merge = %v, want %v", got, tc.want)
			}
			if got == nil {
				t.Error("Merge returned a nil map")
			}
			if len(tc.c) > 0 && !reflect.DeepEqual(tc.c, before) {
				t.Errorf("Merge modified the receiver: %v", tc.c)
			}
			if len(tc.o) > 0 && !reflect.DeepEqual(tc.o, beforeO) {
				t.Errorf("Merge modified its argument: %v", tc.o)
			}
			got["new"] = true
			if _, ok := tc.c["new"]; ok {
				t.Error("writing to the merged config wrote to the receiver")
			}
			if _, ok := tc.o["new"]; ok {
				t.Error("writing to the merged config wrote to the argument")
			}
		})
	}
}

func TestConfigMergeTopologyThenComponent(t *testing.T) {
	// The component's own config overlays the topology's, as a task's Context.Config does.
	topo := topology.Config{topology.ConfMaxSpoutPending: 100, topology.ConfDebug: false}
	comp := topology.Config{topology.ConfMaxSpoutPending: 5}
	conf := topo.Merge(comp)
	if n, err := conf.Int(topology.ConfMaxSpoutPending, 0); n != 5 || err != nil {
		t.Errorf("max pending = %d, %v; want the component's 5", n, err)
	}
	if b, err := conf.Bool(topology.ConfDebug, true); b || err != nil {
		t.Errorf("debug = %v, %v; want the topology's false", b, err)
	}
}

func TestConfigClone(t *testing.T) {
	orig := topology.Config{"a": 1, "b": "x"}
	c := orig.Clone()
	if !reflect.DeepEqual(c, orig) {
		t.Fatalf("Clone = %v, want %v", c, orig)
	}
	c["a"] = 2
	c["new"] = true
	delete(c, "b")
	if !reflect.DeepEqual(orig, topology.Config{"a": 1, "b": "x"}) {
		t.Errorf("changing the clone changed the original: %v", orig)
	}
	orig["c"] = 3
	if _, ok := c["c"]; ok {
		t.Error("changing the original changed the clone")
	}

	var nilConf topology.Config
	nc := nilConf.Clone()
	if nc == nil || len(nc) != 0 {
		t.Fatalf("nil Clone = %#v, want an empty non-nil config", nc)
	}
	nc["a"] = 1 // must not panic
}

func TestParseOverride(t *testing.T) {
	tests := []struct {
		in      string
		key     string
		value   any
		wantErr bool
	}{
		{in: "a=1", key: "a", value: int64(1)},
		{in: "a=-3", key: "a", value: int64(-3)},
		{in: "a=0", key: "a", value: int64(0)},
		{in: "a=1.5", key: "a", value: 1.5},
		{in: "a=1.0", key: "a", value: float64(1)},
		{in: "a=1e3", key: "a", value: float64(1000)},
		{in: "a=12345678901234567890", key: "a", value: 1.2345678901234567e19},
		{in: "a=true", key: "a", value: true},
		{in: "a=false", key: "a", value: false},
		{in: "a=null", key: "a", value: nil},
		{in: "a=hello", key: "a", value: "hello"},
		{in: "a=hello world", key: "a", value: "hello world"},
		{in: `a="quoted"`, key: "a", value: "quoted"},
		{in: `a="with = sign"`, key: "a", value: "with = sign"},
		{in: `a="unterminated`, key: "a", value: `"unterminated`},
		{in: "a=[1,2]", key: "a", value: []any{int64(1), int64(2)}},
		{in: `a=["x", 2.5, [3]]`, key: "a", value: []any{"x", 2.5, []any{int64(3)}}},
		{in: `a={"b":1}`, key: "a", value: map[string]any{"b": int64(1)}},
		{in: `a={"b":{"c":[1,1.5]}}`, key: "a", value: map[string]any{"b": map[string]any{"c": []any{int64(1), 1.5}}}},
		{in: "a=", key: "a", value: ""},
		{in: "a=b=c", key: "a", value: "b=c"},
		{in: "a==", key: "a", value: "="},
		{in: "a= 5", key: "a", value: int64(5)},
		{in: " a =1", key: "a", value: int64(1)},
		{in: "a=1 2", key: "a", value: "1 2"}, // two JSON values: kept as text
		{in: "a=[1,2]x", key: "a", value: "[1,2]x"},
		{in: "a={", key: "a", value: "{"},
		{in: "a=007", key: "a", value: "007"},
		{in: "topology.workers=3", key: "topology.workers", value: int64(3)},
		{in: "env=prod", key: "env", value: "prod"},
		{in: "a", wantErr: true},
		{in: "", wantErr: true},
		{in: "=1", wantErr: true},
		{in: "  =1", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			key, value, err := topology.ParseOverride(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseOverride(%q) = %q, %#v; want an error", tc.in, key, value)
				}
				if !strings.Contains(err.Error(), "is not key=value") || !strings.Contains(err.Error(), tc.in) {
					t.Errorf("error %q should quote the option and say it is not key=value", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseOverride(%q): %v", tc.in, err)
			}
			if key != tc.key {
				t.Errorf("key = %q, want %q", key, tc.key)
			}
			if !reflect.DeepEqual(value, tc.value) {
				t.Errorf("value = %#v (%T), want %#v (%T)", value, value, tc.value, tc.value)
			}
		})
	}
}

func TestParseOverrideFeedsConfig(t *testing.T) {
	// Overrides parse into values that Config's typed getters and Validate accept.
	c := topology.Config{}
	for _, o := range []string{"topology.workers=3", "topology.debug=true", "topology.max.spout.pending=\"50\"", "env=prod"} {
		k, v, err := topology.ParseOverride(o)
		if err != nil {
			t.Fatal(err)
		}
		c[k] = v
	}
	if n, err := c.Int(topology.ConfWorkers, 1); n != 3 || err != nil {
		t.Errorf("workers = %d, %v", n, err)
	}
	if n, err := c.Int(topology.ConfMaxSpoutPending, 1); n != 50 || err != nil {
		t.Errorf("max pending = %d, %v", n, err)
	}
	if b, err := c.Bool(topology.ConfDebug, false); !b || err != nil {
		t.Errorf("debug = %v, %v", b, err)
	}
	if s := c.String("env", ""); s != "prod" {
		t.Errorf("env = %q", s)
	}
}

func TestParseOverrideHugeNumberRejectedByValidate(t *testing.T) {
	k, v, err := topology.ParseOverride(topology.ConfMaxSpoutPending + "=1e30")
	if err != nil {
		t.Fatal(err)
	}
	c := topology.Config{k: v}
	if n, err := c.Int(k, 0); err == nil {
		t.Errorf("Int = %d, nil; want an error: 1e30 does not fit in int64", n)
	}
}

// FuzzParseOverride: -o values come from the command line; any input either parses to a
// key and a value that Config can read back, or fails with an error — never a panic.
func FuzzParseOverride(f *testing.F) {
	for _, s := range []string{"a=1", "topology.workers=3", "x=[1,{\"y\":2.5}]", "=", "k=\"q", "k=1e400", "k=-0", "k={}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, kv string) {
		k, v, err := topology.ParseOverride(kv)
		if err != nil {
			return
		}
		if k == "" {
			t.Fatalf("ParseOverride(%q) gave an empty key and no error", kv)
		}
		c := topology.Config{k: v}
		_, _ = c.Int(k, 0)
		_, _ = c.Bool(k, false)
		_ = c.String(k, "")
		if err := topology.Validate(&topology.Spec{Name: "t", Config: c}); err == nil {
			t.Fatalf("a spec without components validated")
		}
	})
}
