package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// ContractState is the state of a contract (the API's Contract.State).
type ContractState int32

// The states of a contract.
const (
	ContractDraft           ContractState = 1
	ContractPendingApproval ContractState = 2
	ContractActive          ContractState = 3
	ContractRenewed         ContractState = 4
	ContractTerminated      ContractState = 5
	ContractExpired         ContractState = 6
)

// String is the state's API name.
func (s ContractState) String() string {
	switch s {
	case ContractDraft:
		return "DRAFT"
	case ContractPendingApproval:
		return "PENDING_APPROVAL"
	case ContractActive:
		return "ACTIVE"
	case ContractRenewed:
		return "RENEWED"
	case ContractTerminated:
		return "TERMINATED"
	case ContractExpired:
		return "EXPIRED"
	}
	return fmt.Sprintf("ContractState(%d)", int32(s))
}

// InForce reports whether a contract in state s binds the organisation: ACTIVE or RENEWED.
func (s ContractState) InForce() bool { return s == ContractActive || s == ContractRenewed }

// Ended reports whether s is final: TERMINATED or EXPIRED.
func (s ContractState) Ended() bool { return s == ContractTerminated || s == ContractExpired }

// ResponseTarget is how fast a vendor must respond to and resolve an incident of one severity.
type ResponseTarget struct {
	Severity       int32         `json:"severity"`
	ResponseTime   time.Duration `json:"response_time,omitempty"`
	ResolutionTime time.Duration `json:"resolution_time,omitempty"`
}

// ServiceLevel is one service level a vendor commits to in a contract.
type ServiceLevel struct {
	DisplayName               string           `json:"display_name"`
	AvailabilityTargetPercent string           `json:"availability_target_percent,omitempty"`
	MeasurementPeriod         int32            `json:"measurement_period,omitempty"`
	ResponseTargets           []ResponseTarget `json:"response_targets,omitempty"`
	ServiceCreditPercent      string           `json:"service_credit_percent,omitempty"`
}

func (l ServiceLevel) equal(o ServiceLevel) bool {
	return l.DisplayName == o.DisplayName && l.AvailabilityTargetPercent == o.AvailabilityTargetPercent &&
		l.MeasurementPeriod == o.MeasurementPeriod && slices.Equal(l.ResponseTargets, o.ResponseTargets) &&
		l.ServiceCreditPercent == o.ServiceCreditPercent
}

// Contract is an agreement with a vendor. Money is in integer minor units; an amount whose
// currency is empty is unset.
type Contract struct {
	VendorID, ID string

	Title, Description   string
	TotalValue           money.Amount
	AnnualValue          money.Amount
	BillingFrequency     int32
	StartDate, EndDate   Date
	AutoRenew            bool
	RenewalTermMonths    int32
	MinimumTermMonths    int32
	NoticePeriodDays     int32
	DecisionBufferDays   int32
	NoticeWindowDays     int32
	BudgetLine           string
	SLAs                 []ServiceLevel
	Owner                string
	CancelByDate         Date // computed: EndDate − NoticePeriodDays − DecisionBufferDays
	NoticeWindowOpenDate Date // computed: CancelByDate − the notice window

	State                    ContractState
	Submitter                string
	SubmitTime               time.Time
	Approver                 string
	ActivateTime             time.Time
	Hold                     string
	RenewalCount             int32
	TerminateTime            time.Time
	TerminationReason        string
	TerminationEffectiveDate Date
	// InvoicedMinor is the sum of the contract's invoices in minor units of TotalValue's currency.
	InvoicedMinor   int64
	RejectionReason string

	CreateTime, UpdateTime time.Time
	Version                int64
}

// ContractName formats the name of contract id of vendor vendorID.
func ContractName(vendorID, id string) string { return ContractPattern.Format(vendorID, id) }

// Name is the contract's resource name.
func (c *Contract) Name() string { return ContractName(c.VendorID, c.ID) }

// Invoiced is the sum of the contract's invoices, in the contract's currency.
func (c *Contract) Invoiced() money.Amount {
	return money.Amount{Minor: c.InvoicedMinor, Currency: c.TotalValue.Currency}
}

// ContractFields are the client-writable fields of a contract.
type ContractFields struct {
	Title, Description string
	TotalValue         money.Amount
	AnnualValue        money.Amount
	BillingFrequency   int32
	StartDate, EndDate Date
	AutoRenew          bool
	RenewalTermMonths  int32
	MinimumTermMonths  int32
	NoticePeriodDays   int32
	DecisionBufferDays int32
	NoticeWindowDays   int32
	BudgetLine         string
	SLAs               []ServiceLevel
	Owner              string
}

// The client-writable fields of a contract, by their API names.
const (
	ContractFieldTitle              = "title"
	ContractFieldDescription        = "description"
	ContractFieldTotalValue         = "total_value"
	ContractFieldAnnualValue        = "annual_value"
	ContractFieldBillingFrequency   = "billing_frequency"
	ContractFieldStartDate          = "start_date"
	ContractFieldEndDate            = "end_date"
	ContractFieldAutoRenew          = "auto_renew"
	ContractFieldRenewalTermMonths  = "renewal_term_months"
	ContractFieldMinimumTermMonths  = "minimum_term_months"
	ContractFieldNoticePeriodDays   = "notice_period_days"
	ContractFieldDecisionBufferDays = "decision_buffer_days"
	ContractFieldNoticeWindowDays   = "notice_window_days"
	ContractFieldBudgetLine         = "budget_line"
	ContractFieldSLAs               = "slas"
	ContractFieldOwner              = "owner"
)

// ContractWritableFields lists the fields an update of a DRAFT contract may change.
var ContractWritableFields = []string{ContractFieldTitle, ContractFieldDescription, ContractFieldTotalValue,
	ContractFieldAnnualValue, ContractFieldBillingFrequency, ContractFieldStartDate, ContractFieldEndDate,
	ContractFieldAutoRenew, ContractFieldRenewalTermMonths, ContractFieldMinimumTermMonths,
	ContractFieldNoticePeriodDays, ContractFieldDecisionBufferDays, ContractFieldNoticeWindowDays,
	ContractFieldBudgetLine, ContractFieldSLAs, ContractFieldOwner}

// ContractOpenFields are the fields that can change out of DRAFT, until the contract ends.
var ContractOpenFields = []string{ContractFieldOwner, ContractFieldDescription, ContractFieldSLAs, ContractFieldNoticeWindowDays}

const (
	maxContractTitle = 200
	maxSLAs          = 20
)

// NewContract returns a DRAFT contract of vendor vendorID created at now from fields, checked
// against the invariants; defaultWindow is the service's notice window in days, for a contract
// that sets none.
func NewContract(vendorID, id string, f ContractFields, defaultWindow int32, now time.Time) (*Contract, error) {
	now = now.UTC().Truncate(time.Microsecond)
	c := &Contract{VendorID: vendorID, ID: id, State: ContractDraft, CreateTime: now, UpdateTime: now, Version: 1}
	c.set(ContractWritableFields, f)
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c.Compute(defaultWindow)
	return c, nil
}

func (c *Contract) set(paths []string, f ContractFields) {
	for _, p := range paths {
		switch p {
		case ContractFieldTitle:
			c.Title = strings.TrimSpace(f.Title)
		case ContractFieldDescription:
			c.Description = f.Description
		case ContractFieldTotalValue:
			c.TotalValue = f.TotalValue
		case ContractFieldAnnualValue:
			c.AnnualValue = f.AnnualValue
		case ContractFieldBillingFrequency:
			c.BillingFrequency = f.BillingFrequency
		case ContractFieldStartDate:
			c.StartDate = f.StartDate
		case ContractFieldEndDate:
			c.EndDate = f.EndDate
		case ContractFieldAutoRenew:
			c.AutoRenew = f.AutoRenew
		case ContractFieldRenewalTermMonths:
			c.RenewalTermMonths = f.RenewalTermMonths
		case ContractFieldMinimumTermMonths:
			c.MinimumTermMonths = f.MinimumTermMonths
		case ContractFieldNoticePeriodDays:
			c.NoticePeriodDays = f.NoticePeriodDays
		case ContractFieldDecisionBufferDays:
			c.DecisionBufferDays = f.DecisionBufferDays
		case ContractFieldNoticeWindowDays:
			c.NoticeWindowDays = f.NoticeWindowDays
		case ContractFieldBudgetLine:
			c.BudgetLine = f.BudgetLine
		case ContractFieldSLAs:
			c.SLAs = slices.Clone(f.SLAs)
		case ContractFieldOwner:
			c.Owner = strings.TrimSpace(f.Owner)
		}
	}
}

// Validate checks the invariants of a contract. Every broken rule is reported, each as a
// violation of its field.
func (c *Contract) Validate() error {
	var vs fault.Violations
	vs.RequireText(ContractFieldTitle, c.Title, maxContractTitle)
	vs.LimitText(ContractFieldDescription, c.Description, maxDescription)
	vs.LimitText(ContractFieldOwner, c.Owner, maxOwner)
	if c.TotalValue.Currency != "" && c.TotalValue.Minor <= 0 {
		vs.Add(ContractFieldTotalValue, "NOT_POSITIVE", "total_value must be greater than zero")
	}
	if c.AnnualValue.Currency != "" && c.AnnualValue.Minor <= 0 {
		vs.Add(ContractFieldAnnualValue, "NOT_POSITIVE", "annual_value must be greater than zero")
	}
	if c.TotalValue.Currency != "" && c.AnnualValue.Currency != "" && c.TotalValue.Currency != c.AnnualValue.Currency {
		vs.Add(ContractFieldAnnualValue, "CURRENCY_MISMATCH", "annual_value must be in the currency of total_value")
	}
	if c.EndDate.IsZero() {
		vs.Add(ContractFieldEndDate, "REQUIRED", "end_date is required")
	} else if !c.StartDate.IsZero() && !c.StartDate.Before(c.EndDate) {
		vs.Add(ContractFieldEndDate, "BEFORE_START", "end_date must be after start_date")
	}
	if c.AutoRenew && c.RenewalTermMonths == 0 {
		vs.Add(ContractFieldRenewalTermMonths, "REQUIRED", "renewal_term_months is required when auto_renew is true")
	}
	if len(c.SLAs) > maxSLAs {
		vs.Add(ContractFieldSLAs, "TOO_MANY", fmt.Sprintf("at most %d service levels", maxSLAs))
	}
	for i, l := range c.SLAs {
		field := fmt.Sprintf("%s[%d]", ContractFieldSLAs, i)
		if strings.TrimSpace(l.DisplayName) == "" {
			vs.Add(field+".display_name", "REQUIRED", "display_name is required")
		}
		seen := map[int32]bool{}
		for j, t := range l.ResponseTargets {
			tf := fmt.Sprintf("%s.response_targets[%d]", field, j)
			if seen[t.Severity] {
				vs.Add(tf+".severity", "DUPLICATE", "one response target per severity")
			}
			seen[t.Severity] = true
			if t.ResponseTime > 0 && t.ResolutionTime > 0 && t.ResolutionTime < t.ResponseTime {
				vs.Add(tf+".resolution_time", "SHORTER_THAN_RESPONSE", "resolution_time must not be shorter than response_time")
			}
		}
	}
	return vs.Err()
}

// Compute sets the computed dates from the contract's fields: the cancel-by date and the day
// the notice window opens, defaultWindow days before it when the contract sets no window.
func (c *Contract) Compute(defaultWindow int32) {
	if c.EndDate.IsZero() {
		c.CancelByDate, c.NoticeWindowOpenDate = Date{}, Date{}
		return
	}
	c.CancelByDate = c.EndDate.AddDays(-int(c.NoticePeriodDays + c.DecisionBufferDays))
	window := c.NoticeWindowDays
	if window == 0 {
		window = defaultWindow
	}
	c.NoticeWindowOpenDate = c.CancelByDate.AddDays(-int(window))
}

// Apply sets the fields named in paths to their values in f at time now and reports which of
// them changed; defaultWindow recomputes the dates. A DRAFT contract can change every field;
// PENDING_APPROVAL, ACTIVE and RENEWED ones only ContractOpenFields (ErrContractNotDraft for the
// others); TERMINATED and EXPIRED none (ErrContractEnded). When something changed the version
// is incremented; the contract must still satisfy its invariants, or it is left untouched.
func (c *Contract) Apply(paths []string, f ContractFields, defaultWindow int32, now time.Time) (changed []string, err error) {
	if c.State.Ended() {
		return nil, ErrContractEnded.With("name", c.Name()).With("state", c.State.String())
	}
	next := *c
	next.set(paths, f)
	for _, p := range ContractWritableFields {
		if slices.Contains(paths, p) && next.differs(c, p) {
			changed = append(changed, p)
		}
	}
	if c.State != ContractDraft {
		for _, p := range changed {
			if !slices.Contains(ContractOpenFields, p) {
				return nil, ErrContractNotDraft.With("name", c.Name()).With("field", p).With("state", c.State.String())
			}
		}
	}
	if err := next.Validate(); err != nil {
		return nil, err
	}
	if len(changed) == 0 {
		return nil, nil
	}
	next.Compute(defaultWindow)
	next.Version++
	next.UpdateTime = now.UTC().Truncate(time.Microsecond)
	*c = next
	return changed, nil
}

func (c *Contract) differs(o *Contract, field string) bool {
	switch field {
	case ContractFieldTitle:
		return c.Title != o.Title
	case ContractFieldDescription:
		return c.Description != o.Description
	case ContractFieldTotalValue:
		return c.TotalValue != o.TotalValue
	case ContractFieldAnnualValue:
		return c.AnnualValue != o.AnnualValue
	case ContractFieldBillingFrequency:
		return c.BillingFrequency != o.BillingFrequency
	case ContractFieldStartDate:
		return c.StartDate != o.StartDate
	case ContractFieldEndDate:
		return c.EndDate != o.EndDate
	case ContractFieldAutoRenew:
		return c.AutoRenew != o.AutoRenew
	case ContractFieldRenewalTermMonths:
		return c.RenewalTermMonths != o.RenewalTermMonths
	case ContractFieldMinimumTermMonths:
		return c.MinimumTermMonths != o.MinimumTermMonths
	case ContractFieldNoticePeriodDays:
		return c.NoticePeriodDays != o.NoticePeriodDays
	case ContractFieldDecisionBufferDays:
		return c.DecisionBufferDays != o.DecisionBufferDays
	case ContractFieldNoticeWindowDays:
		return c.NoticeWindowDays != o.NoticeWindowDays
	case ContractFieldBudgetLine:
		return c.BudgetLine != o.BudgetLine
	case ContractFieldSLAs:
		return !slices.EqualFunc(c.SLAs, o.SLAs, ServiceLevel.equal)
	case ContractFieldOwner:
		return c.Owner != o.Owner
	}
	return false
}

// CheckDeletable refuses to delete a contract that is not DRAFT.
func (c *Contract) CheckDeletable() error {
	if c.State != ContractDraft {
		return ErrContractNotDraft.With("name", c.Name()).With("state", c.State.String())
	}
	return nil
}

func (c *Contract) transition(to ContractState, now time.Time, from ...ContractState) error {
	if !slices.Contains(from, c.State) {
		return ErrContractInvalidTransition.With("name", c.Name()).With("state", c.State.String()).With("to", to.String())
	}
	c.State = to
	c.Version++
	c.UpdateTime = now.UTC().Truncate(time.Microsecond)
	return nil
}

// Submit sends a DRAFT contract for approval by submitter: total_value, annual_value (in the
// same currency), start_date and budget_line must be set, or ErrContractIncomplete lists the
// missing fields (metadata "missing", and a violation of each). The rejection reason is cleared.
func (c *Contract) Submit(submitter string, now time.Time) error {
	if c.State != ContractDraft {
		return c.transition(ContractPendingApproval, now, ContractDraft)
	}
	var missing []string
	var vs []fault.Violation
	need := func(ok bool, field string) {
		if !ok {
			missing = append(missing, "contract."+field)
			vs = append(vs, fault.Violation{Field: "contract." + field, Reason: "REQUIRED", Description: field + " is required to submit"})
		}
	}
	need(c.TotalValue.Currency != "", ContractFieldTotalValue)
	need(c.AnnualValue.Currency != "", ContractFieldAnnualValue)
	need(!c.StartDate.IsZero(), ContractFieldStartDate)
	need(c.BudgetLine != "", ContractFieldBudgetLine)
	if len(missing) > 0 {
		e := ErrContractIncomplete.With("name", c.Name()).With("missing", strings.Join(missing, ","))
		e.Violations = vs
		return e
	}
	if err := c.transition(ContractPendingApproval, now, ContractDraft); err != nil {
		return err
	}
	c.Submitter, c.SubmitTime, c.RejectionReason = submitter, c.UpdateTime, ""
	return nil
}

// Reject sends a PENDING_APPROVAL contract back to DRAFT with reason.
func (c *Contract) Reject(reason string, now time.Time) error {
	if err := c.transition(ContractDraft, now, ContractPendingApproval); err != nil {
		return err
	}
	c.RejectionReason = strings.TrimSpace(reason)
	return nil
}

// CheckApprovable refuses an approval of a contract that is not PENDING_APPROVAL, or by its
// submitter.
func (c *Contract) CheckApprovable(approver string) error {
	if c.State != ContractPendingApproval {
		return ErrContractInvalidTransition.With("name", c.Name()).With("state", c.State.String()).With("to", ContractActive.String())
	}
	if approver != "" && approver == c.Submitter {
		return ErrContractSelfApproval.With("name", c.Name())
	}
	return nil
}

// Approve makes a PENDING_APPROVAL contract ACTIVE, approved by approver on the budget hold
// hold.
func (c *Contract) Approve(approver, hold string, now time.Time) error {
	if err := c.CheckApprovable(approver); err != nil {
		return err
	}
	if err := c.transition(ContractActive, now, ContractPendingApproval); err != nil {
		return err
	}
	c.Approver, c.Hold, c.ActivateTime = approver, hold, c.UpdateTime
	return nil
}

// Terminate ends an ACTIVE or RENEWED contract with reason; effective is the last day it is in
// force: today when zero, otherwise not before today and not after the end date.
func (c *Contract) Terminate(reason string, effective, today Date, now time.Time) error {
	if !c.State.InForce() {
		return c.transition(ContractTerminated, now, ContractActive, ContractRenewed)
	}
	if effective.IsZero() {
		effective = today
	}
	if effective.Before(today) {
		return fault.Field("effective_date", "BEFORE_TODAY", "effective_date must not be before today ("+today.String()+")")
	}
	if c.EndDate.Before(effective) {
		return fault.Field("effective_date", "AFTER_END_DATE", "effective_date must not be after the contract's end_date ("+c.EndDate.String()+")")
	}
	if err := c.transition(ContractTerminated, now, ContractActive, ContractRenewed); err != nil {
		return err
	}
	c.TerminateTime, c.TerminationReason, c.TerminationEffectiveDate = c.UpdateTime, strings.TrimSpace(reason), effective
	return nil
}

// RenewalValue is the value of a renewal term: annual_value × renewal_term_months / 12, rounded
// half to even in minor units.
func (c *Contract) RenewalValue() money.Amount {
	return money.Amount{Minor: money.DivRoundHalfEven(c.AnnualValue.Minor*int64(c.RenewalTermMonths), 12),
		Currency: c.AnnualValue.Currency}
}

// Renew starts the next term of an auto-renewing contract in force: it begins the day after
// the end date and lasts renewal_term_months (its last day the day before the same day of the
// month that many months later). The contract is RENEWED; its computed dates follow the new end.
func (c *Contract) Renew(defaultWindow int32, now time.Time) (termStart Date, err error) {
	if !c.AutoRenew {
		return Date{}, c.transition(ContractRenewed, now) // never allowed
	}
	if err := c.transition(ContractRenewed, now, ContractActive, ContractRenewed); err != nil {
		return Date{}, err
	}
	termStart = c.EndDate.AddDays(1)
	c.EndDate = termStart.AddMonths(int(c.RenewalTermMonths)).AddDays(-1)
	c.RenewalCount++
	c.Compute(defaultWindow)
	return termStart, nil
}

// Expire ends a contract in force at its end date.
func (c *Contract) Expire(now time.Time) error {
	return c.transition(ContractExpired, now, ContractActive, ContractRenewed)
}
