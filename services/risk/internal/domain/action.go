package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// Errors of mitigation actions.
var (
	ErrActionNotFound = fault.New(fault.NotFound, "MITIGATION_ACTION_NOT_FOUND", "mitigation action not found")
	ErrActionExists   = fault.New(fault.AlreadyExists, "MITIGATION_ACTION_ALREADY_EXISTS",
		"a mitigation action with this ID already exists for the risk")
	ErrActionFinal = fault.New(fault.FailedPrecondition, "MITIGATION_ACTION_FINAL",
		"the mitigation action is DONE or CANCELLED and cannot change")
	ErrActionInvalidTransition = fault.New(fault.FailedPrecondition, "INVALID_STATE_TRANSITION",
		"the transition is not allowed in the mitigation action's current state")
)

// ActionState is where a mitigation action stands; its values are those of the API's
// MitigationAction.State.
type ActionState int32

// The states of a mitigation action.
const (
	ActionOpen       ActionState = 1
	ActionInProgress ActionState = 2
	ActionDone       ActionState = 3
	ActionCancelled  ActionState = 4
)

// Final reports whether the action can no longer change.
func (s ActionState) Final() bool { return s == ActionDone || s == ActionCancelled }

// String is the state's API name.
func (s ActionState) String() string {
	switch s {
	case ActionOpen:
		return "OPEN"
	case ActionInProgress:
		return "IN_PROGRESS"
	case ActionDone:
		return "DONE"
	case ActionCancelled:
		return "CANCELLED"
	}
	return fmt.Sprintf("ActionState(%d)", int32(s))
}

// Limits of mitigation action fields, shared with the API's validation rules.
const (
	maxActionTitle       = 200
	maxActionDescription = 10000
	maxActionOwner       = 256
	maxReason            = 2000
)

// MitigationAction is a piece of work that reduces a risk, with an owner, a due date and an
// optional cost estimate. Not DONE or CANCELLED after its due date, it is overdue.
type MitigationAction struct {
	RiskID      string
	ID          string
	Title       string
	Description string
	Owner       string
	DueDate     civil.Date
	State       ActionState
	StateReason string
	// CostEstimate is the estimated cost; the zero Amount (no currency) when not estimated.
	CostEstimate money.Amount
	BudgetLine   string
	CompleteTime time.Time
	CreateTime   time.Time
	UpdateTime   time.Time
	// Version counts the changes of the action; it starts at 1 and orders its events.
	Version int64
}

// ActionName returns the resource name of the action id of risk riskID.
func ActionName(riskID, id string) string { return MitigationActionPattern.Format(riskID, id) }

// Name is the action's resource name, risks/{risk}/actions/{action}.
func (a *MitigationAction) Name() string { return ActionName(a.RiskID, a.ID) }

// Estimated reports whether the action has a cost estimate.
func (a *MitigationAction) Estimated() bool { return a.CostEstimate.Currency != "" }

// Open reports whether the action is still to be done: OPEN or IN_PROGRESS.
func (a *MitigationAction) Open() bool { return !a.State.Final() }

// Overdue reports whether the action is past its due date on today without being done.
func (a *MitigationAction) Overdue(today civil.Date) bool {
	return a.Open() && a.DueDate.Before(today)
}

// OverdueAt is when the action falls overdue: the start (UTC) of the day after its due date.
func (a *MitigationAction) OverdueAt() time.Time { return a.DueDate.AddDays(1).Time() }

// ActionFields are the client-writable fields of a mitigation action.
type ActionFields struct {
	Title        string
	Description  string
	Owner        string
	DueDate      civil.Date
	CostEstimate money.Amount
	BudgetLine   string
}

// The client-writable fields of a mitigation action, by their API names.
const (
	ActionFieldTitle        = "title"
	ActionFieldDescription  = "description"
	ActionFieldOwner        = "owner"
	ActionFieldDueDate      = "due_date"
	ActionFieldCostEstimate = "cost_estimate"
	ActionFieldBudgetLine   = "budget_line"
)

// ActionWritableFields lists the fields an update may change.
var ActionWritableFields = []string{ActionFieldTitle, ActionFieldDescription, ActionFieldOwner, ActionFieldDueDate,
	ActionFieldCostEstimate, ActionFieldBudgetLine}

// NewMitigationAction returns an OPEN action of risk riskID created at now from f, checked
// against the invariants. Its due date may not be before today.
func NewMitigationAction(riskID, id string, f ActionFields, now time.Time) (*MitigationAction, error) {
	now = now.UTC().Truncate(time.Microsecond)
	a := &MitigationAction{RiskID: riskID, ID: id, State: ActionOpen, CreateTime: now, UpdateTime: now, Version: 1}
	a.set(ActionWritableFields, f)
	if err := a.validate(civil.DateOf(now), true); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *MitigationAction) set(paths []string, f ActionFields) {
	for _, p := range paths {
		switch p {
		case ActionFieldTitle:
			a.Title = strings.TrimSpace(f.Title)
		case ActionFieldDescription:
			a.Description = f.Description
		case ActionFieldOwner:
			a.Owner = strings.TrimSpace(f.Owner)
		case ActionFieldDueDate:
			a.DueDate = f.DueDate
		case ActionFieldCostEstimate:
			a.CostEstimate = f.CostEstimate
		case ActionFieldBudgetLine:
			a.BudgetLine = f.BudgetLine
		}
	}
}

// validate checks the invariants, every broken rule as a violation of its field in the request
// (mitigation_action.*). A due date before today is refused only when it is being set
// (checkDue): an action that fell overdue may still change its other fields.
func (a *MitigationAction) validate(today civil.Date, checkDue bool) error {
	var vs fault.Violations
	const prefix = "mitigation_action."
	required := func(field, value string) {
		if value == "" {
			vs.Add(prefix+field, "REQUIRED", field+" is required")
		}
	}
	required(ActionFieldTitle, a.Title)
	required(ActionFieldOwner, a.Owner)
	tooLong(&vs, prefix+ActionFieldTitle, a.Title, maxActionTitle)
	tooLong(&vs, prefix+ActionFieldDescription, a.Description, maxActionDescription)
	tooLong(&vs, prefix+ActionFieldOwner, a.Owner, maxActionOwner)
	switch {
	case a.DueDate.IsZero():
		vs.Add(prefix+ActionFieldDueDate, "REQUIRED", "due_date is required")
	case !a.DueDate.Valid():
		vs.Add(prefix+ActionFieldDueDate, civil.ErrDateInvalid.Reason, "due_date is not a valid date")
	case checkDue && a.DueDate.Before(today):
		vs.Add(prefix+ActionFieldDueDate, "DUE_DATE_IN_PAST", fmt.Sprintf("due_date may not be before today (%s)", today))
	}
	if a.Estimated() && a.CostEstimate.Minor < 0 {
		vs.Add(prefix+ActionFieldCostEstimate, "NEGATIVE_AMOUNT", "cost_estimate may not be negative")
	}
	return vs.Err()
}

// Apply sets the fields named in paths to their values in f at time now and reports which of
// them changed. A DONE or CANCELLED action cannot change. When something changed the version is
// incremented; the action must still satisfy its invariants, or it is left untouched.
func (a *MitigationAction) Apply(paths []string, f ActionFields, now time.Time) (changed []string, err error) {
	if a.State.Final() {
		return nil, ErrActionFinal.With("name", a.Name()).With("state", a.State.String())
	}
	next := *a
	next.set(paths, f)
	for _, p := range ActionWritableFields {
		if slices.Contains(paths, p) && next.differs(a, p) {
			changed = append(changed, p)
		}
	}
	if err := next.validate(civil.DateOf(now.UTC()), slices.Contains(changed, ActionFieldDueDate)); err != nil {
		return nil, err
	}
	if len(changed) == 0 {
		return nil, nil
	}
	next.Version++
	next.UpdateTime = now.UTC().Truncate(time.Microsecond)
	*a = next
	return changed, nil
}

func (a *MitigationAction) differs(o *MitigationAction, field string) bool {
	switch field {
	case ActionFieldTitle:
		return a.Title != o.Title
	case ActionFieldDescription:
		return a.Description != o.Description
	case ActionFieldOwner:
		return a.Owner != o.Owner
	case ActionFieldDueDate:
		return a.DueDate != o.DueDate
	case ActionFieldCostEstimate:
		return a.CostEstimate != o.CostEstimate
	case ActionFieldBudgetLine:
		return a.BudgetLine != o.BudgetLine
	}
	return false
}

// transition moves the action from one of from to state at now.
func (a *MitigationAction) transition(to ActionState, now time.Time, from ...ActionState) error {
	if !slices.Contains(from, a.State) {
		return ErrActionInvalidTransition.With("name", a.Name()).With("state", a.State.String()).With("to", to.String())
	}
	a.State = to
	a.UpdateTime = now.UTC().Truncate(time.Microsecond)
	a.Version++
	return nil
}

// Start makes an OPEN action IN_PROGRESS.
func (a *MitigationAction) Start(now time.Time) error {
	return a.transition(ActionInProgress, now, ActionOpen)
}

// Complete makes an OPEN or IN_PROGRESS action DONE.
func (a *MitigationAction) Complete(now time.Time) error {
	if err := a.transition(ActionDone, now, ActionOpen, ActionInProgress); err != nil {
		return err
	}
	a.CompleteTime = a.UpdateTime
	return nil
}

// Cancel makes an OPEN or IN_PROGRESS action CANCELLED, for reason.
func (a *MitigationAction) Cancel(reason string, now time.Time) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return fault.Field("reason", "REQUIRED", "reason is required")
	}
	if utf8.RuneCountInString(reason) > maxReason {
		return fault.Field("reason", "TOO_LONG", fmt.Sprintf("reason is longer than %d characters", maxReason))
	}
	if err := a.transition(ActionCancelled, now, ActionOpen, ActionInProgress); err != nil {
		return err
	}
	a.StateReason = reason
	return nil
}

// MarkOverdue records that the action fell overdue: its version moves on, so that the event
// saying so is ordered after every earlier one about the action.
func (a *MitigationAction) MarkOverdue() { a.Version++ }

// tooLong adds a TOO_LONG violation of field when text has more than max characters.
func tooLong(vs *fault.Violations, field, text string, max int) {
	if utf8.RuneCountInString(text) > max {
		vs.Add(field, "TOO_LONG", fmt.Sprintf("%s is longer than %d characters", field[strings.LastIndex(field, ".")+1:], max))
	}
}
