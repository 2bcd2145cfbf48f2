package nimbus

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/logview"
)

// TestReadSupervisorLog: nimbus reads a worker's log from a real log server with the
// caller's token, and the log server's refusals keep their meaning.
func TestReadSupervisorLog(t *testing.T) {
	dir := t.TempDir()
	name := logview.LogName{Topology: "wc-1", Port: 6700}
	writeFile(t, dir+"/workers/wc-1/6700/worker.log", "one\ntwo\nthree\n")
	lv := logview.New(logview.Config{DataDir: dir, Auth: func(_ context.Context, secret string) (string, cluster.Role, error) {
		if secret != "good" {
			return "", "", fmt.Errorf("no such token: %w", cluster.ErrNotFound)
		}
		return "ops", cluster.RoleViewer, nil
	}})
	srv := httptest.NewServer(lv)
	defer srv.Close()
	sup := &sparsev1.LogSupervisor{Id: "s1", LogsAddr: strings.TrimPrefix(srv.URL, "http://")}
	s := &Server{}
	tests := []struct {
		name, auth, log string
		want            string
		code            codes.Code
	}{
		{"the last lines, with the caller's token", "Bearer good", name.String(), "two\nthree\n", codes.OK},
		{"no token", "", name.String(), "", codes.Unauthenticated},
		{"an unknown token", "Bearer bad", name.String(), "", codes.Unauthenticated},
		{"no such log", "Bearer good", logview.LogName{Topology: "wc-1", Port: 6701}.String(), "", codes.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.readSupervisorLog(t.Context(), sup, url.Values{"log": {tt.log}, "tail": {"2"}}, tt.auth)
			if status.Code(err) != tt.code || (err == nil && got != tt.want) {
				t.Errorf("got %q, %v; want %q, %v", got, err, tt.want, tt.code)
			}
			if err != nil && !strings.Contains(err.Error(), "supervisor s1") {
				t.Errorf("the error %q does not name the supervisor", err)
			}
		})
	}
	if _, err := s.readSupervisorLog(t.Context(), &sparsev1.LogSupervisor{Id: "s2", LogsAddr: "127.0.0.1:1", Tls: true}, nil, ""); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("a TLS log server without nimbus TLS: %v, want FailedPrecondition", err)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
