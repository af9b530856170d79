// Package identity carries the authenticated caller of a request through a service: the gateway
// establishes who is calling, and every service reads it from the context to authorize the call
// and to name the actor in its audit trail.
package identity

import "context"

// System is the actor of changes a service makes on its own behalf (reacting to an event, a
// scheduled job), as opposed to on a caller's request.
const System = "system"

// Principal is an authenticated caller.
type Principal struct {
	// Subject identifies the caller's credential: `apiKeys/{id}` for an API key, `users/{sub}`
	// for an OIDC token's subject. Audit records name it.
	Subject string
	// Owner is the principal the credential belongs to — the person or workload behind it —
	// when it is not Subject itself: an API key belongs to whoever minted it (`users/{sub}`,
	// `principals/{id}`). Empty means Subject. See Who.
	Owner string
	// Scopes are the permissions the caller holds, e.g. `budget.read`.
	Scopes []string
}

// Who returns the principal behind the caller: Owner, or Subject when the credential is its
// own principal (an OIDC user). Rules that compare people — an approver may not be the
// submitter — compare Who, never Subject: two keys of one person are one person.
func (p Principal) Who() string {
	if p.Owner != "" {
		return p.Owner
	}
	return p.Subject
}

// Has reports whether p holds scope.
func (p Principal) Has(scope string) bool {
	for _, s := range p.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

type ctxKey struct{}

type tokenKey struct{}

// ContextWithToken returns a context carrying the signed identity token of the request, so
// that calls the service makes on the caller's behalf can forward it (see Forward).
func ContextWithToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}

// TokenFromContext returns the signed identity token the request of ctx arrived with.
func TokenFromContext(ctx context.Context) (string, bool) {
	t, ok := ctx.Value(tokenKey{}).(string)
	return t, ok && t != ""
}

// NewContext returns a context carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal of the request ctx belongs to.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// Actor names who is acting in ctx for audit records: the principal's subject (the credential,
// e.g. the API key), or System.
func Actor(ctx context.Context) string {
	if p, ok := FromContext(ctx); ok && p.Subject != "" {
		return p.Subject
	}
	return System
}

// Owner names the principal acting in ctx (Principal.Who), or System. Separation-of-duties rules
// store and compare it — the submitter of what an approver decides, the requester of a transfer
// — so that a second key minted by the same person is still that person.
func Owner(ctx context.Context) string {
	if p, ok := FromContext(ctx); ok && p.Who() != "" {
		return p.Who()
	}
	return System
}
