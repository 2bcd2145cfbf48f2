package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sparsestream/sparse/internal/testutil"
)

func TestThreeMemberCluster(t *testing.T) {
	ports := freePorts(t, 6)
	dir := t.TempDir()
	names := []string{"m0", "m1", "m2"}
	var initial []string
	for i, n := range names {
		initial = append(initial, fmt.Sprintf("%s=http://127.0.0.1:%d", n, ports[2*i+1]))
	}
	ctx := testutil.Context(t, 60*time.Second)

	members := make([]*Embedded, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() {
			members[i], errs[i] = StartEmbedded(ctx, EmbedConfig{
				DataDir:        filepath.Join(dir, n),
				Name:           n,
				ClientURL:      fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
				PeerURL:        fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
				InitialCluster: strings.Join(initial, ","),
				StartTimeout:   30 * time.Second,
			})
		})
	}
	wg.Wait()
	for i, m := range members {
		if m != nil {
			t.Cleanup(m.Close)
		}
		if errs[i] != nil {
			t.Fatalf("member %s: %v", names[i], errs[i])
		}
	}

	var endpoints []string
	for _, m := range members {
		endpoints = append(endpoints, m.Endpoints()...)
	}
	s, err := Connect(ctx, ConnectConfig{Endpoints: endpoints, Options: Options{Root: "/three", Logger: testLogger(t)}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := s.Client().MemberList(ctx)
	if err != nil || len(resp.Members) != 3 {
		t.Fatalf("members: %v, %v", resp, err)
	}
	if err := s.PutTopology(ctx, sampleTopology("t")); err != nil {
		t.Fatal(err)
	}
	// Every member serves what was written.
	for _, m := range members {
		ms, err := m.Connect(ctx, Options{Root: "/three"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ms.GetTopology(ctx, "t"); err != nil {
			t.Errorf("member %s: %v", m.Name(), err)
		}
		ms.Close()
	}

	// With one member down, the other two still form a majority.
	members[0].Close()
	s2, err := Connect(ctx, ConnectConfig{Endpoints: endpoints[1:], Options: Options{Root: "/three"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	testutil.Eventually(t, 20*time.Second, "a write with one member down", func() bool {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return s2.PutTopology(wctx, sampleTopology("u")) == nil
	})
	if _, err := s2.GetTopology(ctx, "u"); err != nil {
		t.Fatal(err)
	}
}

func TestUnreachableEtcdIsAClearErrorSoon(t *testing.T) {
	port := freePorts(t, 1)[0] // nothing listens there any more
	ep := fmt.Sprintf("http://127.0.0.1:%d", port)
	start := time.Now()
	_, err := Connect(context.Background(), ConnectConfig{Endpoints: []string{ep}, DialTimeout: time.Second})
	took := time.Since(start)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("error %v", err)
	}
	for _, want := range []string{"cannot reach etcd at [" + ep + "]", "check --etcd-endpoints and that etcd is running"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if took > 10*time.Second {
		t.Errorf("took %s", took)
	}
	if _, err := Connect(context.Background(), ConnectConfig{}); err == nil || !strings.Contains(err.Error(), "--etcd-endpoints") {
		t.Errorf("no endpoints: %v", err)
	}

	// A store whose etcd goes away says the same about each operation.
	e := startEtcd(t)
	s := newStore(t, e, Options{})
	e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := s.GetTopology(ctx, "x"); !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "--etcd-endpoints") {
		t.Errorf("get with etcd gone: %v", err)
	}
}

func TestEmbeddedRestartKeepsData(t *testing.T) {
	cfg := EmbedConfig{DataDir: filepath.Join(t.TempDir(), "d"), ClientURL: "http://127.0.0.1:0", PeerURL: "http://127.0.0.1:0"}
	ctx := testutil.Context(t, 60*time.Second)
	e, err := StartEmbedded(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if ep := e.Endpoints(); len(ep) != 1 || strings.HasSuffix(ep[0], ":0") {
		t.Fatalf("endpoints %v", ep)
	}
	s, err := e.Connect(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutTopology(ctx, sampleTopology("kept")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	e.Close()
	e.Close()

	if e, err = StartEmbedded(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s, err = e.Connect(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetTopology(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
}

func TestEmbedConfigErrors(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	for _, c := range []EmbedConfig{
		{},
		{DataDir: t.TempDir(), ClientURL: "127.0.0.1:2379"},
		{DataDir: t.TempDir(), PeerURL: "ftp://x:1"},
		{DataDir: t.TempDir(), LogLevel: "loud"},
	} {
		if e, err := StartEmbedded(ctx, c); err == nil {
			e.Close()
			t.Errorf("%+v accepted", c)
		}
	}
	// A member of a three-member cluster alone never gets a majority: a clear timeout.
	ports := freePorts(t, 4)
	_, err := StartEmbedded(ctx, EmbedConfig{
		DataDir:        t.TempDir(),
		Name:           "m0",
		ClientURL:      fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		PeerURL:        fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		InitialCluster: fmt.Sprintf("m0=http://127.0.0.1:%d,m1=http://127.0.0.1:%d,m2=http://127.0.0.1:%d", ports[1], ports[2], ports[3]),
		StartTimeout:   time.Second,
	})
	if err == nil || !strings.Contains(err.Error(), "did not become ready") || !strings.Contains(err.Error(), "concurrently") {
		t.Fatalf("lone member: %v", err)
	}
}

func TestZapToHclog(t *testing.T) {
	var buf bytes.Buffer
	hl := hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Trace})
	zl := zapLogger(hl, zapcore.WarnLevel).Named("raft").With(zap.String("member", "m0"))
	zl.Info("dropped")
	zl.Warn("kept", zap.Int("term", 3))
	zl.Error("bad", zap.Error(errors.New("boom")))
	out := buf.String()
	for _, want := range []string{"[WARN]  kept: component=raft member=m0 term=3", "[ERROR] bad: component=raft error=boom member=m0"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
	if strings.Contains(out, "dropped") {
		t.Errorf("info passed a warn filter: %q", out)
	}
	zapLogger(nil, zapcore.DebugLevel).Error("nowhere")
}
