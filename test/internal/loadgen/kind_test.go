package loadgen

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type quotaError struct{}

func (quotaError) Error() string { return "quota" }
func (quotaError) Kind() string  { return "quota" }

func TestKind(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{quotaError{}, "quota"},
		{fmt.Errorf("create: %w", quotaError{}), "quota"},
		{status.Error(codes.Unavailable, "down"), "UNAVAILABLE"},
		{fmt.Errorf("call: %w", status.Error(codes.FailedPrecondition, "state")), "FAILED_PRECONDITION"},
		{status.Error(codes.Canceled, "gone"), "CANCELLED"},
		{status.Error(codes.Code(99), "odd"), "CODE_99"},
		{context.DeadlineExceeded, "timeout"},
		{fmt.Errorf("get: %w", context.DeadlineExceeded), "timeout"},
		{errors.New("boom"), "other"},
		{context.Canceled, "other"},
	} {
		if got := Kind(c.err); got != c.want {
			t.Errorf("Kind(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
