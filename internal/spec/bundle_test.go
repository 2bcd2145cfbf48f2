package spec

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// tree writes files (name -> content; a name ending in "*" is executable) under a new
// folder.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, "*") {
			name, mode = strings.TrimSuffix(name, "*"), 0o755
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// read returns the files under dir: name -> content, "*" marking executables.
func read(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		name := filepath.ToSlash(rel)
		if st.Mode()&0o111 != 0 {
			name += "*"
		}
		out[name] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func pack(t *testing.T, specPath, resources string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Pack(&buf, specPath, resources); err != nil {
		t.Fatalf("Pack: %v", err)
	}
	return buf.Bytes()
}

// TestBundleRoundTrip: unpacking a bundle gives the spec as topology.yaml and the
// resources' files with their executable bits, without caches; the same files give the
// same bytes whatever their times and wherever they are.
func TestBundleRoundTrip(t *testing.T) {
	files := map[string]string{
		"topology.yaml":                   "name: x\n",
		"split.py":                        "print('split')\n",
		"bin/run.sh*":                     "#!/bin/sh\n",
		"data/words.txt":                  strings.Repeat("word\n", 1000),
		"__pycache__/split.cpython.pyc":   "cache",
		"lib/__pycache__/x.pyc":           "cache",
		"lib/helper.py":                   "x = 1\n",
		"lib/old.pyc":                     "cache",
		".git/HEAD":                       "ref",
		strings.Repeat("long/", 30) + "f": "deep",
	}
	a := tree(t, files)
	b := tree(t, files)
	// Different times must not matter.
	old := time.Now().Add(-48 * time.Hour)
	_ = filepath.WalkDir(b, func(p string, _ os.DirEntry, _ error) error { return os.Chtimes(p, old, old) })

	bundleA := pack(t, filepath.Join(a, "topology.yaml"), "")
	bundleB := pack(t, filepath.Join(b, "topology.yaml"), b)
	if sha256.Sum256(bundleA) != sha256.Sum256(bundleB) {
		t.Error("the same files in two folders with other times gave bundles with different sha256")
	}
	if again := pack(t, filepath.Join(a, "topology.yaml"), a); !bytes.Equal(again, bundleA) {
		t.Error("packing the same folder twice gave different bytes")
	}

	out := filepath.Join(t.TempDir(), "out")
	if err := Unpack(bytes.NewReader(bundleA), out); err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	want := map[string]string{
		"topology.yaml":                   "name: x\n",
		"split.py":                        "print('split')\n",
		"bin/run.sh*":                     "#!/bin/sh\n",
		"data/words.txt":                  strings.Repeat("word\n", 1000),
		"lib/helper.py":                   "x = 1\n",
		strings.Repeat("long/", 30) + "f": "deep",
	}
	if got := read(t, out); !reflect.DeepEqual(got, want) {
		t.Errorf("unpacked files = %v, want %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}

	// The entries are sorted, with fixed times and modes and no owners.
	zr, err := gzip.NewReader(bytes.NewReader(bundleA))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
		if !h.ModTime.Equal(time.Unix(0, 0)) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || (h.Mode != 0o644 && h.Mode != 0o755) {
			t.Errorf("entry %s: time %v uid %d gid %d uname %q mode %o", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Mode)
		}
	}
	sorted := append([]string(nil), names...)
	slices.Sort(sorted)
	if !reflect.DeepEqual(names, sorted) {
		t.Errorf("entries are not sorted: %v", names)
	}
}

// TestPackSpecElsewhere: a spec outside its resources folder is stored as topology.yaml;
// a resources folder with a topology.yaml of its own is refused.
func TestPackSpecElsewhere(t *testing.T) {
	res := tree(t, map[string]string{"a.py": "a"})
	specDir := tree(t, map[string]string{"my-spec.yml": "name: y\n"})
	out := filepath.Join(t.TempDir(), "out")
	if err := Unpack(bytes.NewReader(pack(t, filepath.Join(specDir, "my-spec.yml"), res)), out); err != nil {
		t.Fatal(err)
	}
	if got, want := read(t, out), map[string]string{"topology.yaml": "name: y\n", "a.py": "a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("files = %v, want %v", got, want)
	}
	clash := tree(t, map[string]string{"topology.yaml": "name: other\n"})
	var buf bytes.Buffer
	if err := Pack(&buf, filepath.Join(specDir, "my-spec.yml"), clash); err == nil || !strings.Contains(err.Error(), "has a topology.yaml of its own") {
		t.Errorf("Pack with a clashing topology.yaml: %v", err)
	}
	linked := tree(t, map[string]string{"topology.yaml": "name: z\n", "real/x.py": "x"})
	if err := os.Symlink(filepath.Join(linked, "real"), filepath.Join(linked, "link")); err != nil {
		t.Skip(err)
	}
	if err := Pack(&buf, filepath.Join(linked, "topology.yaml"), ""); err == nil || !strings.Contains(err.Error(), "link to a folder") {
		t.Errorf("Pack with a link to a folder: %v", err)
	}
}

// archive builds a tar.gz from raw headers.
func archive(t *testing.T, entries ...tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, h := range entries {
		body := []byte(strings.Repeat("x", int(h.Size)))
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestUnpackRefuses(t *testing.T) {
	spec := tar.Header{Name: "topology.yaml", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"absolute", archive(t, spec, tar.Header{Name: "/etc/x", Typeflag: tar.TypeReg, Size: 1}), "outside the bundle"},
		{"dot dot", archive(t, spec, tar.Header{Name: "a/../../x", Typeflag: tar.TypeReg, Size: 1}), "outside the bundle"},
		{"dot dot dir", archive(t, spec, tar.Header{Name: "../x/", Typeflag: tar.TypeDir}), "outside the bundle"},
		{"symlink", archive(t, spec, tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}), "symbolic link"},
		{"hard link", archive(t, spec, tar.Header{Name: "l", Typeflag: tar.TypeLink, Linkname: "topology.yaml"}), "hard link"},
		{"twice", archive(t, spec, spec), "given twice"},
		{"no spec", archive(t, tar.Header{Name: "a.py", Typeflag: tar.TypeReg, Size: 1}), "holds no topology.yaml"},
		{"backslash", archive(t, spec, tar.Header{Name: `..\x`, Typeflag: tar.TypeReg, Size: 1}), "not allowed"},
		{"not gzip", []byte("#!/bin/sh\n"), "not a gzip-compressed archive"},
		{"truncated", archive(t, spec)[:30], "bundle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			err := Unpack(bytes.NewReader(tc.data), filepath.Join(parent, "out"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Unpack error = %v, want one saying %q", err, tc.want)
			}
			// Nothing was written outside the folder.
			ents, _ := os.ReadDir(parent)
			if len(ents) > 1 {
				t.Errorf("Unpack wrote %d entries beside its folder", len(ents))
			}
		})
	}
}

// TestUnpackFileOnce: concurrent callers unpack a bundle into one complete folder; a
// later call leaves it alone.
func TestUnpackFileOnce(t *testing.T) {
	src := tree(t, map[string]string{"topology.yaml": "name: x\n", "a.py": "a", "bin/x*": "x"})
	archivePath := filepath.Join(t.TempDir(), "bundle")
	if err := os.WriteFile(archivePath, pack(t, filepath.Join(src, "topology.yaml"), ""), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "bundles", "abc")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- UnpackFile(archivePath, dir) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("UnpackFile: %v", err)
		}
	}
	if got := read(t, dir); !reflect.DeepEqual(got, read(t, src)) {
		t.Errorf("unpacked %v, want %v", got, read(t, src))
	}
	ents, _ := os.ReadDir(filepath.Dir(dir))
	if len(ents) != 1 {
		t.Errorf("the bundles folder holds %d entries, want just the bundle (no temporary folders)", len(ents))
	}
	// Unpacked already: left alone, even if the archive is gone.
	if err := os.Remove(archivePath); err != nil {
		t.Fatal(err)
	}
	if err := UnpackFile(archivePath, dir); err != nil {
		t.Errorf("UnpackFile of an unpacked bundle: %v", err)
	}
}
