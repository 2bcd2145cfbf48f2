//go:build unix

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/spec"
	"github.com/sparsestream/sparse/internal/specpb"
	"github.com/sparsestream/sparse/pkg/topology"
)

// TestRunSpec: `sparsectl run examples/wordcount-yaml/topology.yaml` runs the Python
// wordcount from its spec: all 100 sentences are acked, none fails, and the log bolt
// logs every count, the last of each word being its exact count.
func TestRunSpec(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not on PATH; the example runs Python subprocesses")
	}
	r := runSparsectl(t, 3*time.Minute, "run", "../../examples/wordcount-yaml/topology.yaml",
		"--time", "5s", "--stats-every", "0", "-o", "wordcount.sentences=100", "-o", "log.every=1")
	if r.code != 0 {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	spout := finalLine(t, r.stdout, "sentences")
	if !regexp.MustCompile(`^sentences\s+spout\s+emitted=100 acked=100 failed=0 pending=0 `).MatchString(spout) {
		t.Errorf("final spout line = %q, want emitted=100 acked=100 failed=0 pending=0", spout)
	}
	counts := map[string]int64{}
	for _, m := range regexp.MustCompile(`wordcount-yaml\.log: tuple: .*source=count stream=default word=(\S+) count=(\d+)`).FindAllStringSubmatch(r.stderr, -1) {
		n, _ := strconv.ParseInt(m[2], 10, 64)
		counts[m[1]] = max(counts[m[1]], n)
	}
	want := map[string]int64{}
	for i := range 100 {
		for _, w := range strings.Fields([]string{
			"the cow jumped over the moon", "an apple a day keeps the doctor away", "four score and seven years ago",
			"snow white and the seven dwarfs", "i am at two with nature"}[i%5]) {
			want[w]++
		}
	}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("logged counts = %v, want %v\nstderr:\n%s", counts, want, r.stderr)
	}
}

// TestRunSpecProblems: a spec with several mistakes is refused with all of them, each
// with its line, before anything runs.
func TestRunSpecProblems(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "split.py"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := `name: broken
spouts:
  - id: numbers
    go: sequense
bolts:
  - id: split
    shell: {command: python3, script: split.py}
    outputs:
      - fields: [word]
  - id: count
    go: log
streams:
  - from: numbers
    to: split
  - from: split
    to: count
    grouping: {type: fields, fields: [wrd]}
`
	if err := os.WriteFile(filepath.Join(dir, "topology.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runSparsectl(t, time.Minute, "run", dir)
	if r.code != 1 {
		t.Fatalf("exit status %d, want 1\nstderr:\n%s", r.code, r.stderr)
	}
	for _, w := range []string{
		"error: spec " + filepath.Join(dir, "topology.yaml") + " has 2 problems:",
		`topology.yaml:4:9: spout "numbers": no Go spout is registered as "sequense" (did you mean "sequence"?)`,
		`topology.yaml:17:39: bolt "count": fields grouping on field "wrd", which stream "default" of "split" does not declare (it declares: word)`,
	} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr does not say %q:\n%s", w, r.stderr)
		}
	}
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing: the topology must not run", r.stdout)
	}
	mustFail(t, []string{"--resources is for specs"}, "run", "../../examples/wordcount", "--resources", dir)
}

// TestSubmitSpec: submitting a spec uploads a SPEC_BUNDLE whose spec comes from the
// YAML and whose bytes unpack to the spec and its scripts; submitting it again uploads
// the same bytes.
func TestSubmitSpec(t *testing.T) {
	example, err := filepath.Abs("../../examples/wordcount-yaml")
	if err != nil {
		t.Fatal(err)
	}
	isolate(t)
	n := &fakeNimbus{id: "nimbus-1"}
	startNimbus(t, n)
	out := mustRun(t, "submit", filepath.Join(example, "topology.yaml"), "--nimbus", n.addr, "--workers", "2")
	mustRun(t, "submit", example, "--nimbus", n.addr, "--name", "again")
	ups := n.snapshot().uploads
	if len(ups) != 2 {
		t.Fatalf("nimbus received %d uploads, want 2", len(ups))
	}
	u := ups[0]
	h := u.header
	sum := sha256.Sum256(u.data)
	if h.GetKind() != sparsev1.ArtifactKind_ARTIFACT_KIND_SPEC_BUNDLE || h.GetName() != "wordcount-yaml" || h.GetArtifactSha256() != hex.EncodeToString(sum[:]) {
		t.Errorf("header: kind %v name %q sha256 %s", h.GetKind(), h.GetName(), h.GetArtifactSha256())
	}
	if !strings.Contains(out, "submitted topology wordcount-yaml as wordcount-yaml-1700000000") {
		t.Errorf("submit printed %q", out)
	}
	if !bytes.Equal(ups[1].data, u.data) {
		t.Error("two submits of the same spec uploaded different bundles")
	}
	s, err := specpb.SpecFromProto(h.GetSpec())
	if err != nil {
		t.Fatal(err)
	}
	if err := topology.ValidateShape(s); err != nil {
		t.Errorf("the submitted spec does not validate: %v", err)
	}
	count := s.Component("count")
	if count == nil || count.Parallelism != 2 || count.Inputs[0].Grouping.Type != "fields" {
		t.Errorf("count = %+v", count)
	}
	if log := s.Component("log"); log == nil || log.Inputs[0].Component != "count" {
		t.Errorf("log = %+v", log)
	}
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := spec.Unpack(bytes.NewReader(u.data), dir); err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	for _, f := range []string{"topology.yaml", "spout.py", "split.py", "count.py"} {
		want, err := os.ReadFile(filepath.Join(example, f))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(filepath.Join(dir, f)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("the bundle's %s differs from the example's (%v)", f, err)
		}
	}

	// A broken spec is refused before anything is uploaded.
	bad := filepath.Join(t.TempDir(), "topology.yaml")
	if err := os.WriteFile(bad, []byte("name: x\nspouts:\n  - id: a\n    go: nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustFail(t, []string{`topology.yaml:4:9: spout "a": no Go spout is registered as "nope"`}, "submit", bad, "--nimbus", n.addr)
	if len(n.snapshot().uploads) != 2 {
		t.Error("a broken spec was uploaded")
	}
}
