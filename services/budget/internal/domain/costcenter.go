// Package domain is the budget service's model: its entities, their invariants and state
// changes, and the errors a client can act on. It is plain Go and knows neither gRPC nor SQL.
package domain

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// Errors about cost centres. Compare with errors.Is.
var (
	ErrCostCenterNotFound = fault.New(fault.NotFound, "COST_CENTER_NOT_FOUND", "cost centre not found")
	ErrCostCenterExists   = fault.New(fault.AlreadyExists, "COST_CENTER_ALREADY_EXISTS", "a cost centre with this ID already exists")
	ErrCodeTaken          = fault.New(fault.AlreadyExists, "COST_CENTER_CODE_TAKEN", "another cost centre has this code")
	ErrHasChildren        = fault.New(fault.FailedPrecondition, "COST_CENTER_HAS_CHILDREN", "the cost centre has child cost centres; move or delete them first")
)

// The parent's errors carry their reason in the ErrorInfo too, so clients can branch on it
// without reading the field violations.
var (
	ErrParentNotFound = fault.New(fault.InvalidArgument, "PARENT_NOT_FOUND", "the parent cost centre does not exist").OnField(FieldParent, "")
	ErrParentCycle    = fault.New(fault.InvalidArgument, "PARENT_CYCLE",
		"the parent cannot be the cost centre itself or one of its descendants").OnField(FieldParent, "")
)

// Limits of cost centre fields, shared with the API's validation rules.
const (
	maxDisplayName = 200
	maxOwner       = 256
	maxDescription = 2000
)

var codePattern = regexp.MustCompile(`^[A-Z0-9][A-Z0-9._-]{0,31}$`)

// CostCenter is an organisational unit that owns IT spend. Cost centres form a hierarchy through
// ParentID (division → department → team); budget figures roll up along it.
type CostCenter struct {
	ID          string
	DisplayName string
	Code        string
	Owner       string
	ParentID    string // empty for a root
	Active      bool
	Description string
	CreateTime  time.Time
	UpdateTime  time.Time
	// Version counts the changes of the cost centre; it starts at 1 and orders its events.
	Version int64
}

// NewCostCenter returns a cost centre created at now from the values in fields, checked against
// the invariants. A nil Active means active.
func NewCostCenter(id string, fields CostCenterFields, now time.Time) (*CostCenter, error) {
	now = now.UTC().Truncate(time.Microsecond)
	c := &CostCenter{
		ID:          id,
		DisplayName: strings.TrimSpace(fields.DisplayName),
		Code:        fields.Code,
		Owner:       strings.TrimSpace(fields.Owner),
		ParentID:    fields.ParentID,
		Active:      fields.Active == nil || *fields.Active,
		Description: fields.Description,
		CreateTime:  now,
		UpdateTime:  now,
		Version:     1,
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// CostCenterFields are the client-writable fields of a cost centre. Active is a pointer so that
// "not given" can default to active on creation.
type CostCenterFields struct {
	DisplayName string
	Code        string
	Owner       string
	ParentID    string
	Active      *bool
	Description string
}

// The client-writable fields, by their API names.
const (
	FieldDisplayName = "display_name"
	FieldCode        = "code"
	FieldOwner       = "owner"
	FieldParent      = "parent"
	FieldActive      = "active"
	FieldDescription = "description"
)

// WritableFields lists the fields an update may change.
var WritableFields = []string{FieldDisplayName, FieldCode, FieldOwner, FieldParent, FieldActive, FieldDescription}

// Validate checks the invariants of a cost centre that need no other cost centre to decide. Every
// broken rule is reported, each as a violation of its field.
func (c *CostCenter) Validate() error {
	var vs fault.Violations
	requireText(&vs, FieldDisplayName, c.DisplayName, maxDisplayName)
	switch {
	case c.Code == "":
		vs.Add(FieldCode, "REQUIRED", "code is required")
	case !codePattern.MatchString(c.Code):
		vs.Add(FieldCode, "INVALID_FORMAT",
			"code must be 1-32 upper-case letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	limitText(&vs, FieldOwner, c.Owner, maxOwner)
	limitText(&vs, FieldDescription, c.Description, maxDescription)
	if err := vs.Err(); err != nil {
		return err
	}
	if c.ParentID != "" && c.ParentID == c.ID {
		return ErrParentCycle
	}
	return nil
}

// Apply sets the fields named in paths to their values in fields at time now and reports which of
// them actually changed. When something changed the version is incremented; the cost centre must
// still satisfy its invariants, or it is left untouched and the violations are returned.
func (c *CostCenter) Apply(paths []string, fields CostCenterFields, now time.Time) (changed []string, err error) {
	next := *c
	for _, p := range paths {
		switch p {
		case FieldDisplayName:
			next.DisplayName = strings.TrimSpace(fields.DisplayName)
		case FieldCode:
			next.Code = fields.Code
		case FieldOwner:
			next.Owner = strings.TrimSpace(fields.Owner)
		case FieldParent:
			next.ParentID = fields.ParentID
		case FieldActive:
			next.Active = fields.Active != nil && *fields.Active
		case FieldDescription:
			next.Description = fields.Description
		}
	}
	if err := next.Validate(); err != nil {
		return nil, err
	}
	changed = changedFields(paths, WritableFields, func(f string) bool { return next.differs(c, f) })
	if len(changed) == 0 {
		return nil, nil
	}
	next.Version++
	next.UpdateTime = now.UTC().Truncate(time.Microsecond)
	*c = next
	return changed, nil
}

func (c *CostCenter) differs(o *CostCenter, field string) bool {
	switch field {
	case FieldDisplayName:
		return c.DisplayName != o.DisplayName
	case FieldCode:
		return c.Code != o.Code
	case FieldOwner:
		return c.Owner != o.Owner
	case FieldParent:
		return c.ParentID != o.ParentID
	case FieldActive:
		return c.Active != o.Active
	case FieldDescription:
		return c.Description != o.Description
	}
	return false
}

// CheckAncestry rejects a parent whose ancestry (the parent's own chain of ancestor IDs, nearest
// first) contains the cost centre: the move would make a cycle.
func (c *CostCenter) CheckAncestry(parentAncestors []string) error {
	if c.ParentID == "" {
		return nil
	}
	if c.ParentID == c.ID || slices.Contains(parentAncestors, c.ID) {
		return ErrParentCycle
	}
	return nil
}
