package transport

import (
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// A batchFrame is a Frame whose body is a Batch already encoded by pkg/wire into a buffer
// of framePool. The sender hands it to gRPC whole: gRPC's proto codec would copy the
// batch into a pooled buffer that it zeroes first, which cost a fifth of the sending
// worker's CPU. On the wire it is exactly Frame{batch: ...}, so the receiver reads it
// with the generated code as before.
type batchFrame struct {
	buf  *[]byte        // owned by gRPC once sent; it returns the buffer to pool
	pool mem.BufferPool // nil: the buffer is never reused (StaticBatchFrame)
}

// StaticBatchFrame returns a message that sends batch, an encoded Batch that is never
// modified, as a Frame on a stream dialled with DialOptions, without copying it: the raw
// baseline of the two-worker benchmarks sends one batch over and over this way.
func StaticBatchFrame(batch []byte) any { return &batchFrame{buf: &batch} }

// frameFieldBatch is Frame.batch's field number (transport.proto).
const frameFieldBatch = 2

// frameCodec is gRPC's proto codec, plus batchFrame. It keeps the name "proto", so the
// content type, and the receiving side, are gRPC's usual ones.
type frameCodec struct{ base encoding.CodecV2 }

func newFrameCodec() frameCodec { return frameCodec{base: encoding.GetCodecV2(proto.Name)} }

func (c frameCodec) Marshal(v any) (mem.BufferSlice, error) {
	f, ok := v.(*batchFrame)
	if !ok {
		return c.base.Marshal(v)
	}
	hdr := make([]byte, 0, 1+protowire.SizeVarint(uint64(len(*f.buf))))
	hdr = protowire.AppendTag(hdr, frameFieldBatch, protowire.BytesType)
	hdr = protowire.AppendVarint(hdr, uint64(len(*f.buf)))
	return mem.BufferSlice{mem.SliceBuffer(hdr), mem.NewBuffer(f.buf, f.pool)}, nil
}

func (c frameCodec) Unmarshal(data mem.BufferSlice, v any) error { return c.base.Unmarshal(data, v) }

func (frameCodec) Name() string { return proto.Name }

// sendCodec is the call option that makes a stream use frameCodec.
var sendCodec = grpc.ForceCodecV2(newFrameCodec())

// framePool recycles the buffers frames are encoded into, between the senders and gRPC,
// which puts a buffer back once it has written it to the connection. The buffers are
// not zeroed: the encoder overwrites what it uses.
var framePool = &bufferPool{}

type bufferPool struct{ p sync.Pool }

// Get returns a buffer of length n (capacity at least DefaultMaxFrame plus room for the
// last batch coalesced into a full frame).
func (b *bufferPool) Get(n int) *[]byte {
	if p, ok := b.p.Get().(*[]byte); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	buf := make([]byte, n, max(n, DefaultMaxFrame+DefaultMaxFrame/4))
	return &buf
}

// Put takes a buffer back. gRPC passes the pointer given to mem.NewBuffer, whose slice
// starts at the buffer's start, so its whole capacity is reused.
func (b *bufferPool) Put(p *[]byte) {
	*p = (*p)[:0]
	b.p.Put(p)
}

var _ mem.BufferPool = (*bufferPool)(nil)
