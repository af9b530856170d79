package main

import (
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/ownership"
)

// TestEveryServiceDeclaresOwnership keeps object-level authorization from being forgotten by a
// service added later (ADR 0014): every service the platform runs declares the ownership of
// its writes, and its rules cover every write method; only the briefing, a read model whose one
// write is a rebuild, has nothing a caller owns.
func TestEveryServiceDeclaresOwnership(t *testing.T) {
	for _, svc := range services(settings{}) {
		if svc.Ownership == nil {
			if svc.Domain != "briefing" {
				t.Errorf("%s declares no ownership (host.Service.Ownership)", svc.Domain)
			}
			continue
		}
		policy, rules := svc.Ownership(host.Deps{})
		if policy != ownership.Scopes {
			t.Errorf("%s's default write policy is %q; want %q, today's behaviour", svc.Domain, policy, ownership.Scopes)
		}
		if _, err := ownership.New(policy, rules...); err != nil {
			t.Errorf("%s: %v", svc.Domain, err)
		}
	}
}
