// Package apiref serves the interactive reference of the REST API at /docs: Swagger UI, loading
// the gateway's /openapi.json. Swagger UI's files are vendored from a pinned npm package by
// `make vendor-apiref` (which checks the package's sha512 against the one recorded in the
// Makefile) into dist/, committed, and compiled into the binary, so the page needs nothing but the
// gateway: no CDN, no network at build time.
package apiref

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed index.html init.js dist
var files embed.FS

// contentSecurityPolicy keeps the page to the gateway's own scripts, styles and API. Swagger UI
// sets inline styles and draws some icons as data: URLs.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// Handler serves the page at "/" and its assets beside it (mount it under a prefix with
// http.StripPrefix).
func Handler() http.Handler {
	dist, err := fs.Sub(files, "dist")
	if err != nil {
		panic(err) // the embedded tree is fixed at compile time
	}
	assets := http.FileServerFS(dist)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		switch r.URL.Path {
		case "/", "/index.html":
			h.Set("Content-Type", "text/html; charset=utf-8")
			http.ServeFileFS(w, r, files, "index.html")
		case "/init.js":
			http.ServeFileFS(w, r, files, "init.js")
		default:
			assets.ServeHTTP(w, r)
		}
	})
}
