// Package auth authenticates the callers of the gateway — API keys and OIDC JWTs sent as
// `Authorization: Bearer <token>` — and turns each into the short-lived signed identity the
// services verify. It also owns the API keys: their storage in the gateway's database, the
// ApiKeyService that manages them, and the bootstrap admin key.
package auth

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/bounded"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
)

// ErrorDomain is the ErrorInfo domain of authentication errors.
const ErrorDomain = "gateway.quarterdeck.io"

// Reasons of the UNAUTHENTICATED errors (ErrorInfo.reason). They tell a client whether to fix
// its setup or refresh a token, and nothing about which check a forged token failed.
const (
	ReasonMissing = "CREDENTIALS_MISSING"
	ReasonInvalid = "CREDENTIALS_INVALID"
	ReasonExpired = "CREDENTIALS_EXPIRED"
)

// Options configures an Authenticator.
type Options struct {
	// Keys holds the API keys. Required.
	Keys *Store
	// JWT verifies OIDC tokens; nil refuses every JWT.
	JWT *JWTVerifier
	// Signer signs the identity forwarded to services. Required.
	Signer *identity.Signer
	Logger *slog.Logger
	// TouchInterval is how often at most the last-use time of one key is written (default 1m),
	// so that a busy key costs one write a minute, not one per request.
	TouchInterval time.Duration
	// Now replaces the clock in tests.
	Now func() time.Time
	// IdentityCacheSize bounds how many callers' signed identities are kept for reuse (default
	// identity.DefaultCacheSize).
	IdentityCacheSize int
	// KeyCacheTTL is how long a looked-up API key is used without looking it up again (default
	// and at most MaxKeyCacheTTL). Revocations do not wait for it: they reach every replica as
	// events (see Revoked); the TTL is the backstop when an event is late or lost.
	KeyCacheTTL time.Duration
	// KeyCacheSize bounds how many API keys are cached (default identity.DefaultCacheSize); a
	// negative size turns the cache off.
	KeyCacheSize int
}

// MaxKeyCacheTTL bounds how long a cached API key is trusted without a look-up.
const MaxKeyCacheTTL = 30 * time.Second

// Authenticator authenticates callers; it implements gateway.Authenticator.
//
// A JWT is verified on every request. An API key is looked up in the database once and then
// kept for KeyCacheTTL (at most 30 s), keyed by its hash; a revocation takes effect before that:
// the replica that revokes drops the key at once (Store.OnRevoke), and every other replica when
// the revocation's event arrives (Revoked, fed by StartEvents). Expiry is checked against the
// clock on every request, cached or not. The signed identity forwarded to the services is cached
// too: a caller's token is reused while more than half its lifetime remains, which saves a
// signature per request at the gateway and lets services answer from their cache of verified
// tokens.
type Authenticator struct {
	opts    Options
	touched sync.Map // key id → time.Time of the last last-use write
	tokens  *identity.TokenCache
	keys    *bounded.Map[cachedKey] // key hash → the key as looked up; nil when off
	// revoked holds the ids of keys revoked in the last 2×KeyCacheTTL, so that a look-up that
	// started before a revocation cannot put the key back in the cache after it.
	revoked *bounded.Map[time.Time]
}

type cachedKey struct {
	key     *Key
	fetched time.Time
}

// New returns an authenticator.
func New(opts Options) (*Authenticator, error) {
	if opts.Keys == nil || opts.Signer == nil {
		return nil, errors.New("auth: a key store and an identity signer are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.TouchInterval <= 0 {
		opts.TouchInterval = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.KeyCacheTTL <= 0 || opts.KeyCacheTTL > MaxKeyCacheTTL {
		opts.KeyCacheTTL = MaxKeyCacheTTL
	}
	if opts.KeyCacheSize == 0 {
		opts.KeyCacheSize = identity.DefaultCacheSize
	}
	a := &Authenticator{opts: opts, tokens: identity.NewTokenCache(opts.Signer, opts.IdentityCacheSize)}
	if opts.KeyCacheSize > 0 {
		a.keys = bounded.NewMap(opts.KeyCacheSize, func(c cachedKey) bool { return a.stale(c) })
		a.revoked = bounded.NewMap(opts.KeyCacheSize, func(at time.Time) bool {
			return a.opts.Now().Sub(at) > 2*a.opts.KeyCacheTTL
		})
	}
	opts.Keys.OnRevoke(a.Revoked)
	return a, nil
}

// stale reports whether a cached key must be looked up again.
func (a *Authenticator) stale(c cachedKey) bool {
	age := a.opts.Now().Sub(c.fetched)
	return age >= a.opts.KeyCacheTTL || age < 0
}

// Revoked drops the key id from the cache: its next use is looked up, and refused. It is
// called for this process's own revocations and for each ApiKeyRevoked event.
func (a *Authenticator) Revoked(id string) {
	if a.keys == nil {
		return
	}
	a.revoked.Put(id, a.opts.Now())
	a.keys.DeleteFunc(func(_ string, c cachedKey) bool { return c.key.ID == id })
}

// CachedKeys returns how many API keys the cache holds, for tests.
func (a *Authenticator) CachedKeys() int {
	if a.keys == nil {
		return 0
	}
	return a.keys.Len()
}

// NewFromConfig returns the authenticator of a gateway process: API keys from keys, OIDC JWTs
// when oidc names an issuer, and identities signed by signer.
func NewFromConfig(keys *Store, oidc JWTConfig, signer *identity.Signer, log *slog.Logger) (*Authenticator, error) {
	opts := Options{Keys: keys, Signer: signer, Logger: log}
	if oidc.Enabled() {
		jwts, err := NewJWTVerifier(oidc, nil, log)
		if err != nil {
			return nil, err
		}
		opts.JWT = jwts
	}
	return New(opts)
}

// Authenticate implements gateway.Authenticator: authorization is the value of the
// Authorization header. It returns the caller and the metadata carrying its signed identity.
func (a *Authenticator) Authenticate(ctx context.Context, authorization string) (identity.Principal, metadata.MD, error) {
	token, err := bearer(authorization)
	if err != nil {
		return identity.Principal{}, nil, err
	}
	var p identity.Principal
	if looksLikeJWT(token) {
		if a.opts.JWT == nil {
			return identity.Principal{}, nil, Unauthenticated(ReasonInvalid, "JWTs are not accepted: no OIDC issuer is configured")
		}
		p, err = a.opts.JWT.Verify(ctx, token)
	} else {
		p, err = a.apiKey(ctx, token)
	}
	if err != nil {
		return identity.Principal{}, nil, err
	}
	signed, err := a.tokens.Token(p)
	if err != nil {
		return identity.Principal{}, nil, status.Error(codes.Internal, "internal error")
	}
	return p, metadata.Pairs(identity.MetadataKey, signed), nil
}

// bearer extracts the token of an `Authorization: Bearer <token>` header.
func bearer(authorization string) (string, error) {
	if strings.TrimSpace(authorization) == "" {
		return "", Unauthenticated(ReasonMissing, "send the API key or token as Authorization: Bearer <token>")
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || len(token) > 8192 {
		return "", Unauthenticated(ReasonInvalid, "the Authorization header must be Bearer <token>")
	}
	return token, nil
}

// looksLikeJWT tells a compact JWS (base64url of a JSON header, starting `{"`) from an API key.
func looksLikeJWT(token string) bool {
	return strings.HasPrefix(token, "eyJ") && strings.Count(token, ".") == 2
}

// lookUp returns the key of hash: from the cache while it is fresh, else from the store.
func (a *Authenticator) lookUp(ctx context.Context, hash string) (*Key, error) {
	if a.keys == nil {
		return a.opts.Keys.ByHash(ctx, hash)
	}
	if c, ok := a.keys.Get(hash); ok && !a.stale(c) {
		// A revocation at or after the look-up makes the entry untrustworthy (one that races
		// the event's DeleteFunc); one before it was already in the row read.
		if at, gone := a.revoked.Get(c.key.ID); !gone || at.Before(c.fetched) {
			return c.key, nil
		}
	}
	started := a.opts.Now()
	k, err := a.opts.Keys.ByHash(ctx, hash)
	if err != nil {
		// Unknown keys are not cached: whatever a caller makes up would take a place.
		return nil, err
	}
	if at, gone := a.revoked.Get(k.ID); gone && !at.Before(started) && k.RevokeTime == nil {
		// Revoked while this look-up ran: the row read may predate the revocation.
		return nil, ErrKeyNotFound
	}
	a.keys.Put(hash, cachedKey{key: k, fetched: started})
	return k, nil
}

func (a *Authenticator) apiKey(ctx context.Context, token string) (identity.Principal, error) {
	k, err := a.lookUp(ctx, HashKey(token))
	switch {
	case errors.Is(err, ErrKeyNotFound):
		return identity.Principal{}, Unauthenticated(ReasonInvalid, "the API key is not valid")
	case err != nil:
		a.opts.Logger.ErrorContext(ctx, "api key lookup failed", "error", err)
		return identity.Principal{}, status.Error(codes.Unavailable, "authentication is unavailable; retry later")
	}
	now := a.opts.Now()
	if k.RevokeTime != nil {
		return identity.Principal{}, Unauthenticated(ReasonInvalid, "the API key is not valid")
	}
	if k.ExpireTime != nil && !now.Before(*k.ExpireTime) {
		return identity.Principal{}, Unauthenticated(ReasonExpired, "the API key has expired")
	}
	a.touch(ctx, k.ID, now)
	return identity.Principal{Subject: "apiKeys/" + k.ID, Owner: k.Principal, Scopes: k.Scopes}, nil
}

// touch records the key's last use, at most once per TouchInterval per key and process.
func (a *Authenticator) touch(ctx context.Context, id string, now time.Time) {
	if last, ok := a.touched.Load(id); ok && now.Sub(last.(time.Time)) < a.opts.TouchInterval {
		return
	}
	a.touched.Store(id, now)
	if err := a.opts.Keys.Touch(ctx, id, now.Truncate(time.Minute)); err != nil {
		a.opts.Logger.WarnContext(ctx, "recording api key use failed", "key", id, "error", err)
	}
}

// Unauthenticated returns an UNAUTHENTICATED status error with an ErrorInfo of reason.
func Unauthenticated(reason, msg string) error {
	st := status.New(codes.Unauthenticated, msg)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain}); err == nil {
		st = d
	}
	return st.Err()
}
