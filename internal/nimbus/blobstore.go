package nimbus

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sparsestream/sparse/internal/cluster"
)

// ErrCorrupt is what a blob whose bytes do not match the expected size or sha256 is.
var ErrCorrupt = errors.New("artifact is corrupt")

// CorruptError says how received bytes differ from what was announced.
type CorruptError struct {
	WantDigest string
	WantSize   int64
	GotDigest  string // empty when the bytes were not all read (too many of them)
	GotSize    int64
}

func (e *CorruptError) Error() string {
	if e.GotDigest == "" {
		return fmt.Sprintf("artifact is corrupt: expected sha256 %s (%d bytes), got more than %d bytes; re-run sparsectl submit",
			e.WantDigest, e.WantSize, e.WantSize)
	}
	return fmt.Sprintf("artifact is corrupt: expected sha256 %s, got %s (%d bytes); re-run sparsectl submit",
		e.WantDigest, e.GotDigest, e.GotSize)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// BlobStore keeps artifacts in a directory, one file per sha256 (lowercase hex), written
// to a temporary file, synced and renamed into place, so that a file under its digest is
// always complete.
type BlobStore struct {
	dir string
}

// OpenBlobStore opens (creating it if needed) a blob store in dir.
func OpenBlobStore(dir string) (*BlobStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the blob directory %s: %w; check --data-dir", dir, err)
	}
	b := &BlobStore{dir: dir}
	// Temporary files left by a crash are never complete: remove them.
	tmps, _ := filepath.Glob(filepath.Join(dir, ".incoming-*"))
	for _, t := range tmps {
		_ = os.Remove(t)
	}
	return b, nil
}

// Dir is the store's directory.
func (b *BlobStore) Dir() string { return b.dir }

// Path is where the blob with this digest lives (whether or not it exists).
func (b *BlobStore) Path(digest string) string { return filepath.Join(b.dir, digest) }

// Has reports whether the blob is stored, and its size.
func (b *BlobStore) Has(digest string) (int64, bool) {
	if cluster.ValidateDigest(digest) != nil {
		return 0, false
	}
	fi, err := os.Stat(b.Path(digest))
	if err != nil || !fi.Mode().IsRegular() {
		return 0, false
	}
	return fi.Size(), true
}

// Open opens a stored blob; an error wrapping fs.ErrNotExist when it is not stored.
func (b *BlobStore) Open(digest string) (*os.File, error) {
	if err := cluster.ValidateDigest(digest); err != nil {
		return nil, err
	}
	return os.Open(b.Path(digest))
}

// Remove deletes a blob; removing one that is not there is no error.
func (b *BlobStore) Remove(digest string) error {
	if err := cluster.ValidateDigest(digest); err != nil {
		return err
	}
	if err := os.Remove(b.Path(digest)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// BlobInfo describes one stored blob.
type BlobInfo struct {
	Digest  string
	Size    int64
	ModTime time.Time
}

// List returns every stored blob.
func (b *BlobStore) List() ([]BlobInfo, error) {
	ents, err := os.ReadDir(b.dir)
	if err != nil {
		return nil, fmt.Errorf("listing blobs in %s: %w", b.dir, err)
	}
	var out []BlobInfo
	for _, e := range ents {
		if !e.Type().IsRegular() || cluster.ValidateDigest(e.Name()) != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, BlobInfo{Digest: e.Name(), Size: fi.Size(), ModTime: fi.ModTime()})
	}
	return out, nil
}

// Writer receives a blob whose digest and size are known in advance. Write fails as soon
// as more bytes arrive than announced; Commit checks size and sha256 and only then moves
// the blob into place; Abort (safe after Commit) removes what was written.
type Writer struct {
	b          *BlobStore
	f          *os.File
	h          hash.Hash
	n          int64
	wantDigest string
	wantSize   int64
	done       bool
}

// Create starts receiving the blob with this digest and size.
func (b *BlobStore) Create(digest string, size int64) (*Writer, error) {
	if err := cluster.ValidateDigest(digest); err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, fmt.Errorf("artifact size %d is negative", size)
	}
	f, err := os.CreateTemp(b.dir, ".incoming-"+digest[:12]+"-*")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary file in %s: %w", b.dir, err)
	}
	return &Writer{b: b, f: f, h: sha256.New(), wantDigest: digest, wantSize: size}, nil
}

// Write appends bytes.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("the blob writer is closed")
	}
	if w.n+int64(len(p)) > w.wantSize {
		return 0, &CorruptError{WantDigest: w.wantDigest, WantSize: w.wantSize, GotSize: w.n + int64(len(p))}
	}
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("writing to %s: %w", w.f.Name(), err)
	}
	return n, nil
}

// Received is how many bytes were written so far.
func (w *Writer) Received() int64 { return w.n }

// Commit checks the bytes received and stores the blob under its digest. A mismatch is a
// *CorruptError and nothing is stored.
func (w *Writer) Commit() error {
	if w.done {
		return errors.New("the blob writer is closed")
	}
	got := hex.EncodeToString(w.h.Sum(nil))
	if got != w.wantDigest || w.n != w.wantSize {
		w.Abort()
		return &CorruptError{WantDigest: w.wantDigest, WantSize: w.wantSize, GotDigest: got, GotSize: w.n}
	}
	w.done = true
	name := w.f.Name()
	fail := func(what string, err error) error {
		_ = w.f.Close()
		_ = os.Remove(name)
		return fmt.Errorf("%s %s: %w", what, name, err)
	}
	if err := w.f.Chmod(0o644); err != nil {
		return fail("setting the mode of", err)
	}
	if err := w.f.Sync(); err != nil {
		return fail("syncing", err)
	}
	if err := w.f.Close(); err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("closing %s: %w", name, err)
	}
	if err := os.Rename(name, w.b.Path(w.wantDigest)); err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("moving the artifact into place: %w", err)
	}
	syncDir(w.b.dir)
	return nil
}

// Abort removes what was written. It is safe to call more than once and after Commit.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	_ = w.f.Close()
	_ = os.Remove(w.f.Name())
}

// Put stores a whole blob read from r (a convenience over Create, Write and Commit).
func (b *BlobStore) Put(r io.Reader, digest string, size int64) error {
	w, err := b.Create(digest, size)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Abort()
		return err
	}
	return w.Commit()
}

// Digest returns the lowercase hex sha256 of b.
func Digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// syncDir makes a rename in dir durable (best effort: not every platform can sync a
// directory).
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// normalizeDigest accepts a digest in either case.
func normalizeDigest(d string) string { return strings.ToLower(strings.TrimSpace(d)) }
