package testkit

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
)

// Errors checks the errors of one service: every error the platform maps carries an ErrorInfo in
// the service's domain.
type Errors struct {
	// Domain is the ErrorInfo domain, e.g. "budget.quarterdeck.io"; empty accepts any.
	Domain string
}

// ErrorsOf returns the Errors of the service with this domain name, e.g. "budget".
func ErrorsOf(service string) Errors { return Errors{Domain: host.ErrorDomain(service)} }

// Assert fails the test unless err is a gRPC status with code whose ErrorInfo has reason (in the
// domain, when one is set) and whose BadRequest lists exactly fields, in order; no fields means
// no violations. A field is "path" or "path:REASON" to check the violation's reason too:
//
//	errs.Assert(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "cost_center.code:STRING_PATTERN")
//
// A wrong code ends the test at once (nothing else is worth comparing); a wrong reason or wrong
// fields are reported together.
func (e Errors) Assert(t testing.TB, err error, code codes.Code, reason string, fields ...string) {
	t.Helper()
	if st, ok := status.FromError(err); err == nil || !ok || st.Code() != code {
		t.Fatalf("err = %v, want code %v", err, code)
	}
	info, vs := rpc.Details(err)
	if info == nil || info.GetReason() != reason || e.Domain != "" && info.GetDomain() != e.Domain {
		want := reason
		if e.Domain != "" {
			want += " in " + e.Domain
		}
		t.Errorf("ErrorInfo = %v, want reason %s", info, want)
	}
	got := make([]string, len(vs))
	for i, v := range vs {
		got[i] = v.GetField()
		if i < len(fields) && strings.Contains(fields[i], ":") {
			got[i] += ":" + v.GetReason()
		}
	}
	if !slices.Equal(got, fields) {
		all := make([]string, len(vs))
		for i, v := range vs {
			all[i] = v.GetField() + ":" + v.GetReason()
		}
		t.Errorf("field violations = %v, want %v", all, fields)
	}
}

// AssertStatus is Errors.Assert without a domain, for errors whose domain is not the point.
func AssertStatus(t testing.TB, err error, code codes.Code, reason string, fields ...string) {
	t.Helper()
	Errors{}.Assert(t, err, code, reason, fields...)
}
