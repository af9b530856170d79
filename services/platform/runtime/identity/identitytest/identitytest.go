// Package identitytest gives tests a caller identity that services accept: one key pair per
// test process, a verifier for the services under test and call credentials for their clients.
//
//	in, err := host.Start(ctx, svc, host.Options{…, Identity: identitytest.Verifier()})
//	conn, err := grpc.NewClient(in.Addr(), insecure, identitytest.DialOption())
package identitytest

import (
	"context"
	"crypto/ed25519"
	"slices"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/authz"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
)

// Subject is the subject of the test principal.
const Subject = "apiKeys/test"

var keys = sync.OnceValues(func() (ed25519.PublicKey, ed25519.PrivateKey) {
	pub, priv, err := identity.GenerateKey()
	if err != nil {
		panic(err) // only if the system's random source fails
	}
	return pub, priv
})

// Signer returns the signer of the test process's key.
func Signer() *identity.Signer { return signer() }

var signer = sync.OnceValue(func() *identity.Signer {
	_, priv := keys()
	s, err := identity.NewSigner(priv, identity.SignerOptions{})
	if err != nil {
		panic(err)
	}
	return s
})

// tokens reuses the tokens of the call credentials and the Authenticator for half their
// lifetime, as the gateway does, so that benchmarks do not measure a signature per call.
var tokens = sync.OnceValue(func() *identity.TokenCache { return identity.NewTokenCache(signer(), 0) })

// Verifier returns a verifier of the test process's key, for the services under test.
func Verifier() *identity.Verifier {
	pub, _ := keys()
	v, err := identity.NewVerifier([]ed25519.PublicKey{pub}, identity.VerifierOptions{})
	if err != nil {
		panic(err)
	}
	return v
}

// AllScopes returns every scope declared by the protos linked into the test binary.
func AllScopes() []string { return slices.Clone(allScopes()) }

// allScopes walks the descriptors once: the set of linked protos does not change while a test
// binary runs.
var allScopes = sync.OnceValue(func() []string {
	_, scopes := authz.Catalogue(nil, "quarterdeck.")
	return scopes
})

// Principal returns the test principal with scopes, or with AllScopes when none are given.
func Principal(scopes ...string) identity.Principal {
	if len(scopes) == 0 {
		scopes = AllScopes()
	}
	return identity.Principal{Subject: Subject, Scopes: scopes}
}

// Token returns a fresh token of Principal(scopes...).
func Token(scopes ...string) string {
	t, err := Signer().Sign(Principal(scopes...))
	if err != nil {
		panic(err)
	}
	return t
}

// DialOption returns call credentials that send a token of Principal(scopes...) with every
// call. A token is reused until half its lifetime has passed, as the gateway does.
func DialOption(scopes ...string) grpc.DialOption {
	return grpc.WithPerRPCCredentials(creds{p: Principal(scopes...)})
}

// DialOptionAs is DialOption for another subject than Subject, e.g. a second person who approves
// what the first submitted.
func DialOptionAs(subject string, scopes ...string) grpc.DialOption {
	p := Principal(scopes...)
	p.Subject = subject
	return grpc.WithPerRPCCredentials(creds{p: p})
}

// DialOptionOf is DialOption for the credential subject belonging to the principal owner, e.g.
// a second API key of the person who holds the first.
func DialOptionOf(subject, owner string, scopes ...string) grpc.DialOption {
	p := Principal(scopes...)
	p.Subject, p.Owner = subject, owner
	return grpc.WithPerRPCCredentials(creds{p: p})
}

type creds struct{ p identity.Principal }

func (c creds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	t, err := tokens().Token(c.p)
	if err != nil {
		return nil, err
	}
	return map[string]string{identity.MetadataKey: t}, nil
}

func (creds) RequireTransportSecurity() bool { return false }

var _ credentials.PerRPCCredentials = creds{}

// Authenticator authenticates every caller, whatever it sends, as Principal(scopes...): a
// stand-in for the gateway's real authenticator in tests of other parts of the gateway.
type Authenticator struct{ Scopes []string }

// Authenticate implements the gateway's Authenticator.
func (a Authenticator) Authenticate(context.Context, string) (identity.Principal, metadata.MD, error) {
	p := Principal(a.Scopes...)
	t, err := tokens().Token(p)
	if err != nil {
		return identity.Principal{}, nil, err
	}
	return p, metadata.Pairs(identity.MetadataKey, t), nil
}

// PrivateKey returns the test process's signing key, for tests that sign unusual tokens
// (expired, another audience) that services must still attribute to the trusted key.
func PrivateKey() ed25519.PrivateKey {
	_, priv := keys()
	return priv
}
