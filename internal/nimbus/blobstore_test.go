package nimbus

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestBlobStore(t *testing.T) {
	data := bytes.Repeat([]byte("sparse "), 1000)
	good := Digest(data)
	other := Digest([]byte("something else"))
	tests := []struct {
		name    string
		digest  string
		size    int64
		data    []byte
		wantErr string // empty: stored
	}{
		{"stored", good, int64(len(data)), data, ""},
		{"sha256 mismatch", other, int64(len(data)), data, "artifact is corrupt: expected sha256 " + other + ", got " + good + " (7000 bytes); re-run sparsectl submit"},
		{"fewer bytes than announced", good, int64(len(data)) + 1, data, "artifact is corrupt: expected sha256 " + good + ", got " + good + " (7000 bytes)"},
		{"more bytes than announced", good, int64(len(data)) - 1, data, "got more than 6999 bytes"},
		{"bad digest", "ABC", 3, []byte("abc"), "sha256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := OpenBlobStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			err = b.Put(bytes.NewReader(tc.data), tc.digest, tc.size)
			ents, _ := os.ReadDir(b.Dir())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(b.Path(tc.digest))
				if err != nil || !bytes.Equal(got, tc.data) {
					t.Fatalf("stored bytes differ (%v)", err)
				}
				if n, ok := b.Has(tc.digest); !ok || n != int64(len(tc.data)) {
					t.Errorf("Has = %d, %v", n, ok)
				}
				if len(ents) != 1 {
					t.Errorf("the directory holds %d entries, want 1", len(ents))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if strings.Contains(tc.wantErr, "corrupt") && !errors.Is(err, ErrCorrupt) {
				t.Errorf("errors.Is(%v, ErrCorrupt) is false", err)
			}
			if len(ents) != 0 {
				t.Errorf("a refused blob left %d files behind", len(ents))
			}
		})
	}
}

func TestBlobStoreListRemoveAndLeftovers(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/.incoming-abc-123", []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := OpenBlobStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir + "/.incoming-abc-123"); !os.IsNotExist(err) {
		t.Error("a leftover temporary file was not removed")
	}
	d := Digest([]byte("x"))
	if err := b.Put(strings.NewReader("x"), d, 1); err != nil {
		t.Fatal(err)
	}
	list, err := b.List()
	if err != nil || len(list) != 1 || list[0].Digest != d || list[0].Size != 1 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if err := b.Remove(d); err != nil {
		t.Fatal(err)
	}
	if err := b.Remove(d); err != nil {
		t.Errorf("removing twice: %v", err)
	}
	if _, ok := b.Has(d); ok {
		t.Error("removed blob still there")
	}
}
