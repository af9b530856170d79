package domain

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of budget fields.
const (
	minFiscalYear = 2000
	maxFiscalYear = 2100
)

// Wildcard stands for "any" in a parent name of a list (AIP-159): budgets/-/lines/- lists the
// actuals of every line of every budget.
const Wildcard = "-"

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

// BudgetName is the resource name "budgets/{id}".
func BudgetName(id string) string { return BudgetCollection + "/" + id }

// ParseBudgetName returns the ID in "budgets/{id}".
func ParseBudgetName(name string) (id string, ok bool) {
	segs, ok := splitName(name, BudgetCollection)
	if !ok || segs[0] == Wildcard {
		return "", false
	}
	return segs[0], true
}

// LineName is the resource name "budgets/{b}/lines/{l}".
func LineName(budgetID, lineID string) string {
	return BudgetName(budgetID) + "/" + LineCollection + "/" + lineID
}

// ParseLineName returns the IDs in "budgets/{b}/lines/{l}".
func ParseLineName(name string) (budgetID, lineID string, ok bool) {
	segs, ok := splitName(name, BudgetCollection, LineCollection)
	if !ok || slices.Contains(segs, Wildcard) {
		return "", "", false
	}
	return segs[0], segs[1], true
}

// ParseLineParent returns the IDs in the parent of an actuals or commitments list,
// "budgets/{b}/lines/{l}", where either may be the wildcard "-".
func ParseLineParent(parent string) (budgetID, lineID string, ok bool) {
	segs, ok := splitName(parent, BudgetCollection, LineCollection)
	if !ok {
		return "", "", false
	}
	return segs[0], segs[1], true
}

// ActualName is "budgets/{b}/lines/{l}/actuals/{id}".
func ActualName(budgetID, lineID, id string) string {
	return LineName(budgetID, lineID) + "/" + ActualCollection + "/" + id
}

// ParseActualName returns the IDs in an actual's name.
func ParseActualName(name string) (budgetID, lineID, id string, ok bool) {
	return parse3(name, ActualCollection)
}

// CommitmentName is "budgets/{b}/lines/{l}/commitments/{id}".
func CommitmentName(budgetID, lineID, id string) string {
	return LineName(budgetID, lineID) + "/" + CommitmentCollection + "/" + id
}

// ParseCommitmentName returns the IDs in a commitment's name.
func ParseCommitmentName(name string) (budgetID, lineID, id string, ok bool) {
	return parse3(name, CommitmentCollection)
}

// TransferName is "budgets/{b}/transfers/{id}".
func TransferName(budgetID, id string) string {
	return BudgetName(budgetID) + "/" + TransferCollection + "/" + id
}

// ParseTransferName returns the IDs in a transfer's name.
func ParseTransferName(name string) (budgetID, id string, ok bool) {
	segs, ok := splitName(name, BudgetCollection, TransferCollection)
	if !ok || slices.Contains(segs, Wildcard) {
		return "", "", false
	}
	return segs[0], segs[1], true
}

func parse3(name, collection string) (string, string, string, bool) {
	segs, ok := splitName(name, BudgetCollection, LineCollection, collection)
	if !ok || slices.Contains(segs, Wildcard) {
		return "", "", "", false
	}
	return segs[0], segs[1], segs[2], true
}

// splitName matches "c0/{id0}/c1/{id1}/…" and returns the IDs, each non-empty.
func splitName(name string, collections ...string) ([]string, bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 2*len(collections) {
		return nil, false
	}
	ids := make([]string, len(collections))
	for i, c := range collections {
		if parts[2*i] != c || parts[2*i+1] == "" {
			return nil, false
		}
		ids[i] = parts[2*i+1]
	}
	return ids, true
}

// Name is the budget's resource name.
func (b *Budget) Name() string { return BudgetName(b.ID) }

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
	var vs []faultViolation
	switch n := utf8.RuneCountInString(b.DisplayName); {
	case n == 0:
		vs = append(vs, violation("budget.display_name", "REQUIRED", "display_name is required"))
	case n > maxDisplayName:
		vs = append(vs, violation("budget.display_name", "TOO_LONG", "display_name is longer than 200 characters"))
	}
	if utf8.RuneCountInString(b.Owner) > maxOwner {
		vs = append(vs, violation("budget.owner", "TOO_LONG", "owner is longer than 256 characters"))
	}
	if utf8.RuneCountInString(b.Description) > maxDescription {
		vs = append(vs, violation("budget.description", "TOO_LONG", "description is longer than 2000 characters"))
	}
	if b.FiscalYear < minFiscalYear || b.FiscalYear > maxFiscalYear {
		vs = append(vs, violation("budget.fiscal_year", "OUT_OF_RANGE", "fiscal_year must be between 2000 and 2100"))
	}
	if !b.Currency.Supported() {
		vs = append(vs, violation("budget.currency_code", ErrCurrencyUnsupported.Reason, "the currency is not supported"))
	}
	if b.Policy != PolicyWarn && b.Policy != PolicyBlock {
		vs = append(vs, violation("budget.overspend_policy", "INVALID", "overspend_policy must be WARN or BLOCK"))
	}
	if b.StartMonth < time.January || b.StartMonth > time.December {
		vs = append(vs, violation("budget.start_month", "OUT_OF_RANGE", "the fiscal year start month must be 1-12"))
	}
	return invalid(vs)
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
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return invalid([]faultViolation{violation("reason", "REQUIRED", "a rejection needs a reason")})
	}
	if utf8.RuneCountInString(reason) > maxDescription {
		return invalid([]faultViolation{violation("reason", "TOO_LONG", "reason is longer than 2000 characters")})
	}
	return b.decide("reject", actor, reason, StateRejected, now)
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
	for _, f := range BudgetWritableFields {
		if !slices.Contains(paths, f) {
			continue
		}
		if (f == FieldBudgetDisplayName && next.DisplayName != b.DisplayName) ||
			(f == FieldBudgetOwner && next.Owner != b.Owner) ||
			(f == FieldBudgetDescription && next.Description != b.Description) ||
			(f == FieldBudgetPolicy && next.Policy != b.Policy) {
			changed = append(changed, f)
		}
	}
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
