// Package console serves the web console at /console: the executive briefing and a list and
// detail page per domain, drawn in the browser from the public REST API with the caller's own
// credentials, so a page shows exactly what the caller's scopes allow (no pay without
// talent.compensation, no contract value without vendors.finance).
//
// The pages are plain HTML, CSS and JavaScript modules, with no build step, compiled into the
// binary. Charts are drawn by Chart.js, vendored from a pinned npm package by `make vendor-console`
// (which checks the package's sha512 against the one recorded in the Makefile) into dist/ and
// committed, as the /docs page's package is.
package console

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
)

//go:embed index.html style.css js dist
var files embed.FS

// Options configures the console.
type Options struct {
	// OIDCIssuer, when set, offers a sign-in with the identity provider: the authorization code
	// flow with PKCE, started from the issuer's discovery document
	// (<issuer>/.well-known/openid-configuration). The page then calls the API with the ID
	// provider's access token, which the gateway verifies as it verifies any JWT.
	OIDCIssuer string
	// OIDCClientID is the console's client id at the identity provider (a public client whose
	// redirect URI is the gateway's /console/ page).
	OIDCClientID string
	// OIDCScopes are the scopes the sign-in asks for (default: "openid").
	OIDCScopes string
}

// config is what the page learns from /console/config.json.
type config struct {
	OIDC *oidcConfig `json:"oidc,omitempty"`
}

type oidcConfig struct {
	Issuer   string `json:"issuer"`
	ClientID string `json:"clientId"`
	Scopes   string `json:"scopes"`
}

// Handler serves the console at "/" and its assets beside it (mount it under /console with
// http.StripPrefix).
func Handler(opts Options) http.Handler {
	cfg := config{}
	csp := policy("")
	if opts.OIDCIssuer != "" && opts.OIDCClientID != "" {
		scopes := opts.OIDCScopes
		if scopes == "" {
			scopes = "openid"
		}
		cfg.OIDC = &oidcConfig{Issuer: strings.TrimRight(opts.OIDCIssuer, "/"), ClientID: opts.OIDCClientID, Scopes: scopes}
		csp = policy(origin(opts.OIDCIssuer))
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		panic(err) // a fixed struct of strings
	}
	static, err := fs.Sub(files, ".")
	if err != nil {
		panic(err) // the embedded tree is fixed at compile time
	}
	assets := http.FileServerFS(static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		// The pages hold a credential once signed in; nothing of them is to be cached by a
		// shared cache, and the assets change with the binary.
		h.Set("Cache-Control", "no-store")
		switch {
		case r.URL.Path == "/" || r.URL.Path == "/index.html":
			h.Set("Content-Type", "text/html; charset=utf-8")
			http.ServeFileFS(w, r, files, "index.html")
		case r.URL.Path == "/config.json":
			h.Set("Content-Type", "application/json")
			_, _ = w.Write(cfgJSON)
		case r.URL.Path == "/style.css", strings.HasPrefix(r.URL.Path, "/js/"), strings.HasPrefix(r.URL.Path, "/dist/"):
			assets.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

// policy is the console's Content-Security-Policy: the gateway's own scripts, styles and API,
// no inline script or style, and, with OIDC, calls to the issuer (its discovery document, key
// set and token endpoint).
func policy(issuerOrigin string) string {
	connect := "'self'"
	if issuerOrigin != "" {
		connect += " " + issuerOrigin
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src " + connect +
		"; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
}

// origin is scheme://host[:port] of a URL, or "" when it has none.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
