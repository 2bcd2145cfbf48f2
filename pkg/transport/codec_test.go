package transport

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
)

// countingPool records what gRPC gives back.
type countingPool struct{ put int }

func (p *countingPool) Get(n int) *[]byte { b := make([]byte, n); return &b }
func (p *countingPool) Put(*[]byte)       { p.put++ }

// TestBatchFrameIsAFrameOnTheWire: what frameCodec writes for a batchFrame is byte for
// byte what the generated code writes for Frame{batch}, for batches whose length prefix
// takes one to four bytes, and the batch's buffer goes back to its pool once gRPC frees
// it. Other messages go through gRPC's proto codec.
func TestBatchFrameIsAFrameOnTheWire(t *testing.T) {
	c := newFrameCodec()
	for _, n := range []int{0, 1, 127, 128, 16383, 16384, 70000, 3 << 20} {
		batch := bytes.Repeat([]byte{0x0a}, n)
		want, err := proto.Marshal(&sparsev1.Frame{Body: &sparsev1.Frame_Batch{Batch: batch}})
		if err != nil {
			t.Fatal(err)
		}
		pool := &countingPool{}
		buf := append(make([]byte, 0, max(n, 4<<10)), batch...) // as framePool's, above gRPC's pooling threshold
		out, err := c.Marshal(&batchFrame{buf: &buf, pool: pool})
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if got := out.Materialize(); !bytes.Equal(got, want) {
			t.Errorf("%d bytes: frame differs from the generated code's (%d vs %d bytes)", n, len(got), len(want))
		}
		var f sparsev1.Frame
		if err := c.Unmarshal(out, &f); err != nil || !bytes.Equal(f.GetBatch(), batch) {
			t.Errorf("%d bytes: does not read back as a Frame: %v", n, err)
		}
		out.Free()
		if pool.put != 1 {
			t.Errorf("%d bytes: buffer returned to its pool %d times, want once", n, pool.put)
		}
	}
	hello := &sparsev1.Frame{Body: &sparsev1.Frame_Hello{Hello: &sparsev1.Hello{SenderWorkerId: "w1"}}}
	out, err := c.Marshal(hello)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := proto.Marshal(hello)
	if got := out.Materialize(); !bytes.Equal(got, want) {
		t.Errorf("a hello frame is not marshalled as the proto codec does")
	}
	out.Free()
}

func TestTieredPool(t *testing.T) {
	p := &tieredPool{}
	for _, tc := range []struct{ n, wantCap int }{
		{0, 1 << minTier}, {1, 1 << minTier}, {256, 256}, {257, 512}, {70000, 1 << 17}, {1 << maxTier, 1 << maxTier},
	} {
		b := p.Get(tc.n)
		if len(*b) != tc.n || cap(*b) != tc.wantCap {
			t.Errorf("Get(%d): len %d cap %d, want len %d cap %d", tc.n, len(*b), cap(*b), tc.n, tc.wantCap)
		}
		p.Put(b)
	}
	if b := p.Get(1<<maxTier + 1); len(*b) != 1<<maxTier+1 {
		t.Errorf("a buffer above the largest tier has length %d", len(*b))
	}
	// Buffers that are not the pool's (a grown batch) are dropped, not handed out again.
	odd := make([]byte, 1000)
	p.Put(&odd)
	if b := p.Get(1000); cap(*b) != 1024 {
		t.Errorf("Get(1000) after putting a 1000-byte buffer: cap %d, want 1024", cap(*b))
	}
}

// A pooled frame's buffer belongs to gRPC once marshalled: marshalling the frame again
// is refused instead of handing the buffer to the pool twice. A static frame may be
// sent any number of times.
func TestPooledFrameIsMarshalledOnce(t *testing.T) {
	c := newFrameCodec()
	f := PooledBatchFrame(FrameBuffer())
	out, err := c.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	out.Free()
	if _, err := c.Marshal(f); err == nil || !strings.Contains(err.Error(), "sent twice") {
		t.Errorf("second Marshal of a pooled frame: %v, want a refusal", err)
	}
	s := StaticBatchFrame([]byte{0x0a, 0x00})
	for range 3 {
		out, err := c.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		out.Free()
	}
}
