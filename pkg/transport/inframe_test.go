package transport

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	protobuf "google.golang.org/protobuf/proto"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
)

// frameBytes is a Frame holding batch as senders encode it.
func frameBytes(batch []byte) []byte {
	b := protowire.AppendTag(nil, frameFieldBatch, protowire.BytesType)
	return protowire.AppendBytes(b, batch)
}

// split spreads b over n buffers, as HTTP/2 frames may deliver it.
func split(b []byte, n int) mem.BufferSlice {
	var s mem.BufferSlice
	for i := range n {
		lo, hi := len(b)*i/n, len(b)*(i+1)/n
		s = append(s, mem.SliceBuffer(bytes.Clone(b[lo:hi])))
	}
	return s
}

// checkLikeGenerated: an inFrame reads b as the generated code does, batch for batch
// and error for error.
func checkLikeGenerated(t *testing.T, b []byte, parts int) {
	t.Helper()
	var want sparsev1.Frame
	wantErr := protobuf.Unmarshal(b, &want)
	var f inFrame
	err := newFrameCodec().Unmarshal(split(b, parts), &f)
	defer f.release()
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("% x: error %v, the generated code's %v", b, err, wantErr)
	}
	if err != nil {
		return
	}
	got, exp := f.body(), want.GetBatch()
	if (got == nil) != (exp == nil) || !bytes.Equal(got, exp) {
		t.Fatalf("% x: batch %q (nil %v), the generated code's %q (nil %v)", b, got, got == nil, exp, exp == nil)
	}
	if f.batch == nil && protobuf.Equal(&f.msg, &want) == false {
		t.Fatalf("% x: message %v, the generated code's %v", b, &f.msg, &want)
	}
}

func TestInFrameReadsLikeTheGeneratedCode(t *testing.T) {
	hello, _ := protobuf.Marshal(&sparsev1.Frame{Body: &sparsev1.Frame_Hello{Hello: &sparsev1.Hello{TopologyId: "t"}}})
	big := bytes.Repeat([]byte{7}, 70000)
	tests := []struct {
		name string
		b    []byte
	}{
		{"a batch", frameBytes([]byte("tuples"))},
		{"an empty batch", frameBytes(nil)},
		{"a batch over several buffers", frameBytes(big)},
		{"a hello", hello},
		{"two batches: the last wins", append(frameBytes([]byte("a")), frameBytes([]byte("b"))...)},
		{"a hello then a batch", append(append([]byte{}, hello...), frameBytes([]byte("b"))...)},
		{"truncated", frameBytes([]byte("tuples"))[:5]},
		{"nothing", nil},
		{"garbage", []byte{0xff, 0xff, 0xff}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, parts := range []int{1, 3} {
				checkLikeGenerated(t, tc.b, parts)
			}
		})
	}
}

func FuzzInFrame(f *testing.F) {
	f.Add(frameBytes([]byte("tuples")), 1)
	f.Add(frameBytes(nil), 2)
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00}, 1)
	f.Fuzz(func(t *testing.T, b []byte, parts int) {
		checkLikeGenerated(t, b, 1+(parts&3))
	})
}

// BenchmarkReceiveFrame: what receiving a 64 KiB batch costs before it is decoded:
// the generated code copies the batch out of the received buffer into a new slice
// (one allocation of the frame's size per frame); an inFrame points into it.
func BenchmarkReceiveFrame(b *testing.B) {
	frame := frameBytes(bytes.Repeat([]byte{1}, DefaultMaxFrame))
	c := newFrameCodec()
	received := func() mem.BufferSlice {
		buf := framePool.Get(len(frame))
		copy(*buf, frame)
		return mem.BufferSlice{mem.NewBuffer(buf, framePool)}
	}
	b.Run("generated", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			data := received()
			var f sparsev1.Frame
			if err := c.Unmarshal(data, &f); err != nil {
				b.Fatal(err)
			}
			data.Free()
		}
	})
	b.Run("inFrame", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		var f inFrame
		for b.Loop() {
			data := received()
			if err := c.Unmarshal(data, &f); err != nil {
				b.Fatal(err)
			}
			data.Free()
			f.release()
		}
	})
}
