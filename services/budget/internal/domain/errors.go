package domain

import (
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// Errors of budgets, lines, spend, transfers and exchange rates. Reasons are stable API: clients
// branch on them. Compare with errors.Is, which matches kind and reason, so a copy carrying
// metadata or field violations still matches its sentinel.
//
// Field violations name the field's full path in the request ("budget.display_name",
// "budget_line.phasing.amounts", "actual.amount"), so the server passes them through unprefixed.
var (
	// Money and currencies.
	ErrCurrencyUnsupported = money.ErrCurrencyUnsupported
	ErrCurrencyMismatch    = money.ErrCurrencyMismatch.Withf("the amount must be in the budget currency")
	ErrAmountTooPrecise    = money.ErrAmountTooPrecise
	ErrAmountSignMismatch  = money.ErrAmountSignMismatch
	ErrAmountOutOfRange    = money.ErrAmountOutOfRange

	// Exchange rates.
	ErrRateInvalid          = money.ErrRateInvalid
	ErrRateSameCurrency     = fault.New(fault.InvalidArgument, "RATE_SAME_CURRENCY", "source and target currency of a rate must differ")
	ErrMonthInvalid         = civil.ErrMonthInvalid
	ErrExchangeRateMissing  = fault.New(fault.FailedPrecondition, "EXCHANGE_RATE_MISSING", "no exchange rate for the currency pair and month")
	ErrExchangeRateNotFound = fault.New(fault.NotFound, "EXCHANGE_RATE_NOT_FOUND", "exchange rate not found")
	ErrExchangeRateExists   = fault.New(fault.AlreadyExists, "EXCHANGE_RATE_EXISTS", "an exchange rate for this month and pair already exists")

	// Dates and the fiscal calendar.
	ErrDateInvalid           = civil.ErrDateInvalid
	ErrDateOutsideFiscalYear = fault.New(fault.FailedPrecondition, "DATE_OUTSIDE_FISCAL_YEAR", "the date is outside the budget's fiscal year")

	// Phasing.
	ErrPhasingLength       = fault.New(fault.InvalidArgument, "PHASING_LENGTH", "phasing needs 12 monthly or 4 quarterly amounts")
	ErrPhasingNegative     = fault.New(fault.InvalidArgument, "PHASING_NEGATIVE", "phasing amounts must not be negative")
	ErrPhasingSumMismatch  = fault.New(fault.InvalidArgument, "PHASING_SUM_MISMATCH", "phasing amounts must sum to the planned amount")
	ErrInsufficientPlanned = fault.New(fault.FailedPrecondition, "INSUFFICIENT_PLANNED",
		"the source line's phasing from the effective period on is smaller than the amount")

	// Budgets.
	ErrBudgetNotFound         = fault.New(fault.NotFound, "BUDGET_NOT_FOUND", "budget not found")
	ErrBudgetExists           = fault.New(fault.AlreadyExists, "BUDGET_EXISTS", "the cost centre already has a budget for this fiscal year")
	ErrCostCenterInactive     = fault.New(fault.FailedPrecondition, "COST_CENTER_INACTIVE", "the cost centre is inactive")
	ErrInvalidTransition      = fault.New(fault.FailedPrecondition, "INVALID_STATE_TRANSITION", "the transition is not allowed in the current state")
	ErrBudgetHasNoLines       = fault.New(fault.FailedPrecondition, "BUDGET_HAS_NO_LINES", "a budget needs at least one line to be submitted")
	ErrSelfApproval           = fault.New(fault.PermissionDenied, "SELF_APPROVAL", "the approver may not be the submitter or requester")
	ErrRevisionInProgress     = fault.New(fault.FailedPrecondition, "REVISION_IN_PROGRESS", "the budget already has an open revision")
	ErrBudgetNotDraft         = fault.New(fault.FailedPrecondition, "BUDGET_NOT_DRAFT", "only a draft budget can be changed this way")
	ErrBudgetClosed           = fault.New(fault.FailedPrecondition, "BUDGET_CLOSED", "the budget is closed")
	ErrBudgetSuperseded       = fault.New(fault.FailedPrecondition, "BUDGET_SUPERSEDED", "the budget revision is superseded by a later one")
	ErrBudgetNotApproved      = fault.New(fault.FailedPrecondition, "BUDGET_NOT_APPROVED", "the budget revision is not approved")
	ErrBudgetHasSpend         = fault.New(fault.FailedPrecondition, "BUDGET_HAS_SPEND", "the budget has spend and cannot be deleted")
	ErrBudgetNotDeletable     = fault.New(fault.FailedPrecondition, "BUDGET_NOT_DELETABLE", "only a draft revision can be deleted")
	ErrFiscalCalendarMismatch = fault.New(fault.FailedPrecondition, "FISCAL_CALENDAR_MISMATCH", "the budgets do not share a fiscal year and calendar")

	// Lines.
	ErrLineNotFound = fault.New(fault.NotFound, "LINE_NOT_FOUND", "budget line not found")
	ErrLineExists   = fault.New(fault.AlreadyExists, "LINE_ALREADY_EXISTS", "a line with this ID already exists")
	ErrLineHasSpend = fault.New(fault.FailedPrecondition, "LINE_HAS_SPEND", "the line has spend and cannot be deleted")

	// Spend.
	ErrActualNotFound            = fault.New(fault.NotFound, "ACTUAL_NOT_FOUND", "actual not found")
	ErrCommitmentNotFound        = fault.New(fault.NotFound, "COMMITMENT_NOT_FOUND", "commitment not found")
	ErrCorrectionExceedsOriginal = fault.New(fault.FailedPrecondition, "CORRECTION_EXCEEDS_ORIGINAL", "the corrections of an actual may not exceed it")
	ErrCommitmentReleased        = fault.New(fault.FailedPrecondition, "COMMITMENT_RELEASED", "the commitment is already released")
	ErrInsufficientFunds         = fault.New(fault.FailedPrecondition, "INSUFFICIENT_FUNDS", "the amount exceeds the line's available funds")

	// Spend deferred to a later fiscal year's budget.
	ErrDeferredCommitmentNotFound = fault.New(fault.NotFound, "DEFERRED_COMMITMENT_NOT_FOUND", "deferred commitment not found")
	ErrDeferredActualNotFound     = fault.New(fault.NotFound, "DEFERRED_ACTUAL_NOT_FOUND", "deferred actual not found")

	// Holds.
	ErrHoldNotFound = fault.New(fault.NotFound, "HOLD_NOT_FOUND", "hold not found")
	ErrHoldNotHeld  = fault.New(fault.FailedPrecondition, "HOLD_NOT_HELD", "the hold is no longer held")

	// Transfers.
	ErrTransferNotFound         = fault.New(fault.NotFound, "TRANSFER_NOT_FOUND", "transfer not found")
	ErrTransferCurrencyMismatch = fault.New(fault.FailedPrecondition, "CURRENCY_MISMATCH", "the budgets of a transfer must have the same currency")
)
