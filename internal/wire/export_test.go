package wire

import "github.com/sparsestream/sparse/pkg/tuple"

// DecodeSlow is Decode with its fast paths turned off, for tests that compare the two.
func DecodeSlow(b []byte, resolve func(int32, string) *tuple.Source, onTuple func(int32, *tuple.Tuple), onControl func(Control)) error {
	if resolve == nil || onTuple == nil || onControl == nil {
		return Decode(b, resolve, onTuple, onControl)
	}
	d := decoder{resolve: resolve, slow: true}
	return d.decode(b, onTuple, onControl)
}
