package nimbus

import (
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/cluster"
)

func TestMergeLogOverrides(t *testing.T) {
	now := time.Unix(1000, 0)
	later := now.Add(time.Hour)
	lvl := func(c, l string) cluster.LogOverride {
		return cluster.LogOverride{Component: c, Level: l, Expires: later}
	}
	smp := func(c string, r float64) cluster.LogOverride {
		return cluster.LogOverride{Component: c, DebugSample: r, Expires: later}
	}
	lapsed := cluster.LogOverride{Component: "x", Level: "debug", Expires: now}
	for _, tc := range []struct {
		name  string
		list  []cluster.LogOverride
		comp  string
		add   *cluster.LogOverride
		reset bool
		want  []cluster.LogOverride
	}{
		{"add", nil, "split", &[]cluster.LogOverride{lvl("split", "debug")}[0], false, []cluster.LogOverride{lvl("split", "debug")}},
		{"replace the same kind", []cluster.LogOverride{lvl("split", "debug"), smp("split", 0.1)}, "split",
			&[]cluster.LogOverride{lvl("split", "trace")}[0], false, []cluster.LogOverride{smp("split", 0.1), lvl("split", "trace")}},
		{"lapsed ones go", []cluster.LogOverride{lapsed, lvl("a", "warn")}, "b", &[]cluster.LogOverride{smp("b", 1)}[0], false,
			[]cluster.LogOverride{lvl("a", "warn"), smp("b", 1)}},
		{"reset one component", []cluster.LogOverride{lvl("a", "warn"), smp("b", 1)}, "a", nil, true, []cluster.LogOverride{smp("b", 1)}},
		{"reset all", []cluster.LogOverride{lvl("a", "warn"), smp("b", 1)}, "", nil, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mergeLogOverrides(tc.list, tc.comp, tc.add, tc.reset, now)
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("%d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}
