package wire_test

import (
	"runtime"
	"testing"

	"google.golang.org/protobuf/proto"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/wire"
	"github.com/sparsestream/sparse/pkg/tuple"
)

const benchBatch = 128 // tuples per batch, as topology.producer.batch.size

// benchShape is one kind of tuple the benchmarks send.
type benchShape struct {
	name   string
	tuples func(*tuple.Source) []*tuple.Tuple
}

var benchShapes = []benchShape{
	// ["some data"] anchored to one spout tuple tree.
	{"some-data", func(s *tuple.Source) []*tuple.Tuple {
		out := make([]*tuple.Tuple, benchBatch)
		for i := range out {
			out[i] = &tuple.Tuple{Source: s, Values: []any{"some data"}, Anchors: []tuple.Anchor{{Root: uint64(i) * 0x9e3779b97f4a7c15, Edge: ^uint64(i)}}}
		}
		return out
	}},
	// A wordcount split bolt's output: ["word"], unanchored.
	{"word", func(s *tuple.Source) []*tuple.Tuple {
		words := []string{"the", "cow", "jumped", "over", "moon", "an", "apple", "a", "day", "keeps"}
		out := make([]*tuple.Tuple, benchBatch)
		for i := range out {
			out[i] = &tuple.Tuple{Source: s, Values: []any{words[i%len(words)]}}
		}
		return out
	}},
}

// perTuple reports time, bytes and allocations per tuple beside the per-batch figures.
type perTuple struct {
	b      *testing.B
	before runtime.MemStats
}

func startPerTuple(b *testing.B, batchBytes int) *perTuple {
	b.ReportAllocs()
	b.SetBytes(int64(batchBytes))
	p := &perTuple{b: b}
	runtime.ReadMemStats(&p.before)
	b.ResetTimer()
	return p
}

func (p *perTuple) stop(batchBytes int) {
	p.b.StopTimer()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	n := float64(p.b.N) * benchBatch
	p.b.ReportMetric(float64(p.b.Elapsed().Nanoseconds())/n, "ns/tuple")
	p.b.ReportMetric(float64(batchBytes)/benchBatch, "wirebytes/tuple")
	p.b.ReportMetric(float64(after.Mallocs-p.before.Mallocs)/n, "allocs/tuple")
}

func benchSources() (*sources, *tuple.Source) {
	src := newSources(false)
	return src, src.add(4, tuple.DefaultStream)
}

func BenchmarkEncode(b *testing.B) {
	for _, shape := range benchShapes {
		b.Run(shape.name, func(b *testing.B) {
			_, s := benchSources()
			tuples := shape.tuples(s)
			var e wire.Encoder
			size := encodeBatch(b, &e, tuples)
			p := startPerTuple(b, size)
			for b.Loop() {
				encodeBatch(b, &e, tuples)
			}
			p.stop(size)
		})
	}
}

func encodeBatch(b *testing.B, e *wire.Encoder, tuples []*tuple.Tuple) int {
	e.Reset()
	for i, t := range tuples {
		if err := e.AddTuple(int32(i%8), t); err != nil {
			b.Fatal(err)
		}
	}
	return e.Size()
}

// BenchmarkDecode reads the same batch three ways: with a Decoder kept for the stream, as
// the transport does ("stream"); with Decode, which starts afresh each batch ("once");
// and with the fast paths off ("general"), the baseline of the other two.
func BenchmarkDecode(b *testing.B) {
	for _, shape := range benchShapes {
		src, s := benchSources()
		var e wire.Encoder
		size := encodeBatch(b, &e, shape.tuples(s))
		buf := e.Bytes()
		dec := wire.NewDecoder(src.resolve)
		ways := []struct {
			name   string
			decode func(func(int32, *tuple.Tuple), func(wire.Control)) error
		}{
			{"stream", func(t func(int32, *tuple.Tuple), c func(wire.Control)) error { return dec.Decode(buf, t, c) }},
			{"once", func(t func(int32, *tuple.Tuple), c func(wire.Control)) error {
				return wire.Decode(buf, src.resolve, t, c)
			}},
			{"general", func(t func(int32, *tuple.Tuple), c func(wire.Control)) error {
				return wire.DecodeSlow(buf, src.resolve, t, c)
			}},
		}
		for _, way := range ways {
			b.Run(shape.name+"/"+way.name, func(b *testing.B) {
				n := 0
				onTuple := func(int32, *tuple.Tuple) { n++ }
				onControl := func(wire.Control) {}
				p := startPerTuple(b, size)
				for b.Loop() {
					if err := way.decode(onTuple, onControl); err != nil {
						b.Fatal(err)
					}
				}
				p.stop(size)
				if n%benchBatch != 0 {
					b.Fatalf("decoded %d tuples, not whole batches of %d", n, benchBatch)
				}
			})
		}
	}
}

// BenchmarkGeneratedMarshal measures the generated code on the same batches: building
// the Batch message from the tuples and marshaling it ("convert+marshal", what the
// transport would have to do without package wire), and proto.Marshal alone of a
// prebuilt message ("marshal").
func BenchmarkGeneratedMarshal(b *testing.B) {
	for _, shape := range benchShapes {
		_, s := benchSources()
		tuples := shape.tuples(s)
		build := func() *sparsev1.Batch {
			pb := &sparsev1.Batch{Tuples: make([]*sparsev1.Tuple, len(tuples))}
			for i, t := range tuples {
				pt, err := wire.TupleToProto(int32(i%8), t)
				if err != nil {
					b.Fatal(err)
				}
				pb.Tuples[i] = pt
			}
			return pb
		}
		var buf []byte
		b.Run(shape.name+"/convert+marshal", func(b *testing.B) {
			out, _ := proto.Marshal(build())
			p := startPerTuple(b, len(out))
			for b.Loop() {
				var err error
				buf, err = proto.MarshalOptions{}.MarshalAppend(buf[:0], build())
				if err != nil {
					b.Fatal(err)
				}
			}
			p.stop(len(out))
		})
		b.Run(shape.name+"/marshal", func(b *testing.B) {
			pb := build()
			out, _ := proto.Marshal(pb)
			p := startPerTuple(b, len(out))
			for b.Loop() {
				var err error
				buf, err = proto.MarshalOptions{}.MarshalAppend(buf[:0], pb)
				if err != nil {
					b.Fatal(err)
				}
			}
			p.stop(len(out))
		})
	}
}

// BenchmarkGeneratedUnmarshal measures the generated code reading the same batches:
// proto.Unmarshal alone ("unmarshal") and followed by the conversion to tuples that
// Decode does in one pass ("unmarshal+convert").
func BenchmarkGeneratedUnmarshal(b *testing.B) {
	for _, shape := range benchShapes {
		src, s := benchSources()
		var e wire.Encoder
		var buf []byte
		for i, t := range shape.tuples(s) {
			if err := e.AddTuple(int32(i%8), t); err != nil {
				b.Fatal(err)
			}
		}
		buf = e.Bytes()
		b.Run(shape.name+"/unmarshal", func(b *testing.B) {
			p := startPerTuple(b, len(buf))
			for b.Loop() {
				var pb sparsev1.Batch
				if err := proto.Unmarshal(buf, &pb); err != nil {
					b.Fatal(err)
				}
			}
			p.stop(len(buf))
		})
		b.Run(shape.name+"/unmarshal+convert", func(b *testing.B) {
			p := startPerTuple(b, len(buf))
			for b.Loop() {
				var pb sparsev1.Batch
				if err := proto.Unmarshal(buf, &pb); err != nil {
					b.Fatal(err)
				}
				if _, err := fromProto(&pb, src); err != nil {
					b.Fatal(err)
				}
			}
			p.stop(len(buf))
		})
	}
}
