package identity_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
)

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	clock    *clock
	signer   *identity.Signer
	verifier *identity.Verifier
	pub      ed25519.PublicKey
}

func newFixture(t testing.TB, cacheSize int) *fixture {
	t.Helper()
	pub, priv, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	s, err := identity.NewSigner(priv, identity.SignerOptions{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	v, err := identity.NewVerifier([]ed25519.PublicKey{pub}, identity.VerifierOptions{Now: c.Now, CacheSize: cacheSize})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{clock: c, signer: s, verifier: v, pub: pub}
}

func (f *fixture) sign(t testing.TB, p identity.Principal) string {
	t.Helper()
	tok, err := f.signer.Sign(p)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerifierCacheHit(t *testing.T) {
	f := newFixture(t, 0)
	tok := f.sign(t, identity.Principal{Subject: "users/alice", Scopes: []string{"budget.read", "budget.write"}})
	first, err := f.verifier.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if n := f.verifier.CacheLen(); n != 1 {
		t.Fatalf("cache holds %d tokens after one verification, want 1", n)
	}
	// A caller changing the principal it got must not change what the next call gets.
	first.Scopes[0] = "iam.admin"
	second, err := f.verifier.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if second.Subject != "users/alice" || !slices.Equal(second.Scopes, []string{"budget.read", "budget.write"}) {
		t.Fatalf("cached Verify = %+v", second)
	}
	if n := f.verifier.CacheLen(); n != 1 {
		t.Fatalf("cache holds %d tokens after a hit, want 1", n)
	}
}

func TestVerifierCacheExpiredHitRejected(t *testing.T) {
	f := newFixture(t, 0)
	tok := f.sign(t, identity.Principal{Subject: "users/alice"})
	if _, err := f.verifier.Verify(tok); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(identity.DefaultTTL + identity.Leeway - time.Second)
	if _, err := f.verifier.Verify(tok); err != nil {
		t.Fatalf("cached token within its lifetime and leeway: %v", err)
	}
	f.clock.Add(2 * time.Second)
	for i := 0; i < 2; i++ { // the hit, then the full verification once the entry is gone
		if _, err := f.verifier.Verify(tok); !errors.Is(err, identity.ErrExpired) {
			t.Fatalf("expired cached token, attempt %d: err = %v, want ErrExpired", i, err)
		}
	}
	if n := f.verifier.CacheLen(); n != 0 {
		t.Fatalf("cache holds %d tokens after the only one expired, want 0", n)
	}
}

func TestVerifierCacheTamperedTokenMisses(t *testing.T) {
	f := newFixture(t, 0)
	tok := f.sign(t, identity.Principal{Subject: "users/alice", Scopes: []string{"budget.read"}})
	if _, err := f.verifier.Verify(tok); err != nil {
		t.Fatal(err)
	}
	// One byte changed anywhere: in the payload, in the signature, at the end.
	for _, i := range []int{5, len(tok) / 2, len(tok) - 10, len(tok) - 1} {
		b := []byte(tok)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		if _, err := f.verifier.Verify(string(b)); !errors.Is(err, identity.ErrInvalid) {
			t.Errorf("token with byte %d changed: err = %v, want ErrInvalid", i, err)
		}
	}
	if n := f.verifier.CacheLen(); n != 1 {
		t.Fatalf("cache holds %d tokens, want only the genuine one", n)
	}
}

func TestVerifierCacheBounded(t *testing.T) {
	const size = 50
	f := newFixture(t, size)
	for i := 0; i < 20*size; i++ {
		tok := f.sign(t, identity.Principal{Subject: fmt.Sprintf("users/u%d", i)})
		p, err := f.verifier.Verify(tok)
		if err != nil || p.Subject != fmt.Sprintf("users/u%d", i) {
			t.Fatalf("token %d: %+v, %v", i, p, err)
		}
		if n := f.verifier.CacheLen(); n > size {
			t.Fatalf("cache holds %d tokens after %d, bound %d", n, i+1, size)
		}
	}
	if n := f.verifier.CacheLen(); n != size {
		t.Fatalf("cache holds %d tokens, want it full at %d", n, size)
	}
	// Distinct invalid tokens, however many, are never cached.
	g := newFixture(t, size)
	for i := 0; i < 20*size; i++ {
		if _, err := g.verifier.Verify(fmt.Sprintf("qd1.e30.%d", i)); err == nil {
			t.Fatal("an invalid token verified")
		}
	}
	if n := g.verifier.CacheLen(); n != 0 {
		t.Fatalf("cache holds %d invalid tokens, want 0", n)
	}
}

func TestVerifierCacheEvictsExpiredFirst(t *testing.T) {
	const size = 8
	f := newFixture(t, size)
	for i := 0; i < size; i++ {
		if _, err := f.verifier.Verify(f.sign(t, identity.Principal{Subject: fmt.Sprintf("users/old%d", i)})); err != nil {
			t.Fatal(err)
		}
	}
	f.clock.Add(identity.DefaultTTL + identity.Leeway + time.Second)
	fresh := f.sign(t, identity.Principal{Subject: "users/new"})
	if _, err := f.verifier.Verify(fresh); err != nil {
		t.Fatal(err)
	}
	// The cache was full of expired tokens: the insert dropped all it looked at (up to its scan
	// limit, which is the size here), not just one.
	if n := f.verifier.CacheLen(); n != 1 {
		t.Fatalf("cache holds %d tokens, want the fresh one only", n)
	}
}

func TestVerifierCacheDisabled(t *testing.T) {
	f := newFixture(t, -1)
	tok := f.sign(t, identity.Principal{Subject: "users/alice"})
	for i := 0; i < 2; i++ {
		if _, err := f.verifier.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.verifier.CacheLen(); n != 0 {
		t.Fatalf("disabled cache holds %d tokens", n)
	}
}

// TestVerifierCacheConcurrent is for the race detector: verifications, evictions and expiries
// from many goroutines on a small cache.
func TestVerifierCacheConcurrent(t *testing.T) {
	f := newFixture(t, 16)
	toks := make([]string, 64)
	for i := range toks {
		toks[i] = f.sign(t, identity.Principal{Subject: fmt.Sprintf("users/u%d", i), Scopes: []string{"budget.read"}})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				tok := toks[(i*7+g)%len(toks)]
				p, err := f.verifier.Verify(tok)
				if err != nil || !p.Has("budget.read") {
					errs <- fmt.Errorf("goroutine %d: %+v, %v", g, p, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := f.verifier.CacheLen(); n > 16 {
		t.Fatalf("cache holds %d tokens, bound 16", n)
	}
}

func TestTokenCacheReusesForHalfTheLifetime(t *testing.T) {
	f := newFixture(t, 0)
	c := identity.NewTokenCache(f.signer, 0)
	alice := identity.Principal{Subject: "users/alice", Scopes: []string{"budget.read"}}
	first, err := c.Token(alice)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(identity.DefaultTTL/2 - time.Second)
	again, err := c.Token(alice)
	if err != nil || again != first {
		t.Fatalf("within half the lifetime: a new token (%v)", err)
	}
	// The reused token still has at least half its lifetime: a verifier half a TTL later, with
	// no leeway needed, accepts it.
	late, _ := identity.NewVerifier([]ed25519.PublicKey{f.pub}, identity.VerifierOptions{
		Now: func() time.Time { return f.clock.Now().Add(identity.DefaultTTL / 2) }, CacheSize: -1})
	if _, err := late.Verify(again); err != nil {
		t.Fatalf("reused token half a TTL later: %v", err)
	}
	f.clock.Add(time.Second)
	renewed, err := c.Token(alice)
	if err != nil || renewed == first {
		t.Fatalf("after half the lifetime: the old token again (%v)", err)
	}
	if p, err := f.verifier.Verify(renewed); err != nil || p.Subject != "users/alice" {
		t.Fatalf("renewed token: %+v, %v", p, err)
	}
}

func TestTokenCacheSeparatesPrincipals(t *testing.T) {
	f := newFixture(t, 0)
	c := identity.NewTokenCache(f.signer, 0)
	// Pairs a naive key (subject and scopes joined) could confuse.
	principals := []identity.Principal{
		{Subject: "users/alice", Scopes: []string{"budget.read"}},
		{Subject: "users/alice", Scopes: []string{"budget.read", "budget.write"}},
		{Subject: "users/alice", Scopes: []string{"budget.read,budget.write"}},
		{Subject: "users/alice\x00budget.read"},
		{Subject: "users/alice"},
		{Subject: "users/bob", Scopes: []string{"budget.read"}},
	}
	seen := map[string]int{}
	for i, p := range principals {
		tok, err := c.Token(p)
		if err != nil {
			t.Fatal(err)
		}
		if j, dup := seen[tok]; dup {
			t.Fatalf("principals %d and %d share a token", j, i)
		}
		seen[tok] = i
		got, err := f.verifier.Verify(tok)
		if err != nil || got.Subject != p.Subject || !slices.Equal(got.Scopes, p.Scopes) {
			t.Fatalf("token of %+v names %+v (%v)", p, got, err)
		}
	}
	if _, err := c.Token(identity.Principal{}); err == nil {
		t.Fatal("a token without a subject")
	}
}

func TestTokenCacheBounded(t *testing.T) {
	f := newFixture(t, 0)
	c := identity.NewTokenCache(f.signer, 10)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if _, err := c.Token(identity.Principal{Subject: fmt.Sprintf("users/u%d-%d", g, i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := c.Len(); n > 10 || n == 0 {
		t.Fatalf("cache holds %d principals, bound 10", n)
	}
}
