package identity

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/bounded"
)

// DefaultCacheSize bounds the verifier's cache of verified tokens and the cache of signed tokens
// (TokenCache) unless configured otherwise. At a few hundred bytes an entry, 10,000 entries cost a
// few megabytes at most.
const DefaultCacheSize = 10_000

// CacheLen returns how many verified tokens the verifier holds in its cache, for tests and
// metrics.
func (v *Verifier) CacheLen() int {
	if v.cache == nil {
		return 0
	}
	return v.cache.Len()
}

// TokenCache hands out the tokens a Signer mints, reusing the token of a principal while more
// than half of its lifetime remains: a token it returns always has at least TTL/2 left, and a
// caller making many calls costs one signature per TTL/2 instead of one per call. It holds at
// most a bounded number of principals and is safe for concurrent use.
//
// It caches signing only, never authentication: whoever calls Token has already decided that the
// principal is who it claims to be.
type TokenCache struct {
	signer *Signer
	cache  *bounded.Map[signedToken]
}

type signedToken struct {
	token string
	// renew is when half of the token's lifetime has passed: from then on a new one is signed.
	renew time.Time
}

// NewTokenCache returns a cache of tokens signed by s, holding at most size principals
// (DefaultCacheSize when size is zero or less).
func NewTokenCache(s *Signer, size int) *TokenCache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	now := s.now
	return &TokenCache{signer: s, cache: bounded.NewMap(size, func(t signedToken) bool {
		return !now().Before(t.renew)
	})}
}

// Token returns a token naming p that is valid for at least half of the signer's TTL.
func (c *TokenCache) Token(p Principal) (string, error) {
	key := principalKey(p)
	now := c.signer.now()
	if t, ok := c.cache.Get(key); ok && now.Before(t.renew) {
		return t.token, nil
	}
	token, exp, err := c.signer.sign(p, now)
	if err != nil {
		return "", err
	}
	// exp is whole seconds, at most now+TTL: counting half the TTL back from it errs on the side
	// of renewing early.
	c.cache.Put(key, signedToken{token: token, renew: exp.Add(-c.signer.ttl / 2)})
	return token, nil
}

// Len returns how many principals the cache holds, for tests and metrics.
func (c *TokenCache) Len() int { return c.cache.Len() }

// principalKey encodes a principal unambiguously: every part is prefixed by its length, so that
// no subject or scope, whatever characters it holds, can make two principals share a key.
func principalKey(p Principal) string {
	var b strings.Builder
	b.Grow(len(p.Subject) + 8 + 16*len(p.Scopes))
	part := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	part(p.Subject)
	part(p.Owner)
	for _, s := range p.Scopes {
		part(s)
	}
	return b.String()
}

// principal returns the principal of verified claims; the scopes are copied so that a caller
// changing them cannot change the cached entry.
func (c claims) principal() Principal {
	return Principal{Subject: c.Subject, Owner: c.Owner, Scopes: slices.Clone(c.Scopes)}
}
