package identity

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"
)

// VerifierConfig is a service's identity setting, declared in a binary's settings struct under
// `prefix:"IDENTITY_"`: QUARTERDECK_IDENTITY_PUBLIC_KEYS and QUARTERDECK_IDENTITY_AUDIENCE.
type VerifierConfig struct {
	PublicKeys []string `env:"PUBLIC_KEYS" help:"the gateway's Ed25519 public keys (base64, comma-separated; several during a rotation) that verify the caller identity of every call"`
	Audience   string   `env:"AUDIENCE" default:"quarterdeck" help:"the audience identity tokens must name"`
}

// Verifier builds the verifier the settings describe.
func (c VerifierConfig) Verifier() (*Verifier, error) {
	if len(c.PublicKeys) == 0 {
		return nil, errors.New("QUARTERDECK_IDENTITY_PUBLIC_KEYS (--identity-public-keys) is required: the gateway's public key, which `quarterdeck-gateway identity-keygen` prints")
	}
	keys := make([]ed25519.PublicKey, 0, len(c.PublicKeys))
	for i, s := range c.PublicKeys {
		k, err := ParsePublicKey(s)
		if err != nil {
			return nil, fmt.Errorf("QUARTERDECK_IDENTITY_PUBLIC_KEYS item %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	return NewVerifier(keys, VerifierOptions{Audience: c.Audience})
}

// SignerConfig is the gateway's identity setting, declared under `prefix:"IDENTITY_"`:
// QUARTERDECK_IDENTITY_SIGNING_KEY, QUARTERDECK_IDENTITY_TTL and QUARTERDECK_IDENTITY_AUDIENCE.
type SignerConfig struct {
	SigningKey string        `env:"SIGNING_KEY" secret:"true" help:"the Ed25519 private key that signs the caller identity forwarded to services (base64 seed or PKCS #8 PEM)"`
	TTL        time.Duration `env:"TTL" default:"60s" help:"how long a forwarded identity is valid"`
	Audience   string        `env:"AUDIENCE" default:"quarterdeck" help:"the audience written into identity tokens; services must expect the same"`
}

// Signer builds the signer the settings describe.
func (c SignerConfig) Signer() (*Signer, error) {
	if c.SigningKey == "" {
		return nil, errors.New("QUARTERDECK_IDENTITY_SIGNING_KEY (--identity-signing-key) is required; `quarterdeck-gateway identity-keygen` makes a key pair")
	}
	k, err := ParsePrivateKey(c.SigningKey)
	if err != nil {
		return nil, fmt.Errorf("QUARTERDECK_IDENTITY_SIGNING_KEY: %w", err)
	}
	return NewSigner(k, SignerOptions{Audience: c.Audience, TTL: c.TTL})
}
