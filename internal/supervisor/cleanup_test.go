package supervisor

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/internal/testutil/etcdtest"
	"github.com/sparsestream/sparse/pkg/scheduler"
	"github.com/sparsestream/sparse/pkg/topology"
)

func TestRotateLog(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, logFile)
	write := func(s string) {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	write("0123")
	if rotated, err := rotateLog(path, 10, 2); rotated || err != nil {
		t.Fatalf("a small log was rotated: %v, %v", rotated, err)
	}
	for _, gen := range []string{"aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc"} {
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		write(gen)
		if rotated, err := rotateLog(path, 10, 2); !rotated || err != nil {
			t.Fatalf("a log of 12 bytes, at most 10: rotated %v, %v", rotated, err)
		}
		if read(path) != "" || read(path+".1") != gen {
			t.Fatalf("after rotating %q: log %q, .1 %q", gen, read(path), read(path+".1"))
		}
	}
	if read(path+".2") != "bbbbbbbbbbbb" {
		t.Errorf(".2 = %q", read(path+".2"))
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("a third backup was kept: %v", err)
	}
	if st, _ := os.Stat(path + ".1"); st.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", st.Mode().Perm())
	}
	// A writer that appends goes on at the start of the emptied file.
	write("after")
	if read(path) != "after" {
		t.Errorf("the log after rotation holds %q", read(path))
	}
	write("xxxxxxxxxxxx")
	if rotated, err := rotateLog(path, 10, 0); !rotated || err != nil || read(path) != "" {
		t.Errorf("no backups: rotated %v, %v, log %q", rotated, err, read(path))
	}
}

// dirUsage is the number of files and their bytes under dir, and their names.
func dirUsage(t *testing.T, dir string) (int, int64, []string) {
	t.Helper()
	var n int
	var size int64
	var names []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			// The supervisor removes files while we count: what is gone is not counted.
			return nil
		}
		if err != nil {
			return err
		}
		if info, err := d.Info(); err == nil && !d.IsDir() {
			n++
			size += info.Size()
			rel, _ := filepath.Rel(dir, path)
			names = append(names, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, size, names
}

// TestSupervisorDataDirReturnsToSize: a supervisor (real etcd, a fixture nimbus) runs
// topologies that are submitted and killed one after another, each with its own
// artifact and a chatty worker whose log is rotated; once the cleanup grace has passed,
// its data directory holds what it held before the first one. Crash leftovers found at
// start are removed.
func TestSupervisorDataDirReturnsToSize(t *testing.T) {
	needBinary(t)
	e := etcdtest.Start(t)
	const root = "/supervisor-cleanup"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	store, err := e.Connect(ctx, cluster.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	bin, err := os.ReadFile(topoBin)
	if err != nil {
		t.Fatal(err)
	}
	nimbus := startFixtureNimbus(t, bin)
	if _, err := store.RegisterNimbus(ctx, &cluster.NimbusRecord{ID: nimbus.id, Address: nimbus.addr}, 10*time.Second); err != nil {
		t.Fatal(err)
	}

	dataDir := t.TempDir()
	killWorkersAtEnd(t, dataDir)
	leftovers := []string{
		filepath.Join("artifacts", ".fetch-0123456789ab-42"),
		filepath.Join("bundles", ".abc.tmp-7"),
		filepath.Join("workers", "old-1", "6700", ".config.json.tmp-9"),
	}
	for _, l := range leftovers {
		p := filepath.Join(dataDir, l)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	const sup = "s1"
	s, err := New(Config{
		ID: sup, Host: "127.0.0.1", Slots: []int{port}, DataDir: dataDir,
		EtcdEndpoints: e.Endpoints(), EtcdRoot: root, LeaseTTL: 2 * time.Second,
		WorkerTimeout: 5 * time.Second, StopGrace: 3 * time.Second, WorkerMetricsOffset: -1,
		BackoffMin: 200 * time.Millisecond, Tick: 50 * time.Millisecond,
		CleanupGrace: 500 * time.Millisecond, WorkerLogMaxSize: 4 << 10, WorkerLogBackups: 1,
		Logger: hclog.New(&hclog.LoggerOptions{Name: "supervisord", Level: hclog.Info, Output: testutil.LogWriter(t)}),
	})
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(sctx) }()
	t.Cleanup(func() { scancel(); <-done })
	testutil.Eventually(t, 20*time.Second, "the supervisor's record", func() bool {
		_, err := store.GetSupervisor(ctx, sup)
		return err == nil
	})
	for _, l := range leftovers {
		if _, err := os.Stat(filepath.Join(dataDir, l)); !os.IsNotExist(err) {
			t.Errorf("crash leftover %s: %v", l, err)
		}
	}
	// No assignment yet: the empty folder old-1 is not touched before the first
	// assignments are known, then goes after the grace.
	files0, bytes0, _ := dirUsage(t, dataDir)

	spec := topoSpec(t)
	for i := range 3 {
		tid := "topo-" + strconv.Itoa(i)
		// Each its own artifact: the binary with a different tail still runs.
		data := append(append([]byte(nil), bin...), []byte("\nartifact "+tid)...)
		digest := nimbus.serve(data)
		emitDir := t.TempDir()
		topo := &cluster.TopologyRecord{ID: tid, Name: tid, Status: cluster.StatusActive, Spec: spec,
			Config:         topology.Config{"test.emit.dir": emitDir, topology.ConfWorkers: int64(1), topology.ConfAckerExecutors: int64(1), topology.ConfDebug: true},
			ArtifactDigest: digest, ArtifactSize: int64(len(data)), SubmittedAt: time.Now().UTC(), Workers: 1}
		if err := store.PutTopology(ctx, topo); err != nil {
			t.Fatal(err)
		}
		wid, addr := sup+":"+strconv.Itoa(port), "127.0.0.1:"+strconv.Itoa(port)
		wa := soloAssignment(spec, tid, wid, addr, 1)
		if err := store.PutAssignment(ctx, &cluster.AssignmentRecord{TopologyID: tid, Version: 1, UpdatedAt: time.Now().UTC(),
			Workers: []scheduler.WorkerSlot{{Supervisor: sup, Host: "127.0.0.1", Port: port, Executors: wa.Workers[0].Executors}}}, 0); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 30*time.Second, tid+"'s worker to run", func() bool {
			st := s.Status()
			return len(st) == 1 && st[0].Phase == Running && st[0].Identity.TopologyID == tid
		})
		log := filepath.Join(workerDir(dataDir, tid, port), logFile)
		testutil.Eventually(t, 20*time.Second, tid+"'s worker log to be rotated", func() bool {
			_, err := os.Stat(log + ".1")
			return err == nil
		})
		if _, err := os.Stat(log + ".2"); !os.IsNotExist(err) {
			t.Errorf("more backups than --worker-log-backups 1: %v", err)
		}
		if st, err := os.Stat(log); err != nil || st.Size() > 64<<10 {
			t.Errorf("the rotated log: %v, %v", st, err)
		}
		if err := store.DeleteAssignment(ctx, tid); err != nil {
			t.Fatal(err)
		}
		if err := store.DeleteTopology(ctx, tid); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 20*time.Second, tid+"'s worker to stop", func() bool { return len(s.Status()) == 0 })
	}
	var names []string
	testutil.Eventually(t, 20*time.Second, "the data directory to return to its size", func() bool {
		var files int
		var size int64
		files, size, names = dirUsage(t, dataDir)
		return files == files0 && size == bytes0
	})
	for _, sub := range []string{"workers", "artifacts", "bundles"} {
		if entries, _ := os.ReadDir(filepath.Join(dataDir, sub)); len(entries) != 0 {
			t.Errorf("left behind in %s: %v (files: %s)", sub, entries, strings.Join(names, ", "))
		}
	}
}
