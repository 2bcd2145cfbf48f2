package ctl

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/httpapi"
)

func TestProgressOnlyOnATerminal(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf)
	if p != nil {
		t.Fatal("a progress line for a buffer")
	}
	p.Show("x")
	if p.Upload("t") != nil {
		t.Error("a nil Progress gave an upload callback")
	}
	p.Countdown(t.Context(), "waiting", time.Second)()
	p.Done()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if NewProgress(f) != nil {
		t.Error("a progress line for a regular file")
	}
	if buf.Len() != 0 {
		t.Errorf("a nil Progress wrote %q", buf.String())
	}
}

func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	p := &Progress{w: &buf}
	p.Upload("wc")(3<<20, 10<<20)
	p.Show("short")
	p.Done()
	got := buf.String()
	for _, want := range []string{"\ruploading wc: 3.0 MiB of 10.0 MiB (30%)", "\rshort" + strings.Repeat(" ", len("uploading wc: 3.0 MiB of 10.0 MiB (30%)")-5)} {
		if !strings.Contains(got, want) {
			t.Errorf("progress wrote %q, want it to hold %q", got, want)
		}
	}
	stop := p.Countdown(t.Context(), "waiting for x", time.Minute)
	time.Sleep(10 * time.Millisecond)
	stop()
	if !strings.Contains(buf.String(), "waiting for x: 1m0s left") {
		t.Errorf("countdown wrote %q", buf.String())
	}
}

func TestFormatBytes(t *testing.T) {
	for in, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 20: "3.0 MiB", 5 << 30: "5.0 GiB"} {
		if got := FormatBytes(in); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteTopologyStats(t *testing.T) {
	lapsed := int64(5)
	p := &httpapi.TopologyPage{TopologyRow: httpapi.TopologyRow{ID: "wc-1", Name: "wc", Status: "ACTIVE"}, WindowHint: "10m", StatsAvailable: true,
		Spouts: []httpapi.ComponentRow{{SpoutID: "sentences", Emitted: 10, Acked: 10, CompleteLatency: 1.5}},
		Bolts:  []httpapi.ComponentRow{{BoltID: "count", Executed: 50, Capacity: 0.9, LastError: "boom", ErrorLapsedSecs: &lapsed}}}
	var buf bytes.Buffer
	if err := WriteTopologyStats(&buf, p); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"topology wc (wc-1): ACTIVE", "sentences", "1.500ms", "0.900 (busy)", "boom (5s ago)"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, buf.String())
		}
	}
}
