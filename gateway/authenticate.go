package gateway

import (
	"context"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	iamv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/iam/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/identity"
)

// Authenticator authenticates the caller of a REST or gRPC call from the value of its
// Authorization header and returns the principal and the gRPC metadata to forward to the
// service (the signed internal identity). Errors are gRPC status errors (UNAUTHENTICATED with
// ErrorInfo).
type Authenticator interface {
	Authenticate(ctx context.Context, authorization string) (identity.Principal, metadata.MD, error)
}

// adminRegistrars are the APIs the gateway process serves itself; they are mounted when
// Options.Backends names their address (the gateway's own admin server).
var adminRegistrars = map[string]func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
	"iam": iamv1.RegisterApiKeyServiceHandler,
}

type forwardKey struct{}

// authenticate authenticates every REST call before grpc-gateway sees it: a caller that fails
// gets the authenticator's status (401) without reaching a service; one that passes has its
// signed identity forwarded, and its Authorization header is not (services never see secrets).
func authenticate(a Authenticator, mux *runtime.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, md, err := a.Authenticate(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			if status.Code(err) == codes.Unauthenticated {
				w.Header().Set("WWW-Authenticate", `Bearer realm="quarterdeck"`)
			}
			_, out := runtime.MarshalerForRequest(mux, r)
			errorHandler(r.Context(), mux, out, w, r, err)
			return
		}
		r.Header.Del("Authorization")
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), forwardKey{}, md)))
	})
}

// forwardedIdentity is the runtime.WithMetadata hook that hands the identity to grpc-gateway.
func forwardedIdentity(ctx context.Context, _ *http.Request) metadata.MD {
	md, _ := ctx.Value(forwardKey{}).(metadata.MD)
	return md
}
