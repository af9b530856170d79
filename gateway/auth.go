package gateway

import (
	"context"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
)

// Authenticator authenticates the caller of a REST or gRPC call from the value of its
// Authorization header and returns the principal and the gRPC metadata to forward to the
// service (the signed internal identity). Errors are gRPC status errors (UNAUTHENTICATED with ErrorInfo).
type Authenticator interface {
	Authenticate(ctx context.Context, authorization string) (identity.Principal, metadata.MD, error)
}

// ReservedMetadataPrefix starts every metadata key that only the gateway may set, such as the
// signed internal identity (x-quarterdeck-identity…). Keys with this prefix that a client sends,
// as gRPC metadata or as a REST `Grpc-Metadata-` header, are dropped before the call is forwarded,
// so a client can never inject an identity of its own.
const ReservedMetadataPrefix = "x-quarterdeck-"

// caller is what the edge learnt about the caller of a request, carried in its context from the
// authentication step to the forwarding of the call.
type caller struct {
	principal identity.Principal
	md        metadata.MD // to add to the outgoing call: the signed identity
}

type callerKey struct{}

func withCaller(ctx context.Context, c caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

func callerFrom(ctx context.Context) (caller, bool) {
	c, ok := ctx.Value(callerKey{}).(caller)
	return c, ok
}

// forwardable reports whether the client-sent metadata key may travel on to a service. It drops
// the reserved prefix, the client's credentials (the service gets the signed identity instead),
// and the transport's own headers, which the outgoing call sets for itself.
func forwardable(key string) bool {
	key = strings.ToLower(key)
	switch {
	case strings.HasPrefix(key, ReservedMetadataPrefix),
		strings.HasPrefix(key, ":"),
		strings.HasPrefix(key, "grpc-"),
		key == "authorization", key == "content-type", key == "user-agent", key == "te",
		key == "connection", key == "keep-alive", key == "proxy-connection", key == "transfer-encoding",
		key == "upgrade", key == "host":
		return false
	}
	return true
}
