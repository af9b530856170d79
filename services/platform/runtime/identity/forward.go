package identity

import (
	"context"

	"google.golang.org/grpc/credentials"
)

// Forward returns call credentials that send the identity token of the request a service is
// serving along with every call it makes to another service, so that the callee authorizes the
// original caller, not the calling service. Use it as
// grpc.WithPerRPCCredentials(identity.Forward()). A call made outside any request (a
// background job) carries no identity and is refused by the callee.
func Forward() credentials.PerRPCCredentials { return forward{} }

type forward struct{}

func (forward) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	if t, ok := TokenFromContext(ctx); ok {
		return map[string]string{MetadataKey: t}, nil
	}
	return nil, nil
}

// RequireTransportSecurity is false: services talk over the cluster network, whose encryption
// (a mesh, or none on loopback) is the deployment's choice.
func (forward) RequireTransportSecurity() bool { return false }
