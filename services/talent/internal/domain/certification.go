package domain

import (
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// Errors about certifications. Compare with errors.Is.
var (
	ErrCertificationNotFound = fault.New(fault.NotFound, "CERTIFICATION_NOT_FOUND", "certification not found")
	ErrCertificationExists   = fault.New(fault.AlreadyExists, "CERTIFICATION_ALREADY_EXISTS", "the person has a certification with this ID")
	ErrObtainedInFuture      = fault.New(fault.InvalidArgument, "OBTAINED_IN_FUTURE", "obtain_date is after today").
					OnField(CertFieldObtainDate, "")
	ErrExpireNotAfterObtain = fault.New(fault.InvalidArgument, "EXPIRY_NOT_AFTER_OBTAINED", "expire_date must be after obtain_date").
				OnField(CertFieldExpireDate, "")
	ErrCertSkillNotFound = fault.New(fault.InvalidArgument, "SKILL_NOT_FOUND", "the skill is not in the taxonomy").OnField(CertFieldSkill, "")
)

// Limits of a certification's text fields.
const (
	maxIssuer       = 200
	maxCredentialID = 200
)

// CertificationReminderDays are the days before its expiry date on which a certification's
// reminders fire: certification.expiring at 90 and 30, certification.expired at 0, each at the
// start of its day, UTC.
var CertificationReminderDays = []int{90, 30, 0}

// Certification is a credential a person holds. ExpireDate is zero when it does not expire.
type Certification struct {
	PersonID     string
	ID           string
	DisplayName  string
	Issuer       string
	CredentialID string
	ObtainDate   civil.Date
	ExpireDate   civil.Date
	SkillID      string // "" when it evidences no skill
	CreateTime   time.Time
	UpdateTime   time.Time
	Version      int64
}

// CertificationFields are the client-writable fields of a certification.
type CertificationFields struct {
	DisplayName, Issuer, CredentialID, SkillID string
	ObtainDate, ExpireDate                     civil.Date
}

// The client-writable fields of a certification, by their API names (display_name is shared).
const (
	CertFieldIssuer       = "issuer"
	CertFieldCredentialID = "credential_id"
	CertFieldObtainDate   = "obtain_date"
	CertFieldExpireDate   = "expire_date"
	CertFieldSkill        = "skill"
)

// CertificationWritableFields lists the fields an update of a certification may change.
var CertificationWritableFields = []string{FieldDisplayName, CertFieldIssuer, CertFieldCredentialID,
	CertFieldObtainDate, CertFieldExpireDate, CertFieldSkill}

// CertificationName is the resource name of certification id of person personID.
func CertificationName(personID, id string) string { return CertificationPattern.Format(personID, id) }

// Name is the certification's resource name.
func (c *Certification) Name() string { return CertificationName(c.PersonID, c.ID) }

// Expired reports whether the expiry date has arrived on today: from the start of that day, as
// certification.expired fires.
func (c *Certification) Expired(today civil.Date) bool {
	return !c.ExpireDate.IsZero() && !today.Before(c.ExpireDate)
}

// ReminderDue is when the reminder days before the expiry date is due: the start of that day,
// UTC. The certification must expire.
func (c *Certification) ReminderDue(days int) time.Time { return c.ExpireDate.AddDays(-days).Time() }

// NewCertification returns a certification of person personID recorded on today at now from f.
func NewCertification(personID, id string, f CertificationFields, today civil.Date, now time.Time) (*Certification, error) {
	now = now.UTC().Truncate(time.Microsecond)
	c := &Certification{PersonID: personID, ID: id, CreateTime: now, UpdateTime: now, Version: 1}
	c.set(CertificationWritableFields, f)
	if err := c.Validate(today); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Certification) set(paths []string, f CertificationFields) {
	for _, p := range paths {
		switch p {
		case FieldDisplayName:
			c.DisplayName = strings.TrimSpace(f.DisplayName)
		case CertFieldIssuer:
			c.Issuer = strings.TrimSpace(f.Issuer)
		case CertFieldCredentialID:
			c.CredentialID = strings.TrimSpace(f.CredentialID)
		case CertFieldObtainDate:
			c.ObtainDate = f.ObtainDate
		case CertFieldExpireDate:
			c.ExpireDate = f.ExpireDate
		case CertFieldSkill:
			c.SkillID = f.SkillID
		}
	}
}

// Validate checks the invariants of a certification on today, every broken rule as a violation
// of its field.
func (c *Certification) Validate(today civil.Date) error {
	var vs fault.Violations
	vs.RequireText(FieldDisplayName, c.DisplayName, maxDisplayName)
	vs.RequireText(CertFieldIssuer, c.Issuer, maxIssuer)
	vs.LimitText(CertFieldCredentialID, c.CredentialID, maxCredentialID)
	switch {
	case c.ObtainDate.IsZero():
		vs.Add(CertFieldObtainDate, "REQUIRED", "obtain_date is required")
	case today.Before(c.ObtainDate):
		vs.Add(CertFieldObtainDate, ErrObtainedInFuture.Reason, ErrObtainedInFuture.Message)
	}
	if !c.ExpireDate.IsZero() && !c.ObtainDate.IsZero() && !c.ObtainDate.Before(c.ExpireDate) {
		vs.Add(CertFieldExpireDate, ErrExpireNotAfterObtain.Reason, ErrExpireNotAfterObtain.Message)
	}
	return vs.Err()
}

// Apply sets the fields named in paths to their values in f on today at now and reports which
// of them changed. When something changed the version is incremented; the certification must
// still satisfy its invariants, or it is left untouched.
func (c *Certification) Apply(paths []string, f CertificationFields, today civil.Date, now time.Time) ([]string, error) {
	next := *c
	next.set(paths, f)
	if err := next.Validate(today); err != nil {
		return nil, err
	}
	changed := changedFields(paths, CertificationWritableFields, func(field string) bool {
		switch field {
		case FieldDisplayName:
			return next.DisplayName != c.DisplayName
		case CertFieldIssuer:
			return next.Issuer != c.Issuer
		case CertFieldCredentialID:
			return next.CredentialID != c.CredentialID
		case CertFieldObtainDate:
			return next.ObtainDate != c.ObtainDate
		case CertFieldExpireDate:
			return next.ExpireDate != c.ExpireDate
		case CertFieldSkill:
			return next.SkillID != c.SkillID
		}
		return false
	})
	if len(changed) == 0 {
		return nil, nil
	}
	next.UpdateTime = now.UTC().Truncate(time.Microsecond)
	next.Version++
	*c = next
	return changed, nil
}
