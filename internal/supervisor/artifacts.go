package supervisor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/cluster"
)

// Artifacts gives the local path of a topology's artifact, fetching it if needed.
type Artifacts interface {
	Path(ctx context.Context, digest string, size int64) (string, error)
}

// Fetcher says where an artifact can be fetched from (used by ArtifactCache).
type Fetcher interface {
	// Sources lists the places to try, best first.
	Sources(ctx context.Context, digest string) ([]Source, error)
}

// Source is one place to fetch an artifact from.
type Source struct {
	Name string
	// Fetch writes the artifact's bytes to w.
	Fetch func(ctx context.Context, w io.Writer) error
}

// ArtifactCache keeps artifacts under a directory, one executable file (0700) per
// sha256, named by it. A missing artifact is fetched once even when several workers
// want it at the same time, and is verified before it is used: its digest and size must
// match, or nothing is stored.
type ArtifactCache struct {
	dir     string
	fetcher Fetcher
	log     hclog.Logger
	// Metrics, when set, counts downloads, their bytes and their failures.
	Metrics *Metrics

	mu       sync.Mutex
	inflight map[string]*fetchCall
	// verified records, per digest, the file as it was when its bytes were checked: a
	// file that no longer matches its record is checked again before it is run.
	verified map[string]fileStamp
}

// fileStamp identifies a file's contents without reading them: any write, truncation,
// replacement or chmod changes one of these.
type fileStamp struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // nanoseconds
}

func stampOf(st os.FileInfo) fileStamp {
	fs := fileStamp{size: st.Size(), mtime: st.ModTime().UnixNano()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		fs.dev, fs.ino = uint64(sys.Dev), sys.Ino
		fs.ctime = sys.Ctim.Nano()
	}
	return fs
}

// stampFile is the stamp of the file at path now.
func stampFile(path string) (fileStamp, error) {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return stampOf(st), nil
}

type fetchCall struct {
	done chan struct{}
	path string
	err  error
}

// NewArtifactCache returns a cache in dir (created if missing).
func NewArtifactCache(dir string, f Fetcher, log hclog.Logger) *ArtifactCache {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &ArtifactCache{dir: dir, fetcher: f, log: log, inflight: map[string]*fetchCall{}, verified: map[string]fileStamp{}}
}

// Path returns the path of the artifact with this digest, fetching it first if it is
// not in the cache. size, when above 0, must match too. A cached file is re-verified
// (its sha256 read again) whenever it is not exactly as it was when it was verified, so
// that what a worker runs is what nimbus stored.
func (c *ArtifactCache) Path(ctx context.Context, digest string, size int64) (string, error) {
	if err := cluster.ValidateDigest(digest); err != nil {
		return "", fmt.Errorf("artifact: %w", err)
	}
	c.mu.Lock()
	if call, ok := c.inflight[digest]; ok {
		c.mu.Unlock()
		select {
		case <-call.done:
			return call.path, call.err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	call := &fetchCall{done: make(chan struct{})}
	c.inflight[digest] = call
	c.mu.Unlock()

	call.path, call.err = c.get(ctx, digest, size)
	c.mu.Lock()
	delete(c.inflight, digest)
	c.mu.Unlock()
	close(call.done)
	return call.path, call.err
}

func (c *ArtifactCache) get(ctx context.Context, digest string, size int64) (string, error) {
	path := filepath.Join(c.dir, digest)
	if stamp, err := stampFile(path); err == nil {
		c.mu.Lock()
		rec, ok := c.verified[digest]
		c.mu.Unlock()
		if ok && rec == stamp && (size <= 0 || stamp.size == size) {
			return path, nil
		}
		if ok {
			c.log.Warn("a cached artifact changed on disk since it was verified; checking it again", "digest", digest, "path", path)
		}
		// The stamp is taken before the bytes are read: a change while they are read
		// makes the next use check them again.
		if err := verifyFile(path, digest, size); err == nil {
			c.mu.Lock()
			c.verified[digest] = stamp
			c.mu.Unlock()
			return path, nil
		} else {
			c.log.Warn("a cached artifact is damaged; fetching it again", "digest", digest, "error", err)
			c.mu.Lock()
			delete(c.verified, digest)
			c.mu.Unlock()
			os.Remove(path)
		}
	}
	if c.fetcher == nil {
		return "", fmt.Errorf("artifact %s is not in %s and there is nowhere to fetch it from", digest, c.dir)
	}
	if err := makePrivateDir(c.dir); err != nil {
		return "", fmt.Errorf("creating the artifact cache: %w", err)
	}
	sources, err := c.fetcher.Sources(ctx, digest)
	if err != nil {
		return "", fmt.Errorf("fetching artifact %s: %w", digest, err)
	}
	if len(sources) == 0 {
		return "", fmt.Errorf("fetching artifact %s: nowhere to fetch it from", digest)
	}
	var errs []error
	for _, src := range sources {
		err := c.fetchFrom(ctx, src, path, digest, size)
		if err == nil {
			return path, nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if c.Metrics != nil {
			c.Metrics.ArtifactDownloadFailures.Inc()
		}
		c.log.Warn("cannot fetch the artifact from here; trying the next source", "source", src.Name, "digest", digest, "error", err)
		errs = append(errs, fmt.Errorf("from %s: %w", src.Name, err))
	}
	return "", fmt.Errorf("fetching artifact %s: %w", digest, errors.Join(errs...))
}

// fetchFrom fetches an artifact from one source into the cache, verified.
func (c *ArtifactCache) fetchFrom(ctx context.Context, src Source, path, digest string, size int64) error {
	tmp, err := os.CreateTemp(c.dir, ".fetch-"+digest[:12]+"-*")
	if err != nil {
		return fmt.Errorf("creating the artifact cache: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	start := time.Now()
	h := sha256.New()
	n := &countWriter{limit: size}
	// n comes first: it refuses the bytes beyond the declared size before they are
	// written anywhere.
	err = src.Fetch(ctx, io.MultiWriter(n, tmp, h))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != digest {
		return fmt.Errorf("the bytes have sha256 %s (%d bytes), not the one asked for; refusing them", got, n.n)
	}
	if size > 0 && n.n != size {
		return fmt.Errorf("%d bytes arrived, the topology says %d; refusing them", n.n, size)
	}
	if err := os.Chmod(tmp.Name(), privateExecMode); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("storing the artifact: %w", err)
	}
	// After the rename, which changes the file's ctime.
	stamp, err := stampFile(path)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.verified[digest] = stamp
	c.mu.Unlock()
	if c.Metrics != nil {
		c.Metrics.ArtifactDownloads.Inc()
		c.Metrics.ArtifactDownloadBytes.Add(float64(n.n))
	}
	c.log.Info("artifact fetched", "digest", digest, "bytes", n.n, "source", src.Name, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// countWriter counts bytes, and with a limit above 0 refuses more than it.
type countWriter struct{ n, limit int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	if w.limit > 0 && w.n+int64(len(p)) > w.limit {
		return 0, fmt.Errorf("more than the %d bytes the topology declares arrived; refusing them", w.limit)
	}
	w.n += int64(len(p))
	return len(p), nil
}

// verifyFile checks a file's sha256 and size.
func verifyFile(path, digest string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != digest {
		return fmt.Errorf("its sha256 is %s", got)
	}
	if size > 0 && n != size {
		return fmt.Errorf("it has %d bytes, not %d", n, size)
	}
	return nil
}

// NimbusFetcher fetches artifacts from the nimbus instances registered in etcd: the
// leader first, then the ones that hold the artifact, then any other.
type NimbusFetcher struct {
	Store *cluster.Store
	// Timeout bounds one attempt at one nimbus (default 10 minutes).
	Timeout time.Duration
	// Creds secure the calls to nimbus (nil: plaintext).
	Creds credentials.TransportCredentials
}

func (f *NimbusFetcher) creds() credentials.TransportCredentials {
	if f.Creds == nil {
		return insecure.NewCredentials()
	}
	return f.Creds
}

// Sources implements Fetcher.
func (f *NimbusFetcher) Sources(ctx context.Context, digest string) ([]Source, error) {
	addrs, err := f.candidates(ctx, digest)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, errors.New("no nimbus is registered in etcd; is nimbusd running?")
	}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	out := make([]Source, 0, len(addrs))
	for _, addr := range addrs {
		out = append(out, Source{Name: "nimbus at " + addr, Fetch: func(ctx context.Context, w io.Writer) error {
			return fetchFrom(ctx, addr, digest, w, timeout, f.creds())
		}})
	}
	return out, nil
}

// candidates lists the nimbus addresses to try, best first.
func (f *NimbusFetcher) candidates(ctx context.Context, digest string) ([]string, error) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	nimbuses, err := f.Store.ListNimbus(rctx)
	if err != nil {
		return nil, fmt.Errorf("listing the nimbus instances: %w", err)
	}
	var out []string
	seen := map[string]bool{}
	add := func(addr string) {
		if addr != "" && !seen[addr] {
			seen[addr] = true
			out = append(out, addr)
		}
	}
	if _, addr, err := f.Store.Leader(rctx); err == nil {
		add(addr)
	} else {
		// No leader key (or no answer): ask the nimbus instances themselves.
		for _, n := range nimbuses {
			if addr := askLeader(rctx, n.Address, f.creds()); addr != "" {
				add(addr)
				break
			}
		}
	}
	addrOf := map[string]string{}
	for _, n := range nimbuses {
		addrOf[n.ID] = n.Address
	}
	if holders, err := f.Store.ListArtifactHolders(rctx, digest); err == nil {
		for _, h := range holders {
			add(addrOf[h.NimbusID])
		}
	}
	for _, n := range nimbuses {
		add(n.Address)
	}
	return out, nil
}

// askLeader asks a nimbus who leads; "" if it cannot tell.
func askLeader(ctx context.Context, addr string, creds credentials.TransportCredentials) string {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return ""
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	r, err := sparsev1.NewNimbusClient(conn).Leader(cctx, &sparsev1.LeaderRequest{})
	if err != nil {
		return ""
	}
	return r.GetLeaderAddress()
}

// fetchFrom streams one artifact from one nimbus into w.
func fetchFrom(ctx context.Context, addr, digest string, w io.Writer, timeout time.Duration, creds credentials.TransportCredentials) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stream, err := sparsev1.NewNimbusClient(conn).FetchArtifact(ctx, &sparsev1.ArtifactRef{Sha256: digest})
	if err != nil {
		return err
	}
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := w.Write(chunk.GetData()); err != nil {
			return err
		}
	}
}
