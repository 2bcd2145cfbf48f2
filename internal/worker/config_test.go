package worker

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/sparsestream/sparse/pkg/topology"
)

func TestLoadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(`{"topology.workers": 3, "x.ratio": 0.5, "x.name": "a", "x.list": [1, 2.5], "x.on": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	want := topology.Config{"topology.workers": int64(3), "x.ratio": 0.5, "x.name": "a", "x.list": []any{int64(1), 2.5}, "x.on": true}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("LoadConfig = %#v, want %#v", got, want)
	}
	for _, bad := range []string{`[1]`, `{"a":1} {}`, `{`, ``} {
		if _, err := ParseConfig([]byte(bad)); err == nil {
			t.Errorf("ParseConfig(%q) succeeded", bad)
		}
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("loading a missing file succeeded")
	}
}
