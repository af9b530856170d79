package rpc

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
)

// Reasons of the UNAUTHENTICATED errors a service returns (ErrorInfo.reason).
const (
	// ReasonIdentityMissing: the call carries no caller identity (it did not come through the
	// gateway, or through a service forwarding one).
	ReasonIdentityMissing = "IDENTITY_MISSING"
	// ReasonIdentityInvalid: the identity is malformed, signed by an unknown key or for another
	// audience.
	ReasonIdentityInvalid = "IDENTITY_INVALID"
	// ReasonIdentityExpired: the identity's short lifetime has passed.
	ReasonIdentityExpired = "IDENTITY_EXPIRED"
)

// unauthenticatedPrefix are the services any caller may reach without an identity: the health
// protocol, which load balancers and orchestrators probe anonymously.
var unauthenticatedPrefix = []string{"/grpc.health.v1.Health/"}

// authorize authenticates the caller of method from the identity token in the call's metadata
// and checks the method's policy and, for a unary call, the sensitive fields req sets. It
// returns ctx carrying the principal and the token, for handlers and for forwarding.
func (i *interceptors) authorize(ctx context.Context, method string, req any) (context.Context, error) {
	if i.identity == nil {
		return ctx, nil
	}
	for _, p := range unauthenticatedPrefix {
		if strings.HasPrefix(method, p) {
			return ctx, nil
		}
	}
	// One key's values, not FromIncomingContext: that copies the whole metadata, on every call.
	tokens := metadata.ValueFromIncomingContext(ctx, identity.MetadataKey)
	if len(tokens) == 0 || tokens[0] == "" {
		return ctx, fault.New(fault.Unauthenticated, ReasonIdentityMissing, "the call carries no caller identity")
	}
	if len(tokens) > 1 {
		return ctx, fault.New(fault.Unauthenticated, ReasonIdentityInvalid, "the call carries more than one caller identity")
	}
	p, err := i.identity.Verify(tokens[0])
	switch {
	case errors.Is(err, identity.ErrExpired):
		return ctx, fault.New(fault.Unauthenticated, ReasonIdentityExpired, "the caller identity has expired")
	case err != nil:
		i.log.DebugContext(ctx, "identity rejected", "method", method, "error", err.Error())
		return ctx, fault.New(fault.Unauthenticated, ReasonIdentityInvalid, "the caller identity is not valid")
	}
	if err := i.authz.Authorize(p, method); err != nil {
		return ctx, err
	}
	if m, ok := req.(proto.Message); ok {
		if err := i.authz.CheckWrites(p, m); err != nil {
			return ctx, err
		}
	}
	ctx = identity.NewContext(ctx, p)
	return identity.ContextWithToken(ctx, tokens[0]), nil
}

// owns checks a unary call's write against the owners of the resource it names (see
// ownership.Guard.Check). Streaming calls carry no single resource and are not checked.
func (i *interceptors) owns(ctx context.Context, method string, req any) error {
	if i.identity == nil || i.ownership == nil {
		return nil
	}
	m, ok := req.(proto.Message)
	if !ok {
		return nil
	}
	return i.ownership.Check(ctx, method, m)
}

// redact removes from a response the sensitive fields the caller may not read.
func (i *interceptors) redact(ctx context.Context, resp any) {
	if i.identity == nil {
		return
	}
	m, ok := resp.(proto.Message)
	if !ok {
		return
	}
	p, _ := identity.FromContext(ctx)
	i.authz.Redact(p, m)
}

// authorizedStream gives a streaming handler the authenticated context and applies the
// sensitive-field rules to each message in either direction.
type authorizedStream struct {
	grpc.ServerStream
	ctx context.Context
	i   *interceptors
}

func (s *authorizedStream) Context() context.Context { return s.ctx }

func (s *authorizedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if s.i.identity == nil {
		return nil
	}
	if pm, ok := m.(proto.Message); ok {
		p, _ := identity.FromContext(s.ctx)
		if err := s.i.authz.CheckWrites(p, pm); err != nil {
			st, _ := Status(err, s.i.domain)
			return st.Err()
		}
	}
	return nil
}

func (s *authorizedStream) SendMsg(m any) error {
	s.i.redact(s.ctx, m)
	return s.ServerStream.SendMsg(m)
}
