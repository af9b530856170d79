// Package fault defines the errors that domain code returns to its callers. It knows nothing of
// gRPC or SQL: the rpc package maps a fault to a gRPC status with google.rpc.ErrorInfo and, for
// invalid input, google.rpc.BadRequest field violations. Any error that is not a *Error is an
// internal error and never reaches a client with its text.
package fault

import (
	"errors"
	"fmt"
	"maps"
	"strings"
)

// Kind classifies an error the way a client needs to react to it. Each kind maps to one
// canonical gRPC code.
type Kind int

// The kinds, named after the canonical gRPC codes they map to.
const (
	Internal Kind = iota
	InvalidArgument
	NotFound
	AlreadyExists
	FailedPrecondition
	Aborted
	PermissionDenied
	Unauthenticated
	ResourceExhausted
	Unavailable
)

var kindNames = [...]string{
	Internal:           "INTERNAL",
	InvalidArgument:    "INVALID_ARGUMENT",
	NotFound:           "NOT_FOUND",
	AlreadyExists:      "ALREADY_EXISTS",
	FailedPrecondition: "FAILED_PRECONDITION",
	Aborted:            "ABORTED",
	PermissionDenied:   "PERMISSION_DENIED",
	Unauthenticated:    "UNAUTHENTICATED",
	ResourceExhausted:  "RESOURCE_EXHAUSTED",
	Unavailable:        "UNAVAILABLE",
}

// String returns the canonical code name of the kind.
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Violation names one field of a request that is not acceptable and why.
type Violation struct {
	// Field is the path of the field in the request, with proto field names, e.g.
	// "cost_center.display_name".
	Field string
	// Reason is a stable UPPER_SNAKE_CASE code, e.g. "REQUIRED".
	Reason string
	// Description says what is wrong, for a human.
	Description string
}

// Error is a failure a client can act on. Reason is stable and machine-readable (UPPER_SNAKE_CASE,
// unique within a service); Message is for humans; Metadata adds facts such as the resource name.
type Error struct {
	Kind       Kind
	Reason     string
	Message    string
	Metadata   map[string]string
	Violations []Violation
}

// New returns an error of the given kind and reason. Domains declare their sentinel errors with it
// and compare them with errors.Is, which matches on kind and reason.
func New(kind Kind, reason, message string) *Error {
	return &Error{Kind: kind, Reason: reason, Message: message}
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	if b.Len() == 0 {
		b.WriteString(strings.ToLower(e.Reason))
	}
	for _, v := range e.Violations {
		fmt.Fprintf(&b, "; %s: %s", v.Field, v.Description)
	}
	return b.String()
}

// Is reports whether target is an *Error of the same kind and reason, so that an error derived
// with With, Withf or Prefix still matches its sentinel.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && t.Reason == e.Reason
}

// With returns a copy of e carrying one more metadata entry.
func (e *Error) With(key, value string) *Error {
	c := e.clone()
	if c.Metadata == nil {
		c.Metadata = make(map[string]string, 1)
	}
	c.Metadata[key] = value
	return c
}

// Withf returns a copy of e whose message is formatted from format and args.
func (e *Error) Withf(format string, args ...any) *Error {
	c := e.clone()
	c.Message = fmt.Sprintf(format, args...)
	return c
}

func (e *Error) clone() *Error {
	c := *e
	c.Metadata = maps.Clone(e.Metadata)
	c.Violations = append([]Violation(nil), e.Violations...)
	return &c
}

// ReasonInvalid is the reason of every InvalidArgument error built from field violations.
const ReasonInvalid = "INVALID_ARGUMENT"

// Invalid returns an InvalidArgument error listing the violations. It returns nil when there are
// none, so callers can collect violations and return Invalid(vs...) unconditionally.
func Invalid(vs ...Violation) error {
	if len(vs) == 0 {
		return nil
	}
	return &Error{
		Kind:       InvalidArgument,
		Reason:     ReasonInvalid,
		Message:    "the request has invalid fields",
		Violations: vs,
	}
}

// Field returns an InvalidArgument error with one violation: the request fails on field for
// reason. It is Invalid for the common case of a call that stops at its first wrong field.
func Field(field, reason, description string) error {
	return Invalid(Violation{Field: field, Reason: reason, Description: description})
}

// Violations collects the violations of a request, so that a validation reports every broken
// rule at once:
//
//	var vs fault.Violations
//	if name == "" {
//		vs.Add("display_name", "REQUIRED", "display_name is required")
//	}
//	return vs.Err()
type Violations []Violation

// Add records that field is not acceptable for reason.
func (vs *Violations) Add(field, reason, description string) {
	*vs = append(*vs, Violation{Field: field, Reason: reason, Description: description})
}

// Err returns the InvalidArgument error of the violations, or nil when there are none.
func (vs Violations) Err() error { return Invalid(vs...) }

// OnField returns a copy of e with one more violation, of field, carrying e's own reason: a
// client finds the specific reason (PHASING_SUM_MISMATCH rather than INVALID_ARGUMENT) in the
// ErrorInfo and the field it concerns in the violations. An empty description is e's message.
func (e *Error) OnField(field, description string) *Error {
	if description == "" {
		description = e.Message
	}
	c := e.clone()
	c.Violations = append(c.Violations, Violation{Field: field, Reason: e.Reason, Description: description})
	return c
}

// OnField names field as the cause of err when err is an InvalidArgument error that names no
// field yet, such as the errors of parsing an amount or a currency, so that the client learns
// which field was wrong. Other errors are returned unchanged.
func OnField(err error, field string) error {
	fe := As(err)
	if fe == nil || fe.Kind != InvalidArgument || len(fe.Violations) > 0 {
		return err
	}
	return fe.OnField(field, "")
}

// Named returns err, when it is a NotFound error, as a copy that names the resource the client
// asked for: metadata "name" and, from a sentinel's message "<what> not found", the message
// "<what> <name> not found". Other errors, and nil, are returned unchanged, so a read can
// return Named(err, name) whatever it failed with.
func Named(err error, name string) error {
	fe := As(err)
	if fe == nil || fe.Kind != NotFound {
		return err
	}
	c := fe.With("name", name)
	if what, ok := strings.CutSuffix(fe.Message, " not found"); ok {
		c.Message = what + " " + name + " not found"
	}
	return c
}

// Prefix returns err with every violation's field path prefixed by prefix and a dot, so that a
// domain that validates an entity ("display_name") reports the path in the request
// ("cost_center.display_name"). Errors other than *Error are returned unchanged.
func Prefix(prefix string, err error) error {
	var fe *Error
	if !errors.As(err, &fe) || len(fe.Violations) == 0 {
		return err
	}
	c := fe.clone()
	for i := range c.Violations {
		c.Violations[i].Field = prefix + "." + c.Violations[i].Field
	}
	return c
}

// As returns the *Error in err's chain, or nil when err is an internal error.
func As(err error) *Error {
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	return nil
}
