package perf

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/executor"
	"github.com/sparsestream/sparse/internal/wire"
	"github.com/sparsestream/sparse/internal/worker"
	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/transport"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// TwoWorkerShape splits a shape over two worker processes: w1 (the measuring process)
// and w2 (a child process).
type TwoWorkerShape struct {
	Name  string
	Base  Shape
	Place map[string]string // component -> worker; acker tasks alternate
	Conf  topology.Config
	// Acked: throughput is spout trees acked; otherwise tuples the spout sent.
	Acked bool
}

// TwoWorkerShapes are the cross-process benchmarks.
func TwoWorkerShapes() []TwoWorkerShape {
	s := Shapes()
	return []TwoWorkerShape{
		{Name: "ConstSpoutNullBolt-2w", Base: s[0], Place: map[string]string{"spout": "w1", "bolt": "w2"}},
		{Name: "ConstSpoutIdBoltNullBolt-2w", Base: s[1], Place: map[string]string{"spout": "w1", "id": "w2", "bolt": "w2"},
			Conf: topology.Config{topology.ConfAckerExecutors: 2, topology.ConfWorkers: 2}, Acked: true},
	}
}

// TwoWorkerResult is one cross-process measurement.
type TwoWorkerResult struct {
	Result
	BytesPerTuple  float64
	TuplesPerFrame float64
	// CodecBaseline is the raw baseline with a tuple codec on each side: the sender
	// encodes every frame from tuples with internal/wire, the receiver decodes every tuple. It
	// is reported beside the ratio, which is against the raw baseline, to show what the
	// per-tuple work alone costs.
	CodecBaseline float64
	// Floor is the codec baseline with the least an engine adds to it (see rawFloor);
	// 0 when not measured (acked shapes, whose engine does work the floor leaves out).
	Floor float64
	// NATS is the NATS peer's rate: the same payloads between two processes through a
	// nats-server (see nats.go).
	NATS float64
}

// Line is the result in the `make bench` format.
func (r TwoWorkerResult) Line() string {
	return fmt.Sprintf("%s bytes_per_tuple=%.1f codec_ratio=%.2f nats_ratio=%.2f", r.Result.Line(), r.BytesPerTuple, r.TPS/r.CodecBaseline, r.TPS/r.NATS)
}

// MeasureTwoWorker runs the engine across two processes at full speed, then at half speed
// for latency, then the raw gRPC baseline with frames like the engine's. self is the path
// of a binary that runs ChildMain.
func MeasureTwoWorker(s TwoWorkerShape, self string, o Options) (TwoWorkerResult, error) {
	r := TwoWorkerResult{Result: Result{Shape: s.Name}}
	full, err := runTwo(s, self, 0, o)
	if err != nil {
		return r, err
	}
	r.TPS, r.Allocs, r.BytesPerTuple, r.TuplesPerFrame = full.rate, full.allocs, full.bytesPerTuple, full.tuplesPerFrame
	r.Rate = r.TPS / 2
	half, err := runTwo(s, self, r.Rate, o)
	if err != nil {
		return r, err
	}
	r.P50, r.P99 = half.p50, half.p99
	if r.Baseline, err = rawBaseline(s, self, max(1, int(r.TuplesPerFrame)), rawBytes, o.Duration); err != nil {
		return r, err
	}
	if r.CodecBaseline, err = rawBaseline(s, self, max(1, int(r.TuplesPerFrame)), rawCodec, o.Duration); err != nil {
		return r, err
	}
	if !s.Acked {
		if r.Floor, err = rawBaseline(s, self, max(1, int(r.TuplesPerFrame)), rawFloor, o.Duration); err != nil {
			return r, err
		}
	}
	r.NATS, err = natsBaseline(s, self, o.Duration)
	return r, err
}

// TLSCost measures what mutual TLS on the transport costs shape s at full speed: rounds
// pairs of runs, plaintext then TLS (with the files of tlsDir), alternated so that a
// drift of the machine falls on both; it returns the median of each and the median of
// the rounds' costs (1 - tls/plain), which a noisy host disturbs least.
func TLSCost(s TwoWorkerShape, self, tlsDir string, rounds int, o Options) (plain, withTLS, cost float64, err error) {
	var plains, tlss, costs []float64
	for range max(rounds, 1) {
		p, err := runTwo(s, self, 0, Options{Warmup: o.Warmup, Duration: o.Duration})
		if err != nil {
			return 0, 0, 0, err
		}
		t, err := runTwo(s, self, 0, Options{Warmup: o.Warmup, Duration: o.Duration, TLSDir: tlsDir})
		if err != nil {
			return 0, 0, 0, err
		}
		plains, tlss, costs = append(plains, p.rate), append(tlss, t.rate), append(costs, 1-t.rate/p.rate)
	}
	return median(plains), median(tlss), median(costs), nil
}

type twoRun struct {
	rate, allocs, bytesPerTuple, tuplesPerFrame, busyCores float64
	p50, p99                                               time.Duration
}

func twoSpec(s TwoWorkerShape, rate float64, lat *LatencySink) (*topology.Spec, topology.Config, error) {
	spec, err := s.Base.Build(rate, lat).Build()
	if err != nil {
		return nil, nil, err
	}
	return spec, spec.Config.Merge(s.Conf), nil
}

func assign(s TwoWorkerShape, spec *topology.Spec, conf topology.Config, addrs [2]string) *worker.Assignment {
	l := topology.NewLayout(spec, conf.AckerTasks())
	a := &worker.Assignment{TopologyID: spec.Name, Version: 1, Workers: []scheduler.WorkerSlot{worker.Static("w1", addrs[0]), worker.Static("w2", addrs[1])}}
	for comp, execs := range l.Executors {
		for i, ex := range execs {
			w := 0
			if s.Place[comp] == "w2" || (comp == tuple.AckerID && i%2 == 1) {
				w = 1
			}
			a.Workers[w].Executors = append(a.Workers[w].Executors, ex)
		}
	}
	return a
}

func freePorts(n int) ([]string, error) {
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		out = append(out, l.Addr().String())
		defer l.Close()
	}
	return out, nil
}

// stamped says whether a run stamps tuples for delivery latency (the ackers-off shape).
func stamped(s TwoWorkerShape, rate float64) bool { return !s.Acked && rate > 0 }

func runTwo(s TwoWorkerShape, self string, rate float64, o Options) (twoRun, error) {
	var lat *LatencySink
	if stamped(s, rate) {
		lat = &LatencySink{Observe: func(time.Duration) {}}
	}
	spec, conf, err := twoSpec(s, rate, lat)
	if err != nil {
		return twoRun{}, err
	}
	ports, err := freePorts(2)
	if err != nil {
		return twoRun{}, err
	}
	a := assign(s, spec, conf, [2]string{ports[0], ports[1]})
	dir, err := os.MkdirTemp("", "sparse-bench-")
	if err != nil {
		return twoRun{}, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "assignment.json")
	if err := worker.Save(a, path); err != nil {
		return twoRun{}, err
	}
	args := []string{"-child", "worker", "-shape", s.Name, "-assignment", path, "-rate", strconv.FormatFloat(rate, 'f', 0, 64)}
	if o.TLSDir != "" {
		args = append(args, "-tls-dir", o.TLSDir)
	}
	tlsStore, err := loadTLS(o.TLSDir)
	if err != nil {
		return twoRun{}, err
	}
	if p := os.Getenv("SPARSE_BENCH_CHILD_CPUPROFILE"); p != "" {
		// One profile per run: the full-speed one ends in .full, the rate-limited in .half.
		which := ".full"
		if rate > 0 {
			which = ".half"
		}
		args = append(args, "-cpuprofile", p+which)
	}
	child := exec.Command(self, args...)
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		return twoRun{}, err
	}
	if err := child.Start(); err != nil {
		return twoRun{}, fmt.Errorf("starting the second worker: %w", err)
	}
	defer stopChild(child) // if we return early; a no-op once it has been waited for
	w, err := worker.New(worker.Options{Spec: spec, Config: s.Conf, Assignment: a, WorkerID: "w1", TLS: tlsStore})
	if err != nil {
		return twoRun{}, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	// The spouts start once the peers are connected; warm up from then.
	for deadline := time.Now().Add(30 * time.Second); ; {
		var emitted int64
		for _, st := range w.Runtime().Stats() {
			emitted += st.Emitted.Load()
		}
		if emitted > 0 {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			return twoRun{}, errors.New("the spout did not start within 30s: the workers did not connect")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(o.Warmup)

	count := func() (int64, []int64) {
		var n int64
		var h []int64
		for _, st := range w.Runtime().Stats() {
			if st.Kind != "spout" {
				continue
			}
			if s.Acked {
				n += st.Acked.Load()
			} else {
				n += st.Transferred.Load()
			}
			h = st.CompleteLatency.Snapshot()
		}
		return n, h
	}
	var m0, m1 runtime.MemStats
	n0, h0 := count()
	t0 := w.Transport()
	runtime.ReadMemStats(&m0)
	c0 := ReadCPU()
	start := time.Now()
	time.Sleep(o.Duration)
	n1, h1 := count()
	t1 := w.Transport()
	c1 := ReadCPU()
	runtime.ReadMemStats(&m1)
	elapsed := time.Since(start)
	cancel()
	if err := <-done; err != nil {
		return twoRun{}, err
	}
	_ = child.Process.Signal(syscall.SIGTERM)
	childOut, _ := io.ReadAll(out)
	if err := child.Wait(); err != nil {
		return twoRun{}, fmt.Errorf("the second worker failed: %w", err)
	}
	res := twoRun{rate: float64(n1-n0) / elapsed.Seconds(), busyCores: BusyCores(c0, c1)}
	if n1 > n0 {
		res.allocs = float64(m1.Mallocs-m0.Mallocs) / float64(n1-n0)
	}
	if sent := t1.TuplesSent - t0.TuplesSent; sent > 0 {
		res.bytesPerTuple = float64(t1.BytesSent-t0.BytesSent) / float64(sent)
		res.tuplesPerFrame = float64(sent) / float64(max(1, t1.FramesSent-t0.FramesSent))
	}
	if lat != nil {
		res.p50, res.p99 = parseLatency(string(childOut))
	} else {
		for i := range h1 {
			h1[i] -= h0[i]
		}
		res.p50, res.p99 = executor.Quantile(h1, 0.5), executor.Quantile(h1, 0.99)
	}
	return res, nil
}

func parseLatency(out string) (p50, p99 time.Duration) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "LATENCY" {
			continue
		}
		a, _ := strconv.ParseInt(strings.TrimPrefix(f[1], "p50_us="), 10, 64)
		b, _ := strconv.ParseInt(strings.TrimPrefix(f[2], "p99_us="), 10, 64)
		return time.Duration(a) * time.Microsecond, time.Duration(b) * time.Microsecond
	}
	return 0, 0
}

// stopChild kills a child process of the bench, if it still runs, and reaps it.
func stopChild(c *exec.Cmd) {
	_ = c.Process.Kill()
	_ = c.Wait()
}

// rawKind is what a raw baseline does besides streaming frames.
type rawKind int

const (
	// rawBytes streams the same encoded frame again and again; the receiver only counts.
	rawBytes rawKind = iota
	// rawCodec encodes every frame from its tuples and decodes every tuple, as workers do.
	rawCodec
	// rawFloor is rawCodec with the least any engine that runs user code on goroutines of
	// its own adds to it: on the sending side a goroutine allocates a new tuple for every
	// emit and hands them over in batches (of the engine's batch size) to the goroutine
	// that encodes; on the receiving side the decoder hands the tuples over in such
	// batches to a goroutine that calls a function with each. No executor, routing,
	// checks, counters or acking: the engine's throughput against it says how much of
	// what the engine adds to the codec is its own.
	rawFloor
)

// rawMode names a raw kind's receiver, as ChildMain takes it.
var rawMode = [...]string{rawBytes: "raw", rawCodec: "rawdecode", rawFloor: "rawfloor"}

// rawBaseline streams the same frames the engine sends (tuplesPerFrame tuples of the
// shape's values, anchored when the shape acks) over the same gRPC service, with the
// workers' dial and server options and the same copy-free send, to a child process that
// only counts them: the cost of the bytes with no engine on either side. rawCodec and
// rawFloor add the codec, and the floor of an engine, on both sides (see rawKind).
func rawBaseline(s TwoWorkerShape, self string, tuplesPerFrame int, kind rawKind, d time.Duration) (float64, error) {
	child := exec.Command(self, "-child", rawMode[kind])
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := child.Start(); err != nil {
		return 0, err
	}
	defer stopChild(child)
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("the raw receiver did not report its address: %w", err)
	}
	conn, err := grpc.NewClient(strings.TrimSpace(addr), transport.DialOptions()...)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := sparsev1.NewWorkerTransportClient(conn).Transfer(ctx)
	if err != nil {
		return 0, err
	}
	newTuple := constTuples(s.Acked)
	tuples := make([]*tuple.Tuple, tuplesPerFrame)
	var enc wire.Encoder
	for i := range tuples {
		tuples[i] = newTuple(i)
		if err := enc.AddTuple(2, tuples[i]); err != nil {
			return 0, err
		}
	}
	static := transport.StaticBatchFrame(enc.Bytes())
	var emitted <-chan []*tuple.Tuple
	var spent chan<- []*tuple.Tuple
	var batch []*tuple.Tuple // the floor's emitted batch being encoded, from its next tuple on
	next := 0
	if kind == rawFloor {
		emitted, spent = floorEmitter(ctx, newTuple)
	}
	// frame returns the next frame and the tuples in it.
	frame := func() (any, int, error) {
		if kind == rawBytes {
			return static, tuplesPerFrame, nil
		}
		buf := transport.FrameBuffer()
		enc.ResetTo(*buf)
		n := 0
		if kind == rawCodec {
			for _, t := range tuples {
				if err := enc.AddTuple(2, t); err != nil {
					return nil, 0, err
				}
			}
			n = len(tuples)
		}
		// The floor's frames hold as many tuples as the codec's, batches or not.
		for kind == rawFloor && n < tuplesPerFrame {
			if next == len(batch) {
				if batch != nil {
					clear(batch)
					spent <- batch[:0]
				}
				batch, next = <-emitted, 0
			}
			take := min(len(batch)-next, tuplesPerFrame-n)
			for _, t := range batch[next : next+take] {
				if err := enc.AddTuple(2, t); err != nil {
					return nil, 0, err
				}
			}
			next, n = next+take, n+take
		}
		*buf = enc.Bytes()
		return transport.PooledBatchFrame(buf), n, nil
	}
	if err := stream.Send(&sparsev1.Frame{Body: &sparsev1.Frame_Hello{Hello: &sparsev1.Hello{SenderWorkerId: "raw"}}}); err != nil {
		return 0, err
	}
	var sent int64
	start := time.Now()
	for time.Since(start) < d {
		f, n, err := frame()
		if err != nil {
			return 0, err
		}
		if err := stream.SendMsg(f); err != nil {
			return 0, err
		}
		sent += int64(n)
	}
	elapsed := time.Since(start)
	_ = stream.CloseSend()
	_, _ = stream.Recv() // the receiver has read everything when it ends the stream
	return float64(sent) / elapsed.Seconds(), nil
}

// floorBatch is how many tuples the floor hands over at a time on either side: the
// engine's batch size (topology.producer.batch.size), which the two-worker shapes keep
// at its default.
const floorBatch = topology.DefaultProducerBatchSize

// floorEmitter is the sending side of the floor: a goroutine that allocates a tuple per
// emit, in batches handed over on the first channel; spent batches come back on the
// second. It stops with ctx.
func floorEmitter(ctx context.Context, newTuple func(int) *tuple.Tuple) (<-chan []*tuple.Tuple, chan<- []*tuple.Tuple) {
	emitted, spent := make(chan []*tuple.Tuple, 8), make(chan []*tuple.Tuple, 16)
	for range 12 {
		spent <- make([]*tuple.Tuple, 0, floorBatch)
	}
	go func() {
		for i := 0; ; {
			var b []*tuple.Tuple
			select {
			case b = <-spent:
			case <-ctx.Done():
				return
			}
			for range floorBatch {
				b = append(b, newTuple(i))
				i++
			}
			select {
			case emitted <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	return emitted, spent
}

// rawServer discards the frames it receives, or decodes every tuple of them first
// (rawCodec), and hands them to a goroutine of their own in batches (rawFloor).
type rawServer struct {
	sparsev1.UnimplementedWorkerTransportServer
	kind rawKind
}

func (s rawServer) Transfer(stream grpc.BidiStreamingServer[sparsev1.Frame, sparsev1.FrameReply]) error {
	src := constSource(false) // fields are not on the wire; the receiver needs a source only
	dec := wire.NewDecoder(func(int32, string) *tuple.Source { return src })
	var n int64
	count := func(int32, *tuple.Tuple) { n++ }
	if s.kind == rawFloor {
		ctx := stream.Context()
		executed := floorExecutor(ctx)
		b := make([]*tuple.Tuple, 0, floorBatch)
		count = func(_ int32, t *tuple.Tuple) {
			if b = append(b, t); len(b) == floorBatch {
				select {
				case executed <- b:
				case <-ctx.Done():
				}
				b = make([]*tuple.Tuple, 0, floorBatch)
			}
		}
	}
	for {
		f, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if b := f.GetBatch(); s.kind != rawBytes && b != nil {
			if err := dec.Decode(b, count, func(wire.Control) {}); err != nil {
				return err
			}
		}
	}
}

// serveRaw is the receiver of a raw baseline: it prints its address, then serves.
func serveRaw(kind rawKind) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	g := grpc.NewServer(transport.ServerOptions()...)
	sparsev1.RegisterWorkerTransportServer(g, rawServer{kind: kind})
	fmt.Println(l.Addr().String())
	return g.Serve(l)
}

// floorExecutor is the receiving side of the floor: a goroutine that calls a function
// (not inlined, as a bolt's Execute is not) with every tuple of the batches it is sent,
// until ctx ends.
func floorExecutor(ctx context.Context) chan<- []*tuple.Tuple {
	in := make(chan []*tuple.Tuple, 8)
	go func() {
		var bolt floorBolt
		for {
			select {
			case b := <-in:
				for _, t := range b {
					bolt.execute(t)
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return in
}

// floorBolt is the floor's bolt: it looks at each tuple.
type floorBolt struct{ values int }

//go:noinline
func (b *floorBolt) execute(t *tuple.Tuple) { b.values += len(t.Values) }

// ChildMain is the second process of a two-worker benchmark: "raw", "rawdecode" and
// "rawfloor" serve a raw baseline's receiver (see rawKind), "natssub" the NATS peer's
// subscriber, "worker" runs worker w2 of a shape until SIGTERM (over TLS with the files in
// tlsDir, when set), and "scale-etcd" and "scale-nimbus" the control plane's processes.
func ChildMain(mode, shape, assignment string, rate float64, tlsDir string) error {
	for kind, m := range rawMode {
		if m == mode {
			return serveRaw(rawKind(kind))
		}
	}
	switch mode {
	case "natssub":
		return natsSubscriber()
	case "scale-etcd", "scale-nimbus":
		return scaleChild(mode)
	case "worker":
		var s *TwoWorkerShape
		for _, c := range TwoWorkerShapes() {
			if c.Name == shape {
				s = &c
			}
		}
		if s == nil {
			return fmt.Errorf("no two-worker shape %q", shape)
		}
		var hist executor.Histogram
		var lat *LatencySink
		if stamped(*s, rate) {
			begin := time.Now().Add(time.Second)
			lat = &LatencySink{Observe: func(d time.Duration) {
				if time.Now().After(begin) {
					hist.Observe(d)
				}
			}}
		}
		spec, _, err := twoSpec(*s, rate, lat)
		if err != nil {
			return err
		}
		a, err := worker.Load(assignment)
		if err != nil {
			return err
		}
		tlsStore, err := loadTLS(tlsDir)
		if err != nil {
			return err
		}
		w, err := worker.New(worker.Options{Spec: spec, Config: s.Conf, Assignment: a, WorkerID: "w2", TLS: tlsStore})
		if err != nil {
			return err
		}
		ctx, stop := signalContext()
		defer stop()
		err = w.Run(ctx)
		h := hist.Snapshot()
		fmt.Printf("LATENCY p50_us=%d p99_us=%d\n", executor.Quantile(h, 0.5).Microseconds(), executor.Quantile(h, 0.99).Microseconds())
		return err
	}
	return fmt.Errorf("unknown child mode %q", mode)
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
}

// Latency is what LatencyAt measures.
type Latency struct {
	Achieved       float64 // tuples (or trees) a second
	P50, P99       time.Duration
	TuplesPerFrame float64 // on the transport from the first worker
	BusyCores      float64 // the machine's, on average (NaN when unknown)
}

// LatencyAt runs a two-worker shape with its spout limited to rate and returns the
// achieved rate, latency quantiles, and what they cost: frame sizes and CPU.
func LatencyAt(s TwoWorkerShape, self string, rate float64, o Options) (Latency, error) {
	r, err := runTwo(s, self, rate, o)
	return Latency{Achieved: r.rate, P50: r.p50, P99: r.p99, TuplesPerFrame: r.tuplesPerFrame, BusyCores: r.busyCores}, err
}
