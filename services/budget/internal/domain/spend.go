package domain

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// Limits of spend fields.
const (
	maxExternalRef = 512
)

// ActualInput is what a client records as an actual. LineID names a line of the budget.
type ActualInput struct {
	LineID       string
	Amount       Amount
	BookingDate  Date
	Description  string
	Source       ActualSource
	ExternalRef  string
	CorrectsID   string
	CommitmentID string
	// CommitmentBudgetID is the revision the commitment was recorded under (the store loads it).
	CommitmentBudgetID string
}

// Corrected is what a correction needs to know of the actual it corrects: the actual and the sums
// of its earlier corrections, in its own currency and converted.
type Corrected struct {
	Original            *Actual
	PriorAmountMinor    int64 // sum of earlier corrections' Amount.Minor (≤ 0)
	PriorConvertedMinor int64 // sum of their ConvertedMinor
}

// NewActual returns the actual recorded on the in-force revision b at now. rate is the exchange
// rate of the booking month for the pair (amount currency → budget currency), or nil when none
// exists or none is needed; corrected is required when in.CorrectsID is set (the store loads it).
// A correction is converted with its original's rate, never today's, so that it reverses exactly
// what was booked; the correction that completes a full reversal takes the remaining converted
// amount so that rounding leaves no residue.
func NewActual(id string, b *Budget, in ActualInput, rate *ExchangeRate, corrected *Corrected, creator string, now time.Time) (*Actual, error) {
	if err := b.CheckSpendable(); err != nil {
		return nil, err
	}
	var vs fault.Violations
	switch {
	case in.Amount.Minor == 0:
		vs.Add("actual.amount", "AMOUNT_ZERO", "amount must not be zero")
	case in.Amount.Minor > 0 && in.CorrectsID != "":
		vs.Add("actual.amount", "CORRECTION_NOT_NEGATIVE", "a correction must be negative")
	case in.Amount.Minor < 0 && in.CorrectsID == "":
		vs.Add("actual.corrects", "CORRECTS_REQUIRED", "a negative actual must name the actual it corrects")
	}
	if !in.Amount.Currency.Supported() {
		vs.Add("actual.amount", ErrCurrencyUnsupported.Reason, "the currency is not supported")
	}
	if in.Source == 0 {
		in.Source = SourceManual // the API's default: an actual without a source was entered by hand
	}
	if in.Source < SourceManual || in.Source > SourceOther {
		vs.Add("actual.source", "INVALID_VALUE", "source is not one of the defined values")
	}
	limitText(&vs, "actual.description", in.Description, maxDescription)
	limitText(&vs, "actual.external_reference", in.ExternalRef, maxExternalRef)
	requireDate(&vs, "actual.booking_date", in.BookingDate)
	if in.CorrectsID != "" && corrected != nil {
		o := corrected.Original
		switch {
		case o.ChainID != b.ChainID || o.LineID != in.LineID:
			vs.Add("actual.corrects", "CORRECTION_LINE_MISMATCH", "a correction must be on the line of the actual it corrects")
		case o.CorrectsID != "":
			vs.Add("actual.corrects", "CORRECTS_CORRECTION", "correct the original actual, not a correction")
		case o.Amount.Currency != in.Amount.Currency:
			vs.Add("actual.amount", ErrCurrencyMismatch.Reason, "a correction must be in the currency of the actual it corrects")
		}
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	if in.CorrectsID != "" && corrected == nil {
		return nil, fmt.Errorf("actual %s corrects %s, which was not loaded", id, in.CorrectsID)
	}
	period, err := b.Calendar().CheckDate(b.FiscalYear, in.BookingDate, "actual.booking_date")
	if err != nil {
		return nil, err
	}
	a := &Actual{
		ID: id, BudgetID: b.ID, ChainID: b.ChainID, LineID: in.LineID, Amount: in.Amount,
		BookingDate: in.BookingDate, Period: period, Description: in.Description, Source: in.Source,
		ExternalRef: strings.TrimSpace(in.ExternalRef), CorrectsID: in.CorrectsID, CommitmentID: in.CommitmentID,
		Creator: creator, CreateTime: now.UTC().Truncate(time.Microsecond),
	}
	if in.CommitmentID != "" {
		a.CommitmentBudgetID = in.CommitmentBudgetID
	}
	if in.CorrectsID == "" {
		a.ConvertedMinor, a.Rate, err = ConvertAt(in.Amount, in.BookingDate, b.Currency, rate)
		if err != nil {
			return nil, fault.OnField(err, "actual.amount")
		}
		return a, nil
	}
	o := corrected.Original
	a.CorrectsBudgetID = o.BudgetID
	total, err := money.AddMinor(corrected.PriorAmountMinor, in.Amount.Minor)
	if err != nil {
		return nil, fault.OnField(err, "actual.amount")
	}
	if total < -o.Amount.Minor {
		return nil, ErrCorrectionExceedsOriginal.With("original", money.FormatMinor(o.Amount.Minor, o.Amount.Currency)).
			With("corrected", money.FormatMinor(-corrected.PriorAmountMinor, o.Amount.Currency)).
			With("requested", money.FormatMinor(-in.Amount.Minor, o.Amount.Currency)).
			Withf("%s would correct more than the original %s", money.FormatMinor(-total, o.Amount.Currency), o.Amount)
	}
	switch {
	case total == -o.Amount.Minor:
		a.ConvertedMinor = -(o.ConvertedMinor + corrected.PriorConvertedMinor)
		a.Rate = cloneRate(o.Rate)
	case o.Rate == nil:
		a.ConvertedMinor = in.Amount.Minor
	default:
		if a.ConvertedMinor, a.Rate, err = ConvertWith(in.Amount, o.Rate); err != nil {
			return nil, fault.OnField(err, "actual.amount")
		}
	}
	return a, nil
}

func cloneRate(r *RateUse) *RateUse {
	if r == nil {
		return nil
	}
	c := *r
	return &c
}

// CommitmentInput is what a client records as a commitment.
type CommitmentInput struct {
	LineID      string
	Amount      Amount
	Date        Date
	Description string
	Source      CommitmentSource
	SourceRef   string
}

// NewCommitment returns an OPEN commitment on the in-force revision b, converted with rate (the
// rate of the expected date's month, nil when none exists or none is needed). The funds check
// under BLOCK is the caller's (CheckCommitFunds), as it needs the line's balance.
func NewCommitment(id string, b *Budget, in CommitmentInput, rate *ExchangeRate, creator string, now time.Time) (*Commitment, error) {
	if err := b.CheckSpendable(); err != nil {
		return nil, err
	}
	var vs fault.Violations
	if in.Amount.Minor <= 0 {
		vs.Add("commitment.amount", "AMOUNT_NOT_POSITIVE", "amount must be positive")
	}
	if !in.Amount.Currency.Supported() {
		vs.Add("commitment.amount", ErrCurrencyUnsupported.Reason, "the currency is not supported")
	}
	if in.Source == 0 {
		in.Source = CommitmentOther // the API's default
	}
	if in.Source < CommitmentContract || in.Source > CommitmentOther {
		vs.Add("commitment.source", "INVALID_VALUE", "source is not one of the defined values")
	}
	limitText(&vs, "commitment.source_reference", in.SourceRef, maxExternalRef)
	limitText(&vs, "commitment.description", in.Description, maxDescription)
	requireDate(&vs, "commitment.expected_date", in.Date)
	if err := vs.Err(); err != nil {
		return nil, err
	}
	period, err := b.Calendar().CheckDate(b.FiscalYear, in.Date, "commitment.expected_date")
	if err != nil {
		return nil, err
	}
	conv, use, err := ConvertAt(in.Amount, in.Date, b.Currency, rate)
	if err != nil {
		return nil, fault.OnField(err, "commitment.amount")
	}
	now = now.UTC().Truncate(time.Microsecond)
	return &Commitment{
		ID: id, BudgetID: b.ID, ChainID: b.ChainID, LineID: in.LineID, Amount: in.Amount,
		ConvertedMinor: conv, RemainingMinor: conv, Rate: use, Date: in.Date, Period: period,
		Description: in.Description, Source: in.Source, SourceRef: strings.TrimSpace(in.SourceRef),
		State: CommitmentOpen, Creator: creator, CreateTime: now, UpdateTime: now, Version: 1,
	}, nil
}

// Release releases amount (minor units of the budget currency; 0 = all that remains) of an OPEN
// commitment and returns how much it released. The commitment is RELEASED when nothing remains.
func (c *Commitment) Release(amount int64, now time.Time) (released int64, err error) {
	if c.State != CommitmentOpen {
		return 0, ErrCommitmentReleased.With("commitment", c.Name())
	}
	switch {
	case amount < 0:
		return 0, fault.Field("amount", "AMOUNT_NOT_POSITIVE", "the amount to release must be positive")
	case amount > c.RemainingMinor:
		return 0, fault.Field("amount", "RELEASE_EXCEEDS_REMAINING",
			fmt.Sprintf("only %d minor units remain committed", c.RemainingMinor))
	case amount == 0:
		amount = c.RemainingMinor
	}
	c.release(amount, now)
	return amount, nil
}

func (c *Commitment) release(amount int64, now time.Time) {
	c.RemainingMinor -= amount
	if c.RemainingMinor == 0 {
		c.State = CommitmentReleased
	}
	c.Version++
	c.UpdateTime = now.UTC().Truncate(time.Microsecond)
}

// ReleaseFor releases what an actual of actualConverted minor units consumes of the commitment
// it names: min(converted, remaining); nothing for a correction or a released commitment.
func (c *Commitment) ReleaseFor(actualConverted int64, now time.Time) int64 {
	if c.State != CommitmentOpen || actualConverted <= 0 {
		return 0
	}
	r := min(actualConverted, c.RemainingMinor)
	if r > 0 {
		c.release(r, now)
	}
	return r
}

// Revalue converts an OPEN commitment again with rate, a correction of the rate it was converted
// with, and returns the change of its remaining amount (minor units of the budget currency).
// What its actuals consumed stays consumed: the remaining amount becomes the new converted amount
// less that, never below zero (then it is RELEASED, as by a release of all). changed is false, and nothing changes, when the commitment is not
// open, was converted with another rate, or with the same value.
func (c *Commitment) Revalue(rate *ExchangeRate, now time.Time) (delta int64, changed bool, err error) {
	if c.State != CommitmentOpen || !revalues(c.Rate, rate) {
		return 0, false, nil
	}
	conv, use, err := ConvertWith(c.Amount, rate.Use())
	if err != nil {
		return 0, false, err
	}
	consumed := c.ConvertedMinor - c.RemainingMinor
	remaining := max(conv-consumed, 0)
	delta = remaining - c.RemainingMinor
	c.ConvertedMinor, c.RemainingMinor, c.Rate = conv, remaining, use
	if remaining == 0 {
		c.State = CommitmentReleased // as a release of all that remains would
	}
	c.UpdateTime = now.UTC().Truncate(time.Microsecond)
	c.Version++
	return delta, true, nil
}

// revalues says whether rate is a corrected value of the rate recorded as use.
func revalues(use *RateUse, rate *ExchangeRate) bool {
	return use != nil && use.RateID == rate.ID && use.Value != rate.Value
}

// CheckCommitmentFor refuses a commitment named by an actual of another chain or line.
func CheckCommitmentFor(c *Commitment, chainID, lineID string) error {
	if c.ChainID != chainID || c.LineID != lineID {
		return fault.Field("actual.commitment", "COMMITMENT_LINE_MISMATCH",
			"the commitment belongs to another line")
	}
	return nil
}

// CheckCommitFunds applies the overspend policy to a commitment, hold or transfer of amount
// minor units against the available amount of line (its name): under BLOCK more than available
// is INSUFFICIENT_FUNDS, with the line and the available and requested amounts as decimals of
// currency c. WARN never refuses.
func CheckCommitFunds(policy Policy, line string, available, amount int64, c Currency) error {
	if policy != PolicyBlock || amount <= available {
		return nil
	}
	return ErrInsufficientFunds.With("line", line).With("available", money.FormatMinor(available, c)).With("requested", money.FormatMinor(amount, c)).
		Withf("%s exceeds the available %s", money.FormatMinor(amount, c), money.FormatMinor(available, c))
}

// Decision is the answer of a funds check.
type Decision int

// The decisions.
const (
	DecisionAllow Decision = iota + 1
	DecisionWarn
	DecisionDeny
)

// Funds-check reasons besides the budget errors' reasons.
const (
	ReasonWithinAvailable  = "WITHIN_AVAILABLE"
	ReasonExceedsAvailable = "EXCEEDS_AVAILABLE"
)

// DecideFunds answers CheckFunds for amount minor units against the line's available on budget
// b: a budget not in force is DENY with its reason (the caller asked a question; this is no
// error), otherwise ALLOW within available, WARN or DENY beyond it by policy.
func DecideFunds(b *Budget, available, amount int64) (Decision, string) {
	if err := b.CheckSpendable(); err != nil {
		return DecisionDeny, fault.As(err).Reason
	}
	if amount <= available {
		return DecisionAllow, ReasonWithinAvailable
	}
	if b.Policy == PolicyBlock {
		return DecisionDeny, ReasonExceedsAvailable
	}
	return DecisionWarn, ReasonExceedsAvailable
}

// TransferInput is what a client requests as a transfer. A zero EffectiveDate means today.
type TransferInput struct {
	SourceLineID  string
	TargetLineID  string
	AmountMinor   int64
	EffectiveDate Date
	Reason        string
}

// NewTransfer returns a PENDING transfer from a line of src to a line of dst (src itself for a
// transfer within a budget). Both budgets must be in force, of the same fiscal year, calendar
// and currency. The funds check under BLOCK is the caller's (CheckCommitFunds).
func NewTransfer(id string, src, dst *Budget, in TransferInput, requester string, today Date, now time.Time) (*Transfer, error) {
	var vs fault.Violations
	if in.AmountMinor <= 0 {
		vs.Add("transfer.amount", "AMOUNT_NOT_POSITIVE", "amount must be positive")
	}
	reason := strings.TrimSpace(in.Reason)
	requireText(&vs, "transfer.reason", reason, maxDescription)
	if src.ID == dst.ID && in.SourceLineID == in.TargetLineID {
		vs.Add("transfer.target_line", "SAME_LINE", "source and target line must differ")
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	for _, b := range []*Budget{src, dst} {
		if err := b.CheckSpendable(); err != nil {
			return nil, err
		}
	}
	if src.Currency != dst.Currency {
		return nil, ErrTransferCurrencyMismatch.With("source_currency", string(src.Currency)).With("target_currency", string(dst.Currency))
	}
	if src.FiscalYear != dst.FiscalYear || src.Calendar().start() != dst.Calendar().start() {
		return nil, ErrFiscalCalendarMismatch.With("source_budget", src.Name()).With("target_budget", dst.Name())
	}
	eff := in.EffectiveDate
	if eff.IsZero() {
		eff = today
	}
	period, err := src.Calendar().CheckDate(src.FiscalYear, eff, "transfer.effective_date")
	if err != nil {
		return nil, err
	}
	now = now.UTC().Truncate(time.Microsecond)
	return &Transfer{
		ID: id, BudgetID: src.ID, SourceLineID: in.SourceLineID, TargetBudgetID: dst.ID, TargetLineID: in.TargetLineID,
		AmountMinor: in.AmountMinor, EffectiveDate: eff, Period: period, Reason: reason, State: TransferPending,
		Requester: requester, CreateTime: now, UpdateTime: now, Version: 1,
	}, nil
}

var transferStateNames = map[TransferState]string{TransferPending: "PENDING", TransferApproved: "APPROVED", TransferRejected: "REJECTED"}

// String is the API name of the state.
func (s TransferState) String() string {
	if n, ok := transferStateNames[s]; ok {
		return n
	}
	return "STATE_UNSPECIFIED"
}

func (t *Transfer) decide(transition, actor, reason string, to TransferState, now time.Time) error {
	if t.State != TransferPending {
		return ErrInvalidTransition.With("state", t.State.String()).With("transition", transition).
			Withf("cannot %s a transfer in state %s", transition, t.State)
	}
	if actor == t.Requester {
		return ErrSelfApproval.With("requester", t.Requester).Withf("%s requested the transfer and cannot %s it", actor, transition)
	}
	t.State, t.Decider, t.DecisionReason = to, actor, strings.TrimSpace(reason)
	t.DecisionTime = now.UTC().Truncate(time.Microsecond)
	t.Version++
	t.UpdateTime = t.DecisionTime
	return nil
}

// Approve approves a PENDING transfer; the caller then moves the money (ApplyTransfer).
func (t *Transfer) Approve(actor, reason string, now time.Time) error {
	if utf8.RuneCountInString(reason) > maxDescription {
		return fault.Field("reason", "TOO_LONG", "reason is longer than 2000 characters")
	}
	return t.decide("approve", actor, reason, TransferApproved, now)
}

// Reject rejects a PENDING transfer; the reason is required.
func (t *Transfer) Reject(actor, reason string, now time.Time) error {
	if err := checkRejection(reason); err != nil {
		return err
	}
	return t.decide("reject", actor, reason, TransferRejected, now)
}

// ApplyTransfer moves an approved transfer's amount from the source line's phasing (from its
// effective period on, Phasing.Take) into the target's effective period, changing both planned
// amounts; totals are conserved. Both lines change or neither.
func ApplyTransfer(t *Transfer, source, target *Line, now time.Time) error {
	taken, err := source.Phasing.Take(t.Period, t.AmountMinor)
	if err != nil {
		return err
	}
	tp, err := money.AddMinor(target.PlannedMinor, t.AmountMinor)
	if err != nil {
		return err
	}
	now = now.UTC().Truncate(time.Microsecond)
	source.Phasing, source.PlannedMinor = taken, source.PlannedMinor-t.AmountMinor
	target.Phasing, target.PlannedMinor = target.Phasing.Add(t.Period, t.AmountMinor), tp
	for _, l := range []*Line{source, target} {
		l.Version++
		l.UpdateTime = now
	}
	return nil
}
