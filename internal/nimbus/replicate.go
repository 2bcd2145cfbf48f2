package nimbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/cluster"
)

// replState is what a replication pass found.
type replState struct {
	passes int
	// missing are the artifacts of topologies that are not killed which this nimbus
	// lacks and could fetch from a live nimbus (or could not tell: etcd unreachable).
	missing []string
	// unobtainable are artifacts this nimbus lacks that no live nimbus holds.
	unobtainable []string
}

// replication returns the last pass's result and a channel closed after the next pass.
func (s *Server) replication() (replState, <-chan struct{}) {
	s.replMu.Lock()
	defer s.replMu.Unlock()
	return s.repl, s.replDone
}

func (s *Server) finishPass(st replState) {
	s.replMu.Lock()
	defer s.replMu.Unlock()
	for _, d := range st.unobtainable {
		if !slices.Contains(s.repl.unobtainable, d) {
			s.log.Error("an artifact in use is stored on no live nimbus; resubmit the topologies that use it", "digest", d)
		}
	}
	st.passes = s.repl.passes + 1
	s.repl = st
	close(s.replDone)
	s.replDone = make(chan struct{})
}

// forward turns every event of a watch into a kick, until the watch closes.
func forward[T any](wg *sync.WaitGroup, ch <-chan cluster.Event[T], kick chan struct{}) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range ch {
			trigger(kick)
		}
	}()
}

// replicationLoop keeps a copy of every artifact a topology uses (from whichever nimbus
// holds one), records which artifacts this nimbus holds, and deletes the ones no
// topology uses any more. Every nimbus runs it, leader or not.
func (s *Server) replicationLoop(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	forward(&wg, s.store.WatchTopologies(ctx), s.replKick)
	forward(&wg, s.store.WatchArtifactHolders(ctx), s.replKick)
	tick := time.NewTicker(s.cfg.ReplicateEvery)
	defer tick.Stop()
	for {
		s.replicateOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.replKick:
		}
	}
}

// replicateOnce makes one replication pass: it fetches the artifacts this nimbus lacks,
// records the ones it holds, and forgets the ones no topology uses.
func (s *Server) replicateOnce(ctx context.Context) {
	var st replState
	defer func() { s.finishPass(st) }()
	if ctx.Err() != nil {
		st.missing = []string{"(stopping)"}
		return
	}
	v, problem := s.readReplication(ctx)
	if problem != "" {
		st.missing = []string{problem}
		return
	}
	s.fetchMissing(ctx, v, &st)
	s.recordHeld(ctx, v)
	if v.complete {
		s.forgetUnused(ctx, v)
	}
}

// replView is what one replication pass works from.
type replView struct {
	// wanted are the artifacts of the topologies not killed (digest -> size), and
	// referenced those of every topology; complete is false when some topology records
	// could not be read, so referenced may lack some.
	wanted     map[string]int64
	referenced map[string]bool
	complete   bool
	// live are the live nimbus instances' addresses by id.
	live map[string]string
	// mine are the artifacts this nimbus is recorded to hold; others the holder records
	// of the other nimbus instances, by digest.
	mine   map[string]bool
	others map[string][]*cluster.ArtifactHolder
	// local are the blobs stored here, and have their digests.
	local []BlobInfo
	have  map[string]bool
}

// readReplication reads the topologies, holder records, live nimbus instances and local
// blobs; a failed read is a problem, which says in parentheses what failed.
func (s *Server) readReplication(ctx context.Context) (*replView, string) {
	v := &replView{wanted: map[string]int64{}, referenced: map[string]bool{}, live: map[string]string{},
		mine: map[string]bool{}, others: map[string][]*cluster.ArtifactHolder{}, have: map[string]bool{}}
	failed := func(what string, err error) bool {
		if err == nil || invalidOnly(err) {
			return false
		}
		s.metrics.EtcdErrors.Inc()
		s.log.Warn("replication: cannot list "+what, "error", err)
		return true
	}
	topos, err := s.store.ListTopologies(ctx)
	v.complete = err == nil
	if failed("topologies", err) {
		return nil, "(etcd unreachable)"
	}
	for _, t := range topos {
		if t.ArtifactDigest == "" {
			continue
		}
		v.referenced[t.ArtifactDigest] = true
		if t.Status != cluster.StatusKilled {
			v.wanted[t.ArtifactDigest] = t.ArtifactSize
		}
	}
	holders, err := s.store.ListArtifactHolders(ctx, "")
	if failed("artifact holders", err) {
		return nil, "(etcd unreachable)"
	}
	nimbuses, err := s.store.ListNimbus(ctx)
	if failed("nimbus instances", err) {
		return nil, "(etcd unreachable)"
	}
	for _, n := range nimbuses {
		v.live[n.ID] = n.Address
	}
	for _, h := range holders {
		if h.NimbusID == s.id {
			v.mine[h.Digest] = true
		} else {
			v.others[h.Digest] = append(v.others[h.Digest], h)
		}
	}
	v.local, err = s.blobs.List()
	if err != nil {
		s.log.Error("replication: cannot list the local artifacts", "error", err)
		return nil, "(local blob store unreadable)"
	}
	for _, b := range v.local {
		v.have[b.Digest] = true
	}
	return v, ""
}

// fetchMissing fetches every wanted artifact this nimbus lacks from a live nimbus that
// holds it, noting in st the ones no live nimbus holds and the ones that failed.
func (s *Server) fetchMissing(ctx context.Context, v *replView, st *replState) {
	for _, d := range slices.Sorted(maps.Keys(v.wanted)) {
		if v.have[d] {
			continue
		}
		var sources []*cluster.ArtifactHolder
		for _, h := range v.others[d] {
			if v.live[h.NimbusID] != "" {
				sources = append(sources, h)
			}
		}
		if len(sources) == 0 {
			st.unobtainable = append(st.unobtainable, d)
			continue
		}
		if !s.fetchFromAny(ctx, v, d, sources) {
			st.missing = append(st.missing, d)
		}
	}
}

// fetchFromAny fetches one artifact from the first of sources that serves it.
func (s *Server) fetchFromAny(ctx context.Context, v *replView, d string, sources []*cluster.ArtifactHolder) bool {
	size := v.wanted[d]
	for _, h := range sources {
		if size <= 0 {
			size = h.Size
		}
		start := time.Now()
		if err := s.fetchFrom(ctx, v.live[h.NimbusID], d, size); err != nil {
			if ctx.Err() != nil {
				return false
			}
			s.log.Warn("replication: cannot fetch an artifact", "digest", d, "from", h.NimbusID, "address", v.live[h.NimbusID], "error", err)
			continue
		}
		s.log.Info("replicated artifact", "digest", d, "bytes", size, "from", h.NimbusID, "took", time.Since(start).Round(time.Millisecond))
		v.have[d] = true
		v.local = append(v.local, BlobInfo{Digest: d, Size: size, ModTime: time.Now()})
		return true
	}
	return false
}

// recordHeld says in etcd which artifacts this nimbus holds.
func (s *Server) recordHeld(ctx context.Context, v *replView) {
	for _, b := range v.local {
		if v.mine[b.Digest] || !v.have[b.Digest] {
			continue
		}
		if err := s.store.PutArtifactHolder(ctx, &cluster.ArtifactHolder{Digest: b.Digest, NimbusID: s.id, Size: b.Size, StoredAt: time.Now().UTC()}); err != nil {
			s.metrics.EtcdErrors.Inc()
			s.log.Warn("replication: cannot record an artifact holder", "digest", b.Digest, "error", err)
			continue
		}
		v.mine[b.Digest] = true
	}
}

// forgetUnused deletes the artifacts no topology uses any more, once they are old enough
// not to belong to a submission in progress, and the holder records of artifacts no
// longer stored here.
func (s *Server) forgetUnused(ctx context.Context, v *replView) {
	for _, b := range v.local {
		if v.referenced[b.Digest] || time.Since(b.ModTime) < s.cfg.ArtifactGCGrace {
			continue
		}
		if err := s.store.DeleteArtifactHolder(ctx, b.Digest, s.id); err != nil {
			s.metrics.EtcdErrors.Inc()
			s.log.Warn("cannot delete an artifact holder record", "digest", b.Digest, "error", err)
			continue
		}
		if err := s.blobs.Remove(b.Digest); err != nil {
			s.log.Warn("cannot delete an unused artifact", "digest", b.Digest, "error", err)
			continue
		}
		delete(v.mine, b.Digest)
		s.log.Info("deleted an artifact no topology uses", "digest", b.Digest, "bytes", b.Size)
	}
	for d := range v.mine {
		if !v.have[d] {
			if err := s.store.DeleteArtifactHolder(ctx, d, s.id); err != nil {
				s.metrics.EtcdErrors.Inc()
				s.log.Warn("cannot delete the holder record of an artifact no longer stored here", "digest", d, "error", err)
			}
		}
	}
}

// fetchFrom copies an artifact from the nimbus at addr, verifying its size and sha256.
func (s *Server) fetchFrom(ctx context.Context, addr, digest string, size int64) error {
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(s.dialCreds())}, fetchDialOptions()...)...)
	if err != nil {
		return fmt.Errorf("dialing %s: %w", addr, err)
	}
	defer conn.Close()
	ctx, progress := s.fetchProgress(ctx)
	defer progress.stop()
	stream, err := sparsev1.NewNimbusClient(conn).FetchArtifact(ctx, &sparsev1.ArtifactRef{Sha256: digest})
	if err != nil {
		return progress.explain(err)
	}
	w, err := s.blobs.Create(digest, size)
	if err != nil {
		return err
	}
	defer w.Abort()
	for {
		c, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return progress.explain(err)
		}
		progress.made()
		if _, err := w.Write(c.GetData()); err != nil {
			return err
		}
	}
	return w.Commit()
}

// invalidOnly reports whether a listing error only reports invalid records (the valid
// ones were still returned), rather than a failed listing.
func invalidOnly(err error) bool {
	var ire *cluster.InvalidRecordError
	return errors.As(err, &ire) && !errors.Is(err, cluster.ErrUnreachable)
}
