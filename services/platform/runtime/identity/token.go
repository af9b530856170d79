package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/bounded"
)

// MetadataKey is the gRPC metadata key that carries the signed identity token from the gateway
// to a service, and from a service to the services it calls on the caller's behalf.
const MetadataKey = "x-quarterdeck-identity"

// tokenVersion starts every token; it is part of the signed bytes, so a token cannot be
// reinterpreted under another format.
const tokenVersion = "qd1"

// maxTokenLen bounds the token a verifier looks at, so that a hostile caller cannot make it
// decode megabytes.
const maxTokenLen = 16 << 10

// Defaults of the token's lifetime and audience.
const (
	DefaultTTL      = 60 * time.Second
	DefaultAudience = "quarterdeck"
	// Leeway is the clock skew tolerated between the gateway and a service.
	Leeway = 5 * time.Second
)

// Errors of Verify. ErrExpired wraps ErrInvalid, so that callers who only care whether a token
// is usable test for ErrInvalid.
var (
	ErrInvalid = errors.New("identity: invalid token")
	ErrExpired = fmt.Errorf("%w: expired", ErrInvalid)
)

// claims is the signed payload of a token. The format is Quarterdeck's own rather than a JWT:
// one fixed algorithm (Ed25519) and one issuer leave no header to negotiate, so there is no
// algorithm to confuse.
type claims struct {
	KeyID    string   `json:"kid"`
	Subject  string   `json:"sub"`
	Owner    string   `json:"own,omitempty"`
	Scopes   []string `json:"scp"`
	Audience string   `json:"aud"`
	IssuedAt int64    `json:"iat"`
	Expiry   int64    `json:"exp"`
}

// Signer mints identity tokens. Only the gateway holds one: services hold public keys only, so
// a compromised service can verify identities but never mint one.
type Signer struct {
	key      ed25519.PrivateKey
	kid      string
	audience string
	ttl      time.Duration
	now      func() time.Time
}

// SignerOptions configures a Signer.
type SignerOptions struct {
	// Audience names the platform the tokens are for (default DefaultAudience).
	Audience string
	// TTL is how long a token is valid (default DefaultTTL).
	TTL time.Duration
	// Now replaces the clock in tests.
	Now func() time.Time
}

// NewSigner returns a signer with key.
func NewSigner(key ed25519.PrivateKey, opts SignerOptions) (*Signer, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("identity: the signing key is not an Ed25519 private key")
	}
	if opts.Audience == "" {
		opts.Audience = DefaultAudience
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	pub := key.Public().(ed25519.PublicKey)
	return &Signer{key: key, kid: KeyID(pub), audience: opts.Audience, ttl: opts.TTL, now: opts.Now}, nil
}

// PublicKey returns the key that verifies the signer's tokens.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// Sign returns a token naming p, valid for the signer's TTL.
func (s *Signer) Sign(p Principal) (string, error) {
	token, _, err := s.sign(p, s.now())
	return token, err
}

// sign returns a token naming p issued at now, and its expiry.
func (s *Signer) sign(p Principal, now time.Time) (string, time.Time, error) {
	if p.Subject == "" {
		return "", time.Time{}, errors.New("identity: a principal needs a subject")
	}
	exp := now.Add(s.ttl).Unix()
	payload, err := json.Marshal(claims{
		KeyID: s.kid, Subject: p.Subject, Owner: p.Owner, Scopes: p.Scopes, Audience: s.audience,
		IssuedAt: now.Unix(), Expiry: exp,
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("identity: encode token: %w", err)
	}
	signed := tokenVersion + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig := ed25519.Sign(s.key, []byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig), time.Unix(exp, 0), nil
}

// Verifier checks identity tokens against the gateway's public keys. It holds several keys so
// that the gateway's key can be rotated without downtime: add the new public key to every
// service, switch the gateway, then remove the old one.
//
// It caches the tokens it has verified (see VerifierOptions.CacheSize): the gateway reuses a
// caller's token for half its lifetime, so most calls carry a token the service has seen, and a
// map lookup replaces the signature check. Only tokens whose signature held are cached, so
// forged or malformed tokens cannot fill the cache; a cached token is still checked against the
// clock and the audience on every use.
type Verifier struct {
	keys     map[string]ed25519.PublicKey
	audience string
	now      func() time.Time
	cache    *bounded.Map[claims] // exact token → its verified claims; nil when disabled
}

// VerifierOptions configures a Verifier.
type VerifierOptions struct {
	// Audience is the audience tokens must name (default DefaultAudience).
	Audience string
	// Now replaces the clock in tests.
	Now func() time.Time
	// CacheSize bounds the cache of verified tokens (default DefaultCacheSize); a negative
	// size turns the cache off.
	CacheSize int
}

// NewVerifier returns a verifier accepting tokens signed by any of keys.
func NewVerifier(keys []ed25519.PublicKey, opts VerifierOptions) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, errors.New("identity: a verifier needs at least one public key")
	}
	if opts.Audience == "" {
		opts.Audience = DefaultAudience
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	v := &Verifier{keys: map[string]ed25519.PublicKey{}, audience: opts.Audience, now: opts.Now}
	if opts.CacheSize == 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if opts.CacheSize > 0 {
		v.cache = bounded.NewMap(opts.CacheSize, func(c claims) bool {
			return v.now().After(time.Unix(c.Expiry, 0).Add(Leeway))
		})
	}
	for _, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			return nil, errors.New("identity: a verification key is not an Ed25519 public key")
		}
		v.keys[KeyID(k)] = k
	}
	return v, nil
}

// Verify checks token's signature, audience and lifetime and returns its principal. Every
// failure wraps ErrInvalid; an expired token wraps ErrExpired.
func (v *Verifier) Verify(token string) (Principal, error) {
	if v.cache != nil {
		if c, ok := v.cache.Get(token); ok {
			if err := v.check(c); err != nil {
				v.cache.Delete(token)
				return Principal{}, err
			}
			return c.principal(), nil
		}
	}
	c, err := v.verify(token)
	if err != nil {
		return Principal{}, err
	}
	if err := v.check(c); err != nil {
		return Principal{}, err
	}
	if v.cache != nil {
		v.cache.Put(token, c)
	}
	return c.principal(), nil
}

// verify checks token's format and signature and returns its claims.
func (v *Verifier) verify(token string) (claims, error) {
	if len(token) > maxTokenLen {
		return claims{}, fmt.Errorf("%w: too long", ErrInvalid)
	}
	version, rest, ok := strings.Cut(token, ".")
	if !ok || version != tokenVersion {
		return claims{}, fmt.Errorf("%w: not a %s token", ErrInvalid, tokenVersion)
	}
	payloadB64, sigB64, ok := strings.Cut(rest, ".")
	if !ok {
		return claims{}, fmt.Errorf("%w: no signature", ErrInvalid)
	}
	// Strict decoding refuses the non-zero trailing bits a lax decoder ignores, so that a token
	// has one spelling: a token string changed in any byte is a different, invalid token, never
	// a second spelling of a valid one (the verified-token cache is keyed by the exact string).
	payload, err := strictB64.DecodeString(payloadB64)
	if err != nil {
		return claims{}, fmt.Errorf("%w: payload: %v", ErrInvalid, err)
	}
	sig, err := strictB64.DecodeString(sigB64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return claims{}, fmt.Errorf("%w: malformed signature", ErrInvalid)
	}
	// The key id is read before the signature is checked only to pick the key; nothing else of
	// the payload is trusted until the signature holds.
	var head struct {
		KeyID string `json:"kid"`
	}
	if err := json.Unmarshal(payload, &head); err != nil {
		return claims{}, fmt.Errorf("%w: payload: %v", ErrInvalid, err)
	}
	key, ok := v.keys[head.KeyID]
	if !ok {
		return claims{}, fmt.Errorf("%w: unknown key %q", ErrInvalid, head.KeyID)
	}
	if !ed25519.Verify(key, []byte(version+"."+payloadB64), sig) {
		return claims{}, fmt.Errorf("%w: bad signature", ErrInvalid)
	}
	var c claims
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return claims{}, fmt.Errorf("%w: payload: %v", ErrInvalid, err)
	}
	return c, nil
}

// check applies the verifier's audience and clock to verified claims: on every use, whether
// the claims come from the token or from the cache.
func (v *Verifier) check(c claims) error {
	now := v.now()
	switch {
	case c.Audience != v.audience:
		return fmt.Errorf("%w: audience %q", ErrInvalid, c.Audience)
	case c.Subject == "":
		return fmt.Errorf("%w: no subject", ErrInvalid)
	case now.After(time.Unix(c.Expiry, 0).Add(Leeway)):
		return ErrExpired
	case time.Unix(c.IssuedAt, 0).After(now.Add(Leeway)):
		return fmt.Errorf("%w: issued in the future", ErrInvalid)
	}
	return nil
}

var strictB64 = base64.RawURLEncoding.Strict()

// KeyID names a public key in tokens: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// GenerateKey returns a new Ed25519 key pair.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: generate key: %w", err)
	}
	return pub, priv, nil
}

// EncodePrivateKey renders a private key as the base64 of its 32-byte seed, the form
// ParsePrivateKey reads.
func EncodePrivateKey(key ed25519.PrivateKey) string {
	return base64.StdEncoding.EncodeToString(key.Seed())
}

// EncodePublicKey renders a public key as the base64 of its 32 bytes, the form ParsePublicKey
// reads.
func EncodePublicKey(key ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(key)
}

// ParsePrivateKey reads an Ed25519 private key: the base64 of its 32-byte seed, or a PKCS #8
// PEM block (`openssl genpkey -algorithm ed25519`).
func ParsePrivateKey(s string) (ed25519.PrivateKey, error) {
	s = strings.TrimSpace(s)
	if block, _ := pem.Decode([]byte(s)); block != nil {
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("identity: private key: %w", err)
		}
		ek, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("identity: private key is a %T, not Ed25519", k)
		}
		return ek, nil
	}
	seed, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("identity: private key: want the base64 of a 32-byte Ed25519 seed or a PKCS #8 PEM block")
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// ParsePublicKey reads an Ed25519 public key: the base64 of its 32 bytes, or a PKIX PEM block
// (`openssl pkey -pubout`).
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	if block, _ := pem.Decode([]byte(s)); block != nil {
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("identity: public key: %w", err)
		}
		ek, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("identity: public key is a %T, not Ed25519", k)
		}
		return ek, nil
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, errors.New("identity: public key: want the base64 of a 32-byte Ed25519 key or a PKIX PEM block")
	}
	return ed25519.PublicKey(raw), nil
}
