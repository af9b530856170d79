package domain

import (
	"slices"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// Date is a calendar date without a time zone (the shared runtime's civil.Date).
type Date = civil.Date

// Month is a calendar month, e.g. 2027-03 (the shared runtime's civil.Month); exchange rates are
// set per month.
type Month = civil.Month

// Currency is an ISO 4217 alphabetic code, e.g. "EUR" (the shared runtime's money.Currency).
type Currency = money.Currency

// Amount is an amount of money in integer minor units of its currency (the shared runtime's
// money.Amount): exact, never a float.
type Amount = money.Amount

// State is the lifecycle state of a budget revision.
type State int

// The budget states. DRAFT → SUBMITTED → APPROVED | REJECTED; APPROVED → CLOSED; an APPROVED
// revision becomes SUPERSEDED when a later revision of it is approved.
const (
	StateDraft State = iota + 1
	StateSubmitted
	StateApproved
	StateRejected
	StateClosed
	StateSuperseded
)

// Policy says what happens when a commitment or transfer would take a line beyond its available
// amount.
type Policy int

// The overspend policies: WARN records the change and emits an event, BLOCK refuses it.
const (
	PolicyWarn Policy = iota + 1
	PolicyBlock
)

// Category is the TBM-style cost pool of a budget line.
type Category int

// The categories.
const (
	CategoryHardware Category = iota + 1
	CategorySoftware
	CategoryCloud
	CategoryInternalLabour
	CategoryExternalLabour
	CategoryOutsideServices
	CategoryFacilities
	CategoryTelecom
	CategoryOther
)

// ExpenseType says whether a line is capital or operating expenditure.
type ExpenseType int

// The expense types.
const (
	Capex ExpenseType = iota + 1
	Opex
)

// Granularity is how a line's planned amount is phased over the fiscal year.
type Granularity int

// The phasing granularities: 12 monthly or 4 quarterly amounts.
const (
	Monthly Granularity = iota + 1
	Quarterly
)

// Phasing spreads a line's planned amount over the fiscal year: Amounts (minor units of the
// budget currency) has 12 entries for Monthly and 4 for Quarterly, in fiscal order, and sums to
// the line's planned amount.
type Phasing struct {
	Granularity Granularity
	Amounts     []int64
}

// Budget is one revision of a cost centre's budget for a fiscal year. All revisions of one
// budget share a ChainID (the ID of revision 1); spend is recorded per chain and line ID, so it
// carries over when a revision supersedes another.
type Budget struct {
	ID           string
	ChainID      string
	Revision     int32
	CostCenterID string
	FiscalYear   int32
	// StartMonth is the first calendar month of the fiscal year, frozen when the budget is created.
	StartMonth  time.Month
	Currency    Currency
	DisplayName string
	Owner       string
	Description string
	Policy      Policy
	State       State
	// PreviousID is the revision this one revises; empty for revision 1.
	PreviousID string
	// SupersededByID is the revision whose approval superseded this one.
	SupersededByID string
	Submitter      string
	SubmitTime     time.Time
	// Decider approved or rejected the revision; DecisionReason is their comment.
	Decider        string
	DecisionTime   time.Time
	DecisionReason string
	Closer         string
	CloseTime      time.Time
	// PlannedMinor is the sum of the revision's lines' planned amounts.
	PlannedMinor int64
	CreateTime   time.Time
	UpdateTime   time.Time
	// Version counts the changes of the revision; it starts at 1 and orders its events.
	Version int64
}

// Chain is what the revisions of one budget share: the cost centre and fiscal year (one chain
// per pair), which revision is in force and which is open, and the state of the budget-level
// alerts. Writers of spend lock it, which serialises every change of the budget's figures.
type Chain struct {
	ID           string
	CostCenterID string
	FiscalYear   int32
	// InForceID is the approved (or closed) revision whose plan is in force; empty before the
	// first approval.
	InForceID string
	// OpenID is the revision in DRAFT or SUBMITTED, if any; at most one at a time.
	OpenID string
	// ForecastOverPlan records whether the run-rate forecast exceeded the plan at the last
	// change, so budget.forecast_over_plan fires once per crossing.
	ForecastOverPlan bool
	Version          int64
}

// Line is a budget line: planned money for one category and expense type.
type Line struct {
	ID           string
	BudgetID     string
	DisplayName  string
	Category     Category
	ExpenseType  ExpenseType
	PlannedMinor int64
	Phasing      Phasing
	// Thresholds are alert levels in percent of planned, ascending (default 80 and 100).
	Thresholds  []int32
	Tag         string
	Description string
	CreateTime  time.Time
	UpdateTime  time.Time
	Version     int64
}

// LineBalance is the running spend of a line across its budget's revisions, in minor units of
// the budget currency.
type LineBalance struct {
	ChainID        string
	LineID         string
	ActualMinor    int64
	CommittedMinor int64
	// HeldMinor is what the line's HELD holds hold.
	HeldMinor int64
	Version   int64
}

// Consumed is actual + committed + held; FIGURE_OUT_OF_RANGE when the sum does not fit.
func (b *LineBalance) Consumed() (int64, error) {
	var c money.Calc
	s := c.Sum(b.ActualMinor, b.CommittedMinor, b.HeldMinor)
	return s, c.Err()
}

// Available is planned − committed − actual − held; FIGURE_OUT_OF_RANGE when it does not fit,
// never a wrapped number a funds check would trust.
func (b *LineBalance) Available(planned int64) (int64, error) {
	var c money.Calc
	s := c.Sub(c.Sub(c.Sub(planned, b.CommittedMinor), b.ActualMinor), b.HeldMinor)
	return s, c.Err()
}

// RateUse records the exchange rate that converted an amount: the rate resource, its month and
// pair, and the decimal value used.
type RateUse struct {
	RateID string
	Month  Month
	Source Currency
	Target Currency
	Value  string
}

// ActualSource says where an actual comes from.
type ActualSource int

// The actual sources.
const (
	SourceManual ActualSource = iota + 1
	SourceVendorInvoice
	SourceIncidentCost
	SourcePayroll
	SourceOther
)

// Actual is money spent on a line. Actuals are never edited: a mistake is reversed by a
// correction, a negative actual that names the one it corrects.
type Actual struct {
	ID       string
	BudgetID string
	ChainID  string
	LineID   string
	// Amount is in the currency it was spent in; ConvertedMinor in the budget currency.
	Amount         Amount
	ConvertedMinor int64
	Rate           *RateUse // nil when Amount is in the budget currency
	BookingDate    Date
	Period         int // fiscal period 1-12 of BookingDate
	Description    string
	Source         ActualSource
	ExternalRef    string
	CorrectsID     string
	CommitmentID   string // the commitment this actual consumed, if any
	ReleasedMinor  int64  // how much of that commitment it released
	// The revisions the corrected actual and the commitment were recorded under: spend carries
	// over revisions, so they may be earlier ones than BudgetID, and their names need them.
	CorrectsBudgetID   string
	CommitmentBudgetID string
	Creator            string
	CreateTime         time.Time
}

// CommitmentSource says what promised the money.
type CommitmentSource int

// The commitment sources.
const (
	CommitmentContract CommitmentSource = iota + 1
	CommitmentPosition
	CommitmentPurchaseOrder
	CommitmentOther
)

// CommitmentState is OPEN while money remains committed, RELEASED when none does.
type CommitmentState int

// The commitment states.
const (
	CommitmentOpen CommitmentState = iota + 1
	CommitmentReleased
)

// Commitment is money promised on a line but not yet spent. It is released, in part or in
// full, as actuals arrive or when its source ends.
type Commitment struct {
	ID             string
	BudgetID       string
	ChainID        string
	LineID         string
	Amount         Amount
	ConvertedMinor int64
	RemainingMinor int64
	Rate           *RateUse
	Date           Date // when the money is expected to be spent
	Period         int
	Description    string
	Source         CommitmentSource
	SourceRef      string
	State          CommitmentState
	// HoldID and HoldBudgetID name the hold the commitment was converted from, if any.
	HoldID       string
	HoldBudgetID string
	Creator      string
	CreateTime   time.Time
	UpdateTime   time.Time
	Version      int64
}

// TransferState is the lifecycle of a transfer: PENDING → APPROVED | REJECTED.
type TransferState int

// The transfer states.
const (
	TransferPending TransferState = iota + 1
	TransferApproved
	TransferRejected
)

// Transfer moves planned money from one line to another, of the same budget or of another
// budget of the same fiscal year and currency. Totals are conserved.
type Transfer struct {
	ID             string
	BudgetID       string // the source line's budget revision; the transfer's parent
	SourceLineID   string
	TargetBudgetID string
	TargetLineID   string
	AmountMinor    int64
	EffectiveDate  Date
	Period         int
	Reason         string
	State          TransferState
	Requester      string
	Decider        string
	DecisionTime   time.Time
	DecisionReason string
	CreateTime     time.Time
	UpdateTime     time.Time
	Version        int64
}

// ExchangeRate converts Source to Target for a calendar month: one unit of Source is Value
// units of Target. Value is a canonical decimal string.
type ExchangeRate struct {
	ID         string
	Month      Month
	Source     Currency
	Target     Currency
	Value      string
	CreateTime time.Time
	UpdateTime time.Time
	Version    int64
}

// changedFields lists the fields of writable, in its order, that paths names and that differ
// after an update: what Apply reports as changed.
func changedFields(paths, writable []string, differs func(field string) bool) []string {
	var changed []string
	for _, f := range writable {
		if slices.Contains(paths, f) && differs(f) {
			changed = append(changed, f)
		}
	}
	return changed
}
