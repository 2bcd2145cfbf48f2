package perf

import (
	"math"
	"testing"
)

func TestMedian(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{10, 1, 2, 9}, 5.5},
		{[]float64{7}, 7},
		{[]float64{nan, 4, 5}, 4},
		{[]float64{nan, nan, 5}, nan},
		{nil, nan},
	} {
		got := median(tc.in)
		if got != tc.want && !(math.IsNaN(got) && math.IsNaN(tc.want)) {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
