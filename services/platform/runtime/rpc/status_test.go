package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
)

func TestStatus(t *testing.T) {
	withInfo, err := status.New(codes.Aborted, "x").WithDetails(&errdetails.ErrorInfo{Reason: "OWN_REASON", Domain: "other.io"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		err          error
		wantCode     codes.Code
		wantReason   string
		wantDomain   string
		wantInternal bool
	}{
		{name: "status without ErrorInfo", err: status.Error(codes.Unavailable, "down"),
			wantCode: codes.Unavailable, wantReason: "UNAVAILABLE", wantDomain: domain},
		{name: "status resource exhausted", err: status.Error(codes.ResourceExhausted, "slow down"),
			wantCode: codes.ResourceExhausted, wantReason: "RESOURCE_EXHAUSTED", wantDomain: domain},
		{name: "status cancelled", err: status.Error(codes.Canceled, "gone"),
			wantCode: codes.Canceled, wantReason: "CANCELLED", wantDomain: domain},
		{name: "status internal", err: status.Error(codes.Internal, "x"),
			wantCode: codes.Internal, wantReason: "INTERNAL", wantDomain: domain, wantInternal: true},
		{name: "status unknown", err: status.Error(codes.Unknown, "x"),
			wantCode: codes.Unknown, wantReason: "UNKNOWN", wantDomain: domain, wantInternal: true},
		{name: "status with its own ErrorInfo", err: withInfo.Err(),
			wantCode: codes.Aborted, wantReason: "OWN_REASON", wantDomain: "other.io"},
		{name: "context cancelled", err: fmt.Errorf("query: %w", context.Canceled),
			wantCode: codes.Canceled, wantReason: "CANCELLED", wantDomain: domain},
		{name: "context deadline", err: context.DeadlineExceeded,
			wantCode: codes.DeadlineExceeded, wantReason: "DEADLINE_EXCEEDED", wantDomain: domain},
		{name: "plain error", err: errors.New("db password leaked"),
			wantCode: codes.Internal, wantReason: "INTERNAL", wantDomain: domain, wantInternal: true},
		{name: "internal fault", err: fault.New(fault.Internal, "BROKEN", "db password leaked"),
			wantCode: codes.Internal, wantReason: "INTERNAL", wantDomain: domain, wantInternal: true},
		{name: "wrapped fault", err: fmt.Errorf("a: %w", errCostCenterNotFound),
			wantCode: codes.NotFound, wantReason: "COST_CENTER_NOT_FOUND", wantDomain: domain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, internal := rpc.Status(tt.err, domain)
			if st.Code() != tt.wantCode || internal != tt.wantInternal {
				t.Fatalf("Status = %v, internal %v; want %v, internal %v", st.Code(), internal, tt.wantCode, tt.wantInternal)
			}
			info, _ := details(t, st)
			if info.GetReason() != tt.wantReason || info.GetDomain() != tt.wantDomain {
				t.Fatalf("ErrorInfo reason/domain = %q/%q, want %q/%q", info.GetReason(), info.GetDomain(), tt.wantReason, tt.wantDomain)
			}
		})
	}
}

func TestStatusNil(t *testing.T) {
	st, internal := rpc.Status(nil, domain)
	if st.Code() != codes.OK || internal || st.Err() != nil {
		t.Fatalf("Status(nil) = %v, internal %v; want OK", st.Code(), internal)
	}
}

func TestStatusHidesInternalText(t *testing.T) {
	for _, err := range []error{
		errors.New("db password leaked"),
		fmt.Errorf("store: %w", errors.New("db password leaked")),
		fault.New(fault.Internal, "BROKEN", "db password leaked"),
		fault.New(fault.Kind(42), "ODD", "db password leaked"),
	} {
		st, _ := rpc.Status(err, domain)
		if st.Message() != "internal error" {
			t.Errorf("Status(%v) message = %q, want %q", err, st.Message(), "internal error")
		}
		if raw := fmt.Sprint(st.Proto()); strings.Contains(strings.ToLower(raw), "password") {
			t.Errorf("Status(%v) reveals the error: %s", err, raw)
		}
	}
}

func TestStatusWrappedStatusKeepsOnlyItsOwnText(t *testing.T) {
	inner := status.Error(codes.Unavailable, "ledger is down")
	err := fmt.Errorf("call ledger at postgres://app:hunter2@db: %w", inner)
	st, internal := rpc.Status(err, domain)
	if st.Code() != codes.Unavailable || internal {
		t.Fatalf("Status = %v, internal %v; want Unavailable, not internal", st.Code(), internal)
	}
	if info, _ := details(t, st); info.GetReason() != "UNAVAILABLE" {
		t.Fatalf("ErrorInfo reason = %q, want UNAVAILABLE", info.GetReason())
	}
	if raw := fmt.Sprint(st.Proto()); strings.Contains(raw, "hunter2") {
		t.Fatalf("status reveals the wrapping error: %s", raw)
	}
}

func TestStatusFaultKinds(t *testing.T) {
	tests := []struct {
		kind fault.Kind
		want codes.Code
	}{
		{fault.InvalidArgument, codes.InvalidArgument},
		{fault.NotFound, codes.NotFound},
		{fault.AlreadyExists, codes.AlreadyExists},
		{fault.FailedPrecondition, codes.FailedPrecondition},
		{fault.Aborted, codes.Aborted},
		{fault.PermissionDenied, codes.PermissionDenied},
		{fault.Unauthenticated, codes.Unauthenticated},
		{fault.ResourceExhausted, codes.ResourceExhausted},
		{fault.Unavailable, codes.Unavailable},
		{fault.Internal, codes.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			st, internal := rpc.Status(fault.New(tt.kind, "SOME_REASON", "").With("k", "v"), domain)
			if st.Code() != tt.want {
				t.Fatalf("code = %v, want %v", st.Code(), tt.want)
			}
			if internal != (tt.kind == fault.Internal) {
				t.Fatalf("internal = %v for kind %v", internal, tt.kind)
			}
			if st.Message() == "" {
				t.Fatal("a fault without a message gave a status without one")
			}
			info, vs := details(t, st)
			if tt.kind == fault.Internal {
				if info.GetReason() != "INTERNAL" || len(info.GetMetadata()) != 0 {
					t.Fatalf("internal ErrorInfo = %v, want reason INTERNAL and no metadata", info)
				}
				return
			}
			if info.GetReason() != "SOME_REASON" || info.GetMetadata()["k"] != "v" || vs != nil {
				t.Fatalf("ErrorInfo = %v, violations %v; want reason SOME_REASON, metadata k=v, none", info, vs)
			}
		})
	}
}

func TestCodeClasses(t *testing.T) {
	tests := []struct {
		code         codes.Code
		server, user bool
	}{
		{codes.OK, false, false},
		{codes.Internal, true, false},
		{codes.Unknown, true, false},
		{codes.DataLoss, true, false},
		{codes.Unavailable, true, false},
		{codes.Unimplemented, true, false},
		{codes.InvalidArgument, false, true},
		{codes.NotFound, false, true},
		{codes.Aborted, false, true},
		{codes.DeadlineExceeded, false, true},
		{codes.Canceled, false, true},
		{codes.PermissionDenied, false, true},
	}
	for _, tt := range tests {
		if got := rpc.IsServerError(tt.code); got != tt.server {
			t.Errorf("IsServerError(%v) = %v, want %v", tt.code, got, tt.server)
		}
		if got := rpc.IsClientCode(tt.code); got != tt.user {
			t.Errorf("IsClientCode(%v) = %v, want %v", tt.code, got, tt.user)
		}
	}
}

func TestDetails(t *testing.T) {
	err := fault.Invalid(fault.Violation{Field: "cost_center.code", Reason: "REQUIRED", Description: "d"})
	st, _ := rpc.Status(err, domain)
	info, vs := rpc.Details(st.Err())
	if info.GetReason() != fault.ReasonInvalid || info.GetDomain() != domain {
		t.Errorf("ErrorInfo = %v", info)
	}
	if len(vs) != 1 || vs[0].GetField() != "cost_center.code" || vs[0].GetReason() != "REQUIRED" {
		t.Errorf("violations = %v", vs)
	}
	if info, vs := rpc.Details(errors.New("plain")); info != nil || vs != nil {
		t.Errorf("plain error: %v, %v", info, vs)
	}
}

// TestStatusDatabaseUnavailable: a database that is down reaches the client as UNAVAILABLE with
// DATABASE_UNAVAILABLE — on a read that no transaction runner translated too — and is logged as a
// server error with its cause; the driver's text does not reach the client.
func TestStatusDatabaseUnavailable(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("get risk ID: %w", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}),
		fmt.Errorf("begin: %w", &pgconn.PgError{Code: "57P03", Message: "the database system is shutting down"}),
	} {
		st, internal := rpc.Status(err, "risk.quarterdeck.io")
		if st.Code() != codes.Unavailable || !internal {
			t.Fatalf("Status(%v) = %v, internal %v; want UNAVAILABLE, logged with its cause", err, st.Code(), internal)
		}
		info, _ := rpc.Details(st.Err())
		if info.GetReason() != "DATABASE_UNAVAILABLE" || info.GetDomain() != "risk.quarterdeck.io" {
			t.Fatalf("ErrorInfo = %v", info)
		}
		if strings.Contains(st.Message(), "administrator") || strings.Contains(st.Message(), "shutting") {
			t.Fatalf("message %q carries the driver's text", st.Message())
		}
	}
}
