package nimbus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/specpb"
	"github.com/sparsestream/sparse/internal/testutil"
	"github.com/sparsestream/sparse/internal/testutil/etcdtest"
	"github.com/sparsestream/sparse/internal/worker"
	"github.com/sparsestream/sparse/pkg/grouping"
	"github.com/sparsestream/sparse/pkg/topology"
)

// The tests share one embedded etcd (etcdtest.Shared); each test works under a root of
// its own.
func TestMain(m *testing.M) {
	code := m.Run()
	etcdtest.CloseShared()
	os.Exit(code)
}

// testRoot is a key root no other test (or run of this test) uses.
func testRoot(t testing.TB) string {
	return fmt.Sprintf("/test/%s-%d", strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()), time.Now().UnixNano())
}

// fast are the timings the tests run with.
func fast(t testing.TB, root string) Config {
	return Config{
		Listen:           "127.0.0.1:0",
		DataDir:          t.TempDir(),
		EtcdEndpoints:    etcdtest.Shared(t).Endpoints(),
		EtcdRoot:         root,
		WorkerTimeout:    time.Minute,
		WorkerStartGrace: time.Minute,
		ScheduleEvery:    300 * time.Millisecond,
		LeaderTTL:        2 * time.Second,
		ReplicateEvery:   200 * time.Millisecond,
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "nimbus", Level: hclog.Info, Output: testutil.LogWriter(t)}),
	}
}

// startNimbus starts a nimbus; it is closed when the test ends.
func startNimbus(t testing.TB, cfg Config) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("starting nimbus: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func dial(t testing.TB, addr string) sparsev1.NimbusClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return sparsev1.NewNimbusClient(conn)
}

func waitLeader(t testing.TB, s *Server) {
	t.Helper()
	testutil.Eventually(t, 20*time.Second, "nimbus "+s.ID()+" leads", s.IsLeader)
}

// wordcount is a valid topology: a spout, a fields-grouped bolt and a custom-grouped one.
func wordcount(name string) *topology.Spec {
	return &topology.Spec{
		Name:   name,
		Config: topology.Config{topology.ConfMessageTimeoutSecs: int64(10)},
		Components: []*topology.ComponentSpec{
			{ID: "words", Kind: topology.KindSpout, Parallelism: 2, Tasks: 2,
				Streams: []topology.StreamSpec{{ID: "default", Fields: []string{"word"}}}},
			{ID: "count", Kind: topology.KindBolt, Parallelism: 2, Tasks: 4,
				Inputs:  []topology.Input{{Component: "words", Stream: "default", Grouping: grouping.Spec{Type: grouping.Fields, Fields: []string{"word"}}}},
				Streams: []topology.StreamSpec{{ID: "default", Fields: []string{"word", "count"}}}},
			{ID: "print", Kind: topology.KindBolt, Parallelism: 1, Tasks: 1,
				Inputs: []topology.Input{{Component: "count", Stream: "default", Grouping: grouping.Spec{Type: grouping.Custom, CustomName: "first"}}}},
		},
	}
}

func artifact(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// header describes spec and data, with config overrides.
func header(t testing.TB, spec *topology.Spec, data []byte, overrides topology.Config) *sparsev1.SubmitHeader {
	t.Helper()
	p, err := specpb.SpecToProto(spec)
	if err != nil {
		t.Fatal(err)
	}
	o, err := specpb.ConfigToProto(overrides)
	if err != nil {
		t.Fatal(err)
	}
	return &sparsev1.SubmitHeader{Name: spec.Name, Spec: p, Config: o, ArtifactSha256: Digest(data), ArtifactSize: int64(len(data)),
		Kind: sparsev1.ArtifactKind_ARTIFACT_KIND_GO_BINARY}
}

// submit sends a header and data in chunks of ChunkSize.
func submit(ctx context.Context, c sparsev1.NimbusClient, h *sparsev1.SubmitHeader, data []byte) (string, error) {
	st, err := c.Submit(ctx)
	if err != nil {
		return "", err
	}
	if h != nil {
		if err := st.Send(&sparsev1.SubmitRequest{Body: &sparsev1.SubmitRequest_Header{Header: h}}); err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
	}
	for off := 0; off < len(data); off += ChunkSize {
		end := min(off+ChunkSize, len(data))
		if err := st.Send(&sparsev1.SubmitRequest{Body: &sparsev1.SubmitRequest_Chunk{Chunk: data[off:end]}}); err != nil {
			if errors.Is(err, io.EOF) {
				break // the server answered early; CloseAndRecv tells why
			}
			return "", err
		}
	}
	reply, err := st.CloseAndRecv()
	if err != nil {
		return "", err
	}
	return reply.GetTopologyId(), nil
}

func fetch(ctx context.Context, c sparsev1.NimbusClient, digest string) ([]byte, error) {
	st, err := c.FetchArtifact(ctx, &sparsev1.ArtifactRef{Sha256: digest})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for {
		ch, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return buf.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
		if len(ch.GetData()) > ChunkSize {
			return nil, fmt.Errorf("a chunk of %d bytes", len(ch.GetData()))
		}
		buf.Write(ch.GetData())
	}
}

// supervisor registers a supervisor record under a lease: test data, as a supervisord
// would write it.
func supervisor(t testing.TB, st *cluster.Store, id string, slots ...int) *cluster.Registration[cluster.SupervisorRecord] {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	reg, err := st.RegisterSupervisor(ctx, &cluster.SupervisorRecord{ID: id, Host: "host-" + id, Slots: slots}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close(context.Background()) })
	return reg
}

// keys counts the etcd keys under the root's prefix p.
func countKeys(t testing.TB, st *cluster.Store, prefix string) int64 {
	t.Helper()
	resp, err := st.Client().Get(testutil.Context(t, 5*time.Second), prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	return resp.Count
}

// checkAssignment reads an assignment record as a worker would, and checks it against
// the topology's layout with the record's parallelism applied, which must be the
// topology's executor overrides (the caller waits for the assignment of the current
// request).
func checkAssignment(t testing.TB, st *cluster.Store, topologyID string) *cluster.AssignmentRecord {
	t.Helper()
	ctx := testutil.Context(t, 5*time.Second)
	rec, err := st.GetAssignment(ctx, topologyID)
	if err != nil {
		t.Fatalf("reading the assignment: %v", err)
	}
	topo, err := st.GetTopology(ctx, topologyID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var wa worker.Assignment
	if err := json.Unmarshal(b, &wa); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(wa.Parallelism, topo.ExecutorOverrides) || !maps.Equal(rec.Parallelism, topo.ExecutorOverrides) {
		t.Errorf("the assignment's parallelism is %v, the topology's executor overrides %v", wa.Parallelism, topo.ExecutorOverrides)
	}
	spec, err := worker.ApplyParallelism(topo.Spec, wa.Parallelism)
	if err != nil {
		t.Fatal(err)
	}
	l := topology.NewLayout(spec, topo.Config.AckerTasks())
	if err := wa.CheckLayout(l); err != nil {
		t.Fatalf("the assignment does not pass the worker's check (CheckLayout): %v\n%s", err, b)
	}
	return rec
}

func blobFiles(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func itoa(n int) string { return fmt.Sprint(n) }
