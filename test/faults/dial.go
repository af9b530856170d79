package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/quarterdeck/quarterdeck/services/platform/identity"
)

// caller is the identity the load driver acts as. The program plays the gateway: it holds the
// signing key, and the replicas it starts trust its public key (QUARTERDECK_IDENTITY_PUBLIC_KEYS).
var caller = sync.OnceValues(func() (*identity.Signer, error) {
	_, key, err := identity.GenerateKey()
	if err != nil {
		return nil, err
	}
	return identity.NewSigner(key, identity.SignerOptions{})
})

// identityEnv is the setting that makes a replica trust the driver's identity tokens.
func identityEnv() (string, error) {
	s, err := caller()
	if err != nil {
		return "", err
	}
	return "QUARTERDECK_IDENTITY_PUBLIC_KEYS=" + identity.EncodePublicKey(s.PublicKey()), nil
}

// signed sends a freshly signed identity token with every call.
type signed struct{ s *identity.Signer }

func (c signed) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	t, err := c.s.Sign(identity.Principal{Subject: "apiKeys/faults", Scopes: []string{"budget.read", "budget.write"}})
	if err != nil {
		return nil, err
	}
	return map[string]string{identity.MetadataKey: t}, nil
}

func (signed) RequireTransportSecurity() bool { return false }

// dial is the one place the program connects to a budget replica.
func dial(addr string) (*grpc.ClientConn, error) {
	s, err := caller()
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(signed{s}),
		// A killed replica comes back within seconds on the same port: reconnect quickly.
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{
			BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 500 * time.Millisecond,
		}, MinConnectTimeout: time.Second}),
	)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return conn, nil
}
