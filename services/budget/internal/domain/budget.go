package domain

import (
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// Limits of budget fields.
const (
	minFiscalYear = 2000
	maxFiscalYear = 2100
)

// The budget's client-writable fields, by their API names.
const (
	FieldBudgetDisplayName = "display_name"
	FieldBudgetOwner       = "owner"
	FieldBudgetDescription = "description"
	FieldBudgetPolicy      = "overspend_policy"
)

// BudgetWritableFields lists the fields an update may change; BudgetDraftOnlyFields those it may
// change only while the revision is a DRAFT (the policy decides what spend is refused, so it is
// part of the approved plan).
var (
	BudgetWritableFields  = []string{FieldBudgetDisplayName, FieldBudgetOwner, FieldBudgetDescription, FieldBudgetPolicy}
	BudgetDraftOnlyFields = []string{FieldBudgetPolicy}
)

// BudgetFields are the client-writable fields of a budget. A zero Policy means WARN.
type BudgetFields struct {
	DisplayName string
	Owner       string
	Description string
	Policy      Policy
}

var stateNames = map[State]string{
	StateDraft: "DRAFT", StateSubmitted: "SUBMITTED", StateApproved: "APPROVED",
	StateRejected: "REJECTED", StateClosed: "CLOSED", StateSuperseded: "SUPERSEDED",
}

// String is the API name of the state, e.g. "APPROVED".
func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return "STATE_UNSPECIFIED"
}

// Open reports whether the revision is still being planned (DRAFT or SUBMITTED).
func (s State) Open() bool { return s == StateDraft || s == StateSubmitted }

// NewBudget returns revision 1 of a budget of the cost centre for fiscal year fy, in DRAFT,
// created at now. startMonth is the service's fiscal calendar, frozen on the budget; currency is
// the ISO code of the budget currency. The chain's ID is the budget's.
func NewBudget(id, costCenterID string, fy int32, startMonth time.Month, currency string, fields BudgetFields, now time.Time) (*Budget, error) {
	now = now.UTC().Truncate(time.Microsecond)
	b := &Budget{
		ID: id, ChainID: id, Revision: 1, CostCenterID: costCenterID, FiscalYear: fy,
		StartMonth: startMonth, Currency: Currency(currency),
		DisplayName: strings.TrimSpace(fields.DisplayName), Owner: strings.TrimSpace(fields.Owner),
		Description: fields.Description, Policy: fields.Policy, State: StateDraft,
		CreateTime: now, UpdateTime: now, Version: 1,
	}
	if b.Policy == 0 {
		b.Policy = PolicyWarn
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	return b, nil
}

// NewChain returns the chain that revision 1 starts; it is open until the first decision.
func NewChain(b *Budget) *Chain {
	return &Chain{ID: b.ChainID, CostCenterID: b.CostCenterID, FiscalYear: b.FiscalYear, OpenID: b.ID, Version: 1}
}

// Validate checks the budget's fields; every broken rule is a violation of its request field.
func (b *Budget) Validate() error {
	var vs fault.Violations
	requireText(&vs, "budget.display_name", b.DisplayName, maxDisplayName)
	limitText(&vs, "budget.owner", b.Owner, maxOwner)
	limitText(&vs, "budget.description", b.Description, maxDescription)
	if b.FiscalYear < minFiscalYear || b.FiscalYear > maxFiscalYear {
		vs.Add("budget.fiscal_year", "OUT_OF_RANGE", "fiscal_year must be between 2000 and 2100")
	}
	if !b.Currency.Supported() {
		vs.Add("budget.currency_code", ErrCurrencyUnsupported.Reason, "the currency is not supported")
	}
	if b.Policy != PolicyWarn && b.Policy != PolicyBlock {
		vs.Add("budget.overspend_policy", "INVALID", "overspend_policy must be WARN or BLOCK")
	}
	if b.StartMonth < time.January || b.StartMonth > time.December {
		vs.Add("budget.start_month", "OUT_OF_RANGE", "the fiscal year start month must be 1-12")
	}
	return vs.Err()
}

// transitionError is INVALID_STATE_TRANSITION with the state and the refused transition.
func (b *Budget) transitionError(transition string) error {
	return ErrInvalidTransition.With("state", b.State.String()).With("transition", transition).
		Withf("cannot %s a budget in state %s", transition, b.State)
}

// touch records a change at now.
func (b *Budget) touch(now time.Time) {
	b.Version++
	b.UpdateTime = now.UTC().Truncate(time.Microsecond)
}

// Submit sends a DRAFT revision with lineCount lines for approval.
func (b *Budget) Submit(actor string, lineCount int, now time.Time) error {
	if b.State != StateDraft {
		return b.transitionError("submit")
	}
	if lineCount < 1 {
		return ErrBudgetHasNoLines
	}
	b.State, b.Submitter, b.SubmitTime = StateSubmitted, actor, now.UTC().Truncate(time.Microsecond)
	b.touch(now)
	return nil
}

// decide checks the four-eyes rule and records the decision.
func (b *Budget) decide(transition, actor, reason string, to State, now time.Time) error {
	if b.State != StateSubmitted {
		return b.transitionError(transition)
	}
	if actor == b.Submitter {
		return ErrSelfApproval.With("submitter", b.Submitter).Withf("%s submitted the budget and cannot %s it", actor, transition)
	}
	b.State, b.Decider, b.DecisionReason = to, actor, reason
	b.DecisionTime = now.UTC().Truncate(time.Microsecond)
	b.touch(now)
	return nil
}

// Approve approves a SUBMITTED revision. The caller supersedes the previous in-force revision
// (Supersede) and records the approval on the chain (Chain.Approved).
func (b *Budget) Approve(actor string, now time.Time) error {
	return b.decide("approve", actor, "", StateApproved, now)
}

// Reject rejects a SUBMITTED revision; the reason is required. The caller clears the chain's
// open revision.
func (b *Budget) Reject(actor, reason string, now time.Time) error {
	if err := checkRejection(reason); err != nil {
		return err
	}
	return b.decide("reject", actor, strings.TrimSpace(reason), StateRejected, now)
}

// Close closes an APPROVED revision: no more spend, transfers or revisions. openID is the
// chain's open revision: closing fails with REVISION_IN_PROGRESS while there is one.
func (b *Budget) Close(actor, openID string, now time.Time) error {
	if b.State != StateApproved {
		return b.transitionError("close")
	}
	// A closed chain takes no more revisions, so the open one could never be approved.
	if openID != "" {
		return ErrRevisionInProgress.With("open_revision", BudgetName(openID))
	}
	b.State, b.Closer, b.CloseTime = StateClosed, actor, now.UTC().Truncate(time.Microsecond)
	b.touch(now)
	return nil
}

// Revise returns a new DRAFT revision of an APPROVED or REJECTED revision, with ID newID. openID
// is the chain's open revision (REVISION_IN_PROGRESS unless empty); latestRevision is the highest
// revision number of the chain, so that revising an older revision never reuses a number. b is
// unchanged; the caller copies the lines (CopyLines) and sets the chain's OpenID.
func (b *Budget) Revise(newID, openID string, latestRevision int32, now time.Time) (*Budget, error) {
	if b.State != StateApproved && b.State != StateRejected {
		return nil, b.transitionError("revise")
	}
	if openID != "" {
		return nil, ErrRevisionInProgress.With("open_revision", BudgetName(openID))
	}
	now = now.UTC().Truncate(time.Microsecond)
	n := &Budget{
		ID: newID, ChainID: b.ChainID, Revision: max(b.Revision, latestRevision) + 1,
		CostCenterID: b.CostCenterID, FiscalYear: b.FiscalYear, StartMonth: b.StartMonth, Currency: b.Currency,
		DisplayName: b.DisplayName, Owner: b.Owner, Description: b.Description, Policy: b.Policy,
		State: StateDraft, PreviousID: b.ID, PlannedMinor: b.PlannedMinor,
		CreateTime: now, UpdateTime: now, Version: 1,
	}
	return n, nil
}

// Supersede marks an APPROVED revision as superseded by the newly approved revision byID.
func (b *Budget) Supersede(byID string, now time.Time) error {
	if b.State != StateApproved {
		return b.transitionError("supersede")
	}
	b.State, b.SupersededByID = StateSuperseded, byID
	b.touch(now)
	return nil
}

// CheckDeletable allows deleting a DRAFT revision; revision 1 only without spend (hasSpend), as
// its deletion removes the chain and the spend would be orphaned.
func (b *Budget) CheckDeletable(hasSpend bool) error {
	if b.State != StateDraft {
		return ErrBudgetNotDeletable.With("state", b.State.String())
	}
	if b.Revision == 1 && hasSpend {
		return ErrBudgetHasSpend
	}
	return nil
}

// Apply sets the fields named in paths to their values in fields and reports which changed. The
// version increments when something changed. overspend_policy changes only in DRAFT
// (BUDGET_NOT_DRAFT); names and descriptions in any state.
func (b *Budget) Apply(paths []string, fields BudgetFields, now time.Time) (changed []string, err error) {
	next := *b
	for _, p := range paths {
		switch p {
		case FieldBudgetDisplayName:
			next.DisplayName = strings.TrimSpace(fields.DisplayName)
		case FieldBudgetOwner:
			next.Owner = strings.TrimSpace(fields.Owner)
		case FieldBudgetDescription:
			next.Description = fields.Description
		case FieldBudgetPolicy:
			next.Policy = fields.Policy
			if next.Policy == 0 {
				next.Policy = PolicyWarn
			}
		}
	}
	if err := next.Validate(); err != nil {
		return nil, err
	}
	if next.Policy != b.Policy && b.State != StateDraft {
		return nil, ErrBudgetNotDraft.With("field", "budget."+FieldBudgetPolicy).With("state", b.State.String()).
			Withf("overspend_policy can change only while the budget is a draft")
	}
	changed = changedFields(paths, BudgetWritableFields, func(f string) bool {
		return (f == FieldBudgetDisplayName && next.DisplayName != b.DisplayName) ||
			(f == FieldBudgetOwner && next.Owner != b.Owner) ||
			(f == FieldBudgetDescription && next.Description != b.Description) ||
			(f == FieldBudgetPolicy && next.Policy != b.Policy)
	})
	if len(changed) == 0 {
		return nil, nil
	}
	next.touch(now)
	*b = next
	return changed, nil
}

// CheckSpendable allows spend, transfers and commitments only on the in-force revision: APPROVED
// and not superseded.
func (b *Budget) CheckSpendable() error {
	switch b.State {
	case StateApproved:
		return nil
	case StateClosed:
		return ErrBudgetClosed.With("budget", b.Name())
	case StateSuperseded:
		return ErrBudgetSuperseded.With("budget", b.Name()).With("superseded_by", BudgetName(b.SupersededByID)).
			Withf("budget revision %d is superseded by %s", b.Revision, BudgetName(b.SupersededByID))
	}
	return ErrBudgetNotApproved.With("budget", b.Name()).With("state", b.State.String())
}

// Approved records on the chain that revision id was approved: it is in force, and no revision
// is open.
func (c *Chain) Approved(id string) {
	c.InForceID, c.OpenID = id, ""
	c.Version++
}

// Opened records a new open revision.
func (c *Chain) Opened(id string) {
	c.OpenID = id
	c.Version++
}

// Decided clears the open revision after a rejection or deletion.
func (c *Chain) Decided() {
	c.OpenID = ""
	c.Version++
}
