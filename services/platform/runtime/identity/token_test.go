package identity_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
)

func TestTokenRoundTripAndRejections(t *testing.T) {
	pub, priv, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	signer, err := identity.NewSigner(priv, identity.SignerOptions{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := identity.NewVerifier([]ed25519.PublicKey{pub}, identity.VerifierOptions{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := signer.Sign(identity.Principal{Subject: "users/alice", Scopes: []string{"budget.read"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := verifier.Verify(tok)
	if err != nil || p.Subject != "users/alice" || !p.Has("budget.read") || p.Has("budget.write") {
		t.Fatalf("Verify = %+v, %v", p, err)
	}

	parts := strings.Split(tok, ".")
	forgedPayload := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(
		mustDecode(t, parts[1]), `"budget.read"`, `"iam.admin"`, 1)))
	later := func(d time.Duration) *identity.Verifier {
		v, _ := identity.NewVerifier([]ed25519.PublicKey{pub}, identity.VerifierOptions{Now: func() time.Time { return now.Add(d) }})
		return v
	}
	cases := map[string]struct {
		v       *identity.Verifier
		token   string
		expired bool
	}{
		"empty":                 {verifier, "", false},
		"other version":         {verifier, "qd2." + parts[1] + "." + parts[2], false},
		"tampered payload":      {verifier, parts[0] + "." + forgedPayload + "." + parts[2], false},
		"no signature":          {verifier, parts[0] + "." + parts[1], false},
		"expired beyond leeway": {later(identity.DefaultTTL + identity.Leeway + time.Second), tok, true},
		"issued in the future":  {later(-time.Minute), tok, false},
		"too long":              {verifier, strings.Repeat("a", 20000), false},
	}
	for name, c := range cases {
		_, err := c.v.Verify(c.token)
		if !errors.Is(err, identity.ErrInvalid) || errors.Is(err, identity.ErrExpired) != c.expired {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	// Within the leeway the token still works.
	if _, err := later(identity.DefaultTTL + identity.Leeway - time.Second).Verify(tok); err != nil {
		t.Errorf("within leeway: %v", err)
	}
}

func TestKeyEncodings(t *testing.T) {
	pub, priv, _ := identity.GenerateKey()
	gotPriv, err := identity.ParsePrivateKey(identity.EncodePrivateKey(priv))
	if err != nil || !gotPriv.Equal(priv) {
		t.Fatalf("private key round trip: %v", err)
	}
	gotPub, err := identity.ParsePublicKey(identity.EncodePublicKey(pub))
	if err != nil || !gotPub.Equal(pub) {
		t.Fatalf("public key round trip: %v", err)
	}
	for _, bad := range []string{"", "bm90IGEga2V5", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"} {
		if _, err := identity.ParsePrivateKey(bad); err == nil {
			t.Errorf("ParsePrivateKey(%q) accepted", bad)
		}
		if _, err := identity.ParsePublicKey(bad); err == nil {
			t.Errorf("ParsePublicKey(%q) accepted", bad)
		}
	}
	if _, err := (identity.VerifierConfig{}).Verifier(); err == nil {
		t.Error("a verifier without keys was built")
	}
}

func mustDecode(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
