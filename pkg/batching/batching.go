package batching

import (
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// Defaults of the options.
const (
	// DefaultInterval is streamparse's secs_between_batches.
	DefaultInterval = 2 * time.Second
	// DefaultMaxBatchSize bounds the inputs held per key.
	DefaultMaxBatchSize = 1000
)

// Processor is the user's part of a batching bolt. Like a bolt, one instance serves one
// task and all its methods are called from the task's goroutine, so it needs no locking.
type Processor interface {
	// Prepare is called once before anything else. out may be kept and used from
	// ProcessBatch (emits elsewhere are unanchored), never from another goroutine.
	Prepare(ctx *topology.Context, out Emitter) error
	// Key groups inputs: inputs with equal keys are processed together. A panic here
	// fails that input only.
	Key(in *tuple.Tuple) string
	// ProcessBatch handles one key's inputs, in arrival order. nil acks them all; an
	// error or a panic fails them all, so every one is replayed — make processing
	// idempotent or tolerant of duplicates. batch must be treated as read-only; the bolt
	// does not reuse it, so it may be kept.
	ProcessBatch(key string, batch []*tuple.Tuple) error
	// Cleanup is called when the task shuts down. Inputs still waiting for their batch
	// are neither acked nor failed: they time out and their spouts replay them.
	Cleanup()
}

// Emitter is how ProcessBatch emits. Emit, EmitStream and EmitDirect anchor to every
// input of the batch being processed (streamparse's behaviour), so the inputs complete
// only when everything emitted from the batch does; with Unanchored they do not anchor.
type Emitter interface {
	// Emit sends values on the default stream.
	Emit(values ...any)
	// EmitStream sends values on a declared stream and returns the receiving tasks
	// (reused by the next emit).
	EmitStream(stream string, values []any) []int32
	// EmitDirect sends values to one task of a direct-grouped subscriber.
	EmitDirect(task int32, stream string, values []any)
	// EmitAnchored sends values anchored to the given inputs only, whatever the bolt's
	// anchoring: typically one output per input, so that a downstream failure of one
	// output replays one input rather than the whole batch. The anchors should be members
	// of the batch being processed (acked or failed with it).
	EmitAnchored(stream string, anchors []*tuple.Tuple, values []any) []int32
	ReportError(err error)
	Logger() hclog.Logger
}

// Option configures a batching bolt.
type Option func(*options)

type options struct {
	interval   time.Duration
	maxSize    int
	unanchored bool
}

// Interval sets how often every key's batch is processed (default 2s). Tick tuples come
// in whole seconds, so it must be a whole number of seconds, and a multiple of the
// component's topology.tick.tuple.freq.secs.
func Interval(d time.Duration) Option { return func(o *options) { o.interval = d } }

// MaxBatchSize bounds the inputs held per key (default 1000): a key whose batch reaches
// n is processed at once, without waiting for the interval, so memory stays bounded
// however fast inputs arrive.
func MaxBatchSize(n int) Option { return func(o *options) { o.maxSize = n } }

// Unanchored makes Emit, EmitStream and EmitDirect unanchored: a batch's inputs complete
// as soon as ProcessBatch returns, and downstream failures are not replayed.
func Unanchored() Option { return func(o *options) { o.unanchored = true } }

func newOptions(opts []Option) (options, error) {
	o := options{interval: DefaultInterval, maxSize: DefaultMaxBatchSize}
	for _, f := range opts {
		f(&o)
	}
	var errs []error
	if o.interval < time.Second || o.interval%time.Second != 0 {
		errs = append(errs, fmt.Errorf("batching: interval %s is not a whole number of seconds (at least 1s); tick tuples come every whole second", o.interval))
	}
	if o.maxSize < 1 {
		errs = append(errs, fmt.Errorf("batching: max batch size %d must be at least 1", o.maxSize))
	}
	return o, errors.Join(errs...)
}

// Bolt turns a Processor factory into a BoltFactory. The component must receive tick
// tuples whose period divides the interval: declare it with Declare, or set
// topology.tick.tuple.freq.secs on it yourself. Prepare fails with an explanation
// otherwise, as it does for invalid options.
func Bolt(f func() Processor, opts ...Option) topology.BoltFactory {
	o, err := newOptions(opts)
	return func() topology.Bolt { return &bolt{newProc: f, opts: o, optErr: err} }
}

// Declare adds a batching bolt to b and sets its topology.tick.tuple.freq.secs to the
// interval, so that every tick processes every batch. Subscribe it to its inputs on the
// returned declarer, usually with a fields grouping on the key so that each key is
// batched by one task.
func Declare(b *topology.Builder, id string, f func() Processor, parallelism int, opts ...Option) *topology.BoltDeclarer {
	d := b.Bolt(id, Bolt(f, opts...), parallelism)
	if o, err := newOptions(opts); err == nil {
		d.Config(topology.ConfTickTupleFreqSecs, int64(o.interval/time.Second))
	} // else Prepare reports the invalid options.
	return d
}

// bolt is one task of a batching bolt; it is also the processor's Emitter.
type bolt struct {
	newProc func() Processor
	opts    options
	optErr  error

	proc Processor
	out  topology.BoltCollector
	// ticksPerFlush ticks make one interval; ticks counts those since the last flush.
	ticksPerFlush int
	ticks         int
	batches       map[string][]*tuple.Tuple
	keys          []string // reused by flush
	// current is the batch being processed, the anchors of Emit (nil outside one).
	current []*tuple.Tuple
}

func (b *bolt) Prepare(ctx *topology.Context, out topology.BoltCollector) error {
	if b.optErr != nil {
		return b.optErr
	}
	freq, err := ctx.Config.Int(topology.ConfTickTupleFreqSecs, 0)
	if err != nil {
		return fmt.Errorf("batching: %w", err)
	}
	secs := int64(b.opts.interval / time.Second)
	switch {
	case freq <= 0:
		return fmt.Errorf("batching: component %q gets no tick tuples, so its batches would never be processed; "+
			"declare it with batching.Declare or set %s to %d on it", ctx.ComponentID, topology.ConfTickTupleFreqSecs, secs)
	case secs%freq != 0:
		return fmt.Errorf("batching: interval %s of component %q is not a multiple of its tick period %ds (%s); "+
			"set %s to %d", b.opts.interval, ctx.ComponentID, freq, topology.ConfTickTupleFreqSecs, topology.ConfTickTupleFreqSecs, secs)
	}
	if timeout, err := ctx.Config.Int(topology.ConfMessageTimeoutSecs, topology.DefaultMessageTimeoutSecs); err == nil && secs >= timeout {
		ctx.Logger().Warn("batching interval is not shorter than the message timeout: reliable inputs will time out and replay before their batch is processed",
			"interval", b.opts.interval, topology.ConfMessageTimeoutSecs, timeout)
	}
	b.ticksPerFlush = int(secs / freq)
	b.out = out
	b.batches = map[string][]*tuple.Tuple{}
	b.proc = b.newProc()
	if b.proc == nil {
		return errors.New("batching: the processor factory returned nil; return a new Processor from it")
	}
	return b.proc.Prepare(ctx, b)
}

// Execute queues an input under its key, processing the key's batch early when it is
// full, and processes every batch when an interval's worth of ticks has come.
func (b *bolt) Execute(in *tuple.Tuple) {
	if in.IsTick() {
		b.ticks++
		if b.ticks >= b.ticksPerFlush {
			b.ticks = 0
			b.flush()
		}
		b.out.Ack(in)
		return
	}
	key := b.proc.Key(in)
	b.batches[key] = append(b.batches[key], in)
	if batch := b.batches[key]; len(batch) >= b.opts.maxSize {
		delete(b.batches, key)
		b.process(key, batch)
	}
}

// flush processes every waiting batch, in key order so that runs are reproducible.
func (b *bolt) flush() {
	if len(b.batches) == 0 {
		return
	}
	b.keys = b.keys[:0]
	for k := range b.batches {
		b.keys = append(b.keys, k)
	}
	slices.Sort(b.keys)
	for _, k := range b.keys {
		batch := b.batches[k]
		delete(b.batches, k)
		b.process(k, batch)
	}
}

// process runs ProcessBatch on one batch, then acks or fails every member.
func (b *bolt) process(key string, batch []*tuple.Tuple) {
	b.current = batch
	err := b.call(key, batch)
	b.current = nil
	if err != nil {
		b.out.ReportError(err)
		for _, in := range batch {
			b.out.Fail(in)
		}
		return
	}
	for _, in := range batch {
		b.out.Ack(in)
	}
}

// call runs ProcessBatch, recovering a panic into an error so that the batch is failed
// and the other keys' batches still run.
func (b *bolt) call(key string, batch []*tuple.Tuple) (err error) {
	defer func() {
		if r := recover(); r != nil {
			b.out.Logger().Error("recovered a panic in ProcessBatch", "key", key, "panic", r, "stack", string(debug.Stack()))
			perr, ok := r.(error)
			if !ok {
				perr = fmt.Errorf("%v", r)
			}
			err = fmt.Errorf("batching: ProcessBatch panicked on key %q; failing its %d inputs: %w", key, len(batch), perr)
		}
	}()
	if err := b.proc.ProcessBatch(key, slices.Clip(batch)); err != nil {
		return fmt.Errorf("batching: ProcessBatch failed on key %q; failing its %d inputs: %w", key, len(batch), err)
	}
	return nil
}

// Cleanup drops the waiting batches without acking them: they were not processed, so
// they must time out and be replayed.
func (b *bolt) Cleanup() {
	b.batches = nil
	if b.proc != nil {
		b.proc.Cleanup()
	}
}

// anchors are what Emit anchors to: the current batch, or nothing.
func (b *bolt) anchors() []*tuple.Tuple {
	if b.opts.unanchored {
		return nil
	}
	return b.current
}

func (b *bolt) Emit(values ...any) {
	b.out.EmitStream(tuple.DefaultStream, b.anchors(), values)
}

func (b *bolt) EmitStream(stream string, values []any) []int32 {
	return b.out.EmitStream(stream, b.anchors(), values)
}

func (b *bolt) EmitDirect(task int32, stream string, values []any) {
	b.out.EmitDirect(task, stream, b.anchors(), values)
}

func (b *bolt) EmitAnchored(stream string, anchors []*tuple.Tuple, values []any) []int32 {
	return b.out.EmitStream(stream, anchors, values)
}

func (b *bolt) ReportError(err error) { b.out.ReportError(err) }

func (b *bolt) Logger() hclog.Logger { return b.out.Logger() }
