// Package rpc builds the gRPC server every Quarterdeck service runs: one interceptor chain for
// logging, panic recovery, request validation and error mapping, OpenTelemetry instrumentation,
// and the standard health service.
package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"buf.build/go/protovalidate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/protobuf/proto"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/authz"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/ownership"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/telemetry"
)

// Options configures a server.
type Options struct {
	// Domain is the ErrorInfo domain of every error the server returns, e.g. "budget.quarterdeck.io".
	Domain string
	Logger *slog.Logger
	// Validator checks requests against their protovalidate rules (default: a new validator).
	Validator protovalidate.Validator
	// MaxRecvMsgSize bounds a request message (default 4 MiB).
	MaxRecvMsgSize int
	// Identity verifies the caller identity every call must carry (see identity.MetadataKey);
	// with it, calls are authenticated and authorized by Authorizer. Nil turns both off, which
	// only tests of other interceptors do: host.Start always sets it.
	Identity *identity.Verifier
	// Authorizer reads the methods' scope declarations (default: authz.New(nil)).
	Authorizer *authz.Authorizer
	// Credentials secure the server's connections (nil: cleartext); see TLS.
	Credentials credentials.TransportCredentials
	// Ownership checks the writes of owned resources after a call is authorized and its request
	// validated (nil: none; scopes alone decide). It needs Identity.
	Ownership *ownership.Guard
}

// MaxConnectionAge is how long a server keeps a client connection before it asks the client to
// reconnect (gRPC GOAWAY; calls in flight finish).
const MaxConnectionAge = 5 * time.Minute

// Server is a gRPC server with Quarterdeck's interceptors and health service.
type Server struct {
	*grpc.Server
	Health *health.Server

	// For Local calls: the server's stats handler and interceptor chain, its limit on a
	// request, and its unary methods (RegisterService).
	stats   stats.Handler
	unary   grpc.UnaryServerInterceptor
	maxRecv int
	mu      sync.RWMutex
	methods map[string]localMethod
	closed  bool               // no new Local calls: the server is stopping
	calls   sync.WaitGroup     // Local calls in flight
	stopped context.Context    // ends when Stop cancels the Local calls in flight
	stop    context.CancelFunc // ends stopped
}

// NewServer returns a server whose every unary and streaming call goes through, outermost first:
// logging and error mapping (fault → status with ErrorInfo/BadRequest; internal errors logged
// with their trace id and returned as a bare INTERNAL), panic recovery, and request validation.
func NewServer(opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Validator == nil {
		v, err := protovalidate.New()
		if err != nil {
			return nil, fmt.Errorf("request validator: %w", err)
		}
		opts.Validator = v
	}
	if opts.MaxRecvMsgSize <= 0 {
		opts.MaxRecvMsgSize = 4 << 20
	}
	if opts.Identity != nil && opts.Authorizer == nil {
		opts.Authorizer = authz.New(nil)
	}
	i := &interceptors{domain: opts.Domain, log: opts.Logger, validator: opts.Validator,
		identity: opts.Identity, authz: opts.Authorizer, ownership: opts.Ownership}
	// Metrics name only the methods the server serves (read once it serves, when every service
	// is registered); any other method a client sends is one "unknown".
	var served func(string) bool
	// The stats handler and the unary chain of every call, from the network and Local alike.
	sh := telemetry.GRPCServerHandler(func(m string) bool { return served(m) })
	unary := i.unary
	sopts := []grpc.ServerOption{
		grpc.StatsHandler(sh),
		grpc.ChainUnaryInterceptor(unary),
		grpc.ChainStreamInterceptor(i.stream),
		grpc.MaxRecvMsgSize(opts.MaxRecvMsgSize),
		// A string that is not UTF-8 is the text rule's to refuse, not the codec's (codec.go).
		grpc.ForceServerCodecV2(newCodec()),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		// A client connection is asked to reconnect after a few minutes (calls in flight finish
		// on it), so that clients balancing over every replica (round_robin on a dns:/// target)
		// resolve the name again and spread over replicas added since they connected.
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionAge: MaxConnectionAge}),
	}
	if opts.Credentials != nil {
		sopts = append(sopts, grpc.Creds(opts.Credentials))
	}
	s := grpc.NewServer(sopts...)
	served = telemetry.ServedBy(s)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(s, hs)
	stopped, stop := context.WithCancel(context.Background())
	return &Server{Server: s, Health: hs, stats: sh, unary: unary, maxRecv: opts.MaxRecvMsgSize,
		methods: map[string]localMethod{}, stopped: stopped, stop: stop}, nil
}

type interceptors struct {
	domain    string
	log       *slog.Logger
	validator protovalidate.Validator
	identity  *identity.Verifier
	authz     *authz.Authorizer
	ownership *ownership.Guard
}

func (i *interceptors) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	// Taken before anything can return, so that no mark outlives its call.
	undecoded := refuseUndecodable(req)
	resp, err = i.guard(ctx, info.FullMethod, func() (any, error) {
		// Who is calling is settled before anything of the request is looked at.
		ctx, err := i.authorize(ctx, info.FullMethod, req)
		if err != nil {
			return nil, err
		}
		if undecoded != nil {
			return nil, undecoded
		}
		if err := applyEdgeMetadata(ctx, req); err != nil {
			return nil, err
		}
		if err := i.validate(req); err != nil {
			return nil, err
		}
		if err := i.owns(ctx, info.FullMethod, req); err != nil {
			return nil, err
		}
		resp, err := handler(ctx, req)
		i.redact(ctx, resp)
		return resp, err
	})
	return resp, i.finish(ctx, info.FullMethod, start, err)
}

func (i *interceptors) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	_, err := i.guard(ss.Context(), info.FullMethod, func() (any, error) {
		ctx, err := i.authorize(ss.Context(), info.FullMethod, nil)
		if err != nil {
			return nil, err
		}
		return nil, handler(srv, &validatingStream{ServerStream: &authorizedStream{ServerStream: ss, ctx: ctx, i: i}, i: i})
	})
	return i.finish(ss.Context(), info.FullMethod, start, err)
}

// guard turns a panic in fn into an internal error, logged with its stack, so that one bad
// request cannot take the process down.
func (i *interceptors) guard(ctx context.Context, method string, fn func() (any, error)) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			i.log.ErrorContext(ctx, "panic in handler", "method", method, "panic", fmt.Sprint(p),
				"stack", string(debug.Stack()))
			resp, err = nil, errors.New("panic in handler")
		}
	}()
	return fn()
}

// finish maps err to the status the client receives and logs the call: server errors at error
// level with the original cause, client errors as warnings, successes and calls the client
// canceled at debug level.
func (i *interceptors) finish(ctx context.Context, method string, start time.Time, err error) error {
	st, internal := Status(err, i.domain)
	// The logger (telemetry.NewLogger) adds the trace id of ctx to every record.
	attrs := []any{"method", method, "code", st.Code().String(), "duration", time.Since(start)}
	if id := metadata.ValueFromIncomingContext(ctx, "x-request-id"); len(id) > 0 {
		attrs = append(attrs, "request_id", id[0])
	}
	switch {
	case err == nil:
		i.log.DebugContext(ctx, "rpc", attrs...)
		return nil
	case internal || IsServerError(st.Code()):
		i.log.ErrorContext(ctx, "rpc failed", append(attrs, "error", err.Error())...)
	case st.Code() == codes.Canceled:
		// The caller went away, or the server is stopping its streams: nothing to act on.
		i.log.DebugContext(ctx, "rpc canceled", append(attrs, "error", err.Error())...)
	default:
		i.log.WarnContext(ctx, "rpc rejected", append(attrs, "error", err.Error())...)
	}
	return st.Err()
}

// validate checks req against the platform's text rule (walkText: UTF-8 without control
// characters in every string field, timestamps and durations in range) and its protovalidate
// rules, and reports the violations of both.
func (i *interceptors) validate(req any) error {
	msg, ok := req.(proto.Message)
	if !ok {
		return nil
	}
	var vs []fault.Violation
	walkText(msg.ProtoReflect(), "", &vs)
	err := i.validator.Validate(msg)
	if err == nil {
		return fault.Invalid(vs...)
	}
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) {
		// A rule that cannot be compiled or evaluated is our bug, not the client's.
		return fmt.Errorf("validate %T: %w", msg, err)
	}
	seen := map[string]bool{}
	for _, v := range ve.Violations {
		field := protovalidate.FieldPathString(v.Proto.GetField())
		seen[field] = true
		vs = append(vs, fault.Violation{
			Field:       field,
			Reason:      ruleReason(v.Proto.GetRuleId()),
			Description: v.Proto.GetMessage(),
		})
	}
	// With the schema's violations, the required fields that are missing: all in one answer.
	for _, v := range missingRequired(msg.ProtoReflect()) {
		if !seen[v.Field] {
			vs = append(vs, v)
		}
	}
	return fault.Invalid(vs...)
}

// ruleReason turns a protovalidate rule id ("string.pattern") into a stable UPPER_SNAKE_CASE
// violation reason ("STRING_PATTERN").
func ruleReason(ruleID string) string {
	r := strings.NewReplacer(".", "_", "-", "_").Replace(strings.ToUpper(ruleID))
	if r == "" {
		return "INVALID"
	}
	return r
}

// validatingStream validates each message a streaming client sends.
type validatingStream struct {
	grpc.ServerStream
	i *interceptors
}

func (s *validatingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if err := refuseUndecodable(m); err != nil {
		st, _ := Status(err, s.i.domain)
		return st.Err()
	}
	if err := s.i.validate(m); err != nil {
		st, _ := Status(err, s.i.domain)
		return st.Err()
	}
	return nil
}

// IsClientCode reports whether c is a code caused by the request rather than the server.
func IsClientCode(c codes.Code) bool { return c != codes.OK && !IsServerError(c) }
