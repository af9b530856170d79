package fault_test

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// errNotFound is a sentinel as a domain package declares it.
var errNotFound = fault.New(fault.NotFound, "COST_CENTER_NOT_FOUND", "the cost centre does not exist")

func TestNew(t *testing.T) {
	e := fault.New(fault.AlreadyExists, "COST_CENTER_EXISTS", "exists")
	if e.Kind != fault.AlreadyExists || e.Reason != "COST_CENTER_EXISTS" || e.Message != "exists" {
		t.Fatalf("New = %+v, want kind ALREADY_EXISTS, reason COST_CENTER_EXISTS, message exists", e)
	}
	if e.Metadata != nil || e.Violations != nil {
		t.Fatalf("New = %+v, want no metadata and no violations", e)
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		name string
		err  *fault.Error
	}{
		{name: "message", err: fault.New(fault.NotFound, "X", "message")},
		{name: "reason only", err: fault.New(fault.NotFound, "COST_CENTER_NOT_FOUND", "")},
		{name: "violations", err: &fault.Error{Kind: fault.InvalidArgument, Reason: "R",
			Violations: []fault.Violation{{Field: "a", Reason: "REQUIRED"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err.Error() == "" {
				t.Fatalf("Error() of %+v is empty; every fault must describe itself", tt.err)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	tests := []struct {
		kind fault.Kind
		want string
	}{
		{fault.Internal, "INTERNAL"},
		{fault.InvalidArgument, "INVALID_ARGUMENT"},
		{fault.NotFound, "NOT_FOUND"},
		{fault.AlreadyExists, "ALREADY_EXISTS"},
		{fault.FailedPrecondition, "FAILED_PRECONDITION"},
		{fault.Aborted, "ABORTED"},
		{fault.PermissionDenied, "PERMISSION_DENIED"},
		{fault.Unauthenticated, "UNAUTHENTICATED"},
		{fault.ResourceExhausted, "RESOURCE_EXHAUSTED"},
		{fault.Unavailable, "UNAVAILABLE"},
		{fault.Kind(99), "Kind(99)"},
		{fault.Kind(-1), "Kind(-1)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.kind.String(); got != tt.want {
				t.Fatalf("Kind(%d).String() = %q, want %q", int(tt.kind), got, tt.want)
			}
		})
	}
}

func TestIs(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{name: "itself", err: errNotFound, target: errNotFound, want: true},
		{name: "With", err: errNotFound.With("name", "costCenters/a"), target: errNotFound, want: true},
		{name: "Withf", err: errNotFound.Withf("cost centre %s is gone", "a"), target: errNotFound, want: true},
		{name: "wrapped once", err: fmt.Errorf("get: %w", errNotFound.With("name", "a")), target: errNotFound, want: true},
		{name: "wrapped twice", err: fmt.Errorf("handler: %w", fmt.Errorf("store: %w", errNotFound)), target: errNotFound, want: true},
		{name: "joined", err: errors.Join(io.EOF, errNotFound), target: errNotFound, want: true},
		{name: "equal value, distinct pointer", err: fault.New(fault.NotFound, "COST_CENTER_NOT_FOUND", "other text"), target: errNotFound, want: true},
		{name: "same kind, other reason", err: fault.New(fault.NotFound, "PARENT_NOT_FOUND", ""), target: errNotFound, want: false},
		{name: "same reason, other kind", err: fault.New(fault.FailedPrecondition, "COST_CENTER_NOT_FOUND", ""), target: errNotFound, want: false},
		{name: "plain error", err: errors.New("COST_CENTER_NOT_FOUND"), target: errNotFound, want: false},
		{name: "fault against plain target", err: errNotFound, target: io.EOF, want: false},
		{name: "Invalid matches ReasonInvalid", err: fault.Invalid(fault.Violation{Field: "a"}),
			target: fault.New(fault.InvalidArgument, fault.ReasonInvalid, ""), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errors.Is(tt.err, tt.target); got != tt.want {
				t.Fatalf("errors.Is(%v, %v) = %v, want %v", tt.err, tt.target, got, tt.want)
			}
		})
	}
}

func TestWithCopies(t *testing.T) {
	base := fault.New(fault.NotFound, "R", "m")
	a := base.With("name", "a")
	b := a.With("parent", "p")
	c := a.With("name", "changed")

	if base.Metadata != nil {
		t.Fatalf("With mutated the receiver: metadata %v", base.Metadata)
	}
	if len(a.Metadata) != 1 || a.Metadata["name"] != "a" {
		t.Fatalf("a.Metadata = %v, want only name=a", a.Metadata)
	}
	if len(b.Metadata) != 2 || b.Metadata["name"] != "a" || b.Metadata["parent"] != "p" {
		t.Fatalf("b.Metadata = %v, want name=a and parent=p", b.Metadata)
	}
	if c.Metadata["name"] != "changed" || a.Metadata["name"] != "a" {
		t.Fatalf("overwriting a key leaked into the source: a=%v c=%v", a.Metadata, c.Metadata)
	}
	if a == base || b == a {
		t.Fatal("With returned its receiver instead of a copy")
	}
}

func TestWithfCopies(t *testing.T) {
	base := fault.New(fault.NotFound, "R", "original").With("k", "v")
	got := base.Withf("cost centre %s of %d", "a", 2)
	if got.Message != "cost centre a of 2" {
		t.Fatalf("Withf message = %q, want the formatted text", got.Message)
	}
	if base.Message != "original" {
		t.Fatalf("Withf mutated the receiver's message to %q", base.Message)
	}
	if got.Kind != base.Kind || got.Reason != base.Reason || got.Metadata["k"] != "v" {
		t.Fatalf("Withf = %+v, want kind, reason and metadata of %+v", got, base)
	}
	got.Metadata["k"] = "changed"
	if base.Metadata["k"] != "v" {
		t.Fatal("Withf shares its metadata map with the receiver")
	}
}

func TestInvalid(t *testing.T) {
	if err := fault.Invalid(); err != nil {
		t.Fatalf("Invalid() = %#v, want a nil error", err)
	}
	var none []fault.Violation
	if err := fault.Invalid(none...); err != nil {
		t.Fatalf("Invalid(nil...) = %#v, want a nil error", err)
	}

	vs := []fault.Violation{
		{Field: "display_name", Reason: "REQUIRED", Description: "d"},
		{Field: "code", Reason: "STRING_PATTERN", Description: "d"},
	}
	err := fault.Invalid(vs...)
	fe := fault.As(err)
	if fe == nil {
		t.Fatalf("Invalid(...) = %v, want a *fault.Error", err)
	}
	if fe.Kind != fault.InvalidArgument || fe.Reason != fault.ReasonInvalid {
		t.Fatalf("Invalid kind/reason = %v/%s, want INVALID_ARGUMENT/%s", fe.Kind, fe.Reason, fault.ReasonInvalid)
	}
	if !slices.Equal(fe.Violations, vs) {
		t.Fatalf("Invalid violations = %+v, want %+v", fe.Violations, vs)
	}
}

func TestPrefix(t *testing.T) {
	plain := errors.New("boom")
	noViolations := fault.New(fault.NotFound, "R", "")
	tests := []struct {
		name       string
		err        error
		wantFields []string // nil: the error must come back unchanged
	}{
		{name: "nil", err: nil},
		{name: "plain error", err: plain},
		{name: "wrapped plain error", err: fmt.Errorf("x: %w", plain)},
		{name: "fault without violations", err: noViolations},
		{
			name: "violations",
			err: fault.Invalid(fault.Violation{Field: "display_name", Reason: "REQUIRED"},
				fault.Violation{Field: "code", Reason: "STRING_PATTERN"}),
			wantFields: []string{"cost_center.display_name", "cost_center.code"},
		},
		{
			name:       "wrapped violations",
			err:        fmt.Errorf("validate: %w", fault.Invalid(fault.Violation{Field: "owner", Reason: "TOO_LONG"})),
			wantFields: []string{"cost_center.owner"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fault.Prefix("cost_center", tt.err)
			if tt.wantFields == nil {
				if got != tt.err {
					t.Fatalf("Prefix(%v) = %v, want the error unchanged", tt.err, got)
				}
				return
			}
			fe := fault.As(got)
			if fe == nil {
				t.Fatalf("Prefix(%v) = %v, want a *fault.Error", tt.err, got)
			}
			var fields []string
			for _, v := range fe.Violations {
				fields = append(fields, v.Field)
			}
			if !slices.Equal(fields, tt.wantFields) {
				t.Fatalf("prefixed fields = %q, want %q", fields, tt.wantFields)
			}
			if !errors.Is(got, fault.New(fault.InvalidArgument, fault.ReasonInvalid, "")) {
				t.Fatalf("Prefix(%v) no longer matches its kind and reason", tt.err)
			}
		})
	}
}

func TestPrefixKeepsReasonsAndOriginal(t *testing.T) {
	orig := fault.Invalid(
		fault.Violation{Field: "display_name", Reason: "REQUIRED", Description: "d1"},
		fault.Violation{Field: "code", Reason: "STRING_PATTERN", Description: "d2"},
	)
	before := slices.Clone(fault.As(orig).Violations)

	got := fault.As(fault.Prefix("cost_center", orig))
	if got == nil || got == fault.As(orig) {
		t.Fatal("Prefix did not return a new *fault.Error")
	}
	for i, v := range got.Violations {
		if v.Reason != before[i].Reason || v.Description != before[i].Description {
			t.Fatalf("violation %d = %+v, want reason and description of %+v", i, v, before[i])
		}
	}
	if after := fault.As(orig).Violations; !slices.Equal(after, before) {
		t.Fatalf("Prefix mutated the original's violations: %+v, want %+v", after, before)
	}

	// Nested prefixes compose from the inside out.
	nested := fault.As(fault.Prefix("request", fault.Prefix("cost_center", orig)))
	if nested.Violations[0].Field != "request.cost_center.display_name" {
		t.Fatalf("nested prefix field = %q, want request.cost_center.display_name", nested.Violations[0].Field)
	}
}

func TestAs(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want *fault.Error
	}{
		{name: "nil", err: nil, want: nil},
		{name: "plain", err: errors.New("x"), want: nil},
		{name: "fault", err: errNotFound, want: errNotFound},
		{name: "wrapped fault", err: fmt.Errorf("a: %w", fmt.Errorf("b: %w", errNotFound)), want: errNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fault.As(tt.err); got != tt.want {
				t.Fatalf("As(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestField(t *testing.T) {
	fe := fault.As(fault.Field("amount", "AMOUNT_NOT_POSITIVE", "amount must be positive"))
	want := []fault.Violation{{Field: "amount", Reason: "AMOUNT_NOT_POSITIVE", Description: "amount must be positive"}}
	if fe == nil || fe.Kind != fault.InvalidArgument || fe.Reason != fault.ReasonInvalid || !slices.Equal(fe.Violations, want) {
		t.Fatalf("Field = %+v, want INVALID_ARGUMENT/%s with %+v", fe, fault.ReasonInvalid, want)
	}
}

func TestViolations(t *testing.T) {
	var vs fault.Violations
	if err := vs.Err(); err != nil {
		t.Fatalf("Err of no violations = %v, want nil", err)
	}
	vs.Add("display_name", "REQUIRED", "display_name is required")
	vs.Add("code", "INVALID_FORMAT", "code is malformed")
	fe := fault.As(vs.Err())
	want := []fault.Violation{
		{Field: "display_name", Reason: "REQUIRED", Description: "display_name is required"},
		{Field: "code", Reason: "INVALID_FORMAT", Description: "code is malformed"},
	}
	if fe == nil || fe.Kind != fault.InvalidArgument || fe.Reason != fault.ReasonInvalid || !slices.Equal(fe.Violations, want) {
		t.Fatalf("Err = %+v, want INVALID_ARGUMENT with %+v", fe, want)
	}
}

func TestOnFieldMethod(t *testing.T) {
	base := fault.New(fault.InvalidArgument, "PHASING_LENGTH", "phasing needs 12 amounts").With("count", "3")
	got := base.OnField("budget_line.phasing.amounts", "")
	want := []fault.Violation{{Field: "budget_line.phasing.amounts", Reason: "PHASING_LENGTH", Description: "phasing needs 12 amounts"}}
	if got.Reason != "PHASING_LENGTH" || got.Message != base.Message || got.Metadata["count"] != "3" || !slices.Equal(got.Violations, want) {
		t.Fatalf("OnField = %+v, want reason, message and metadata kept with %+v", got, want)
	}
	if len(base.Violations) != 0 {
		t.Fatalf("OnField changed its receiver: %+v", base)
	}
	if got := base.OnField("x", "amount 2 is negative"); got.Violations[0].Description != "amount 2 is negative" || got.Message != base.Message {
		t.Fatalf("OnField with a description = %+v", got)
	}
}

func TestOnField(t *testing.T) {
	precise := fault.New(fault.InvalidArgument, "AMOUNT_TOO_PRECISE", "too precise")
	fe := fault.As(fault.OnField(fmt.Errorf("parse: %w", precise), "actual.amount"))
	want := []fault.Violation{{Field: "actual.amount", Reason: "AMOUNT_TOO_PRECISE", Description: "too precise"}}
	if fe == nil || fe.Reason != "AMOUNT_TOO_PRECISE" || !slices.Equal(fe.Violations, want) {
		t.Fatalf("OnField = %+v, want %+v", fe, want)
	}
	located := precise.OnField("a", "")
	plain := errors.New("boom")
	for _, err := range []error{nil, plain, errNotFound, located} {
		if got := fault.OnField(err, "b"); got != err {
			t.Errorf("OnField(%v) = %v, want it unchanged", err, got)
		}
	}
}

func TestNamed(t *testing.T) {
	sentinel := fault.New(fault.NotFound, "BUDGET_NOT_FOUND", "budget not found")
	fe := fault.As(fault.Named(fmt.Errorf("get: %w", sentinel), "budgets/b1"))
	if fe == nil || fe.Reason != "BUDGET_NOT_FOUND" || fe.Message != "budget budgets/b1 not found" || fe.Metadata["name"] != "budgets/b1" {
		t.Fatalf("Named = %+v, want BUDGET_NOT_FOUND, \"budget budgets/b1 not found\", name budgets/b1", fe)
	}
	if !errors.Is(fe, sentinel) || sentinel.Metadata != nil || sentinel.Message != "budget not found" {
		t.Fatalf("Named changed its sentinel or lost it: %+v, %+v", fe, sentinel)
	}
	// A message of another form keeps its text; the name is still in the metadata.
	fe = fault.As(fault.Named(errNotFound, "costCenters/x"))
	if fe.Message != errNotFound.Message || fe.Metadata["name"] != "costCenters/x" {
		t.Fatalf("Named = %+v", fe)
	}
	invalid := fault.Field("name", "INVALID_NAME", "d")
	plain := errors.New("boom")
	for _, err := range []error{nil, plain, invalid} {
		if got := fault.Named(err, "budgets/b1"); got != err {
			t.Errorf("Named(%v) = %v, want it unchanged", err, got)
		}
	}
}
