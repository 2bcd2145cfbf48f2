// Package webui is the web UI that nimbusd serves on its --http listener under /ui/:
// one page shell and a little plain JavaScript that reads the REST API (docs/api.md)
// with the token the user gives, embedded in the binary so that it works offline and
// needs no Node.js to build. docs/ui.md describes the pages.
package webui

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed assets
var assets embed.FS

// Prefix is where the UI lives; "/" redirects there.
const Prefix = "/ui/"

// contentSecurityPolicy lets the pages run only their own script and style, talk only
// to their own origin, and refuses to be framed: with a token in the page's session
// storage, no injected script or frame may run beside it.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Router is where the UI's routes go (httpapi.Server has this method).
type Router interface {
	Handle(pattern string, h http.Handler)
}

// Register adds the UI's routes: "/" redirects to Prefix, Prefix+"assets/..." are the
// script and style, and every other page under Prefix is the shell, which draws the page
// its path names.
func Register(r Router) {
	r.Handle("GET /{$}", http.RedirectHandler(Prefix, http.StatusFound))
	r.Handle("GET "+Prefix, Handler())
}

// Handler serves everything under Prefix.
func Handler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded directory is part of the binary
	}
	files := http.StripPrefix(Prefix+"assets/", http.FileServerFS(sub))
	shell, err := fs.ReadFile(sub, "index.html")
	if err != nil {
		panic(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-cache")
		if rest, ok := strings.CutPrefix(r.URL.Path, Prefix+"assets/"); ok && rest != "" && rest != "index.html" {
			files.ServeHTTP(w, r)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(shell)
	})
}
