package perf

import (
	"reflect"
	"testing"
	"time"
)

// TestRawBaselines runs each raw baseline of the two-worker shapes briefly against a
// child process (this test binary, see TestMain): each moves tuples, and the codec and
// the floor, which do more per tuple, move fewer than the bytes alone. No speed is
// asserted beyond that order, which holds by a wide margin (an order of magnitude
// between bytes and codec).
func TestRawBaselines(t *testing.T) {
	self := childBinary(t, "starts child processes")
	for _, s := range TwoWorkerShapes() {
		rates := map[rawKind]float64{}
		for _, kind := range []rawKind{rawBytes, rawCodec, rawFloor} {
			r, err := rawBaseline(s, self, 2000, kind, 300*time.Millisecond)
			if err != nil {
				t.Fatalf("%s %s: %v", s.Name, rawMode[kind], err)
			}
			if r <= 0 {
				t.Errorf("%s %s: %v tuples/s", s.Name, rawMode[kind], r)
			}
			rates[kind] = r
		}
		if rates[rawCodec] >= rates[rawBytes] || rates[rawFloor] >= rates[rawBytes] {
			t.Errorf("%s: the codec (%v/s) and the floor (%v/s) moved more than the bytes alone (%v/s)", s.Name, rates[rawCodec], rates[rawFloor], rates[rawBytes])
		}
	}
}

// TestConstValuesAreTheSpouts checks that the baselines' tuple is the one the engine's
// spout emits, so that both move the same bytes.
func TestConstValuesAreTheSpouts(t *testing.T) {
	for _, s := range TwoWorkerShapes() {
		spec, err := s.Base.Build(0, nil).Build()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, c := range spec.Components {
			if c.Spout == nil {
				continue
			}
			found = true
			sp, ok := c.Spout().(*ConstSpout)
			if !ok {
				t.Fatalf("%s: spout %q is a %T, not a ConstSpout", s.Name, c.ID, c.Spout())
			}
			if want := constValues(s.Acked); !reflect.DeepEqual(sp.values, want) {
				t.Errorf("%s: the spout emits %v, the baselines %v", s.Name, sp.values, want)
			}
			if got, want := len(sp.values), constSource(s.Acked).Fields.Len(); got != want {
				t.Errorf("%s: %d values, the baselines' source has %d fields", s.Name, got, want)
			}
		}
		if !found {
			t.Errorf("%s: no spout", s.Name)
		}
	}
}

// TestConstTuplesCostOnlyTheTuple: the floor baseline makes a tuple per emit, so making one
// must cost what an engine's emit costs at least (the tuple, and its anchors when acked),
// not a new source each time, which once cut the floor to a third of its rate.
func TestConstTuplesCostOnlyTheTuple(t *testing.T) {
	for _, acked := range []bool{false, true} {
		next := constTuples(acked)
		want := 1.0
		if acked {
			want = 2
		}
		i := 0
		if got := testing.AllocsPerRun(100, func() { next(i); i++ }); got != want {
			t.Errorf("acked=%v: %v allocations a tuple, want %v", acked, got, want)
		}
		a, b := next(1), next(2)
		if a.Source != b.Source {
			t.Errorf("acked=%v: each tuple has a source of its own", acked)
		}
		// The engine's spout tuple with one receiver carries its tree's init (two bytes
		// on the wire); the baselines must send those bytes too.
		if carried := a.InitTask == a.Source.Task; carried != acked {
			t.Errorf("acked=%v: the tuple carries an init: %v, want %v", acked, carried, acked)
		}
	}
}
