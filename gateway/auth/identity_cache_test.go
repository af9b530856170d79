package auth_test

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quarterdeck/quarterdeck/gateway/auth"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestForwardedIdentityIsReusedButAuthenticationIsNot checks that the gateway signs a caller's
// identity once per half lifetime, while it still authenticates every request: a revocation
// applies to the next request, a scope change once the key's cached look-up has expired.
func TestForwardedIdentityIsReusedButAuthenticationIsNot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db := testenv.SQLite(t)
	gdb, err := auth.OpenDatabase(ctx, db.DSN, sqldb.Options{Schema: db.Schema, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer gdb.Close()
	keys := auth.NewStore(gdb)
	clock := &testClock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	for id, scopes := range map[string][]string{"a": {"budget.read"}, "b": {"budget.read", "budget.write"}} {
		if err := keys.Create(ctx, &auth.Key{ID: id, DisplayName: id, Hash: auth.HashKey("secret-" + id), Prefix: "qdk_" + id,
			Scopes: scopes, Principal: auth.BootstrapPrincipal, Creator: "apiKeys/bootstrap", CreateTime: clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	pub, priv, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := identity.NewSigner(priv, identity.SignerOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := identity.NewVerifier([]ed25519.PublicKey{pub}, identity.VerifierOptions{Now: clock.Now, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	authn, err := auth.New(auth.Options{Keys: keys, Signer: signer, Logger: quiet, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	forwarded := func(secret string) (string, error) {
		t.Helper()
		_, md, err := authn.Authenticate(ctx, "Bearer "+secret)
		if err != nil {
			return "", err
		}
		v := md.Get(identity.MetadataKey)
		if len(v) != 1 {
			t.Fatalf("forwarded identities: %v", v)
		}
		return v[0], nil
	}
	mustForward := func(secret string) string {
		t.Helper()
		tok, err := forwarded(secret)
		if err != nil {
			t.Fatalf("authenticate %s: %v", secret, err)
		}
		return tok
	}
	names := func(tok string, subject string, scopes ...string) {
		t.Helper()
		p, err := verifier.Verify(tok)
		if err != nil || p.Subject != subject || !slices.Equal(p.Scopes, scopes) {
			t.Fatalf("forwarded identity = %+v, %v; want %s %v", p, err, subject, scopes)
		}
	}

	first := mustForward("secret-a")
	names(first, "apiKeys/a", "budget.read")
	clock.Add(identity.DefaultTTL/2 - time.Second)
	if again := mustForward("secret-a"); again != first {
		t.Fatal("a second call within half the lifetime got a newly signed identity")
	}
	other := mustForward("secret-b")
	if other == first {
		t.Fatal("two callers share a forwarded identity")
	}
	names(other, "apiKeys/b", "budget.read", "budget.write")

	clock.Add(time.Second)
	renewed := mustForward("secret-a")
	if renewed == first {
		t.Fatal("a forwarded identity was reused after half its lifetime")
	}
	names(renewed, "apiKeys/a", "budget.read")

	// A scope change (only the bootstrap key's, at a start) applies once the key's cached
	// look-up is older than its TTL: other scopes, another identity.
	if err := keys.SetScopes(ctx, "a", []string{"budget.read", "iam.admin"}); err != nil {
		t.Fatal(err)
	}
	clock.Add(auth.MaxKeyCacheTTL)
	widened := mustForward("secret-a")
	if widened == renewed {
		t.Fatal("the identity of the old scopes was forwarded after a scope change")
	}
	names(widened, "apiKeys/a", "budget.read", "iam.admin")

	// A revoked key is refused at once, though its identity is still in the cache.
	if _, err := keys.Revoke(ctx, "a", clock.Now()); err != nil {
		t.Fatal(err)
	}
	if tok, err := forwarded("secret-a"); status.Code(err) != codes.Unauthenticated || tok != "" {
		t.Fatalf("revoked key: token %q, err %v; want UNAUTHENTICATED", tok, err)
	}
	if tok := mustForward("secret-b"); tok != mustForward("secret-b") {
		t.Fatal("the other caller's identity was re-signed within its window")
	}
}
