package scheduler

import "testing"

func TestSplitWorkerID(t *testing.T) {
	for id, want := range map[string]struct {
		sup  string
		port int
		ok   bool
	}{
		"sup-1:6700": {"sup-1", 6700, true},
		"a:b:6701":   {"a:b", 6701, true},
		"nope":       {"", 0, false},
		":6700":      {"", 0, false},
		"x:0":        {"", 0, false},
	} {
		sup, port, ok := splitWorkerID(id)
		if sup != want.sup || port != want.port || ok != want.ok {
			t.Errorf("splitWorkerID(%q) = %q, %d, %v", id, sup, port, ok)
		}
	}
}
