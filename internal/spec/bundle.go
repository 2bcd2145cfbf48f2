package spec

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Bounds of a bundle, checked by Pack and Unpack alike so that what packs unpacks.
const (
	MaxBundleFiles = 10_000
	MaxBundleBytes = 1 << 30 // the files' bytes, uncompressed
)

// bundleTime is the modification time of every entry: a fixed time makes the archive
// depend on the files' names, modes and bytes only.
var bundleTime = time.Unix(0, 0).UTC()

// skipped names are left out of bundles: version control and Python's caches.
var skippedDirs = []string{".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache"}

func skippedFile(name string) bool {
	return strings.HasSuffix(name, ".pyc") || strings.HasSuffix(name, ".pyo") || name == ".DS_Store"
}

type bundleFile struct {
	name string // slash-separated, relative
	src  string // path on disk
	mode int64
	size int64
}

// Pack writes the bundle of a spec and its resources folder (default: the spec's
// folder) to w: a gzip-compressed tar holding the spec as topology.yaml and every file
// under resources, except version-control folders, __pycache__ and *.pyc. Entries are
// sorted, with fixed times, no owners and mode 0755 or 0644, so that the same files
// always give the same bytes. Links to files are stored as the files; links to folders
// and special files are refused.
func Pack(w io.Writer, specPath, resources string) error {
	if resources == "" {
		resources = filepath.Dir(specPath)
	}
	specSt, err := os.Stat(specPath)
	if err != nil {
		return fmt.Errorf("bundle: the spec: %w", err)
	}
	if !specSt.Mode().IsRegular() {
		return fmt.Errorf("bundle: the spec %s is not a regular file", specPath)
	}
	files := []bundleFile{{name: BundleSpecName, src: specPath, mode: 0o644, size: specSt.Size()}}
	total := specSt.Size()
	err = filepath.WalkDir(resources, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(resources, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		name := filepath.ToSlash(rel)
		if d.IsDir() {
			if slices.Contains(skippedDirs, d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if skippedFile(d.Name()) {
			return nil
		}
		st, err := os.Stat(p) // follows a link
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		switch {
		case st.IsDir():
			return fmt.Errorf("%s is a link to a folder; bundles hold files only: copy the folder in instead", name)
		case !st.Mode().IsRegular():
			return fmt.Errorf("%s is not a regular file (%v); bundles hold files only", name, st.Mode().Type())
		}
		if name == BundleSpecName {
			if os.SameFile(st, specSt) {
				return nil // the spec itself
			}
			return fmt.Errorf("the resources folder has a %s of its own, beside the spec %s; a bundle's spec is stored under that name: rename one of them", BundleSpecName, specPath)
		}
		mode := int64(0o644)
		if st.Mode()&0o111 != 0 {
			mode = 0o755
		}
		files = append(files, bundleFile{name: name, src: p, mode: mode, size: st.Size()})
		total += st.Size()
		if len(files) > MaxBundleFiles {
			return fmt.Errorf("the resources folder has more than %d files; a bundle holds at most that many", MaxBundleFiles)
		}
		if total > MaxBundleBytes {
			return fmt.Errorf("the resources folder holds more than %d bytes; a bundle holds at most that much", MaxBundleBytes)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bundle of %s: %w", resources, err)
	}
	slices.SortFunc(files, func(a, b bundleFile) int { return strings.Compare(a.name, b.name) })

	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	for _, f := range files {
		if err := addFile(tw, f); err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	return nil
}

func addFile(tw *tar.Writer, f bundleFile) error {
	fh, err := os.Open(f.src)
	if err != nil {
		return err
	}
	defer fh.Close()
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     f.name,
		Mode:     f.mode,
		Size:     f.size,
		ModTime:  bundleTime,
		Format:   tar.FormatPAX, // fixed, whatever the names
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%s: %w", f.name, err)
	}
	n, err := io.Copy(tw, io.LimitReader(fh, f.size))
	if err != nil {
		return fmt.Errorf("%s: %w", f.name, err)
	}
	if n != f.size {
		return fmt.Errorf("%s changed while it was packed; pack again", f.name)
	}
	return nil
}

// Unpack extracts a bundle into dir, which it creates. It refuses absolute names, "..",
// names given twice, links and special files, more than MaxBundleFiles files or
// MaxBundleBytes bytes, and a bundle without topology.yaml.
func Unpack(r io.Reader, dir string) error {
	zr, err := gzip.NewReader(bufio.NewReader(r))
	if err != nil {
		return fmt.Errorf("bundle: not a gzip-compressed archive: %w", err)
	}
	defer zr.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	tr := tar.NewReader(zr)
	seen := map[string]bool{}
	var files int
	var total int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("bundle: a damaged archive: %w", err)
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return fmt.Errorf("bundle: %w", err)
			}
			continue
		case tar.TypeReg:
		default:
			return fmt.Errorf("bundle: entry %q is a %s; bundles hold regular files and folders only", hdr.Name, typeName(hdr.Typeflag))
		}
		if seen[name] {
			return fmt.Errorf("bundle: entry %q is given twice", hdr.Name)
		}
		seen[name] = true
		files++
		total += hdr.Size
		switch {
		case hdr.Size < 0:
			return fmt.Errorf("bundle: entry %q has a negative size", hdr.Name)
		case files > MaxBundleFiles:
			return fmt.Errorf("bundle: more than %d files", MaxBundleFiles)
		case total > MaxBundleBytes:
			return fmt.Errorf("bundle: more than %d bytes of files", MaxBundleBytes)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
		mode := os.FileMode(0o644)
		if hdr.Mode&0o111 != 0 {
			mode = 0o755
		}
		if err := writeEntry(dst, tr, hdr.Size, mode); err != nil {
			return fmt.Errorf("bundle: entry %q: %w", hdr.Name, err)
		}
	}
	if !seen[BundleSpecName] {
		return fmt.Errorf("bundle: it holds no %s; it is not a spec bundle", BundleSpecName)
	}
	return nil
}

// entryName checks an archive entry's name and returns it cleaned.
func entryName(raw string) (string, error) {
	name := strings.TrimSuffix(raw, "/")
	switch {
	case name == "" || strings.ContainsAny(name, "\x00\\"):
		return "", fmt.Errorf("entry %q has a name that is not allowed", raw)
	case path.IsAbs(name) || !filepath.IsLocal(filepath.FromSlash(name)):
		return "", fmt.Errorf("entry %q is outside the bundle (an absolute path, or one with \"..\"); refusing the bundle", raw)
	}
	return path.Clean(name), nil
}

func typeName(t byte) string {
	switch t {
	case tar.TypeSymlink:
		return "symbolic link"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar, tar.TypeBlock:
		return "device"
	case tar.TypeFifo:
		return "named pipe"
	}
	return fmt.Sprintf("entry of type %q", t)
}

func writeEntry(dst string, r io.Reader, size int64, mode os.FileMode) error {
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(r, size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = io.ErrUnexpectedEOF
	}
	if err == nil {
		err = os.Chmod(dst, mode) // the umask does not decide
	}
	return err
}

// UnpackFile extracts the bundle at archive into dir once: when dir already holds a
// bundle it is left alone. The bundle is extracted into a temporary folder beside dir
// and renamed into place, so that a crash or a concurrent caller never leaves dir half
// made.
func UnpackFile(archive, dir string) error {
	if st, err := os.Stat(filepath.Join(dir, BundleSpecName)); err == nil && st.Mode().IsRegular() {
		return nil
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	f, err := os.Open(archive)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	defer f.Close()
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := Unpack(f, tmp); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if st, serr := os.Stat(filepath.Join(dir, BundleSpecName)); serr == nil && st.Mode().IsRegular() {
			return nil // another caller was first
		}
		// A folder without a spec (left by something else): replace it.
		if rerr := os.RemoveAll(dir); rerr != nil {
			return fmt.Errorf("bundle: %w", err)
		}
		if err := os.Rename(tmp, dir); err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
	}
	return nil
}
