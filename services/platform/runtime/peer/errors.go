package peer

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
)

// Reasons (ErrorInfo.reason) of the errors the calling service's client receives when a call to
// a peer fails. Their ErrorInfo domain is the calling service's, like every error it returns.
const (
	// ReasonUnavailable: UNAVAILABLE — the peer is down, unreachable or did not answer in time.
	// Nothing was changed; the client may try again later. Metadata: peer.
	ReasonUnavailable = "PEER_UNAVAILABLE"
	// ReasonRefused: FAILED_PRECONDITION — the peer refused the check or reservation the call
	// depends on. Nothing was changed. Metadata: peer, peer_code (the peer's gRPC code, e.g.
	// PERMISSION_DENIED or NOT_FOUND) and peer_reason (the peer's own ErrorInfo reason); the
	// message is the peer's.
	ReasonRefused = "PEER_REFUSED"
)

// Metadata keys of the errors above.
const (
	MetadataPeer       = "peer"
	MetadataPeerCode   = "peer_code"
	MetadataPeerReason = "peer_reason"
)

// Error is a failed call to a peer. It unwraps to the *fault.Error that the calling service's
// client receives when a handler returns it (as it is or wrapped), so the rpc layer maps it in
// the calling service's domain; Code and Reason tell the calling service what the peer answered,
// for a handler that turns a particular refusal into an error of its own domain:
//
//	var pe *peer.Error
//	if errors.As(err, &pe) && pe.Reason() == "BUDGET_CLOSED" { … }
type Error struct {
	// Peer is the peer's name, Method the full method called.
	Peer, Method string
	// Status is the peer's answer, or the status gRPC made up when the peer did not answer.
	Status *status.Status
	fault  *fault.Error
}

// Error describes the failure for the calling service's logs: the peer's code and message.
func (e *Error) Error() string {
	return fmt.Sprintf("peer %s: %s: %s: %s", e.Peer, e.Method, e.Status.Code(), e.Status.Message())
}

// Unwrap returns what the calling service's client receives.
func (e *Error) Unwrap() error { return e.fault }

// Code is the peer's gRPC code.
func (e *Error) Code() codes.Code { return e.Status.Code() }

// Reason is the reason of the peer's ErrorInfo, or "" when it sent none.
func (e *Error) Reason() string {
	info, _ := rpc.Details(e.Status.Err())
	return info.GetReason()
}

// Unavailable reports whether the peer did not answer (ReasonUnavailable), as opposed to
// refusing.
func (e *Error) Unavailable() bool { return e.fault.Reason == ReasonUnavailable }

// WithFacts is err, a failed call to a peer, as the calling service's client receives it, with
// the metadata of the peer's own ErrorInfo added to it (the line, the available and requested
// amounts of a refused budget hold); the calling service's keys (peer, peer_code, peer_reason)
// win over the peer's. Any other error is returned as it is.
func WithFacts(err error) error {
	var pe *Error
	fe := fault.As(err)
	if !errors.As(err, &pe) || fe == nil {
		return err
	}
	info, _ := rpc.Details(pe.Status.Err())
	if len(info.GetMetadata()) == 0 {
		return fe
	}
	out := *fe
	out.Metadata = maps.Clone(info.GetMetadata())
	maps.Copy(out.Metadata, fe.Metadata)
	return &out
}

// translate turns the error of a call into what the calling service's client should see.
//
// The client called the calling service, not the peer, so the peer's code is not passed
// through: NOT_FOUND from the peer would read as "what you asked for does not exist",
// INVALID_ARGUMENT would point at fields of a request the client never sent. Every refusal
// becomes one FAILED_PRECONDITION, PEER_REFUSED, that names the peer and carries its code, reason
// and message, all of which the peer made for clients. A peer that does not answer is
// UNAVAILABLE, PEER_UNAVAILABLE, so the client tries again later. A peer's internal failure, or
// an identity the peer cannot verify (a deployment mistake, such as a key missing from the
// peer's settings), is the calling service's internal error: logged with the peer's answer,
// returned as a bare INTERNAL.
func (c *Conn) translate(ctx context.Context, method string, err error) error {
	// The caller's own client gave up: what the peer did no longer matters to anyone.
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("peer %s: %s: %w", c.name, method, ctx.Err())
	}
	st := status.Convert(err)
	e := &Error{Peer: c.name, Method: method, Status: st}
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.ResourceExhausted:
		e.fault = c.unavailable()
	case codes.Unauthenticated:
		if info, _ := rpc.Details(err); info.GetReason() == rpc.ReasonIdentityExpired {
			// The request outlived its identity: a new request gets a new one.
			e.fault = c.unavailable()
		} else {
			e.fault = fault.New(fault.Internal, "INTERNAL", "")
		}
	case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.FailedPrecondition,
		codes.PermissionDenied, codes.Aborted, codes.OutOfRange:
		e.fault = &fault.Error{Kind: fault.FailedPrecondition, Reason: ReasonRefused,
			Message: c.name + " refused: " + st.Message(),
			Metadata: map[string]string{
				MetadataPeer: c.name, MetadataPeerCode: code.Code(st.Code()).String(), MetadataPeerReason: e.Reason(),
			}}
	default: // Internal, Unknown, DataLoss, Unimplemented
		e.fault = fault.New(fault.Internal, "INTERNAL", "")
	}
	return e
}

func (c *Conn) unavailable() *fault.Error {
	return &fault.Error{Kind: fault.Unavailable, Reason: ReasonUnavailable,
		Message:  "the " + c.name + " service is unavailable; try again later",
		Metadata: map[string]string{MetadataPeer: c.name}}
}
