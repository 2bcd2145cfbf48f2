// Package topology is the user API: spouts, bolts, the collectors they emit through, the
// context they run in, and the Builder that wires them into a validated Spec.
package topology

import (
	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/pkg/tuple"
)

// Spout is a source of tuples. The engine calls every method from one goroutine per task,
// so a spout needs no locking of its own state.
type Spout interface {
	// Open is called once before any other method.
	Open(ctx *Context, out SpoutCollector) error
	// NextTuple emits zero or more tuples. It must not block for long: while it runs, the
	// task cannot process acks. When it has nothing to emit it returns at once and the
	// engine backs off.
	NextTuple()
	// Ack tells that the tuple tree of msgID was processed completely.
	Ack(msgID any)
	// Fail tells that the tuple tree of msgID failed or timed out; a reliable spout
	// emits it again.
	Fail(msgID any)
	// Activate and Deactivate are called when the topology is activated or deactivated;
	// NextTuple is not called while the spout is inactive.
	Activate()
	Deactivate()
	// Close is called when the task shuts down; it is not guaranteed on a crash.
	Close()
}

// Bolt processes tuples. Every input must be acked or failed, or it times out.
type Bolt interface {
	// Prepare is called once before Execute.
	Prepare(ctx *Context, out BoltCollector) error
	// Execute processes one input. A panic here is recovered: it is reported with the
	// component and task, and the input is failed.
	Execute(in *tuple.Tuple)
	// Cleanup is called when the task shuts down; it is not guaranteed on a crash.
	Cleanup()
}

// Wakeable is implemented by a bolt whose work also arrives outside Execute: the answers
// of a subprocess, the callbacks of a client library. Any goroutine may call the task's
// Context.Wake; the engine then calls Woken on the task's goroutine, between batches of
// inputs and at once when no input comes, so Woken may use the collector as Execute
// does. Wakes that arrive before Woken runs are coalesced into one call. A panic in
// Woken is reported like one in Execute, and Woken is called again only after the next
// Wake.
type Wakeable interface {
	Woken()
}

// SpoutCollector is how a spout emits.
type SpoutCollector interface {
	// Emit sends values on the default stream. A non-nil msgID makes the tuple reliable:
	// the spout will be told Ack(msgID) or Fail(msgID).
	Emit(values []any, msgID any)
	// EmitStream sends values on a declared stream and returns the receiving task ids.
	// The returned slice is reused by the next emit; copy it to keep it.
	EmitStream(stream string, values []any, msgID any) []int32
	// EmitDirect sends values to one task of a component that subscribes to the stream
	// with a direct grouping. The stream must be declared direct.
	EmitDirect(task int32, stream string, values []any, msgID any)
	// ReportError records an error against this task; it is logged and counted.
	ReportError(err error)
	// Logger logs with the component and task attached.
	Logger() hclog.Logger
	// Pending is the number of reliable tuples this task has in flight.
	Pending() int
}

// BoltCollector is how a bolt emits, acks and fails.
type BoltCollector interface {
	// Emit sends values on the default stream anchored to in (nil: unanchored).
	Emit(in *tuple.Tuple, values []any)
	// EmitStream sends values on a declared stream anchored to every tuple in anchors
	// and returns the receiving task ids. The returned slice is reused by the next emit.
	EmitStream(stream string, anchors []*tuple.Tuple, values []any) []int32
	// EmitDirect sends values to one task of a direct-grouped subscriber.
	EmitDirect(task int32, stream string, anchors []*tuple.Tuple, values []any)
	// Ack marks the input processed; its children are tracked from here on.
	Ack(in *tuple.Tuple)
	// Fail fails the input's tuple trees at once so their spouts can replay.
	Fail(in *tuple.Tuple)
	// ResetTimeout restarts the message timeout of the input's trees, for inputs that
	// legitimately take long to process.
	ResetTimeout(in *tuple.Tuple)
	// ReportError records an error against this task; it is logged and counted.
	ReportError(err error)
	// Logger logs with the component and task attached.
	Logger() hclog.Logger
}

// BaseSpout gives no-op Ack, Fail, Activate, Deactivate and Close to embed.
type BaseSpout struct{}

// Ack does nothing.
func (BaseSpout) Ack(any) {}

// Fail does nothing.
func (BaseSpout) Fail(any) {}

// Activate does nothing.
func (BaseSpout) Activate() {}

// Deactivate does nothing.
func (BaseSpout) Deactivate() {}

// Close does nothing.
func (BaseSpout) Close() {}

// BaseBolt gives a no-op Cleanup to embed.
type BaseBolt struct{}

// Cleanup does nothing.
func (BaseBolt) Cleanup() {}

// SpoutFactory makes one spout instance per task.
type SpoutFactory func() Spout

// BoltFactory makes one bolt instance per task.
type BoltFactory func() Bolt
