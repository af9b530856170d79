package identity_test

import (
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
)

// BenchmarkVerify compares a verification from the cache with a full one (signature included).
func BenchmarkVerify(b *testing.B) {
	for _, bc := range []struct {
		name string
		size int
	}{{"cached", 0}, {"uncached", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFixture(b, bc.size)
			tok := f.sign(b, identity.Principal{Subject: "users/alice", Scopes: []string{"budget.read", "budget.write"}})
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := f.verifier.Verify(tok); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkSign compares a token from the TokenCache with a freshly signed one.
func BenchmarkSign(b *testing.B) {
	f := newFixture(b, 0)
	p := identity.Principal{Subject: "users/alice", Scopes: []string{"budget.read", "budget.write"}}
	b.Run("cached", func(b *testing.B) {
		c := identity.NewTokenCache(f.signer, 0)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := c.Token(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := f.signer.Sign(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
