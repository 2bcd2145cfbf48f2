package ctl

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/testutil"
)

// serveLog answers a log server's request the way mode says: "whole" sends two lines
// and ends, "reset" sends one and drops the connection mid-stream, "long" sends a line
// longer than a worker writes.
func serveLog(t *testing.T, w http.ResponseWriter, mode string) {
	switch mode {
	case "whole":
		_, _ = w.Write([]byte("first\nsecond\n"))
	case "reset":
		_, _ = w.Write([]byte("first\n"))
		w.(http.Flusher).Flush() // the body is chunked now; closing the conn cuts it
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
	case "long":
		_, _ = w.Write([]byte("first\n" + strings.Repeat("x", maxLogLine+1) + "\nthird\n"))
	default:
		t.Errorf("no log mode %q", mode)
	}
}

func TestLogsReportsALogCutShort(t *testing.T) {
	tests := []struct {
		name         string
		tail, follow string // how the log server answers each
		doFollow     bool
		wantErr      string // "" for none
		wantOut      []string
	}{
		{name: "whole tail", tail: "whole", wantOut: []string{"first", "second"}},
		{name: "tail reset", tail: "reset", wantErr: "cut short by the log server of supervisor sup1", wantOut: []string{"first"}},
		{name: "tail line too long", tail: "long", wantErr: "has a line longer than 2 MiB", wantOut: []string{"first"}},
		{name: "whole follow", tail: "whole", follow: "whole", doFollow: true, wantOut: []string{"first", "second"}},
		{name: "follow reset", tail: "whole", follow: "reset", doFollow: true, wantErr: "cut short by the log server of supervisor sup1"},
		{name: "follow line too long", tail: "whole", follow: "long", doFollow: true, wantErr: "has a line longer than 2 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/logs/lines":
					serveLog(t, w, tt.tail)
				case "/logs/follow":
					serveLog(t, w, tt.follow)
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			u, _ := url.Parse(srv.URL)
			src := &logSource{
				worker: &sparsev1.LogWorker{Id: "w1", Components: []string{"split"}},
				sup:    &sparsev1.LogSupervisor{Id: "sup1", LogsAddr: u.Host},
				name:   "topo-1-6700",
				query:  url.Values{},
			}
			lc := &LogsClient{http: srv.Client()}
			var out bytes.Buffer
			err := lc.logs(testutil.Context(t, 10*time.Second), []*logSource{src}, LogsOptions{Lines: 100, Follow: tt.doFollow, Task: -1}, &out)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("logs: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("logs: error %v, want one containing %q", err, tt.wantErr)
			}
			for _, line := range tt.wantOut {
				if !strings.Contains(out.String(), "[w1 split] "+line+"\n") {
					t.Errorf("output %q lacks line %q", out.String(), line)
				}
			}
		})
	}
}
