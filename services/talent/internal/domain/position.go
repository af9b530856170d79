package domain

import (
	"slices"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
)

// PositionPattern is the pattern of a position's name.
const PositionPattern names.Pattern = "positions/{position}"

// Errors about positions. Compare with errors.Is.
var (
	ErrPositionNotFound = fault.New(fault.NotFound, "POSITION_NOT_FOUND", "position not found")
	ErrPositionExists   = fault.New(fault.AlreadyExists, "POSITION_ALREADY_EXISTS", "a position with this ID already exists")
	// ErrPositionInvalidTransition is an action the position's state does not allow.
	ErrPositionInvalidTransition = fault.New(fault.FailedPrecondition, "INVALID_STATE_TRANSITION",
		"the position's state does not allow this action")
	// ErrApproverIsRequester: the principal who submitted a position cannot approve or reject it.
	ErrApproverIsRequester = fault.New(fault.PermissionDenied, "APPROVER_IS_REQUESTER",
		"the position's requester cannot approve or reject it; another person must")
	ErrPositionTeamNotFound = fault.New(fault.InvalidArgument, "TEAM_NOT_FOUND", "the team does not exist").OnField(FieldPositionTeam, "")
	ErrBackfillNotFound     = fault.New(fault.InvalidArgument, "PERSON_NOT_FOUND", "the person replaced is not a person of the organisation").OnField(FieldBackfillOf, "")
	ErrSkillNotFound        = fault.New(fault.InvalidArgument, "SKILL_NOT_FOUND", "a required skill is not in the taxonomy").OnField(FieldRequiredSkills, "")
	ErrFillPersonNotFound   = fault.New(fault.InvalidArgument, "PERSON_NOT_FOUND", "the person is not a person of the organisation").OnField("person", "")
	ErrFillPersonLeft       = fault.New(fault.FailedPrecondition, "PERSON_LEFT", "the person has left the organisation")
	ErrFillPersonTaken      = fault.New(fault.FailedPrecondition, "PERSON_FILLS_ANOTHER_POSITION", "the person already filled another position")
	// ErrTeamHasNoCostCenter: an approval needs the team's cost centre to find the labour line.
	ErrTeamHasNoCostCenter = fault.New(fault.FailedPrecondition, "TEAM_HAS_NO_COST_CENTER",
		"the position's team has no cost centre: set the team's cost_center so that the position can be charged to its internal-labour line")
	// ErrNoLabourBudget: budget has no approved budget of the team's cost centre for the fiscal
	// year of the target start.
	ErrNoLabourBudget = fault.New(fault.FailedPrecondition, "NO_LABOUR_BUDGET",
		"the team's cost centre has no approved budget for the fiscal year of the target start")
	// ErrNoLabourLine: the budget has no INTERNAL_LABOUR line, or more than one.
	ErrNoLabourLine = fault.New(fault.FailedPrecondition, "NO_LABOUR_LINE",
		"the team's budget has no single internal-labour line to charge the position to")
	// ErrHoldExpiring: the budget hold of an approval would lapse before budget reads the event.
	ErrHoldExpiring = fault.New(fault.Unavailable, "HOLD_EXPIRING",
		"the budget hold placed for the approval expires too soon; approve again")
)

// PositionState is where a position stands; the values are the API's.
type PositionState int

// The states of a position.
const (
	PositionDraft           PositionState = 1
	PositionPendingApproval PositionState = 2
	PositionOpen            PositionState = 3
	PositionOffer           PositionState = 4
	PositionFilled          PositionState = 5
	PositionCancelled       PositionState = 6
)

// String is the state's API name.
func (s PositionState) String() string {
	switch s {
	case PositionDraft:
		return "DRAFT"
	case PositionPendingApproval:
		return "PENDING_APPROVAL"
	case PositionOpen:
		return "OPEN"
	case PositionOffer:
		return "OFFER"
	case PositionFilled:
		return "FILLED"
	case PositionCancelled:
		return "CANCELLED"
	}
	return "STATE_UNSPECIFIED"
}

// Approved reports whether the position was approved: its funds were reserved in budget.
func (s PositionState) Approved() bool {
	return s == PositionOpen || s == PositionOffer || s == PositionFilled
}

// PositionReason is why a position exists; the values are the API's.
type PositionReason int

// The reasons of a position.
const (
	ReasonGrowth   PositionReason = 1
	ReasonBackfill PositionReason = 2
)

// The client-writable fields of a position, by their API names.
const (
	FieldPositionTeam    = "team"
	FieldTitle           = "title"
	FieldLevel           = "level"
	FieldRequiredSkills  = "required_skills"
	FieldAnnualCost      = "budgeted_annual_cost"
	FieldTargetStartDate = "target_start_date"
	FieldReason          = "reason"
	FieldBackfillOf      = "backfill_of"
	FieldPositionDesc    = "description"
)

// PositionWritableFields lists the fields an update of a DRAFT position may change.
var PositionWritableFields = []string{FieldPositionTeam, FieldTitle, FieldLevel, FieldRequiredSkills, FieldAnnualCost,
	FieldTargetStartDate, FieldReason, FieldBackfillOf, FieldPositionDesc}

// Limits of a position's fields, shared with the API's validation rules.
const (
	maxTitle          = 200
	maxLevel          = 50
	maxRequiredSkills = 50
	maxPositionDesc   = 10000
	maxReasonText     = 2000
)

// PositionFields are the client-writable fields of a position. IDs, not names: TeamID is a
// team's, RequiredSkills skills', BackfillOf a person's.
type PositionFields struct {
	TeamID         string
	Title          string
	Level          string
	RequiredSkills []string
	AnnualCost     money.Amount
	TargetStart    civil.Date
	Reason         PositionReason
	BackfillOf     string
	Description    string
}

// Position is a requisition: a job a team wants to fill, with its budgeted annual cost.
type Position struct {
	ID string
	PositionFields
	State PositionState
	// Requester is the principal who submitted the position; Approver the one who approved it.
	Requester, Approver string
	// BudgetLine and Hold are where the approval reserved the funds, once approved.
	BudgetLine, Hold string
	// PersonID is the person who filled the position, and StartDate the day they start.
	PersonID  string
	StartDate civil.Date
	// OpenTime is the approval's time; FillTime the fill's.
	OpenTime, FillTime time.Time
	// TimeToFillDays is the number of days from the opening's date to the fill's, UTC.
	TimeToFillDays int32
	CancelReason   string
	CreateTime     time.Time
	UpdateTime     time.Time
	// Version counts the changes of the position; it starts at 1 and orders its events.
	Version int64
}

// Name is the position's resource name.
func (p *Position) Name() string { return PositionPattern.Format(p.ID) }

// NewPosition returns a DRAFT position created at now from fields, checked against the
// invariants.
func NewPosition(id string, fields PositionFields, now time.Time) (*Position, error) {
	now = now.UTC().Truncate(time.Microsecond)
	p := &Position{ID: id, State: PositionDraft, CreateTime: now, UpdateTime: now, Version: 1}
	p.set(fields, PositionWritableFields)
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Position) set(f PositionFields, paths []string) {
	for _, path := range paths {
		switch path {
		case FieldPositionTeam:
			p.TeamID = f.TeamID
		case FieldTitle:
			p.Title = strings.TrimSpace(f.Title)
		case FieldLevel:
			p.Level = strings.TrimSpace(f.Level)
		case FieldRequiredSkills:
			p.RequiredSkills = slices.Clone(f.RequiredSkills)
		case FieldAnnualCost:
			p.AnnualCost = f.AnnualCost
		case FieldTargetStartDate:
			p.TargetStart = f.TargetStart
		case FieldReason:
			p.Reason = f.Reason
		case FieldBackfillOf:
			p.BackfillOf = f.BackfillOf
		case FieldPositionDesc:
			p.Description = f.Description
		}
	}
}

// Validate checks the invariants of a position that need nothing else to decide.
func (p *Position) Validate() error {
	var vs fault.Violations
	if p.TeamID == "" {
		vs.Add(FieldPositionTeam, "REQUIRED", "team is required")
	}
	vs.RequireText(FieldTitle, p.Title, maxTitle)
	vs.LimitText(FieldLevel, p.Level, maxLevel)
	vs.LimitText(FieldPositionDesc, p.Description, maxPositionDesc)
	if len(p.RequiredSkills) > maxRequiredSkills {
		vs.Add(FieldRequiredSkills, "TOO_MANY", "at most 50 required skills")
	}
	for i, s := range p.RequiredSkills {
		if slices.Contains(p.RequiredSkills[:i], s) {
			vs.Add(FieldRequiredSkills, "DUPLICATE", "a skill is required once")
			break
		}
	}
	switch {
	case p.AnnualCost.Currency == "":
		vs.Add(FieldAnnualCost, "REQUIRED", "budgeted_annual_cost is required")
	case !p.AnnualCost.Currency.Supported():
		vs.Add(FieldAnnualCost, "CURRENCY_UNSUPPORTED", "the currency is not supported")
	case p.AnnualCost.Minor <= 0:
		vs.Add(FieldAnnualCost, "AMOUNT_NOT_POSITIVE", "budgeted_annual_cost must be positive")
	}
	if p.TargetStart.IsZero() {
		vs.Add(FieldTargetStartDate, "REQUIRED", "target_start_date is required")
	} else if !p.TargetStart.Valid() {
		vs.Add(FieldTargetStartDate, "INVALID_DATE", "target_start_date is not a calendar date")
	}
	switch p.Reason {
	case ReasonGrowth:
		if p.BackfillOf != "" {
			vs.Add(FieldBackfillOf, "NOT_A_BACKFILL", "backfill_of is set only when reason is BACKFILL")
		}
	case ReasonBackfill:
		if p.BackfillOf == "" {
			vs.Add(FieldBackfillOf, "REQUIRED", "a BACKFILL names the person it replaces")
		}
	default:
		vs.Add(FieldReason, "REQUIRED", "reason is GROWTH or BACKFILL")
	}
	return vs.Err()
}

// Apply sets the fields named in paths of a DRAFT position at time now and reports which of
// them changed. When something changed the version is incremented; the position must still
// satisfy its invariants, or it is left untouched and the violations are returned.
func (p *Position) Apply(paths []string, f PositionFields, now time.Time) ([]string, error) {
	if p.State != PositionDraft {
		return nil, p.invalid("update")
	}
	next := *p
	next.set(f, paths)
	if err := next.Validate(); err != nil {
		return nil, err
	}
	changed := changedFields(paths, PositionWritableFields, func(field string) bool {
		switch field {
		case FieldPositionTeam:
			return next.TeamID != p.TeamID
		case FieldTitle:
			return next.Title != p.Title
		case FieldLevel:
			return next.Level != p.Level
		case FieldRequiredSkills:
			return !slices.Equal(next.RequiredSkills, p.RequiredSkills)
		case FieldAnnualCost:
			return next.AnnualCost != p.AnnualCost
		case FieldTargetStartDate:
			return next.TargetStart != p.TargetStart
		case FieldReason:
			return next.Reason != p.Reason
		case FieldBackfillOf:
			return next.BackfillOf != p.BackfillOf
		case FieldPositionDesc:
			return next.Description != p.Description
		}
		return false
	})
	if len(changed) == 0 {
		return nil, nil
	}
	next.touch(now)
	*p = next
	return changed, nil
}

func (p *Position) touch(now time.Time) {
	p.UpdateTime = now.UTC().Truncate(time.Microsecond)
	p.Version++
}

// invalid is the error of an action the position's state does not allow.
func (p *Position) invalid(action string) error {
	return ErrPositionInvalidTransition.With("name", p.Name()).With("state", p.State.String()).With("action", action)
}

// CheckDeletable refuses to delete a position that left DRAFT: its history matters.
func (p *Position) CheckDeletable() error {
	if p.State != PositionDraft {
		return p.invalid("delete")
	}
	return nil
}

// Submit sends a DRAFT position for approval; requester is the submitting principal.
func (p *Position) Submit(requester string, now time.Time) error {
	if p.State != PositionDraft {
		return p.invalid("submit")
	}
	p.State, p.Requester = PositionPendingApproval, requester
	p.touch(now)
	return nil
}

// CheckDecidable refuses a decision (approval or rejection) by approver on a position that is
// not PENDING_APPROVAL or that approver submitted.
func (p *Position) CheckDecidable(approver, action string) error {
	if p.State != PositionPendingApproval {
		return p.invalid(action)
	}
	if approver == p.Requester {
		return ErrApproverIsRequester.With("name", p.Name())
	}
	return nil
}

// Approve opens a PENDING_APPROVAL position whose funds are held on line by hold. It counts
// two versions: the approval's and the opening's, the two events of the change.
func (p *Position) Approve(approver, line, hold string, now time.Time) error {
	if err := p.CheckDecidable(approver, "approve"); err != nil {
		return err
	}
	p.State, p.Approver, p.BudgetLine, p.Hold = PositionOpen, approver, line, hold
	p.OpenTime = now.UTC().Truncate(time.Microsecond)
	p.touch(now)
	p.Version++
	return nil
}

// holdPattern is the pattern of a budget hold's name.
const holdPattern names.Pattern = "budgets/{budget}/lines/{line}/holds/{hold}"

// HoldLine is the name of the budget line of the hold named hold, or false.
func HoldLine(hold string) (string, bool) {
	var b, l, h string
	if !holdPattern.Scan(hold, &b, &l, &h) {
		return "", false
	}
	return "budgets/" + b + "/lines/" + l, true
}

// LabourYear is the service period of a year of labour from start: start to the day before its
// anniversary. Budget commits its part up to the fiscal year's end: the cost from start to the
// year's end.
func LabourYear(start civil.Date) (civil.Date, civil.Date) {
	return start, start.AddMonths(12).AddDays(-1)
}

// Reject returns a PENDING_APPROVAL position to DRAFT.
func (p *Position) Reject(approver string, now time.Time) error {
	if err := p.CheckDecidable(approver, "reject"); err != nil {
		return err
	}
	p.State = PositionDraft
	p.touch(now)
	return nil
}

// Offer records that an offer is out for an OPEN position.
func (p *Position) Offer(now time.Time) error {
	if p.State != PositionOpen {
		return p.invalid("offer")
	}
	p.State = PositionOffer
	p.touch(now)
	return nil
}

// Fill fills an OPEN or OFFER position with the person whose ID is personID and who starts on
// start, and records the time to fill: the days from the opening's date to the fill's.
func (p *Position) Fill(personID string, start civil.Date, now time.Time) error {
	if p.State != PositionOpen && p.State != PositionOffer {
		return p.invalid("fill")
	}
	if !start.Valid() {
		return fault.Field("start_date", "INVALID_DATE", "start_date is not a calendar date")
	}
	p.State, p.PersonID, p.StartDate = PositionFilled, personID, start
	p.FillTime = now.UTC().Truncate(time.Microsecond)
	opened, filled := civil.DateOf(p.OpenTime), civil.DateOf(p.FillTime)
	p.TimeToFillDays = int32(filled.Time().Sub(opened.Time()) / (24 * time.Hour))
	p.touch(now)
	return nil
}

// Cancel cancels a position not yet FILLED or CANCELLED.
func (p *Position) Cancel(reason string, now time.Time) error {
	if p.State == PositionFilled || p.State == PositionCancelled {
		return p.invalid("cancel")
	}
	var vs fault.Violations
	vs.RequireText("reason", strings.TrimSpace(reason), maxReasonText)
	if err := vs.Err(); err != nil {
		return err
	}
	p.State, p.CancelReason = PositionCancelled, strings.TrimSpace(reason)
	p.touch(now)
	return nil
}
