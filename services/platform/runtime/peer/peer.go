// Package peer calls another domain service — a peer — over gRPC from inside a request, the way
// every cross-service check or reservation does (vendors asking budget CheckFunds before a
// contract is activated). A connection from Dial is a grpc.ClientConnInterface for the peer's
// generated client, and each unary call it makes:
//
//   - carries the caller's identity: the signed identity token of the request being served, so
//     that the peer authorizes and audits the original caller, not the calling service (ADR
//     0007; a service cannot mint identities). A call made outside any request, which has no
//     token to forward, fails before it leaves. The calling service's domain goes along as
//     MetadataVia, for the peer's logs and audit: it is what the caller says, never trusted for
//     authorization;
//   - has the request's deadline, or DefaultTimeout when the request has none: never a hang;
//   - continues the request's trace (W3C trace context) and forwards its x-request-id;
//   - is retried after UNAVAILABLE, with a bounded backoff, only when it is safe to repeat: a
//     method the protos declare free of side effects or idempotent (idempotency_level), a
//     method the REST mapping serves as GET, a request carrying a request_id (AIP-155), or a call
//     made with the Idempotent option;
//   - fails with an *Error that the calling service's client receives as UNAVAILABLE
//     (PEER_UNAVAILABLE) when the peer is down, unreachable or too slow, and as
//     FAILED_PRECONDITION (PEER_REFUSED) when the peer refuses, in the calling service's error
//     domain (see Error).
//
// Call a peer before the local transaction, never inside it: a peer that is down or refuses
// then leaves nothing half done, and a slow peer holds no database locks.
//
// Watch follows the peer's gRPC health, which the host reports in the calling service's own
// health service under HealthName(peer), so that a service whose peer is down keeps serving
// everything else while /readyz shows the peer's state.
package peer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/quarterdeck/quarterdeck/services/platform/internal/settings"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/telemetry"
)

// Defaults of Options.
const (
	// DefaultTimeout is the deadline of a call made in a context that has none.
	DefaultTimeout = 5 * time.Second
	// DefaultAttempts bounds the attempts of a call that may be retried, the first included.
	DefaultAttempts = 3
	// DefaultConnectTimeout bounds one attempt to connect to the peer, so that an address that
	// swallows packets fails the calls waiting on it instead of holding them to their deadline.
	DefaultConnectTimeout = 2 * time.Second
)

// MetadataVia is the metadata key under which a call names the service that made it on the
// original caller's behalf. The peer may log or audit it; it is not signed, so it never grants
// anything.
const MetadataVia = "x-quarterdeck-via"

// metadataRequestID is the request id the gateway gives every call (gateway.HeaderRequestID),
// forwarded so that the peer's log lines carry the request's id too.
const metadataRequestID = "x-request-id"

// Options configures the connection to a peer.
type Options struct {
	// Caller is the calling service's domain, e.g. "vendors", sent as MetadataVia.
	Caller string
	// Timeout is the deadline of a call whose context has none (default DefaultTimeout).
	Timeout time.Duration
	// Attempts bounds the attempts of a call that may be retried (default DefaultAttempts; 1
	// turns retries off).
	Attempts int
	// ConnectTimeout bounds one connection attempt (default DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// Idempotent lists full method names ("/quarterdeck.budget.v1.BudgetService/CheckFunds") that
	// may be retried although their protos do not say so.
	Idempotent []string
	// Logger logs retries and the peer's health changes (default slog.Default()).
	Logger *slog.Logger
	// DialOptions are added to the connection's, e.g. transport credentials for TLS.
	DialOptions []grpc.DialOption
}

// Conn is a connection to a peer. Its zero value is not usable; Dial makes one.
type Conn struct {
	name       string
	target     string
	cc         *grpc.ClientConn
	o          Options
	idempotent map[string]bool
	log        *slog.Logger
	status     atomic.Int32 // the peer's last known healthpb.HealthCheckResponse_ServingStatus
}

var _ grpc.ClientConnInterface = (*Conn)(nil)

// validName is a domain name as services use them: it becomes part of setting names
// (QUARTERDECK_PEER_<NAME>_ADDR) and of a health service name.
var validName = regexp.MustCompile(`^[a-z][a-z0-9]{0,30}$`)

// Dial returns a connection to the peer name (its domain, e.g. "budget") at target, a gRPC
// target such as "127.0.0.1:9001" or "dns:///budget:9001". Like grpc.NewClient it does not
// connect yet: a peer that is down fails the calls made to it, not Dial.
func Dial(name, target string, o Options) (*Conn, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("peer: name %q must be a domain name: lowercase letters and digits, starting with a letter", name)
	}
	if target == "" {
		return nil, fmt.Errorf("peer %s: no address", name)
	}
	settings.Default(&o.Timeout, DefaultTimeout)
	settings.Default(&o.Attempts, DefaultAttempts)
	settings.Default(&o.ConnectTimeout, DefaultConnectTimeout)
	settings.Logger(&o.Logger)
	c := &Conn{name: name, target: target, o: o, idempotent: map[string]bool{},
		log: o.Logger.With("peer", name)}
	for _, m := range o.Idempotent {
		c.idempotent[m] = true
	}
	c.status.Store(int32(healthpb.HealthCheckResponse_NOT_SERVING))
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(identity.Forward()),
		grpc.WithStatsHandler(telemetry.GRPCClientHandler()),
		grpc.WithChainUnaryInterceptor(c.intercept),
		// Calls spread over every replica the target resolves to (a headless Kubernetes Service).
		grpc.WithDefaultServiceConfig(rpc.RoundRobin),
		// Reconnect within a few seconds of a peer's return, however long it was away (gRPC's
		// default waits up to two minutes between attempts).
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: o.ConnectTimeout,
		}),
		// A peer that vanished without closing its connections (a partition, a killed node) is
		// noticed within half a minute, even by a health watch that is waiting for news. The
		// services' servers accept a ping every 10 s (rpc.NewServer).
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 20 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}),
	}, o.DialOptions...)
	cc, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, fmt.Errorf("peer %s at %s: %w", name, target, err)
	}
	c.cc = cc
	return c, nil
}

// Name is the peer's name, its domain.
func (c *Conn) Name() string { return c.name }

// Target is the address the connection dials.
func (c *Conn) Target() string { return c.target }

// Serving reports whether the peer's health, as Watch last saw it, was SERVING. Without a Watch
// it is false. A service may use it to tell a client at once that a feature is unavailable;
// calls are made whatever it says.
func (c *Conn) Serving() bool {
	return healthpb.HealthCheckResponse_ServingStatus(c.status.Load()) == healthpb.HealthCheckResponse_SERVING
}

// Invoke makes a unary call to the peer (see the package documentation).
func (c *Conn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return c.cc.Invoke(ctx, method, args, reply, opts...)
}

// NewStream opens a stream to the peer. A stream carries the caller's identity and trace
// context, but gets no default deadline, no retries and no error translation: peers answer
// decisions, which are unary.
func (c *Conn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.cc.NewStream(ctx, desc, method, opts...)
}

// Close closes the connection; calls in flight fail.
func (c *Conn) Close() error { return c.cc.Close() }

// errNoIdentity fails a call made outside a request: the peer would refuse it, and the calling
// service cannot sign an identity of its own.
var errNoIdentity = errors.New("no caller identity to forward: a peer is called on behalf of the request being served")

// intercept is the unary interceptor of every call: identity check, deadline, metadata,
// retries and error translation.
func (c *Conn) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if _, ok := identity.TokenFromContext(ctx); !ok {
		return fmt.Errorf("peer %s: %s: %w", c.name, method, errNoIdentity)
	}
	callCtx := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithTimeout(ctx, c.o.Timeout)
		defer cancel()
	}
	callCtx = c.outgoing(callCtx)
	retry := c.retryable(method, req, opts)
	var err error
	for attempt := 1; ; attempt++ {
		err = invoker(callCtx, method, req, reply, cc, opts...)
		if err == nil {
			return nil
		}
		if !retry || attempt >= c.o.Attempts || status.Code(err) != codes.Unavailable {
			break
		}
		d := backoffDelay(attempt)
		if dl, _ := callCtx.Deadline(); time.Until(dl) <= d {
			break // no time left for another attempt
		}
		c.log.DebugContext(ctx, "retrying a peer call", "method", method, "attempt", attempt, "error", err.Error())
		if !sleep(callCtx, d) {
			break
		}
	}
	return c.translate(ctx, method, err)
}

// outgoing adds the calling service's name and the request's id to the call's metadata.
func (c *Conn) outgoing(ctx context.Context) context.Context {
	kv := make([]string, 0, 4)
	if c.o.Caller != "" {
		kv = append(kv, MetadataVia, c.o.Caller)
	}
	if id := metadata.ValueFromIncomingContext(ctx, metadataRequestID); len(id) > 0 {
		kv = append(kv, metadataRequestID, id[0])
	}
	if len(kv) == 0 {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// Via returns the service that made the call being served on its caller's behalf, as it names
// itself (MetadataVia), or "" for a call from the gateway. It is for logs and audit records
// only: the caller's identity, not this, is what a service authorizes.
func Via(ctx context.Context) string {
	if v := metadata.ValueFromIncomingContext(ctx, MetadataVia); len(v) > 0 {
		return v[0]
	}
	return ""
}
