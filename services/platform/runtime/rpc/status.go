package rpc

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

var kindCodes = map[fault.Kind]codes.Code{
	fault.Internal:           codes.Internal,
	fault.InvalidArgument:    codes.InvalidArgument,
	fault.NotFound:           codes.NotFound,
	fault.AlreadyExists:      codes.AlreadyExists,
	fault.FailedPrecondition: codes.FailedPrecondition,
	fault.Aborted:            codes.Aborted,
	fault.PermissionDenied:   codes.PermissionDenied,
	fault.Unauthenticated:    codes.Unauthenticated,
	fault.ResourceExhausted:  codes.ResourceExhausted,
	fault.Unavailable:        codes.Unavailable,
}

// IsServerError reports whether a code means the server failed rather than the client asked for
// something it may not have; the former are logged as errors, the latter as warnings.
func IsServerError(c codes.Code) bool {
	switch c {
	case codes.Internal, codes.Unknown, codes.DataLoss, codes.Unavailable, codes.Unimplemented:
		return true
	}
	return false
}

// Status converts the error of a handler into the status a client receives. domain is the
// ErrorInfo domain of the service (e.g. "budget.quarterdeck.io").
//
//   - a *fault.Error keeps its kind, reason, message, metadata and field violations;
//   - a status error created elsewhere (e.g. by gRPC itself) passes through, with an ErrorInfo added
//     when it has none;
//   - context cancellation and deadlines become CANCELLED and DEADLINE_EXCEEDED;
//   - a database that cannot be reached or is not serving (sqldb.IsUnavailable), on any path —
//     a transaction or a plain read — becomes UNAVAILABLE, DATABASE_UNAVAILABLE (HTTP 503), which
//     a client retries, rather than a 500; it is logged with its cause like an internal error;
//   - anything else is an internal error: the client sees a bare INTERNAL and nothing of its text.
//
// internal reports the last case, so that the caller logs the original error.
func Status(err error, domain string) (st *status.Status, internal bool) {
	if err == nil {
		return status.New(codes.OK, ""), false
	}
	if fe := fault.As(err); fe != nil {
		return faultStatus(fe, domain), fe.Kind == fault.Internal
	}
	// errors.As rather than status.FromError: for a wrapped status, FromError puts the whole
	// err.Error() in the message, which would hand the wrapping text to the client.
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		st := se.GRPCStatus()
		return withErrorInfo(st, domain), st.Code() == codes.Internal || st.Code() == codes.Unknown
	}
	switch {
	case errors.Is(err, context.Canceled):
		return withErrorInfo(status.New(codes.Canceled, "the request was cancelled"), domain), false
	case errors.Is(err, context.DeadlineExceeded):
		return withErrorInfo(status.New(codes.DeadlineExceeded, "the request ran out of time"), domain), false
	case sqldb.IsUnavailable(err):
		return faultStatus(fault.As(sqldb.ErrUnavailable), domain), true
	}
	return internalStatus(domain), true
}

func internalStatus(domain string) *status.Status {
	st := status.New(codes.Internal, "internal error")
	return withDetails(st, &errdetails.ErrorInfo{Reason: "INTERNAL", Domain: domain})
}

func faultStatus(fe *fault.Error, domain string) *status.Status {
	code, ok := kindCodes[fe.Kind]
	if !ok || fe.Kind == fault.Internal {
		return internalStatus(domain)
	}
	msg := fe.Message
	if msg == "" {
		msg = code.String()
	}
	st := status.New(code, msg)
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: fe.Reason, Domain: domain, Metadata: fe.Metadata}}
	if len(fe.Violations) > 0 {
		br := &errdetails.BadRequest{}
		for _, v := range fe.Violations {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
				Field:       v.Field,
				Reason:      v.Reason,
				Description: v.Description,
			})
		}
		details = append(details, br)
	}
	return withDetails(st, details...)
}

// withErrorInfo adds an ErrorInfo to st unless it carries one, so that every error a client sees
// has a machine-readable reason.
func withErrorInfo(st *status.Status, domain string) *status.Status {
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.ErrorInfo); ok {
			return st
		}
	}
	return withDetails(st, &errdetails.ErrorInfo{Reason: code.Code(st.Code()).String(), Domain: domain})
}

func withDetails(st *status.Status, details ...protoadapt.MessageV1) *status.Status {
	withD, err := st.WithDetails(details...)
	if err != nil {
		return st // only fails for a nil or OK status, which never reaches here
	}
	return withD
}

// Details returns the ErrorInfo and the field violations that an error from a Quarterdeck service
// carries (nil and none for any other error), so that callers — other services included — branch
// on reasons and field paths rather than messages.
func Details(err error) (info *errdetails.ErrorInfo, violations []*errdetails.BadRequest_FieldViolation) {
	st, ok := status.FromError(err)
	if !ok {
		return nil, nil
	}
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.BadRequest:
			violations = append(violations, d.GetFieldViolations()...)
		}
	}
	return info, violations
}
