package console_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/quarterdeck/quarterdeck/gateway/console"
)

func get(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), string(body)
}

// The page and every asset it names are served from the binary, with a policy that allows no
// inline script or style and no other host.
func TestPageAndAssets(t *testing.T) {
	h := console.Handler(console.Options{})
	resp, html := get(t, h, "/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/ = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self';", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("CSP allows something unsafe: %q", csp)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers = %v", resp.Header)
	}
	if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9]`).FindString(html); m != "" {
		t.Errorf("the page refers to another host (%s)", m)
	}
	if strings.Contains(html, "style=") || regexp.MustCompile(`<script>|<script [^>]*>[^<]`).MatchString(html) {
		t.Error("the page has an inline style or script, which its CSP refuses")
	}
	assets := regexp.MustCompile(`(?:src|href)="([^"#]+)"`).FindAllStringSubmatch(html, -1)
	if len(assets) < 3 {
		t.Fatalf("assets = %q", assets)
	}
	// The modules import one another; follow the imports from app.js.
	seen := map[string]bool{}
	queue := []string{}
	for _, a := range assets {
		if !strings.HasPrefix(a[1], "/") && !strings.HasPrefix(a[1], "data:") { // /docs/ is the gateway's, not the console's
			queue = append(queue, a[1])
		}
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		resp, body := get(t, h, "/"+p)
		if resp.StatusCode != 200 || len(body) == 0 {
			t.Errorf("%s = %d (%d bytes)", p, resp.StatusCode, len(body))
			continue
		}
		if strings.HasSuffix(p, ".js") && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
			t.Errorf("%s Content-Type = %q", p, resp.Header.Get("Content-Type"))
		}
		if strings.HasPrefix(p, "js/") {
			for _, m := range regexp.MustCompile(`from "\./([a-z]+\.js)"`).FindAllStringSubmatch(body, -1) {
				queue = append(queue, "js/"+m[1])
			}
		}
	}
	if !seen["js/briefing.js"] || !seen["dist/chart.umd.js"] {
		t.Errorf("followed %v", seen)
	}
	// Every module is preloaded, so that the browser fetches them at once.
	modules, err := os.ReadDir("js")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range modules {
		if m.Name() != "app.js" && !strings.Contains(html, `<link rel="modulepreload" href="js/`+m.Name()+`">`) {
			t.Errorf("js/%s is not preloaded", m.Name())
		}
	}
	if resp, _ := get(t, h, "/console.go"); resp.StatusCode != 404 {
		t.Errorf("the package's Go source is served: %d", resp.StatusCode)
	}
}

// Without OIDC the page offers the API key alone; with it, the page learns the issuer and client
// id, and the policy lets it call the issuer (discovery and token endpoint) and nothing else.
func TestConfig(t *testing.T) {
	_, body := get(t, console.Handler(console.Options{}), "/config.json")
	if strings.TrimSpace(body) != "{}" {
		t.Errorf("config without OIDC = %s", body)
	}
	h := console.Handler(console.Options{OIDCIssuer: "https://idp.example.com/realms/it/", OIDCClientID: "quarterdeck-console"})
	resp, body := get(t, h, "/config.json")
	var cfg struct {
		OIDC struct{ Issuer, ClientID, Scopes string }
	}
	if err := json.Unmarshal([]byte(body), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.OIDC.Issuer != "https://idp.example.com/realms/it" || cfg.OIDC.ClientID != "quarterdeck-console" || cfg.OIDC.Scopes != "openid" {
		t.Errorf("config = %s", body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' https://idp.example.com;") {
		t.Errorf("CSP = %q", csp)
	}
}
