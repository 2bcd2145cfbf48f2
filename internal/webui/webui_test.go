package webui

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRoutes(t *testing.T) {
	mux := http.NewServeMux()
	Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		name, path string
		code       int
		typ, body  string
	}{
		{"the root redirects to the UI", "/", http.StatusFound, "", ""},
		{"the cluster page", "/ui/", 200, "text/html", `<main id="main">`},
		{"a topology page is the shell too", "/ui/topology/wc", 200, "text/html", `src="/ui/assets/app.js"`},
		{"a worker log page", "/ui/topology/wc/worker/s1%3A6700/log", 200, "text/html", `id="content"`},
		{"the script", "/ui/assets/app.js", 200, "javascript", "Authorization"},
		{"the style", "/ui/assets/style.css", 200, "text/css", "td.hot"},
		{"an unknown asset", "/ui/assets/nope.js", 404, "", ""},
		{"no directory listing", "/ui/assets/", 200, "text/html", `<main id="main">`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.code || !strings.Contains(resp.Header.Get("Content-Type"), tt.typ) || !strings.Contains(string(b), tt.body) {
				t.Errorf("GET %s: %d %s, want %d %s with %q; body:\n%.300s", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), tt.code, tt.typ, tt.body, b)
			}
			if tt.code == http.StatusFound && resp.Header.Get("Location") != Prefix {
				t.Errorf("GET %s redirects to %q, want %q", tt.path, resp.Header.Get("Location"), Prefix)
			}
			if strings.HasPrefix(tt.path, Prefix) && resp.Header.Get("Content-Security-Policy") != contentSecurityPolicy {
				t.Errorf("GET %s: no Content-Security-Policy", tt.path)
			}
		})
	}
}

// TestAssetsWorkOffline: the UI loads nothing from elsewhere, and writes no HTML from
// strings (everything the API says is text).
func TestAssetsWorkOffline(t *testing.T) {
	err := fs.WalkDir(assets, "assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(path)
		if err != nil {
			return err
		}
		for _, bad := range []string{"http://", "https://", "innerHTML", "outerHTML", "document.write", "eval("} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s holds %q", path, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
