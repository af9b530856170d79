package domain

import (
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// Errors about teams. Compare with errors.Is.
var (
	ErrTeamNotFound = fault.New(fault.NotFound, "TEAM_NOT_FOUND", "team not found")
	ErrTeamExists   = fault.New(fault.AlreadyExists, "TEAM_ALREADY_EXISTS", "a team with this ID already exists")
	ErrTeamNotEmpty = fault.New(fault.FailedPrecondition, "TEAM_NOT_EMPTY",
		"the team has child teams, people, positions or headcount plans; move or remove them first")
	ErrParentNotFound = fault.New(fault.InvalidArgument, "PARENT_NOT_FOUND", "the parent team does not exist").OnField(FieldParent, "")
	ErrParentCycle    = fault.New(fault.InvalidArgument, "PARENT_CYCLE",
		"the parent cannot be the team itself or one of its descendants").OnField(FieldParent, "")
	ErrManagerNotFound = fault.New(fault.InvalidArgument, "MANAGER_NOT_FOUND", "the manager is not a person of the organisation").OnField(FieldManager, "")
	ErrManagerLeft     = fault.New(fault.InvalidArgument, "MANAGER_LEFT", "the manager has left the organisation").OnField(FieldManager, "")
	// The cost centre's errors name budget's verdict on the field.
	ErrCostCenterNotFound = fault.New(fault.InvalidArgument, "COST_CENTER_NOT_FOUND", "budget has no such cost centre").OnField(FieldCostCenter, "")
	ErrCostCenterInactive = fault.New(fault.InvalidArgument, "COST_CENTER_INACTIVE", "the cost centre is not active in budget").OnField(FieldCostCenter, "")
)

// Limits of text fields, shared with the API's validation rules.
const (
	maxDisplayName = 200
	maxDescription = 2000
)

// Team is a group of people with a manager, charged to a budget cost centre. Teams form a tree
// through ParentID.
type Team struct {
	ID          string
	DisplayName string
	ParentID    string // empty for a root
	ManagerID   string // a person's ID, or empty
	CostCenter  string // a budget cost centre's name (costCenters/…), or empty
	Description string
	CreateTime  time.Time
	UpdateTime  time.Time
	// Version counts the changes of the team; it starts at 1 and orders its events.
	Version int64
}

// TeamFields are the client-writable fields of a team.
type TeamFields struct {
	DisplayName string
	ParentID    string
	ManagerID   string
	CostCenter  string
	Description string
}

// The client-writable fields of a team, by their API names.
const (
	FieldDisplayName = "display_name"
	FieldParent      = "parent"
	FieldManager     = "manager"
	FieldCostCenter  = "cost_center"
	FieldDescription = "description"
)

// TeamWritableFields lists the fields an update of a team may change.
var TeamWritableFields = []string{FieldDisplayName, FieldParent, FieldManager, FieldCostCenter, FieldDescription}

// Name is the team's resource name.
func (t *Team) Name() string { return TeamPattern.Format(t.ID) }

// TeamName is the resource name of the team with the ID, or "" for no team.
func TeamName(id string) string {
	if id == "" {
		return ""
	}
	return TeamPattern.Format(id)
}

// NewTeam returns a team created at now from fields, checked against the invariants.
func NewTeam(id string, fields TeamFields, now time.Time) (*Team, error) {
	now = now.UTC().Truncate(time.Microsecond)
	t := &Team{ID: id, CreateTime: now, UpdateTime: now, Version: 1}
	t.set(fields, TeamWritableFields)
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Team) set(fields TeamFields, paths []string) {
	for _, p := range paths {
		switch p {
		case FieldDisplayName:
			t.DisplayName = strings.TrimSpace(fields.DisplayName)
		case FieldParent:
			t.ParentID = fields.ParentID
		case FieldManager:
			t.ManagerID = fields.ManagerID
		case FieldCostCenter:
			t.CostCenter = fields.CostCenter
		case FieldDescription:
			t.Description = fields.Description
		}
	}
}

// Validate checks the invariants of a team that need nothing else to decide.
func (t *Team) Validate() error {
	var vs fault.Violations
	vs.RequireText(FieldDisplayName, t.DisplayName, maxDisplayName)
	vs.LimitText(FieldDescription, t.Description, maxDescription)
	if t.CostCenter != "" && !CostCenterPattern.Match(t.CostCenter) {
		vs = append(vs, CostCenterPattern.Violation(FieldCostCenter))
	}
	if err := vs.Err(); err != nil {
		return err
	}
	if t.ParentID != "" && t.ParentID == t.ID {
		return ErrParentCycle
	}
	return nil
}

// Apply sets the fields named in paths at time now and reports which of them changed. When
// something changed the version is incremented; the team must still satisfy its invariants, or
// it is left untouched and the violations are returned.
func (t *Team) Apply(paths []string, fields TeamFields, now time.Time) ([]string, error) {
	next := *t
	next.set(fields, paths)
	if err := next.Validate(); err != nil {
		return nil, err
	}
	changed := changedFields(paths, TeamWritableFields, func(f string) bool {
		switch f {
		case FieldDisplayName:
			return next.DisplayName != t.DisplayName
		case FieldParent:
			return next.ParentID != t.ParentID
		case FieldManager:
			return next.ManagerID != t.ManagerID
		case FieldCostCenter:
			return next.CostCenter != t.CostCenter
		case FieldDescription:
			return next.Description != t.Description
		}
		return false
	})
	if len(changed) == 0 {
		return nil, nil
	}
	next.UpdateTime = now.UTC().Truncate(time.Microsecond)
	next.Version++
	*t = next
	return changed, nil
}

// CheckAncestry refuses a parent whose ancestors (parent first, up to the root) include the team
// itself: the move would close a cycle.
func (t *Team) CheckAncestry(ancestors []string) error {
	for _, a := range ancestors {
		if a == t.ID {
			return ErrParentCycle
		}
	}
	return nil
}
