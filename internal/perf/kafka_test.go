package perf

import (
	"io"
	"testing"
	"time"
)

// TestKafkaShapesRun: the Kafka shapes and their baselines move records (the figures are
// not checked: speed belongs to the benchmark).
func TestKafkaShapesRun(t *testing.T) {
	shapes := KafkaShapes(io.Discard)
	if len(shapes) != 3 {
		t.Fatalf("%d Kafka shapes, want 3", len(shapes))
	}
	for _, s := range shapes {
		t.Run(s.Name, func(t *testing.T) {
			if b := s.Baseline(300 * time.Millisecond); !(b > 0) {
				t.Errorf("baseline = %v records/s, want a positive rate", b)
			}
			r, err := measureEngine(s, 0, Options{Warmup: time.Second, Duration: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if !(r.rate > 0) {
				t.Errorf("engine = %v records/s, want a positive rate", r.rate)
			}
		})
	}
}
