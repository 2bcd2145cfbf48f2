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
	"google.golang.org/grpc/credentials/insecure"

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

// replicateOnce makes one replication pass.
func (s *Server) replicateOnce(ctx context.Context) {
	var st replState
	defer func() { s.finishPass(st) }()
	if ctx.Err() != nil {
		st.missing = []string{"(stopping)"}
		return
	}
	topos, err := s.store.ListTopologies(ctx)
	complete := err == nil
	if err != nil && !invalidOnly(err) {
		s.metrics.EtcdErrors.Inc()
		s.log.Warn("replication: cannot list topologies", "error", err)
		st.missing = []string{"(etcd unreachable)"}
		return
	}
	wanted := map[string]int64{}
	referenced := map[string]bool{}
	for _, t := range topos {
		if t.ArtifactDigest == "" {
			continue
		}
		referenced[t.ArtifactDigest] = true
		if t.Status != cluster.StatusKilled {
			wanted[t.ArtifactDigest] = t.ArtifactSize
		}
	}
	holders, err := s.store.ListArtifactHolders(ctx, "")
	if err != nil && !invalidOnly(err) {
		s.metrics.EtcdErrors.Inc()
		s.log.Warn("replication: cannot list artifact holders", "error", err)
		st.missing = []string{"(etcd unreachable)"}
		return
	}
	nimbuses, err := s.store.ListNimbus(ctx)
	if err != nil && !invalidOnly(err) {
		s.metrics.EtcdErrors.Inc()
		s.log.Warn("replication: cannot list nimbus instances", "error", err)
		st.missing = []string{"(etcd unreachable)"}
		return
	}
	live := map[string]string{}
	for _, n := range nimbuses {
		live[n.ID] = n.Address
	}
	mine := map[string]bool{}
	others := map[string][]*cluster.ArtifactHolder{}
	for _, h := range holders {
		if h.NimbusID == s.id {
			mine[h.Digest] = true
		} else {
			others[h.Digest] = append(others[h.Digest], h)
		}
	}

	local, err := s.blobs.List()
	if err != nil {
		s.log.Error("replication: cannot list the local artifacts", "error", err)
		st.missing = []string{"(local blob store unreadable)"}
		return
	}
	have := map[string]bool{}
	for _, b := range local {
		have[b.Digest] = true
	}

	// Fetch what is missing.
	for _, d := range slices.Sorted(maps.Keys(wanted)) {
		if have[d] {
			continue
		}
		var sources []*cluster.ArtifactHolder
		for _, h := range others[d] {
			if live[h.NimbusID] != "" {
				sources = append(sources, h)
			}
		}
		if len(sources) == 0 {
			st.unobtainable = append(st.unobtainable, d)
			continue
		}
		size := wanted[d]
		fetched := false
		for _, h := range sources {
			if size <= 0 {
				size = h.Size
			}
			start := time.Now()
			if err := s.fetchFrom(ctx, live[h.NimbusID], d, size); err != nil {
				if ctx.Err() != nil {
					break
				}
				s.log.Warn("replication: cannot fetch an artifact", "digest", d, "from", h.NimbusID, "address", live[h.NimbusID], "error", err)
				continue
			}
			s.log.Info("replicated artifact", "digest", d, "bytes", size, "from", h.NimbusID, "took", time.Since(start).Round(time.Millisecond))
			have[d] = true
			local = append(local, BlobInfo{Digest: d, Size: size, ModTime: time.Now()})
			fetched = true
			break
		}
		if !fetched {
			st.missing = append(st.missing, d)
		}
	}

	// Say what this nimbus holds.
	for _, b := range local {
		if mine[b.Digest] || !have[b.Digest] {
			continue
		}
		if err := s.store.PutArtifactHolder(ctx, &cluster.ArtifactHolder{Digest: b.Digest, NimbusID: s.id, Size: b.Size, StoredAt: time.Now().UTC()}); err != nil {
			s.metrics.EtcdErrors.Inc()
			s.log.Warn("replication: cannot record an artifact holder", "digest", b.Digest, "error", err)
			continue
		}
		mine[b.Digest] = true
	}

	// Forget what no topology uses any more, once it is old enough not to belong to a
	// submission in progress.
	if !complete {
		return
	}
	for _, b := range local {
		if referenced[b.Digest] || time.Since(b.ModTime) < s.cfg.ArtifactGCGrace {
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
		delete(mine, b.Digest)
		s.log.Info("deleted an artifact no topology uses", "digest", b.Digest, "bytes", b.Size)
	}
	for d := range mine {
		if !have[d] {
			if err := s.store.DeleteArtifactHolder(ctx, d, s.id); err != nil {
				s.metrics.EtcdErrors.Inc()
				s.log.Warn("cannot delete the holder record of an artifact no longer stored here", "digest", d, "error", err)
			}
		}
	}
}

// fetchFrom copies an artifact from the nimbus at addr, verifying its size and sha256.
func (s *Server) fetchFrom(ctx context.Context, addr, digest string, size int64) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("dialing %s: %w", addr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := sparsev1.NewNimbusClient(conn).FetchArtifact(ctx, &sparsev1.ArtifactRef{Sha256: digest})
	if err != nil {
		return err
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
			return err
		}
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
