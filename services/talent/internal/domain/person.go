package domain

import (
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// Errors about people. Compare with errors.Is. None carries a person's pay.
var (
	ErrPersonNotFound = fault.New(fault.NotFound, "PERSON_NOT_FOUND", "person not found")
	ErrPersonExists   = fault.New(fault.AlreadyExists, "PERSON_ALREADY_EXISTS", "a person with this ID already exists")
	ErrEmailTaken     = fault.New(fault.AlreadyExists, "PERSON_EMAIL_TAKEN", "another person has this e-mail address")
	// ErrPrincipalTaken: another ACTIVE person is linked to the principal.
	ErrPrincipalTaken = fault.New(fault.AlreadyExists, "PERSON_PRINCIPAL_TAKEN", "another active person is linked to this principal")
	ErrPersonLeft     = fault.New(fault.FailedPrecondition, "PERSON_LEFT", "the person has left; their record can no longer change")
	ErrTeamMissing    = fault.New(fault.InvalidArgument, "TEAM_NOT_FOUND", "the team does not exist").OnField(FieldTeam, "")
	ErrEndBeforeStart = fault.New(fault.InvalidArgument, "END_BEFORE_START", "the end date is before the start date").OnField("end_date", "")
	// ErrCompensationField refuses a filter or an order on pay to a caller who may not see pay.
	ErrCompensationField = fault.New(fault.InvalidArgument, "COMPENSATION_FIELD",
		"pay can be filtered and ordered on only with talent.compensation")
)

// EmploymentType is how a person is engaged: the API enum's numbers.
type EmploymentType int32

// The employment types.
const (
	Employee   EmploymentType = 1
	Contractor EmploymentType = 2
)

// PersonState is whether a person works for the organisation: the API enum's numbers.
type PersonState int32

// The states of a person.
const (
	Active PersonState = 1
	Left   PersonState = 2
)

// Limits of a person's text fields.
const (
	maxEmail    = 256
	maxLocation = 100
)

// Person is someone who works for the organisation, in a team. Cost is their loaded annual cost
// (compensation): nil when not recorded.
type Person struct {
	ID             string
	DisplayName    string
	Email          string
	Title          string
	Level          string
	TeamID         string
	EmploymentType EmploymentType
	StartDate      civil.Date
	EndDate        civil.Date // zero while ACTIVE
	Location       string
	Cost           *money.Amount
	Principal      string // the principal who is the person when calling the API; "" when none
	State          PersonState
	CreateTime     time.Time
	UpdateTime     time.Time
	Version        int64
}

// PersonFields are the client-writable fields of a person.
type PersonFields struct {
	DisplayName, Email, Title, Level, TeamID, Location, Principal string
	EmploymentType                                                EmploymentType
	StartDate                                                     civil.Date
	Cost                                                          *money.Amount
}

// The client-writable fields of a person, by their API names (display_name is shared with teams,
// title and level with positions, as are the limits maxTitle and maxLevel).
const (
	FieldEmail          = "email"
	FieldTeam           = "team"
	FieldEmploymentType = "employment_type"
	FieldStartDate      = "start_date"
	FieldLocation       = "location"
	FieldCost           = "loaded_annual_cost"
	FieldPrincipal      = "principal"
)

// PersonWritableFields lists the fields an update of a person may change.
var PersonWritableFields = []string{FieldDisplayName, FieldEmail, FieldTitle, FieldLevel, FieldTeam,
	FieldEmploymentType, FieldStartDate, FieldLocation, FieldCost, FieldPrincipal}

// Name is the person's resource name.
func (p *Person) Name() string { return PersonPattern.Format(p.ID) }

// NewPerson returns an ACTIVE person created at now from fields.
func NewPerson(id string, fields PersonFields, now time.Time) (*Person, error) {
	now = now.UTC().Truncate(time.Microsecond)
	p := &Person{ID: id, State: Active, CreateTime: now, UpdateTime: now, Version: 1}
	p.set(fields, PersonWritableFields)
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Person) set(f PersonFields, paths []string) {
	for _, path := range paths {
		switch path {
		case FieldDisplayName:
			p.DisplayName = strings.TrimSpace(f.DisplayName)
		case FieldEmail:
			p.Email = strings.TrimSpace(f.Email)
		case FieldTitle:
			p.Title = strings.TrimSpace(f.Title)
		case FieldLevel:
			p.Level = strings.TrimSpace(f.Level)
		case FieldTeam:
			p.TeamID = f.TeamID
		case FieldEmploymentType:
			p.EmploymentType = f.EmploymentType
		case FieldStartDate:
			p.StartDate = f.StartDate
		case FieldLocation:
			p.Location = strings.TrimSpace(f.Location)
		case FieldCost:
			p.Cost = f.Cost
		case FieldPrincipal:
			p.Principal = f.Principal
		}
	}
}

// Validate checks the invariants of a person. Its violations name fields, never their values.
func (p *Person) Validate() error {
	var vs fault.Violations
	vs.RequireText(FieldDisplayName, p.DisplayName, maxDisplayName)
	vs.LimitText(FieldEmail, p.Email, maxEmail)
	vs.LimitText(FieldTitle, p.Title, maxTitle)
	vs.LimitText(FieldLevel, p.Level, maxLevel)
	vs.LimitText(FieldLocation, p.Location, maxLocation)
	if p.TeamID == "" {
		vs.Add(FieldTeam, "REQUIRED", "team is required")
	}
	if p.EmploymentType != Employee && p.EmploymentType != Contractor {
		vs.Add(FieldEmploymentType, "REQUIRED", "employment_type is required")
	}
	if p.StartDate.IsZero() {
		vs.Add(FieldStartDate, "REQUIRED", "start_date is required")
	}
	if p.Cost != nil && p.Cost.Minor < 0 {
		vs.Add(FieldCost, "NEGATIVE", "loaded_annual_cost must be zero or more")
	}
	return vs.Err()
}

// Apply sets the fields named in paths at time now and reports which changed. A person who left
// cannot change.
func (p *Person) Apply(paths []string, fields PersonFields, now time.Time) ([]string, error) {
	if p.State == Left {
		return nil, ErrPersonLeft.With("name", p.Name())
	}
	next := *p
	next.set(fields, paths)
	if err := next.Validate(); err != nil {
		return nil, err
	}
	changed := changedFields(paths, PersonWritableFields, func(f string) bool {
		switch f {
		case FieldDisplayName:
			return next.DisplayName != p.DisplayName
		case FieldEmail:
			return next.Email != p.Email
		case FieldTitle:
			return next.Title != p.Title
		case FieldLevel:
			return next.Level != p.Level
		case FieldTeam:
			return next.TeamID != p.TeamID
		case FieldEmploymentType:
			return next.EmploymentType != p.EmploymentType
		case FieldStartDate:
			return next.StartDate != p.StartDate
		case FieldLocation:
			return next.Location != p.Location
		case FieldCost:
			return (next.Cost == nil) != (p.Cost == nil) || (next.Cost != nil && *next.Cost != *p.Cost)
		case FieldPrincipal:
			return next.Principal != p.Principal
		}
		return false
	})
	if len(changed) == 0 {
		return nil, nil
	}
	next.UpdateTime = now.UTC().Truncate(time.Microsecond)
	next.Version++
	*p = next
	return changed, nil
}

// Leave makes an ACTIVE person LEFT with end as their last day.
func (p *Person) Leave(end civil.Date, now time.Time) error {
	if p.State == Left {
		return ErrPersonLeft.With("name", p.Name())
	}
	if end.Before(p.StartDate) {
		return ErrEndBeforeStart
	}
	p.EndDate, p.State = end, Left
	p.UpdateTime = now.UTC().Truncate(time.Microsecond)
	p.Version++
	return nil
}
