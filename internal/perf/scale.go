package perf

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/nimbus"
	"github.com/sparsestream/sparse/pkg/topology"
)

// The control plane at scale, by simulation (make bench-scale): a real etcd and two real
// nimbusd, each in a process of its own, and in this process simulated supervisors and
// workers that use the cluster package as supervisord does: a registration under a lease
// per supervisor, a heartbeat under a lease per worker, and per supervisor a watch of
// the assignments placed on it (WatchSupervisorAssignments) and, unless turned off, of
// the records of the topologies they name (WatchTopologySet). It measures the steady state (etcd writes and bytes per second, the
// leader's and etcd's CPU), the time from a supervisor's death to its workers being
// assigned elsewhere, and the time from the leader's death to a ready new leader.

// ScaleOptions size the simulated cluster.
type ScaleOptions struct {
	Supervisors, Slots int // supervisors, and slots on each
	Topologies         int
	Workers            int // per topology
	LeaseTTL           time.Duration
	Steady             time.Duration // how long the steady state is measured
	// WatchTopologies makes every simulated supervisor follow the records of the
	// topologies of its assignments, as supervisord does.
	WatchTopologies bool
	Log             io.Writer // progress; nil: none
}

// ScaleResult is what MeasureScale found.
type ScaleResult struct {
	Supervisors, Workers     int
	Settle                   time.Duration // from the topologies' submission to every worker heartbeating
	WritesPerSec             float64       // etcd revisions per second in the steady state
	RxBytesPerSec, TxPerSec  float64       // etcd's gRPC bytes received and sent per second
	LeaderCPU, EtcdCPU       float64       // cores used in the steady state
	Reassign, Failover       time.Duration
	LeaderRound              time.Duration // the new leader's first scheduling round
	WatchEventsPerAssignment float64       // assignment events the supervisors got per topology, up to the settle
}

// Line is the result in the `make bench` format.
func (r ScaleResult) Line() string {
	return fmt.Sprintf("BENCH shape=Scale-%ds-%dw settle_s=%.1f etcd_writes_per_s=%.2f writes_per_worker_s=%.4f etcd_rx_kb_per_s=%.1f etcd_tx_kb_per_s=%.1f leader_cpu=%.3f etcd_cpu=%.3f reassign_s=%.1f failover_s=%.1f events_per_assignment=%.1f",
		r.Supervisors, r.Workers, r.Settle.Seconds(), r.WritesPerSec, r.WritesPerSec/float64(max(r.Workers, 1)),
		r.RxBytesPerSec/1024, r.TxPerSec/1024, r.LeaderCPU, r.EtcdCPU, r.Reassign.Seconds(), r.Failover.Seconds(), r.WatchEventsPerAssignment)
}

const (
	scaleDirEnv  = "SPARSE_BENCH_SCALE_DIR"
	scaleEtcdEnv = "SPARSE_BENCH_SCALE_ETCD"
	scaleIDEnv   = "SPARSE_BENCH_SCALE_ID"
	scaleTTLEnv  = "SPARSE_BENCH_SCALE_TTL"
)

// scaleProc is a child process of the simulation, which prints its address first.
type scaleProc struct {
	cmd  *exec.Cmd
	addr string
}

func startScaleChild(self, mode string, env ...string) (*scaleProc, error) {
	cmd := exec.Command(self, "-child", mode)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("the %s child did not start: %w", mode, err)
	}
	return &scaleProc{cmd: cmd, addr: strings.TrimSpace(line)}, nil
}

func (p *scaleProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// cpuSeconds is the CPU time a process has used, from /proc/<pid>/stat.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // clock ticks; 100 per second on Linux
}

// scaleChild runs the etcd ("scale-etcd") or a nimbus ("scale-nimbus") of the
// simulation until SIGTERM.
func scaleChild(mode string) error {
	ctx, stop := signalContext()
	defer stop()
	dir := os.Getenv(scaleDirEnv)
	switch mode {
	case "scale-etcd":
		e, err := cluster.StartEmbedded(ctx, cluster.EmbedConfig{DataDir: filepath.Join(dir, "etcd"),
			ClientURL: "http://127.0.0.1:0", PeerURL: "http://127.0.0.1:0"})
		if err != nil {
			return err
		}
		defer e.Close()
		// etcd's own metrics (the default registry) for the bytes it moves.
		srv := &http.Server{Addr: "127.0.0.1:0", Handler: promhttp.HandlerFor(prometheus.DefaultGatherer, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
		l, err := net.Listen("tcp", srv.Addr)
		if err != nil {
			return err
		}
		go func() { _ = srv.Serve(l) }()
		defer srv.Close()
		fmt.Println(e.Endpoints()[0] + " " + l.Addr().String())
		<-ctx.Done()
		return nil
	case "scale-nimbus":
		ttl, _ := time.ParseDuration(os.Getenv(scaleTTLEnv))
		id := os.Getenv(scaleIDEnv)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addr := l.Addr().String()
		l.Close()
		// One process decodes every simulated supervisor's watch events, which a
		// thousand machines would share: give the workers' first heartbeats time to come,
		// so that the settling measures the cluster rather than that process.
		s, err := nimbus.Start(ctx, nimbus.Config{ID: id, Listen: addr, DataDir: filepath.Join(dir, id),
			EtcdEndpoints: []string{os.Getenv(scaleEtcdEnv)}, LeaderTTL: ttl,
			WorkerStartGrace: 10 * time.Minute, WorkerTimeout: time.Minute,
			Logger: hclog.New(&hclog.LoggerOptions{Name: "nimbusd", Level: hclog.Warn, Output: os.Stderr})})
		if err != nil {
			return err
		}
		fmt.Println(addr)
		<-ctx.Done()
		s.Close()
		return nil
	}
	return fmt.Errorf("unknown child mode %q", mode)
}

// simSupervisor is one simulated supervisord: its registration, the heartbeats of the
// workers assigned to it, and its watches of its assignments and of the topologies.
type simSupervisor struct {
	id     string
	host   string // one per supervisor: a host:port runs one worker
	store  *cluster.Store
	ttl    time.Duration
	cancel context.CancelFunc

	mu      sync.Mutex
	beating map[string]context.CancelFunc // "<topology>/<worker>" -> stop its heartbeat
	events  int
}

func (s *simSupervisor) run(ctx context.Context, slots []int, watchTopologies bool, ready chan<- error) {
	ctx, s.cancel = context.WithCancel(ctx)
	_, err := s.store.RegisterSupervisor(ctx, &cluster.SupervisorRecord{ID: s.id, Host: s.host, Slots: slots, StartedAt: time.Now().UTC()}, s.ttl)
	ready <- err
	if err != nil {
		return
	}
	// The watches of supervisord's follow: the assignments placed here, and the
	// records of the topologies they name (kept, as Desired reads them, though the
	// simulated workers need none).
	assignCh := s.store.WatchSupervisorAssignments(ctx, s.id)
	var topoWatch *cluster.TopologySetWatch
	var topoCh <-chan cluster.Event[cluster.TopologyRecord]
	topoSynced := true
	if watchTopologies {
		topoWatch = s.store.WatchTopologySet(ctx)
		topoCh, topoSynced = topoWatch.Events(), false
	}
	var watched []string
	assignments := map[string]*cluster.AssignmentRecord{}
	topologies := map[string]*cluster.TopologyRecord{}
	synced := false
	for {
		select {
		case ev, ok := <-assignCh:
			if !ok {
				return
			}
			switch ev.Type {
			case cluster.EventSync:
				synced = true
			case cluster.EventPut:
				if ev.Record != nil {
					assignments[ev.ID] = ev.Record
				}
			case cluster.EventDelete:
				delete(assignments, ev.ID)
			}
			if ev.Type != cluster.EventSync {
				s.mu.Lock()
				s.events++
				s.mu.Unlock()
			}
			if ids := slices.Sorted(maps.Keys(assignments)); topoWatch != nil && synced && (watched == nil || !slices.Equal(ids, watched)) {
				watched = append([]string{}, ids...)
				topoWatch.Set(ids)
				topoSynced = false
			}
		case ev, ok := <-topoCh:
			if !ok {
				return
			}
			switch ev.Type {
			case cluster.EventSync:
				topoSynced = true
			case cluster.EventPut:
				topologies[ev.ID] = ev.Record
			case cluster.EventDelete:
				delete(topologies, ev.ID)
			}
		}
		if synced && topoSynced {
			s.reconcile(ctx, assignments)
		}
	}
}

func (s *simSupervisor) assignmentEvents() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.events
}

// reconcile keeps a heartbeat for every worker assigned here, as supervisord does for
// the workers it runs (started at once: the simulated workers are always healthy).
func (s *simSupervisor) reconcile(ctx context.Context, assignments map[string]*cluster.AssignmentRecord) {
	want := map[string]cluster.WorkerHeartbeat{}
	for _, a := range assignments {
		for _, w := range a.Workers {
			if w.Supervisor != s.id {
				continue
			}
			wid := s.id + ":" + strconv.Itoa(w.Port)
			want[a.TopologyID+"/"+wid] = cluster.WorkerHeartbeat{TopologyID: a.TopologyID, WorkerID: wid, Supervisor: s.id,
				Port: w.Port, PID: 1, Time: time.Now().UTC(), Version: a.Version}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, stop := range s.beating {
		if _, ok := want[key]; !ok {
			stop()
			delete(s.beating, key)
		}
	}
	for key, hb := range want {
		if _, ok := s.beating[key]; ok {
			continue
		}
		hctx, stop := context.WithCancel(ctx)
		s.beating[key] = stop
		go func() {
			reg, err := s.store.HeartbeatWorker(hctx, &hb, s.ttl)
			if err != nil {
				return
			}
			<-hctx.Done()
			if ctx.Err() == nil { // stopped, not dead: remove the heartbeat as supervisord does
				cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = reg.Close(cctx)
				cancel()
			}
		}()
	}
}

func (s *simSupervisor) heartbeats() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.beating)
}

// scaleSpec is a topology of three components with at least one executor per worker.
func scaleSpec(name string, workers int) (*topology.Spec, error) {
	b := topology.NewBuilder(name)
	b.Spout("spout", func() topology.Spout { return &ConstSpout{} }, workers).Output("str")
	b.Bolt("mid", func() topology.Bolt { return &NullBolt{} }, 2*workers).Shuffle("spout").Output("str")
	b.Bolt("sink", func() topology.Bolt { return &NullBolt{} }, workers).Shuffle("mid")
	return b.Build()
}

// MeasureScale runs the simulation. self is a binary that runs ChildMain.
func MeasureScale(self string, o ScaleOptions) (ScaleResult, error) {
	r := ScaleResult{Supervisors: o.Supervisors, Workers: o.Topologies * o.Workers}
	logf := func(format string, a ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, "scale: "+format+"\n", a...)
		}
	}
	dir, err := os.MkdirTemp("", "sparse-bench-scale-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	etcd, err := startScaleChild(self, "scale-etcd", scaleDirEnv+"="+dir)
	if err != nil {
		return r, err
	}
	defer etcd.stop()
	etcdEndpoint, etcdMetrics, _ := strings.Cut(etcd.addr, " ")
	// One artifact, stored by both nimbuses as a submission would leave it, that every
	// topology names: the standby then finds nothing to replicate.
	artifact := []byte("the artifact of every simulated topology")
	sum := sha256.Sum256(artifact)
	digest := hex.EncodeToString(sum[:])
	nimbuses := map[string]*scaleProc{}
	for _, id := range []string{"n1", "n2"} {
		blobs := filepath.Join(dir, id, "blobs")
		if err := os.MkdirAll(blobs, 0o700); err != nil {
			return r, err
		}
		if err := os.WriteFile(filepath.Join(blobs, digest), artifact, 0o600); err != nil {
			return r, err
		}
	}
	for _, id := range []string{"n1", "n2"} {
		p, err := startScaleChild(self, "scale-nimbus", scaleDirEnv+"="+dir, scaleEtcdEnv+"="+etcdEndpoint, scaleIDEnv+"="+id,
			scaleTTLEnv+"="+o.LeaseTTL.String())
		if err != nil {
			return r, err
		}
		defer p.stop()
		nimbuses[id] = p
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// One etcd client per 50 supervisors: each has its own leases and watches, but
	// a thousand connections would measure this process rather than the cluster.
	var stores []*cluster.Store
	for i := 0; i < o.Supervisors; i += 50 {
		st, err := cluster.Connect(ctx, cluster.ConnectConfig{Endpoints: []string{etcdEndpoint}, DialTimeout: 10 * time.Second})
		if err != nil {
			return r, err
		}
		defer st.Close()
		stores = append(stores, st)
	}
	admin := stores[0]
	// Supervisors follow the index of their assignments once a leader has written it;
	// before, they watch every assignment. Start them on the index, as in a cluster
	// that has had a leader.
	indexed := func() bool {
		resp, err := admin.Client().Get(ctx, admin.Keys().PlacementsIndexed(), clientv3.WithCountOnly())
		return err == nil && resp.Count > 0
	}
	if err := waitFor(2*time.Minute, indexed); err != nil {
		return r, fmt.Errorf("no leader wrote the supervisors' index of the assignments: %w", err)
	}
	sims := make([]*simSupervisor, o.Supervisors)
	ready := make(chan error, o.Supervisors)
	for i := range sims {
		slots := make([]int, o.Slots)
		for j := range slots {
			slots[j] = 6700 + j
		}
		sims[i] = &simSupervisor{id: fmt.Sprintf("sup-%04d", i), host: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), store: stores[i/50], ttl: o.LeaseTTL, beating: map[string]context.CancelFunc{}}
		go sims[i].run(ctx, slots, o.WatchTopologies, ready)
	}
	for range sims {
		if err := <-ready; err != nil {
			return r, fmt.Errorf("registering a supervisor: %w", err)
		}
	}
	logf("%d supervisors registered", len(sims))

	start := time.Now()
	// Who works during the settle: both nimbuses (either may lead), etcd, and this
	// process (the simulated supervisors).
	settleCPU := func() (nimbus, etcdCPU, self float64) {
		for _, p := range nimbuses {
			nimbus += cpuSeconds(p.cmd.Process.Pid)
		}
		return nimbus, cpuSeconds(etcd.cmd.Process.Pid), cpuSeconds(os.Getpid())
	}
	n0, e0, s0 := settleCPU()
	for i := range o.Topologies {
		id := fmt.Sprintf("topo-%04d", i)
		spec, err := scaleSpec(id, o.Workers)
		if err != nil {
			return r, err
		}
		now := time.Now().UTC()
		if err := admin.PutTopology(ctx, &cluster.TopologyRecord{ID: id, Name: id, Status: cluster.StatusActive, Spec: spec,
			Config:         topology.Config{topology.ConfWorkers: int64(o.Workers)},
			ArtifactDigest: digest, ArtifactSize: int64(len(artifact)), SubmittedAt: now, StatusChangedAt: now, Workers: o.Workers}); err != nil {
			return r, err
		}
	}
	total := func() int {
		n := 0
		for _, s := range sims {
			n += s.heartbeats()
		}
		return n
	}
	if err := waitFor(10*time.Minute, func() bool { return total() >= r.Workers }); err != nil {
		return r, fmt.Errorf("%d of %d workers heartbeating: %w", total(), r.Workers, err)
	}
	r.Settle = time.Since(start)
	n1, e1, s1 := settleCPU()
	logf("CPU during the settle: nimbus %.1f s, etcd %.1f s, the simulated supervisors %.1f s", n1-n0, e1-e0, s1-s0)
	events := 0
	for _, s := range sims {
		events += s.assignmentEvents()
	}
	r.WatchEventsPerAssignment = float64(events) / float64(max(o.Topologies, 1))
	logf("%d workers heartbeating after %v", r.Workers, r.Settle.Round(time.Millisecond))
	time.Sleep(2 * o.LeaseTTL) // let the first rounds' writes and the start graces pass

	leaderID, _, err := admin.Leader(ctx)
	if err != nil {
		return r, err
	}
	leader := nimbuses[leaderID]
	rev0, err := revision(ctx, admin)
	if err != nil {
		return r, err
	}
	rx0, tx0 := etcdBytes(etcdMetrics)
	lcpu0, ecpu0 := cpuSeconds(leader.cmd.Process.Pid), cpuSeconds(etcd.cmd.Process.Pid)
	t0 := time.Now()
	time.Sleep(o.Steady)
	el := time.Since(t0).Seconds()
	rev1, err := revision(ctx, admin)
	if err != nil {
		return r, err
	}
	rx1, tx1 := etcdBytes(etcdMetrics)
	r.WritesPerSec = float64(rev1-rev0) / el
	r.RxBytesPerSec, r.TxPerSec = (rx1-rx0)/el, (tx1-tx0)/el
	r.LeaderCPU = (cpuSeconds(leader.cmd.Process.Pid) - lcpu0) / el
	r.EtcdCPU = (cpuSeconds(etcd.cmd.Process.Pid) - ecpu0) / el
	logf("steady state: %.2f etcd writes/s, leader %.3f cores, etcd %.3f cores", r.WritesPerSec, r.LeaderCPU, r.EtcdCPU)

	// A supervisor dies: its lease and its workers' leases expire; nimbus moves them.
	victim := sims[len(sims)/2]
	had := victim.heartbeats()
	died := time.Now()
	victim.cancel()
	if err := waitFor(5*time.Minute, func() bool { return !assignedTo(ctx, admin, victim.id) }); err != nil {
		return r, fmt.Errorf("the workers of dead supervisor %s (%d) were not moved: %w", victim.id, had, err)
	}
	r.Reassign = time.Since(died)
	logf("supervisor %s died; its %d workers were assigned elsewhere after %v", victim.id, had, r.Reassign.Round(time.Millisecond))

	// The leader dies: the standby takes over once the leader's lease expires.
	var standby string
	for id := range nimbuses {
		if id != leaderID {
			standby = id
		}
	}
	killed := time.Now()
	_ = leader.cmd.Process.Kill()
	if err := waitFor(5*time.Minute, func() bool { return isLeader(nimbuses[standby].addr) }); err != nil {
		return r, fmt.Errorf("nimbus %s did not take over: %w", standby, err)
	}
	r.Failover = time.Since(killed)
	logf("leader %s killed; %s leads after %v", leaderID, standby, r.Failover.Round(time.Millisecond))
	return r, nil
}

func waitFor(within time.Duration, cond func() bool) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", within)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// revision is etcd's current revision: it counts every write.
func revision(ctx context.Context, s *cluster.Store) (int64, error) {
	resp, err := s.Client().Get(ctx, "/sparse-bench-revision")
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}

// etcdBytes reads the gRPC bytes etcd has received and sent from its metrics.
func etcdBytes(addr string) (rx, tx float64) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			continue
		}
		switch name {
		case "etcd_network_client_grpc_received_bytes_total":
			rx = f
		case "etcd_network_client_grpc_sent_bytes_total":
			tx = f
		}
	}
	return rx, tx
}

// assignedTo reports whether any assignment places a worker on supervisor id.
func assignedTo(ctx context.Context, s *cluster.Store, id string) bool {
	as, err := s.ListAssignments(ctx)
	if err != nil && len(as) == 0 {
		return true
	}
	for _, a := range as {
		for _, w := range a.Workers {
			if w.Supervisor == id {
				return true
			}
		}
	}
	return false
}

// isLeader asks a nimbus whether it leads (and has taken up leading).
func isLeader(addr string) bool {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return false
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r, err := sparsev1.NewNimbusClient(conn).Leader(ctx, &sparsev1.LeaderRequest{})
	return err == nil && r.GetIsLeader()
}
