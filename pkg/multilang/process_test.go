package multilang

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// TestStrayPrintUnderMsgpack: with msgpack, "hello" decodes as the integer 104; the error
// must quote the raw bytes, not 104.
func TestStrayPrintUnderMsgpack(t *testing.T) {
	dec := NewDecoder(Msgpack, bytes.NewReader([]byte("hello, world\n")), 0)
	v, err := dec.ReadMessage()
	if err != nil || v != int64('h') {
		t.Fatalf("ReadMessage = %v, %v", v, err)
	}
	pe := badValue(v, "x")
	pe.Head = dec.(interface{ lastBytes() []byte }).lastBytes()
	if !strings.Contains(pe.Error(), `"hello, world\n"`) {
		t.Errorf("error %q does not quote the raw bytes", pe)
	}
}

func TestStderrLog(t *testing.T) {
	s := &stderrLog{log: hclog.NewNullLogger()}
	_, _ = s.Write([]byte("one\ntwo\r\nthr"))
	_, _ = s.Write([]byte("ee\nfour"))
	if got := s.lastLines(100); got != "one\ntwo\nthree\nfour" {
		t.Errorf("lastLines = %q", got)
	}
	_, _ = s.Write([]byte(strings.Repeat("x", 10000)))
	if got := s.lastLines(50); len(got) != 50 || !strings.HasPrefix(got, "...") {
		t.Errorf("lastLines(50) = %q (%d bytes)", got, len(got))
	}
	for i := range 30 {
		_, _ = s.Write([]byte("line " + strings.Repeat("y", i) + "\n"))
	}
	if n := strings.Count(s.lastLines(1<<20), "\n"); n != stderrTailKeep-1 {
		t.Errorf("kept %d lines, want %d", n+1, stderrTailKeep)
	}
}
