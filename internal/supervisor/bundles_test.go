package supervisor

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/spec"
	"github.com/sparsestream/sparse/pkg/scheduler"
)

// TestWorkerCommandForBundles: a topology binary runs itself; a spec bundle is unpacked
// under <data-dir>/bundles/<sha256>/ and run by the generic worker with --spec and
// --resources before the usual flags.
func TestWorkerCommandForBundles(t *testing.T) {
	src := t.TempDir()
	for name, content := range map[string]string{"topology.yaml": "name: x\n", "split.py": "print()\n"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	artifact := filepath.Join(t.TempDir(), "artifact")
	fh, err := os.Create(artifact)
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.Pack(fh, filepath.Join(src, "topology.yaml"), ""); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	fake := filepath.Join(t.TempDir(), "my-worker")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}

	dataDir := t.TempDir()
	m, err := NewManager(ManagerConfig{DataDir: dataDir, Artifacts: fixedArtifacts(artifact), GenericWorker: fake})
	if err != nil {
		t.Fatal(err)
	}
	digest := strings.Repeat("ab", 32)
	args := workerArgs("/w", "s1:6700", "", 0, "")

	exe, got, err := m.workerCommand(Want{TopologyID: "t-1", Digest: digest}, "/bin/topology", args)
	if err != nil || exe != "/bin/topology" || !reflect.DeepEqual(got, args) {
		t.Errorf("binary: %s %v (%v), want /bin/topology %v", exe, got, err, args)
	}

	exe, got, err = m.workerCommand(Want{TopologyID: "t-1", Digest: digest, SpecBundle: true}, artifact, args)
	if err != nil {
		t.Fatalf("workerCommand: %v", err)
	}
	dir := filepath.Join(dataDir, "bundles", digest)
	want := append([]string{"worker", "--spec", filepath.Join(dir, "topology.yaml"), "--resources", dir}, args[1:]...)
	if exe != fake || !reflect.DeepEqual(got, want) {
		t.Errorf("bundle: %s %v, want %s %v", exe, got, fake, want)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "split.py")); err != nil || string(b) != "print()\n" {
		t.Errorf("the bundle was not unpacked: %q, %v", b, err)
	}

	// A damaged bundle, or no generic worker, is an error that says so.
	if err := os.WriteFile(artifact, []byte("not a bundle"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := strings.Repeat("cd", 32)
	if _, _, err := m.workerCommand(Want{TopologyID: "t-2", Digest: other, SpecBundle: true}, artifact, args); err == nil || !strings.Contains(err.Error(), "unpacking the spec bundle") {
		t.Errorf("damaged bundle: %v", err)
	}
	m.c.GenericWorker = filepath.Join(t.TempDir(), "missing")
	if _, _, err := m.workerCommand(Want{TopologyID: "t-1", Digest: digest, SpecBundle: true}, artifact, args); err == nil || !strings.Contains(err.Error(), "--generic-worker") {
		t.Errorf("missing generic worker: %v", err)
	}
}

func TestGenericWorkerPath(t *testing.T) {
	bin := t.TempDir()
	t.Setenv("PATH", bin)
	if _, err := GenericWorkerPath(""); err == nil || !strings.Contains(err.Error(), "neither beside supervisord nor on PATH") {
		t.Errorf("no sparse-worker anywhere: %v", err)
	}
	p := filepath.Join(bin, GenericWorkerName)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := GenericWorkerPath(""); err != nil || got != p {
		t.Errorf("on PATH: %q, %v, want %q", got, err, p)
	}
	if got, err := GenericWorkerPath(GenericWorkerName); err != nil || got != p {
		t.Errorf("--generic-worker sparse-worker: %q, %v, want %q", got, err, p)
	}
}

// TestDesiredSpecBundle: the topology record's artifact kind reaches the want.
func TestDesiredSpecBundle(t *testing.T) {
	a := &scheduler.Assignment{TopologyID: "t-1", Version: 1, Workers: []scheduler.WorkerSlot{{Supervisor: "s1", Host: "127.0.0.1", Port: 6700, Executors: [][]int32{{1}}}}}
	for kind, want := range map[cluster.ArtifactKind]bool{"": false, cluster.ArtifactGoBinary: false, cluster.ArtifactSpecBundle: true} {
		topo := &cluster.TopologyRecord{ID: "t-1", Name: "t", Status: cluster.StatusActive, ArtifactDigest: strings.Repeat("ab", 32), ArtifactKind: kind}
		wants, _ := Desired("s1", []int{6700}, map[string]*scheduler.Assignment{"t-1": a}, map[string]*cluster.TopologyRecord{"t-1": topo})
		if len(wants) != 1 || wants[0].SpecBundle != want {
			t.Errorf("kind %q: wants %+v, want SpecBundle %v", kind, wants, want)
		}
	}
}
