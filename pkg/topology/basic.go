package topology

import (
	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/pkg/tuple"
)

// BasicBolt is a bolt whose emits are anchored to the current input and whose input is
// acked when Execute returns nil and failed when it returns an error — Storm's
// IBasicBolt. Most bolts are basic bolts.
type BasicBolt interface {
	Prepare(ctx *Context) error
	Execute(in *tuple.Tuple, out BasicCollector) error
	Cleanup()
}

// BasicCollector emits anchored to the input being executed.
type BasicCollector interface {
	// Emit sends values on the default stream.
	Emit(values ...any)
	// EmitStream sends values on a declared stream and returns the receiving tasks
	// (reused by the next emit).
	EmitStream(stream string, values []any) []int32
	// EmitDirect sends values to one task of a direct-grouped subscriber.
	EmitDirect(task int32, stream string, values []any)
	ReportError(err error)
	Logger() hclog.Logger
}

// Basic turns a BasicBolt factory into a BoltFactory.
func Basic(f func() BasicBolt) BoltFactory {
	return func() Bolt { return &basicBolt{impl: f()} }
}

type basicBolt struct {
	impl    BasicBolt
	out     BoltCollector
	current *tuple.Tuple
	anchors [1]*tuple.Tuple
}

func (b *basicBolt) Prepare(ctx *Context, out BoltCollector) error {
	b.out = out
	return b.impl.Prepare(ctx)
}

func (b *basicBolt) Execute(in *tuple.Tuple) {
	b.current = in
	b.anchors[0] = in
	err := b.impl.Execute(in, b)
	b.current = nil
	b.anchors[0] = nil
	if err != nil {
		b.out.ReportError(err)
		b.out.Fail(in)
		return
	}
	b.out.Ack(in)
}

func (b *basicBolt) Cleanup() { b.impl.Cleanup() }

func (b *basicBolt) Emit(values ...any) { b.out.Emit(b.current, values) }

func (b *basicBolt) EmitStream(stream string, values []any) []int32 {
	return b.out.EmitStream(stream, b.anchors[:], values)
}

func (b *basicBolt) EmitDirect(task int32, stream string, values []any) {
	b.out.EmitDirect(task, stream, b.anchors[:], values)
}

func (b *basicBolt) ReportError(err error) { b.out.ReportError(err) }

func (b *basicBolt) Logger() hclog.Logger { return b.out.Logger() }
