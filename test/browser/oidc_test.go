package browser

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const consoleClientID = "quarterdeck-console"

// fakeIssuer is a minimal OpenID provider for the console's sign-in: a discovery document, an
// authorization endpoint that signs in "ada" at once and redirects back with a code, a token
// endpoint that redeems the code only with the PKCE verifier of its challenge, and a key set.
type fakeIssuer struct {
	t      *testing.T
	srv    *httptest.Server
	key    *rsa.PrivateKey
	scopes string

	mu        sync.Mutex
	codes     map[string]authRequest
	redeemed  int
	refusals  []string
	authorize []url.Values
}

type authRequest struct {
	challenge, nonce, redirect string
}

func newFakeIssuer(t *testing.T, scopes string) *fakeIssuer {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIssuer{t: t, key: key, scopes: scopes, codes: map[string]authRequest{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", f.discovery)
	mux.HandleFunc("GET /authorize", f.authorizeHandler)
	mux.HandleFunc("POST /token", f.token)
	mux.HandleFunc("GET /jwks", f.jwks)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIssuer) discovery(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, 200, map[string]any{
		"issuer": f.srv.URL, "authorization_endpoint": f.srv.URL + "/authorize", "token_endpoint": f.srv.URL + "/token",
		"jwks_uri": f.srv.URL + "/jwks", "response_types_supported": []string{"code"},
		"code_challenge_methods_supported": []string{"S256"},
	})
}

func (f *fakeIssuer) refuse(w http.ResponseWriter, why string) {
	f.mu.Lock()
	f.refusals = append(f.refusals, why)
	f.mu.Unlock()
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, 400, map[string]string{"error": "invalid_request", "error_description": why})
}

func (f *fakeIssuer) authorizeHandler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	f.authorize = append(f.authorize, q)
	f.mu.Unlock()
	switch {
	case q.Get("response_type") != "code":
		f.refuse(w, "response_type "+q.Get("response_type"))
		return
	case q.Get("client_id") != consoleClientID:
		f.refuse(w, "client_id "+q.Get("client_id"))
		return
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43:
		f.refuse(w, "no S256 code challenge")
		return
	case q.Get("state") == "" || q.Get("nonce") == "":
		f.refuse(w, "no state or nonce")
		return
	case !strings.HasSuffix(q.Get("redirect_uri"), "/console/"):
		f.refuse(w, "redirect_uri "+q.Get("redirect_uri"))
		return
	}
	code := base64.RawURLEncoding.EncodeToString(randomBytes(18))
	f.mu.Lock()
	f.codes[code] = authRequest{challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), redirect: q.Get("redirect_uri")}
	f.mu.Unlock()
	http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
}

func (f *fakeIssuer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		f.refuse(w, err.Error())
		return
	}
	f.mu.Lock()
	req, ok := f.codes[r.PostForm.Get("code")]
	delete(f.codes, r.PostForm.Get("code")) // a code is redeemed once
	f.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case r.PostForm.Get("grant_type") != "authorization_code" || !ok:
		f.refuse(w, "unknown code")
		return
	case base64.RawURLEncoding.EncodeToString(sum[:]) != req.challenge:
		f.refuse(w, "the code verifier does not match the challenge")
		return
	case r.PostForm.Get("redirect_uri") != req.redirect || r.PostForm.Get("client_id") != consoleClientID:
		f.refuse(w, "redirect_uri or client_id differ from the authorization request's")
		return
	}
	now := time.Now()
	claims := map[string]any{"iss": f.srv.URL, "aud": consoleClientID, "sub": "ada", "iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "scope": f.scopes}
	access := f.sign(claims)
	claims["nonce"] = req.nonce
	id := f.sign(claims)
	f.mu.Lock()
	f.redeemed++
	f.mu.Unlock()
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, 200, map[string]any{"access_token": access, "id_token": id, "token_type": "Bearer", "expires_in": 3600})
}

func (f *fakeIssuer) jwks(w http.ResponseWriter, _ *http.Request) {
	pub := f.key.PublicKey
	writeJSON(w, 200, map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// sign makes a compact RS256 JWT.
func (f *fakeIssuer) sign(claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "k1"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, f.key, crypto.SHA256, sum[:])
	if err != nil {
		f.t.Error(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// TestConsoleOIDC signs in to the console through an identity provider with the authorization
// code flow and PKCE, against a fake issuer that refuses a code without its verifier; the
// console then calls the API with the provider's token and its scopes: the risks it may read,
// and a refusal, not a page, for the budgets it may not.
func TestConsoleOIDC(t *testing.T) {
	needBrowser(t)
	idp := newFakeIssuer(t, "risk.read briefing.read")
	p := startPlatform(t, "QUARTERDECK_OIDC_ISSUER="+idp.srv.URL, "QUARTERDECK_OIDC_AUDIENCE="+consoleClientID,
		"QUARTERDECK_OIDC_JWKS_URL="+idp.srv.URL+"/jwks")
	b := newBrowser(t)
	b.run(t, "open the console", chromedp.Navigate(p.rest+"/console/"), chromedp.WaitVisible(chromedp.ID("oidc")))
	b.run(t, "sign in with the identity provider", chromedp.Click(chromedp.ID("oidc")), ready("briefing"))

	idp.mu.Lock()
	redeemed, refusals, requests := idp.redeemed, idp.refusals, len(idp.authorize)
	idp.mu.Unlock()
	if requests != 1 || redeemed != 1 || len(refusals) > 0 {
		t.Fatalf("identity provider: %d authorization requests, %d codes redeemed, refusals %q; want 1, 1, none", requests, redeemed, refusals)
	}
	stored := value(t, b, "read the credential", chromedp.Evaluate[string](`sessionStorage.getItem("quarterdeck.credential") || ""`))
	if !strings.Contains(stored, `"kind":"oidc"`) {
		t.Errorf("credential = %q; want the provider's token", stored)
	}
	if u := value(t, b, "read the address", chromedp.Evaluate[string](`location.href`)); strings.Contains(u, "code=") {
		t.Errorf("the code stayed in the address: %s", u)
	}
	b.check(t, "briefing with OIDC", 0)

	// The token's scopes: the risk register, yes; the budgets, a refusal shown as one.
	b.open(t, "#/risks", "risks")
	b.check(t, "risks with OIDC", 0)
	b.open(t, "#/budgets", "budgets")
	refusal := value(t, b, "read the refusal", chromedp.Evaluate[string](`(document.querySelector("main .error") || {}).textContent || ""`))
	if !strings.Contains(refusal, "does not allow") {
		t.Errorf("budgets with a risk.read token show %q; want the refusal", refusal)
	}
	// A refusal the page shows is not a console error, but the browser logs the failed load.
	for _, e := range b.takeErrors() {
		if !strings.Contains(e, "403") {
			t.Errorf("console error: %s", e)
		}
	}
}
