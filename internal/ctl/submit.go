package ctl

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/specpb"
	"github.com/sparsestream/sparse/internal/wire"
	"github.com/sparsestream/sparse/pkg/topology"
)

// ChunkSize is the size of the artifact chunks Submit streams.
const ChunkSize = 1 << 20

// DescribeTimeout bounds `<binary> describe` (the caller's context may end it sooner).
const DescribeTimeout = 30 * time.Second

// describeWaitDelay is how long, after the describe process is killed, its output may
// stay open (held by a process that escaped the kill) before it is abandoned.
const describeWaitDelay = 2 * time.Second

// nimbusChecksLimits lifts every limit from sparsectl's check of a topology: nimbus
// checks its own limits (which its flags may raise) from the submission's header, before
// any byte is uploaded, and its error names them.
var nimbusChecksLimits = topology.Limits{TasksPerComponent: math.MaxInt, Tasks: math.MaxInt, Executors: math.MaxInt,
	Workers: math.MaxInt, Ackers: math.MaxInt, ConfigBytes: math.MaxInt, NameLength: math.MaxInt}

// SubmitOptions are what `sparsectl submit` is given.
type SubmitOptions struct {
	Binary string // path of the topology binary
	Name   string // the topology's name in the cluster; empty: the spec's
	// Workers sets topology.workers when positive (it wins over Overrides).
	Workers int
	// Overrides of the spec's config (-o key=value).
	Overrides topology.Config
}

// Submission is a checked topology ready to upload.
type Submission struct {
	Path   string
	Header *sparsev1.SubmitHeader
	// Progress, when set, is told the bytes sent after each chunk (Progress.Upload).
	Progress func(sent, total int64)
}

// SubmitResult is what a submit did.
type SubmitResult struct {
	TopologyID     string `json:"topology_id"`
	Name           string `json:"name"`
	ArtifactSHA256 string `json:"artifact_sha256"`
	ArtifactSize   int64  `json:"artifact_size"`
	Nimbus         string `json:"nimbus"`
}

// ParseOverrides parses -o key=value options with topology.ParseOverride.
func ParseOverrides(opts []string) (topology.Config, error) {
	conf := topology.Config{}
	for _, kv := range opts {
		k, v, err := topology.ParseOverride(kv)
		if err != nil {
			return nil, err
		}
		conf[k] = v
	}
	return conf, nil
}

// checkBinary checks that path is an executable file and returns its absolute path.
func checkBinary(path string) (string, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("%s: no such file; pass a topology binary (a Go main package that calls app.Main, built with go build for the cluster's OS and architecture)", path)
	case err != nil:
		return "", err
	case st.IsDir():
		return "", fmt.Errorf("%s is a directory; build the topology first (GOOS/GOARCH of the cluster) with go build -o NAME %s and submit the binary", path, path)
	case !st.Mode().IsRegular():
		return "", fmt.Errorf("%s is not a regular file; pass a topology binary", path)
	case st.Mode()&0o111 == 0:
		return "", fmt.Errorf("%s is not executable; pass a topology binary (chmod +x it if it is one)", path)
	}
	return filepath.Abs(path)
}

// DescribeBinary runs `<binary> describe` and decodes the spec it prints. The binary
// gets DescribeTimeout, or less when ctx ends sooner (sparsectl's --timeout); then it is
// killed with everything it started, and DescribeBinary returns.
func DescribeBinary(ctx context.Context, path string) (*topology.Spec, error) {
	abs, err := checkBinary(path)
	if err != nil {
		return nil, err
	}
	limit := DescribeTimeout
	if dl, ok := ctx.Deadline(); ok {
		limit = min(limit, time.Until(dl).Round(time.Millisecond))
	}
	ctx, cancel := context.WithTimeout(ctx, DescribeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, abs, "describe")
	killGroupOnCancel(cmd)
	cmd.WaitDelay = describeWaitDelay
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	notTopology := func(format string, args ...any) error {
		return fmt.Errorf("%s is not a sparse topology binary: `%s describe` %s", path, path, fmt.Sprintf(format, args...))
	}
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, notTopology("did not finish within %s and was stopped; a topology binary prints its spec at once (a slow machine may need a longer --timeout)", limit)
		}
		return nil, notTopology("failed: %v%s", err, excerpt("stderr", stderr.Bytes()))
	}
	spec, err := DecodeSpecJSON(stdout.Bytes())
	if err != nil {
		return nil, notTopology("printed no topology spec: %v%s", err, excerpt("output", stdout.Bytes()))
	}
	return spec, nil
}

// BinaryWireProtocol runs `<binary> version --json` and returns the wire protocol it
// names, or 0 when the binary does not say (one built before sparse had the command).
func BinaryWireProtocol(ctx context.Context, path string) uint32 {
	ctx, cancel := context.WithTimeout(ctx, DescribeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "version", "--json")
	killGroupOnCancel(cmd)
	cmd.WaitDelay = describeWaitDelay
	out, err := cmd.Output()
	if err != nil {
		return 0
	}
	var v struct {
		WireProtocol uint32 `json:"wireProtocol"`
	}
	if json.Unmarshal(out, &v) != nil {
		return 0
	}
	return v.WireProtocol
}

// excerpt shows the start of a process's output in an error message.
func excerpt(what string, b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	const max = 500
	if len(s) > max {
		s = s[:max] + "..."
	}
	return "; its " + what + ": " + s
}

// PrepareSubmit describes the binary, applies the name and overrides, checks the result
// as nimbus will (topology.ValidateShape), and hashes the binary.
func PrepareSubmit(ctx context.Context, o SubmitOptions) (*Submission, error) {
	spec, err := DescribeBinary(ctx, o.Binary)
	if err != nil {
		return nil, err
	}
	abs, err := checkBinary(o.Binary)
	if err != nil {
		return nil, err
	}
	sub, err := PrepareArtifact(spec, abs, sparsev1.ArtifactKind_ARTIFACT_KIND_GO_BINARY, o)
	if err != nil {
		return nil, err
	}
	sub.Header.WireProtocol = BinaryWireProtocol(ctx, abs)
	return sub, nil
}

// PrepareArtifact is PrepareSubmit for a topology whose spec is known already: it
// applies the name and overrides of o to spec, checks the result as nimbus will, and
// hashes the artifact, a file of the given kind (sparsectl submits the bundle of a spec
// file this way). o.Binary names what was submitted in messages.
func PrepareArtifact(spec *topology.Spec, artifact string, kind sparsev1.ArtifactKind, o SubmitOptions) (*Submission, error) {
	overrides := o.Overrides.Clone()
	if o.Workers < 0 {
		return nil, fmt.Errorf("--workers %d: give a number of workers of at least 1", o.Workers)
	}
	if o.Workers > 0 {
		overrides[topology.ConfWorkers] = int64(o.Workers)
	}
	name := o.Name
	if name == "" {
		name = spec.Name
	}
	check := *spec
	check.Name = name
	check.Config = spec.Config.Merge(overrides)
	if err := topology.ValidateShapeWithin(&check, nimbusChecksLimits); err != nil {
		return nil, fmt.Errorf("%s cannot be submitted: %w", o.Binary, err)
	}
	ps, err := specpb.SpecToProto(spec)
	if err != nil {
		return nil, err
	}
	conf, err := wire.MapToProto(overrides)
	if err != nil {
		return nil, fmt.Errorf("-o: %w", err)
	}
	if len(conf) == 0 {
		conf = nil
	}
	abs, err := filepath.Abs(artifact)
	if err != nil {
		return nil, err
	}
	sum, size, err := hashFile(abs)
	if err != nil {
		return nil, err
	}
	return &Submission{Path: abs, Header: &sparsev1.SubmitHeader{
		Name:           name,
		Spec:           ps,
		Config:         conf,
		ArtifactSha256: sum,
		ArtifactSize:   size,
		Kind:           kind,
	}}, nil
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Submit uploads a prepared submission to the leader: the header, then the binary in
// ChunkSize chunks, hashed again while streaming so that a binary changed after
// PrepareSubmit is refused here rather than stored.
func (c *Client) Submit(ctx context.Context, s *Submission) (SubmitResult, error) {
	var id string
	addr, err := c.call(ctx, func(ctx context.Context, n sparsev1.NimbusClient) error {
		var err error
		id, err = upload(ctx, n, s)
		return err
	})
	if err != nil {
		return SubmitResult{}, err
	}
	return SubmitResult{TopologyID: id, Name: s.Header.GetName(), ArtifactSHA256: s.Header.GetArtifactSha256(), ArtifactSize: s.Header.GetArtifactSize(), Nimbus: addr}, nil
}

var errChanged = errors.New("changed while it was being uploaded")

func upload(ctx context.Context, n sparsev1.NimbusClient, s *Submission) (string, error) {
	f, err := os.Open(s.Path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	// Cancelling the stream is how a client aborts an upload: nimbus then stores nothing.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := n.Submit(ctx)
	if err != nil {
		return "", err
	}
	// send returns the server's status when the server has already ended the call.
	send := func(r *sparsev1.SubmitRequest) error {
		if err := stream.Send(r); err != nil {
			if errors.Is(err, io.EOF) {
				_, err = stream.CloseAndRecv()
			}
			return err
		}
		return nil
	}
	if err := send(&sparsev1.SubmitRequest{Body: &sparsev1.SubmitRequest_Header{Header: s.Header}}); err != nil {
		return "", err
	}
	h := sha256.New()
	buf := make([]byte, ChunkSize)
	var size int64
	for {
		k, rerr := io.ReadFull(f, buf)
		if k > 0 {
			h.Write(buf[:k])
			size += int64(k)
			if size > s.Header.GetArtifactSize() {
				cancel()
				return "", fmt.Errorf("%s %w (it grew); submit again", s.Path, errChanged)
			}
			if err := send(&sparsev1.SubmitRequest{Body: &sparsev1.SubmitRequest_Chunk{Chunk: buf[:k]}}); err != nil {
				return "", err
			}
			if s.Progress != nil {
				s.Progress(size, s.Header.GetArtifactSize())
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			cancel()
			return "", fmt.Errorf("reading %s: %w", s.Path, rerr)
		}
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != s.Header.GetArtifactSha256() || size != s.Header.GetArtifactSize() {
		cancel()
		return "", fmt.Errorf("%s %w (sha256 %s, %d bytes, was %s, %d bytes); submit again", s.Path, errChanged, sum, size, s.Header.GetArtifactSha256(), s.Header.GetArtifactSize())
	}
	r, err := stream.CloseAndRecv()
	if err != nil {
		return "", err
	}
	if r.GetTopologyId() == "" {
		return "", errors.New("nimbus accepted the topology but returned no topology id")
	}
	return r.GetTopologyId(), nil
}
