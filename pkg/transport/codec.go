package transport

import (
	"errors"
	"math/bits"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	protobuf "google.golang.org/protobuf/proto"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
)

// A batchFrame is a Frame whose body is a Batch already encoded by internal/wire into a buffer
// of framePool. The sender hands it to gRPC whole: gRPC's proto codec would copy the
// batch into a pooled buffer that it zeroes first, which cost a fifth of the sending
// worker's CPU. On the wire it is exactly Frame{batch: ...}, so the receiver reads it
// with the generated code as before.
type batchFrame struct {
	buf  *[]byte        // owned by gRPC once sent; it returns the buffer to pool
	pool mem.BufferPool // nil: the buffer is never reused (StaticBatchFrame)
}

// FrameBuffer returns an empty buffer of the transport's pool with room for a full frame,
// and PooledBatchFrame a message that sends the batch encoded into it without copying;
// gRPC puts the buffer back once written, so it must not be touched after sending. The
// raw baselines of the two-worker benchmarks use them to send as the senders do.
func FrameBuffer() *[]byte {
	b := framePool.Get(DefaultMaxFrame + DefaultMaxFrame/4)
	*b = (*b)[:0]
	return b
}

// PooledBatchFrame: see FrameBuffer.
func PooledBatchFrame(buf *[]byte) any { return &batchFrame{buf: buf, pool: framePool} }

// StaticBatchFrame returns a message that sends batch, an encoded Batch that is never
// modified, as a Frame on a stream dialled with DialOptions, without copying it: the raw
// baseline of the two-worker benchmarks sends one batch over and over this way.
func StaticBatchFrame(batch []byte) any { return &batchFrame{buf: &batch} }

// frameFieldBatch is Frame.batch's field number (transport.proto).
const frameFieldBatch = 2

// frameCodec is gRPC's proto codec, plus batchFrame. It keeps the name "proto", so the
// receiving side decodes with gRPC's proto codec (the content type names it:
// application/grpc+proto).
type frameCodec struct{ base encoding.CodecV2 }

func newFrameCodec() frameCodec { return frameCodec{base: encoding.GetCodecV2(proto.Name)} }

func (c frameCodec) Marshal(v any) (mem.BufferSlice, error) {
	f, ok := v.(*batchFrame)
	if !ok {
		return c.base.Marshal(v)
	}
	buf := f.buf
	if buf == nil {
		return nil, errors.New("transport: a pooled batch frame was sent twice; its buffer went back to the pool after the first send")
	}
	if f.pool != nil {
		f.buf = nil // the buffer is gRPC's now: a second send must not return it twice
	}
	hdr := make([]byte, 0, 1+protowire.SizeVarint(uint64(len(*buf))))
	hdr = protowire.AppendTag(hdr, frameFieldBatch, protowire.BytesType)
	hdr = protowire.AppendVarint(hdr, uint64(len(*buf)))
	return mem.BufferSlice{mem.SliceBuffer(hdr), mem.NewBuffer(buf, f.pool)}, nil
}

// Unmarshal is the proto codec's, but gathers a message that arrived in several HTTP/2
// frames into a buffer of framePool, which is not zeroed first, rather than of gRPC's
// default pool, which is: zeroing 64 KiB per batch cost a receiving worker a tenth of
// its CPU. An inFrame keeps that buffer and points its batch into it, where the generated
// code would copy the batch into a new slice.
func (c frameCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if in, ok := v.(*inFrame); ok {
		return in.unmarshal(data)
	}
	m, ok := v.(protobuf.Message)
	if !ok {
		return c.base.Unmarshal(data, v)
	}
	buf := data.MaterializeToBuffer(framePool)
	defer buf.Free()
	return protobuf.Unmarshal(buf.ReadOnlyData(), m)
}

func (frameCodec) Name() string { return proto.Name }

// inFrame is a Frame received without copying its batch (see frameCodec.Unmarshal):
// batch points into buf, a buffer of framePool that release gives back once the batch
// is decoded. A frame that is anything but one batch field (a hello, or a sender that
// encodes otherwise) is unmarshalled into msg by the generated code, as before.
type inFrame struct {
	buf   mem.Buffer
	batch []byte // set, possibly empty, when the frame was one batch
	msg   sparsev1.Frame
}

func (f *inFrame) unmarshal(data mem.BufferSlice) error {
	f.release()
	f.msg.Reset()
	buf := data.MaterializeToBuffer(framePool)
	b := buf.ReadOnlyData()
	if batch, ok := onlyBatch(b); ok {
		f.buf, f.batch = buf, batch
		return nil
	}
	defer buf.Free()
	return protobuf.Unmarshal(b, &f.msg)
}

// body is the frame's batch, nil if it carries none.
func (f *inFrame) body() []byte {
	if f.batch != nil {
		return f.batch
	}
	return f.msg.GetBatch()
}

// release gives the buffer back; the batch must not be read after it.
func (f *inFrame) release() {
	if f.buf != nil {
		f.buf.Free()
		f.buf = nil
	}
	f.batch = nil
}

// onlyBatch returns the batch of b when b is exactly one Frame.batch field, as senders
// write it; a batch of length zero is returned empty, not nil.
func onlyBatch(b []byte) ([]byte, bool) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || num != frameFieldBatch || typ != protowire.BytesType {
		return nil, false
	}
	v, m := protowire.ConsumeBytes(b[n:])
	if m < 0 || n+m != len(b) {
		return nil, false
	}
	return v[:len(v):len(v)], true
}

// sendCodec is the call option that makes a stream use frameCodec.
var sendCodec = grpc.ForceCodecV2(newFrameCodec())

// framePool recycles byte buffers between the transport and gRPC, on both sides: the
// sender encodes frames into its buffers and gRPC puts them back once written; gRPC reads
// frames into them and frees them once decoded. Unlike gRPC's default pool, it does not
// zero a buffer before handing it out (which cost a receiving worker 8% of its CPU):
// whoever gets a buffer overwrites what it uses.
var framePool = &tieredPool{}

// Buffers come in powers of two from 2^minTier to 2^maxTier bytes; larger ones are
// allocated and dropped.
const (
	minTier = 8
	maxTier = 23
)

type tieredPool struct{ tiers [maxTier + 1]sync.Pool }

// Get returns a buffer of length n and a capacity of at least n.
func (p *tieredPool) Get(n int) *[]byte {
	t := max(bits.Len(uint(max(n, 1)-1)), minTier) // the smallest power of two >= n
	if t > maxTier {
		b := make([]byte, n)
		return &b
	}
	if b, ok := p.tiers[t].Get().(*[]byte); ok {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<t)
	return &b
}

// Put takes back a buffer that Get returned (its slice starts at the buffer's start).
func (p *tieredPool) Put(b *[]byte) {
	c := cap(*b)
	t := bits.Len(uint(c)) - 1
	if c == 0 || c != 1<<t || t < minTier || t > maxTier {
		return // not one of ours
	}
	*b = (*b)[:0]
	p.tiers[t].Put(b)
}

var _ mem.BufferPool = (*tieredPool)(nil)
