package gateway

import (
	"context"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

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
		w = &challenger{ResponseWriter: w}
		_, md, err := a.Authenticate(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			_, out := runtime.MarshalerForRequest(mux, r)
			errorHandler(r.Context(), mux, out, w, r, err)
			return
		}
		r.Header.Del("Authorization")
		// Only the gateway speaks for the caller: an identity smuggled in as a
		// Grpc-Metadata-* header must not reach the service next to the real one. The default
		// header matcher drops such headers already; this holds whatever matcher is configured.
		for k := range r.Header {
			if strings.EqualFold(strings.TrimPrefix(http.CanonicalHeaderKey(k), runtime.MetadataHeaderPrefix), identity.MetadataKey) {
				r.Header.Del(k)
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), forwardKey{}, md)))
	})
}

// forwardedIdentity is the runtime.WithMetadata hook that hands the identity to grpc-gateway.
func forwardedIdentity(ctx context.Context, _ *http.Request) metadata.MD {
	md, _ := ctx.Value(forwardKey{}).(metadata.MD)
	return md
}

// challenge is the WWW-Authenticate header of a 401 (RFC 6750). grpc-gateway's error handler
// puts the status message there, which is not a challenge clients can parse.
const challenge = `Bearer realm="quarterdeck"`

// challenger sets the WWW-Authenticate challenge on every 401.
type challenger struct{ http.ResponseWriter }

func (c *challenger) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		c.Header().Set("WWW-Authenticate", challenge)
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *challenger) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// Flush lets streamed responses through the wrapper.
func (c *challenger) Flush() { _ = http.NewResponseController(c.ResponseWriter).Flush() }
