package worker_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/logging"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/internal/worker"
	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
)

// TestSetLogLevelsOverGRPC: WorkerAdmin.SetLogLevels raises one component's level at
// once, and the worker puts it back by itself when the override lapses; a wrong level
// is refused and changes nothing.
func TestSetLogLevelsOverGRPC(t *testing.T) {
	var calls atomic.Int64
	spec := countingSpec(t, &calls)
	l := listenTCP(t)
	a := worker.Spread("levels-1", 1, topology.NewLayout(spec, spec.Config.AckerTasks()),
		[]scheduler.WorkerSlot{worker.Static("w1", l.Addr().String())})
	levels, log, err := logging.NewLevels("levels", "info", "text", testutil.LogWriter(t))
	if err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(worker.Options{Spec: spec, Assignment: a, WorkerID: "w1", Listener: l, Logger: log, Levels: levels})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = w.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	admin := sparsev1.NewWorkerAdminClient(conn)
	set := func(o *sparsev1.LogLevelOverride) error {
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		defer rcancel()
		_, err := admin.SetLogLevels(rctx, &sparsev1.SetLogLevelsRequest{Overrides: []*sparsev1.LogLevelOverride{o}})
		return err
	}
	testutil.Eventually(t, 5*time.Second, "WorkerAdmin to answer", func() bool {
		return set(&sparsev1.LogLevelOverride{Component: "sink", Level: "debug", ExpiresUnixMs: time.Now().Add(time.Second).UnixMilli()}) == nil
	})
	if got := levels.Level("sink"); got != hclog.Debug {
		t.Errorf("sink's level after SetLogLevels: %v, want debug", got)
	}
	if got := levels.Level("spout"); got != hclog.Info {
		t.Errorf("spout's level changed too: %v", got)
	}
	testutil.Eventually(t, 5*time.Second, "the override to lapse", func() bool { return levels.Level("sink") == hclog.Info })
	err = set(&sparsev1.LogLevelOverride{Level: "loud", ExpiresUnixMs: time.Now().Add(time.Minute).UnixMilli()})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("a wrong level: %v, want InvalidArgument", err)
	}
}

// TestLogLevelsEndWithTheWorker: once Run has returned, no override lapses and nothing
// arms the lapse timer again: neither a lapse due as the worker stops nor a
// SetLogLevels that comes after (which is refused). Run under -race: the timer's
// callback races the stop.
func TestLogLevelsEndWithTheWorker(t *testing.T) {
	for _, tc := range []struct {
		name string
		// lapse is how long after it is set (just before the stop) an override lapses;
		// setAfter sets another one once Run has returned.
		lapse    time.Duration
		setAfter bool
	}{
		{name: "a lapse due as the worker stops", lapse: time.Millisecond},
		{name: "a lapse due just after the stop", lapse: 20 * time.Millisecond},
		{name: "an override set after the stop", lapse: time.Hour, setAfter: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			spec := countingSpec(t, &calls)
			l := listenTCP(t)
			a := worker.Spread("levels-1", 1, topology.NewLayout(spec, spec.Config.AckerTasks()),
				[]scheduler.WorkerSlot{worker.Static("w1", l.Addr().String())})
			var out testutil.SyncBuffer
			levels, log, err := logging.NewLevels("levels", "info", "text", &out)
			if err != nil {
				t.Fatal(err)
			}
			w, err := worker.New(worker.Options{Spec: spec, Assignment: a, WorkerID: "w1", Listener: l, Logger: log, Levels: levels})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- w.Run(ctx) }()
			if err := w.SetLogLevels([]*sparsev1.LogLevelOverride{{Component: "sink", Level: "debug", ExpiresUnixMs: time.Now().Add(tc.lapse).UnixMilli()}}); err != nil {
				t.Fatalf("SetLogLevels while running: %v", err)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
			if tc.setAfter {
				err := w.SetLogLevels([]*sparsev1.LogLevelOverride{{Component: "sink", Level: "trace", ExpiresUnixMs: time.Now().Add(10 * time.Millisecond).UnixMilli()}})
				if err == nil || !strings.Contains(err.Error(), "has stopped") {
					t.Errorf("SetLogLevels after the stop: %v, want a refusal", err)
				}
				if got := levels.Level("sink"); got == hclog.Trace {
					t.Errorf("sink's level changed after the stop: %v", got)
				}
			}
			stopped := strings.Count(out.String(), "log levels")
			time.Sleep(tc.lapse%time.Hour + 50*time.Millisecond) // past any lapse still armed
			if got := strings.Count(out.String(), "log levels"); got != stopped {
				t.Errorf("the log levels changed after Run returned:\n%s", out.String())
			}
		})
	}
}
