package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Serve serves the gateway on lis until Shutdown: REST and gRPC on the one port, over TLS (HTTP/1.1
// and HTTP/2 by ALPN) when a certificate is configured, in cleartext otherwise (HTTP/1.1, and
// HTTP/2 with prior knowledge, h2c, which is how gRPC clients connect without TLS). It returns
// http.ErrServerClosed after Shutdown.
func (g *Gateway) Serve(lis net.Listener) error {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	if g.tls == nil {
		protocols.SetUnencryptedHTTP2(true)
	}
	hs := &http.Server{
		Handler:           g,
		Protocols:         &protocols,
		TLSConfig:         g.tls,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// A backstop: headers between the limit and twice the limit get the standard error JSON
		// from sizeLimits, larger ones the server's plain-text 431.
		MaxHeaderBytes: 2 * g.set.MaxHeaderBytes,
		// Failed TLS handshakes and the like are the clients' problems: debug level.
		ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
	}
	if err := g.setServer(hs); err != nil {
		return err
	}
	if g.tls != nil {
		return hs.ServeTLS(lis, "", "")
	}
	return hs.Serve(lis)
}

// TLS reports whether the gateway serves over TLS.
func (g *Gateway) TLS() bool { return g.tls != nil }

func (g *Gateway) setServer(hs *http.Server) error {
	g.serverMu.Lock()
	defer g.serverMu.Unlock()
	if g.server != nil {
		return errors.New("gateway: Serve called twice")
	}
	g.server = hs
	return nil
}

// Shutdown stops accepting connections and waits, until ctx ends, for the calls in flight;
// then it ends the remaining ones (long gRPC streams) by closing their connections.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.serverMu.Lock()
	hs := g.server
	g.serverMu.Unlock()
	if hs == nil {
		return nil
	}
	err := hs.Shutdown(ctx)
	if err != nil {
		err = errors.Join(fmt.Errorf("gateway shutdown: %w", err), hs.Close())
	}
	return err
}

// authenticate asks the Authenticator who is calling. Its status errors pass as they are (with an
// ErrorInfo added if missing); any other error is the gateway's failure, a bare INTERNAL.
func (g *Gateway) authenticate(ctx context.Context, authorization string) (caller, error) {
	if g.auth == nil {
		return caller{}, nil
	}
	p, md, err := g.auth.Authenticate(ctx, authorization)
	if err == nil {
		return caller{principal: p, md: md}, nil
	}
	st, ok := status.FromError(err)
	if !ok {
		g.log.ErrorContext(ctx, "authentication failed", "error", err)
		return caller{}, edgeError(codes.Internal, "INTERNAL", "internal error").Err()
	}
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.ErrorInfo); ok {
			return caller{}, st.Err()
		}
	}
	return caller{}, edgeError(st.Code(), code.Code(st.Code()).String(), st.Message()).Err()
}

func restMarshaler(mux *runtime.ServeMux, r *http.Request) runtime.Marshaler {
	_, out := runtime.MarshalerForRequest(mux, r)
	return out
}

// duplicateAuthorization is the refusal of a call with more than one Authorization header: which
// one counts would be a guess, and a proxy in front may have checked the other.
func duplicateAuthorization() *status.Status {
	return edgeError(codes.InvalidArgument, ReasonDuplicateAuthorization, "a request may carry one Authorization header")
}

// authenticateREST authenticates a REST call and applies the per-caller rate limit.
func (g *Gateway) authenticateREST(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.Header.Values("Authorization")) > 1 {
			writeStatus(w, http.StatusBadRequest, duplicateAuthorization())
			return
		}
		if st := unsendableCondition(r.Header); st != nil {
			writeStatus(w, http.StatusBadRequest, st)
			return
		}
		c, err := g.authenticate(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			g.errorHandler(r.Context(), g.mux, restMarshaler(g.mux, r), &challenger{ResponseWriter: w}, r, err)
			return
		}
		if c.principal.Subject != "" {
			if ok, after := g.perKey.allow(c.principal.Subject, time.Now()); !ok {
				w.Header().Set("Retry-After", retryAfterSeconds(after))
				writeStatus(w, http.StatusTooManyRequests, rateLimited("for this caller", after))
				return
			}
		}
		// grpc-gateway forwards Authorization whatever the header matcher says; the service gets
		// the signed identity instead, never the client's credentials. The request is copied
		// with a header map of its own that lacks it (the values are shared: nothing after this
		// changes them in place), rather than cloned deeply.
		r = r.WithContext(withCaller(r.Context(), c))
		r.Header = withoutAuthorization(r.Header)
		next.ServeHTTP(w, r)
	})
}

// withoutAuthorization returns a copy of h without its Authorization header.
func withoutAuthorization(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		if k != "Authorization" {
			out[k] = vs
		}
	}
	return out
}
