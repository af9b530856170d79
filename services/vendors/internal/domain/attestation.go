package domain

import (
	"slices"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// AttestationType is the kind of report or certificate; its values are those of the API's
// Attestation.Type.
type AttestationType int32

// The attestation types.
const (
	AttestationSOC2TypeII AttestationType = 1
	AttestationISO27001   AttestationType = 2
	AttestationPCIDSS     AttestationType = 3
	AttestationOther      AttestationType = 4
)

// AttestationStatus is whether an attestation is in force on a day; its values are those of the
// API's Attestation.Status.
type AttestationStatus int32

// The attestation statuses.
const (
	AttestationValid    AttestationStatus = 1
	AttestationExpiring AttestationStatus = 2
	AttestationExpired  AttestationStatus = 3
)

// ExpiringDays is how many days before its expiry date an attestation is EXPIRING, and when the
// first of its two expiry reminders fires; the second fires on the expiry date (0 days before).
const ExpiringDays = 60

// ReminderDays are the days before the expiry date on which an attestation's reminders fire.
var ReminderDays = []int{ExpiringDays, 0}

// Limits of attestation fields, shared with the API's validation rules.
const (
	maxAttestationDisplayName = 200
	maxIssuer                 = 200
	maxScopeDescription       = 2000
)

// Attestation is a vendor's audit report or certificate (SOC 2 Type II, ISO 27001, …) with its
// expiry date.
type Attestation struct {
	VendorID         string
	ID               string
	Type             AttestationType
	DisplayName      string
	Issuer           string
	IssueDate        Date // zero when not given
	ExpiryDate       Date
	DocumentURI      string
	ScopeDescription string
	CreateTime       time.Time
	UpdateTime       time.Time
	// Version counts the changes of the attestation and its reminders; it starts at 1 and orders
	// the events about it.
	Version int64
}

// AttestationName returns the resource name of the attestation id of vendor vendorID.
func AttestationName(vendorID, id string) string { return AttestationPattern.Format(vendorID, id) }

// Name is the attestation's resource name, vendors/{vendor}/attestations/{attestation}.
func (a *Attestation) Name() string { return AttestationName(a.VendorID, a.ID) }

// Status is the attestation's status on today: EXPIRED after the expiry date, EXPIRING from 60
// days before it through the expiry date itself, VALID before.
func (a *Attestation) Status(today Date) AttestationStatus {
	switch {
	case a.ExpiryDate.Before(today):
		return AttestationExpired
	case !today.Before(a.ExpiryDate.AddDays(-ExpiringDays)):
		return AttestationExpiring
	}
	return AttestationValid
}

// ReminderDue is when the reminder days before the expiry date is due: the start of that day,
// UTC.
func (a *Attestation) ReminderDue(days int) time.Time {
	return a.ExpiryDate.AddDays(-days).Time()
}

// AttestationFields are the client-writable fields of an attestation.
type AttestationFields struct {
	Type             AttestationType
	DisplayName      string
	Issuer           string
	IssueDate        Date
	ExpiryDate       Date
	DocumentURI      string
	ScopeDescription string
}

// The client-writable fields of an attestation, by their API names.
const (
	AttestationFieldType             = "type"
	AttestationFieldDisplayName      = "display_name"
	AttestationFieldIssuer           = "issuer"
	AttestationFieldIssueDate        = "issue_date"
	AttestationFieldExpiryDate       = "expiry_date"
	AttestationFieldDocumentURI      = "document_uri"
	AttestationFieldScopeDescription = "scope_description"
)

// AttestationWritableFields lists the fields an update may change.
var AttestationWritableFields = []string{AttestationFieldType, AttestationFieldDisplayName, AttestationFieldIssuer,
	AttestationFieldIssueDate, AttestationFieldExpiryDate, AttestationFieldDocumentURI, AttestationFieldScopeDescription}

// NewAttestation returns an attestation of vendor vendorID recorded at now from f, checked
// against the invariants.
func NewAttestation(vendorID, id string, f AttestationFields, now time.Time) (*Attestation, error) {
	now = now.UTC().Truncate(time.Microsecond)
	a := &Attestation{VendorID: vendorID, ID: id, CreateTime: now, UpdateTime: now, Version: 1}
	a.set(AttestationWritableFields, f)
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Attestation) set(paths []string, f AttestationFields) {
	for _, p := range paths {
		switch p {
		case AttestationFieldType:
			a.Type = f.Type
		case AttestationFieldDisplayName:
			a.DisplayName = strings.TrimSpace(f.DisplayName)
		case AttestationFieldIssuer:
			a.Issuer = strings.TrimSpace(f.Issuer)
		case AttestationFieldIssueDate:
			a.IssueDate = f.IssueDate
		case AttestationFieldExpiryDate:
			a.ExpiryDate = f.ExpiryDate
		case AttestationFieldDocumentURI:
			a.DocumentURI = f.DocumentURI
		case AttestationFieldScopeDescription:
			a.ScopeDescription = f.ScopeDescription
		}
	}
}

// Validate checks the invariants of an attestation, every broken rule as a violation of its
// field.
func (a *Attestation) Validate() error {
	var vs fault.Violations
	if a.Type < AttestationSOC2TypeII || a.Type > AttestationOther {
		vs.Add(AttestationFieldType, "REQUIRED", "type is required")
	}
	if a.Type == AttestationOther && a.DisplayName == "" {
		vs.Add(AttestationFieldDisplayName, "REQUIRED", "display_name is required for type OTHER")
	}
	vs.LimitText(AttestationFieldDisplayName, a.DisplayName, maxAttestationDisplayName)
	vs.LimitText(AttestationFieldIssuer, a.Issuer, maxIssuer)
	vs.LimitText(AttestationFieldScopeDescription, a.ScopeDescription, maxScopeDescription)
	if !a.IssueDate.IsZero() && !a.IssueDate.Valid() {
		vs.Add(AttestationFieldIssueDate, civil.ErrDateInvalid.Reason, "issue_date is not a valid date")
	}
	switch {
	case a.ExpiryDate.IsZero():
		vs.Add(AttestationFieldExpiryDate, "REQUIRED", "expiry_date is required")
	case !a.ExpiryDate.Valid():
		vs.Add(AttestationFieldExpiryDate, civil.ErrDateInvalid.Reason, "expiry_date is not a valid date")
	case !a.IssueDate.IsZero() && a.IssueDate.Valid() && !a.IssueDate.Before(a.ExpiryDate):
		vs.Add(AttestationFieldExpiryDate, ErrExpiryNotAfterIssue.Reason, ErrExpiryNotAfterIssue.Message)
	}
	return vs.Err()
}

// Apply sets the fields named in paths to their values in f at time now and reports which of
// them changed. When something changed the version is incremented; the attestation must still
// satisfy its invariants, or it is left untouched.
func (a *Attestation) Apply(paths []string, f AttestationFields, now time.Time) (changed []string, err error) {
	next := *a
	next.set(paths, f)
	if err := next.Validate(); err != nil {
		return nil, err
	}
	for _, p := range AttestationWritableFields {
		if !slices.Contains(paths, p) {
			continue
		}
		if next.differs(a, p) {
			changed = append(changed, p)
		}
	}
	if len(changed) == 0 {
		return nil, nil
	}
	next.Version++
	next.UpdateTime = now.UTC().Truncate(time.Microsecond)
	*a = next
	return changed, nil
}

func (a *Attestation) differs(o *Attestation, field string) bool {
	switch field {
	case AttestationFieldType:
		return a.Type != o.Type
	case AttestationFieldDisplayName:
		return a.DisplayName != o.DisplayName
	case AttestationFieldIssuer:
		return a.Issuer != o.Issuer
	case AttestationFieldIssueDate:
		return a.IssueDate != o.IssueDate
	case AttestationFieldExpiryDate:
		return a.ExpiryDate != o.ExpiryDate
	case AttestationFieldDocumentURI:
		return a.DocumentURI != o.DocumentURI
	case AttestationFieldScopeDescription:
		return a.ScopeDescription != o.ScopeDescription
	}
	return false
}
