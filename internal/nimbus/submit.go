package nimbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/specpb"
	"github.com/sparsestream/sparse/pkg/topology"
)

// submission is a checked submit header.
type submission struct {
	name   string
	spec   *topology.Spec // Config is the effective config
	config topology.Config
	digest string
	size   int64
	// workers is topology.workers; the config fixes topology.acker.executors too.
	workers int
	kind    cluster.ArtifactKind
}

// Submit stores a topology: the header is checked (the spec with topology.ValidateShape,
// the overrides merged in), the artifact received while hashing and stored only if its
// size and sha256 match, then the topology record written. A refused submission stores
// nothing.
func (s *Server) Submit(stream grpc.ClientStreamingServer[sparsev1.SubmitRequest, sparsev1.SubmitReply]) (err error) {
	ctx := stream.Context()
	defer func() {
		if err != nil {
			s.metrics.SubmitRejects.Inc()
		}
	}()
	t, err := s.leading(ctx)
	if err != nil {
		return err
	}
	id, err := s.receiveGuarded(stream, func(in *guardedStream) (string, error) {
		sub, err := s.receiveHeader(ctx, in)
		if err != nil {
			return "", err
		}
		release, err := s.takeUploadSlot(sub)
		if err != nil {
			return "", err
		}
		defer release()
		if err := s.receiveArtifact(in, sub); err != nil {
			return "", err
		}
		if !in.finish() {
			return "", errStalled
		}
		return s.recordSubmission(ctx, t, sub)
	})
	if err != nil {
		return err
	}
	trigger(s.kick)
	trigger(s.replKick)
	return stream.SendAndClose(&sparsev1.SubmitReply{TopologyId: id})
}

// receiveHeader reads and checks the submission's first message, its SubmitHeader.
func (s *Server) receiveHeader(ctx context.Context, stream submitStream) (*submission, error) {
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return nil, status.Error(codes.InvalidArgument, "empty submission: send a SubmitHeader, then the artifact's bytes")
	}
	if err != nil {
		return nil, err
	}
	h := first.GetHeader()
	if h == nil {
		return nil, status.Error(codes.InvalidArgument, "the first message of a submission must be its SubmitHeader")
	}
	sub, err := s.checkHeader(h)
	if err != nil {
		return nil, err
	}
	if err := s.checkName(ctx, sub.name); err != nil {
		return nil, err
	}
	return sub, nil
}

// receiveArtifact streams the artifact's chunks into the blob store, which checks its
// size and digest against the header's as it commits.
func (s *Server) receiveArtifact(stream submitStream, sub *submission) error {
	w, err := s.blobs.Create(sub.digest, sub.size)
	if err != nil {
		return status.Errorf(codes.Internal, "cannot store the artifact: %v", err)
	}
	defer w.Abort()
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if m.GetHeader() != nil {
			return status.Error(codes.InvalidArgument, "a submission has one SubmitHeader, first; the later messages are artifact chunks")
		}
		if _, err := w.Write(m.GetChunk()); err != nil {
			var ce *CorruptError
			if errors.As(err, &ce) {
				return status.Error(codes.InvalidArgument, ce.Error())
			}
			return status.Errorf(codes.Internal, "cannot store the artifact: %v", err)
		}
	}
	if err := w.Commit(); err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) {
			s.log.Warn("refused a corrupt artifact", "topology", sub.name, "error", err)
			return status.Error(codes.InvalidArgument, ce.Error())
		}
		return status.Errorf(codes.Internal, "cannot store the artifact: %v", err)
	}
	return nil
}

// recordSubmission writes the stored artifact's holder and the new topology's record,
// under submitMu so that two submissions of one name cannot both pass the name check.
func (s *Server) recordSubmission(ctx context.Context, t *term, sub *submission) (string, error) {
	s.submitMu.Lock()
	defer s.submitMu.Unlock()
	if err := s.checkName(ctx, sub.name); err != nil {
		return "", err // the blob stays until the artifact collector finds no topology uses it
	}
	now := time.Now().UTC()
	if err := t.store.PutArtifactHolder(ctx, &cluster.ArtifactHolder{Digest: sub.digest, NimbusID: s.id, Size: sub.size, StoredAt: now}); err != nil {
		return "", s.rpcErr(ctx, err)
	}
	id, err := s.newTopologyID(ctx, sub.name, now)
	if err != nil {
		return "", err
	}
	rec := &cluster.TopologyRecord{
		ID: id, Name: sub.name, Status: cluster.StatusActive, Spec: sub.spec, Config: sub.config,
		ArtifactDigest: sub.digest, ArtifactSize: sub.size, ArtifactKind: sub.kind, SubmittedAt: now, StatusChangedAt: now,
		Workers: sub.workers, Owner: owner(ctx),
	}
	if err := t.store.PutTopology(ctx, rec); err != nil {
		return "", s.rpcErr(ctx, err)
	}
	s.metrics.Submits.Inc()
	s.log.Info("topology submitted", "topology", id, "owner", rec.Owner, "artifact", sub.digest, "bytes", sub.size, "workers", sub.workers,
		"ackers", sub.config[topology.ConfAckerExecutors])
	return id, nil
}

// checkHeader checks everything a header says and returns every problem at once, as
// InvalidArgument.
func (s *Server) checkHeader(h *sparsev1.SubmitHeader) (*submission, error) {
	var problems []string
	add := func(err error) {
		var ve *topology.ValidationError
		if errors.As(err, &ve) {
			for _, p := range ve.Problems {
				problems = append(problems, p.String())
			}
			return
		}
		for line := range strings.SplitSeq(err.Error(), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				problems = append(problems, line)
			}
		}
	}
	sub := &submission{name: h.GetName(), digest: normalizeDigest(h.GetArtifactSha256()), size: h.GetArtifactSize()}
	if sub.name == "" {
		sub.name = h.GetSpec().GetName()
	}
	spec, err := specpb.SpecFromProto(h.GetSpec())
	if err != nil {
		add(err)
	}
	overrides, err := specpb.ConfigFromProto(h.GetConfig())
	if err != nil {
		add(fmt.Errorf("config overrides: %w", err))
	}
	if spec != nil {
		spec.Name = sub.name
		spec.Config = spec.Config.Merge(overrides)
		if err := topology.ValidateShapeWithin(spec, s.cfg.Limits); err != nil {
			add(err)
		} else {
			workers, _ := spec.Config.Int(topology.ConfWorkers, 1)
			sub.workers = int(max(workers, 1))
			// The acker's executors are fixed now, so that a rebalance of the workers
			// never changes the number of tasks.
			spec.Config[topology.ConfAckerExecutors] = int64(spec.Config.AckerTasks())
			sub.spec, sub.config = spec, spec.Config.Clone()
		}
	}
	if err := cluster.ValidateDigest(sub.digest); err != nil {
		problems = append(problems, fmt.Sprintf("artifact_sha256: %v", err))
	}
	if v := h.GetWireProtocol(); v != 0 {
		if err := CheckWireProtocol(v, "the topology binary"); err != nil {
			problems = append(problems, err.Error())
		}
	}
	switch {
	case sub.size <= 0:
		problems = append(problems, fmt.Sprintf("artifact_size is %d; the artifact cannot be empty", sub.size))
	case sub.size > s.cfg.MaxArtifactSize:
		problems = append(problems, fmt.Sprintf("artifact_size is %d bytes; this nimbus accepts at most %d", sub.size, s.cfg.MaxArtifactSize))
	}
	switch h.GetKind() {
	case sparsev1.ArtifactKind_ARTIFACT_KIND_UNSPECIFIED, sparsev1.ArtifactKind_ARTIFACT_KIND_GO_BINARY:
		sub.kind = cluster.ArtifactGoBinary
	case sparsev1.ArtifactKind_ARTIFACT_KIND_SPEC_BUNDLE:
		sub.kind = cluster.ArtifactSpecBundle
	default:
		problems = append(problems, fmt.Sprintf("artifact kind %s is unknown: submit a Go topology binary or a spec bundle", h.GetKind()))
	}
	if len(problems) > 0 {
		name := sub.name
		if name == "" {
			name = "(no name)"
		}
		return nil, status.Errorf(codes.InvalidArgument, "topology %q is invalid (%d problem%s):\n  - %s",
			name, len(problems), plural(len(problems)), strings.Join(problems, "\n  - "))
	}
	return sub, nil
}

// checkName refuses a name a topology that is not killed already has.
func (s *Server) checkName(ctx context.Context, name string) error {
	topos, err := s.store.ListTopologies(ctx)
	if err != nil && !invalidOnly(err) {
		return s.rpcErr(ctx, err)
	}
	for _, r := range topos {
		if r.Name == name && r.Status != cluster.StatusKilled {
			return status.Errorf(codes.AlreadyExists, "a topology named %q is already running (id %s); kill it first or choose another --name", name, r.ID)
		}
	}
	return nil
}

// newTopologyID returns "<name>-<unix seconds>", with a suffix if that id is taken.
func (s *Server) newTopologyID(ctx context.Context, name string, now time.Time) (string, error) {
	base := name + "-" + strconv.FormatInt(now.Unix(), 10)
	for i := 1; ; i++ {
		id := base
		if i > 1 {
			id = base + "-" + strconv.Itoa(i)
		}
		_, err := s.store.GetTopology(ctx, id)
		if errors.Is(err, cluster.ErrNotFound) {
			return id, nil
		}
		if err != nil && !invalidOnly(err) {
			return "", s.rpcErr(ctx, err)
		}
	}
}
