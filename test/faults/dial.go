package main

import (
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
)

// identityEnv is the setting that makes a replica trust the driver's identity tokens. The
// program plays the gateway: it signs with identitytest's key pair, made once per process.
func identityEnv() string {
	return "QUARTERDECK_IDENTITY_PUBLIC_KEYS=" + identity.EncodePublicKey(identitytest.Signer().PublicKey())
}

// dial is the one place the program connects to a budget replica.
func dial(addr string) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		identitytest.DialOptionAs("apiKeys/faults", "budget.read", "budget.write"),
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
