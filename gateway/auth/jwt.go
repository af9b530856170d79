package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
)

// JWTConfig is the OIDC setting of the gateway, declared under `prefix:"OIDC_"`
// (QUARTERDECK_OIDC_ISSUER, …). JWTs are accepted only when Issuer is set.
type JWTConfig struct {
	Issuer   string `env:"ISSUER" help:"issuer (iss) of the OIDC tokens to accept; empty: JWTs are refused"`
	Audience string `env:"AUDIENCE" help:"audience (aud) the OIDC tokens must name, e.g. the client id of Quarterdeck at the identity provider"`
	JWKSURL  string `env:"JWKS_URL" help:"URL of the issuer's JSON Web Key Set, e.g. https://idp.example.com/.well-known/jwks.json"`
	// ClientID is the web console's client at the identity provider: a public client signing in
	// with the authorization code flow and PKCE, redirecting to the gateway's /console/ page.
	ClientID string `env:"CLIENT_ID" help:"client id of the web console (/console) at the identity provider, for its sign-in with authorization code + PKCE (default: the audience)"`
	// Scopes come from two claims: a scope claim read as is, and a roles claim mapped by
	// RoleScopes, so that an identity provider without custom scopes can still grant them.
	ScopeClaim string        `env:"SCOPE_CLAIM" default:"scope" help:"claim holding Quarterdeck scopes (a space-separated string or an array)"`
	RolesClaim string        `env:"ROLES_CLAIM" default:"roles" help:"claim holding the caller's roles (an array or a space-separated string)"`
	RoleScopes []string      `env:"ROLE_SCOPES" help:"scopes granted per role, role=scope scope…, comma-separated, e.g. finance=budget.read budget.write,auditor=operations.read"`
	Leeway     time.Duration `env:"LEEWAY" default:"30s" help:"clock skew tolerated on exp and nbf"`
	JWKSMaxAge time.Duration `env:"JWKS_MAX_AGE" default:"1h" help:"how long fetched signing keys are used before they are fetched again"`
	// JWKSMinInterval rate-limits fetches caused by tokens naming an unknown key id, so that a
	// flood of forged kids cannot turn the gateway against the identity provider.
	JWKSMinInterval time.Duration `env:"JWKS_MIN_INTERVAL" default:"30s" help:"least time between two fetches of the key set"`
}

// ConsoleClientID is the client id the web console signs in with: ClientID, else the audience.
func (c JWTConfig) ConsoleClientID() string {
	if c.ClientID != "" {
		return c.ClientID
	}
	return c.Audience
}

// Enabled reports whether JWTs are to be accepted.
func (c JWTConfig) Enabled() bool { return c.Issuer != "" }

// Algorithms are the only JWS algorithms accepted. Pinning them rules out `none` and the
// HS256-signed-with-the-RSA-public-key confusion: an HMAC token is refused before any key is
// looked at.
var Algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// JWTVerifier checks OIDC JWTs against an issuer's key set.
type JWTVerifier struct {
	cfg   JWTConfig
	roles map[string][]string
	keys  *keySet
	now   func() time.Time
}

// NewJWTVerifier returns a verifier for cfg; client fetches the key set (nil: a client with a
// 10-second timeout).
func NewJWTVerifier(cfg JWTConfig, client *http.Client, log *slog.Logger) (*JWTVerifier, error) {
	if cfg.Issuer == "" || cfg.Audience == "" || cfg.JWKSURL == "" {
		return nil, errors.New("QUARTERDECK_OIDC_ISSUER, QUARTERDECK_OIDC_AUDIENCE and QUARTERDECK_OIDC_JWKS_URL must all be set to accept JWTs")
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if log == nil {
		log = slog.Default()
	}
	roles := map[string][]string{}
	for _, rs := range cfg.RoleScopes {
		role, scopes, ok := strings.Cut(rs, "=")
		if !ok || strings.TrimSpace(role) == "" {
			return nil, fmt.Errorf("QUARTERDECK_OIDC_ROLE_SCOPES: %q is not role=scope scope…", rs)
		}
		roles[strings.TrimSpace(role)] = strings.Fields(scopes)
	}
	v := &JWTVerifier{cfg: cfg, roles: roles, now: time.Now}
	v.keys = &keySet{url: cfg.JWKSURL, client: client, maxAge: cfg.JWKSMaxAge, minInterval: cfg.JWKSMinInterval,
		now: func() time.Time { return v.now() }, log: log}
	return v, nil
}

// SetClock replaces the verifier's clock, for tests.
func (v *JWTVerifier) SetClock(now func() time.Time) { v.now = now }

// Verify checks a compact JWT — algorithm, signature, iss, aud, exp and nbf — and returns the
// caller it names. Every failure is UNAUTHENTICATED with a reason that does not say which
// check failed.
func (v *JWTVerifier) Verify(ctx context.Context, raw string) (identity.Principal, error) {
	invalid := Unauthenticated(ReasonInvalid, "the token is not valid")
	tok, err := jwt.ParseSigned(raw, Algorithms)
	if err != nil || len(tok.Headers) != 1 {
		return identity.Principal{}, invalid
	}
	h := tok.Headers[0]
	key, err := v.keys.get(ctx, h.KeyID)
	if err != nil {
		return identity.Principal{}, invalid
	}
	// A key that names its algorithm is used with that algorithm only.
	if key.Algorithm != "" && key.Algorithm != h.Algorithm {
		return identity.Principal{}, invalid
	}
	var (
		std   jwt.Claims
		extra map[string]any
	)
	if err := tok.Claims(key.Key, &std, &extra); err != nil {
		return identity.Principal{}, invalid
	}
	if std.Expiry == nil || std.Subject == "" {
		return identity.Principal{}, invalid
	}
	err = std.ValidateWithLeeway(jwt.Expected{Issuer: v.cfg.Issuer, AnyAudience: jwt.Audience{v.cfg.Audience}, Time: v.now()}, v.cfg.Leeway)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return identity.Principal{}, Unauthenticated(ReasonExpired, "the token has expired")
	case err != nil:
		return identity.Principal{}, invalid
	}
	return identity.Principal{Subject: "users/" + std.Subject, Scopes: v.scopes(extra)}, nil
}

// scopes maps the token's claims to Quarterdeck scopes.
func (v *JWTVerifier) scopes(claims map[string]any) []string {
	var out []string
	out = append(out, stringsOf(claims[v.cfg.ScopeClaim])...)
	for _, role := range stringsOf(claims[v.cfg.RolesClaim]) {
		out = append(out, v.roles[role]...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// stringsOf reads a claim that is a space-separated string or an array of strings.
func stringsOf(c any) []string {
	switch c := c.(type) {
	case string:
		return strings.Fields(c)
	case []any:
		var out []string
		for _, e := range c {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// keySet caches an issuer's signing keys. It fetches them when first needed, when they are
// older than maxAge, and when a token names a key id it does not know (a rotation), but never
// more often than minInterval.
type keySet struct {
	url         string
	client      *http.Client
	maxAge      time.Duration
	minInterval time.Duration
	now         func() time.Time
	log         *slog.Logger

	mu          sync.Mutex
	keys        []jose.JSONWebKey
	fetched     time.Time // of the keys in use
	lastAttempt time.Time
}

var errUnknownKey = errors.New("no signing key with that id")

func (s *keySet) get(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	k, found := s.find(kid)
	stale := s.fetched.IsZero() || now.Sub(s.fetched) >= s.maxAge
	if (!found || stale) && (s.lastAttempt.IsZero() || now.Sub(s.lastAttempt) >= s.minInterval) {
		s.lastAttempt = now
		if err := s.fetch(ctx); err != nil {
			// Keep using the keys we have: an identity provider that is briefly down must not
			// log everybody out.
			s.log.WarnContext(ctx, "fetching the OIDC key set failed", "url", s.url, "error", err)
		} else {
			s.fetched = now
		}
		k, found = s.find(kid)
	}
	if !found {
		return jose.JSONWebKey{}, errUnknownKey
	}
	return k, nil
}

// find returns the signing key with kid; a token without kid matches a set of one key.
func (s *keySet) find(kid string) (jose.JSONWebKey, bool) {
	if kid == "" {
		if len(s.keys) == 1 {
			return s.keys[0], true
		}
		return jose.JSONWebKey{}, false
	}
	for _, k := range s.keys {
		if k.KeyID == kid {
			return k, true
		}
	}
	return jose.JSONWebKey{}, false
}

func (s *keySet) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", s.url, resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("decode key set: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, k := range set.Keys {
		// Only public signing keys: a symmetric or private key in the set is a mistake at the
		// provider and must not become a way to sign tokens here.
		if k.Use == "enc" || !k.IsPublic() || !k.Valid() {
			continue
		}
		keys = append(keys, k)
	}
	s.keys = keys
	return nil
}
