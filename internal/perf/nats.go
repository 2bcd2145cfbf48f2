package perf

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/sparsestream/sparse/internal/wire"
)

// The NATS peer of the two-worker shapes: NATS core pub/sub, the usual choice for moving
// small messages between processes, moving the same payloads as the engine (one wire-
// encoded tuple per message) from this process to a child process through a nats-server
// that the bench starts on loopback. Its rate is what `nats_ratio` divides by.

// natsSubject carries the messages of the NATS peer.
const natsSubject = "sparse.bench"

// natsURLEnv hands the server's address to the child that subscribes.
const natsURLEnv = "SPARSE_BENCH_NATS_URL"

// natsPayload is one tuple of shape s as the engine encodes it on the wire.
func natsPayload(s TwoWorkerShape) ([]byte, error) {
	var enc wire.Encoder
	if err := enc.AddTuple(2, constTuples(s.Acked)(1)); err != nil {
		return nil, err
	}
	return append([]byte(nil), enc.Bytes()...), nil
}

// natsBaseline runs the NATS peer for d and returns the messages per second the child
// received.
func natsBaseline(s TwoWorkerShape, self string, d time.Duration) (float64, error) {
	payload, err := natsPayload(s)
	if err != nil {
		return 0, err
	}
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true,
		MaxPending: 256 << 20})
	if err != nil {
		return 0, fmt.Errorf("nats-server: %w", err)
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		return 0, errors.New("nats-server did not start within 10s")
	}
	child := exec.Command(self, "-child", "natssub")
	child.Env = append(os.Environ(), natsURLEnv+"="+ns.ClientURL())
	child.Stderr = os.Stderr
	stdin, err := child.StdinPipe()
	if err != nil {
		return 0, err
	}
	out, err := child.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := child.Start(); err != nil {
		return 0, err
	}
	defer stopChild(child)
	lines := bufio.NewReader(out)
	if l, err := lines.ReadString('\n'); err != nil || strings.TrimSpace(l) != "ready" {
		return 0, fmt.Errorf("the NATS subscriber did not start: %q %v", l, err)
	}

	nc, err := nats.Connect(ns.ClientURL(), nats.ReconnectBufSize(-1))
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	var stop atomic.Bool
	pubErr := make(chan error, 1)
	go func() {
		for !stop.Load() {
			for range 256 {
				if err := nc.Publish(natsSubject, payload); err != nil {
					pubErr <- err
					return
				}
			}
		}
		pubErr <- nc.Flush()
	}()
	// The subscriber counts from when it is told to until it is told to stop, so that
	// the publisher's ramp-up and the drain are not measured.
	time.Sleep(min(time.Second, d/5))
	if _, err := fmt.Fprintln(stdin, "start"); err != nil {
		return 0, err
	}
	start := time.Now()
	time.Sleep(d)
	if _, err := fmt.Fprintln(stdin, "stop"); err != nil {
		return 0, err
	}
	l, err := lines.ReadString('\n')
	elapsed := time.Since(start)
	stop.Store(true)
	if perr := <-pubErr; perr != nil && !errors.Is(perr, nats.ErrConnectionClosed) {
		return 0, fmt.Errorf("publishing: %w", perr)
	}
	if err != nil {
		return 0, fmt.Errorf("the NATS subscriber's count: %w", err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(l), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("the NATS subscriber's count %q: %w", l, err)
	}
	return float64(n) / elapsed.Seconds(), nil
}

// natsSubscriber is the child of the NATS peer: it subscribes, says "ready", counts the
// messages received between "start" and "stop" on its stdin, and prints the count.
func natsSubscriber() error {
	url := os.Getenv(natsURLEnv)
	if url == "" {
		return errors.New("no " + natsURLEnv)
	}
	nc, err := nats.Connect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	var counting atomic.Bool
	var n atomic.Int64
	sub, err := nc.Subscribe(natsSubject, func(*nats.Msg) {
		if counting.Load() {
			n.Add(1)
		}
	})
	if err != nil {
		return err
	}
	// The publisher outruns a slow consumer: let the pending buffers grow rather than
	// drop, since what is measured is what arrives.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return err
	}
	if err := nc.Flush(); err != nil {
		return err
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "start":
			counting.Store(true)
		case "stop":
			counting.Store(false)
			fmt.Println(n.Load())
			return nil
		}
	}
	return in.Err()
}
