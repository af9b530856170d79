package domain

import "github.com/quarterdeck/quarterdeck/services/platform/fault"

// Errors the stores return about budgets and what belongs to them. Compare with errors.Is.
var (
	ErrBudgetNotFound       = fault.New(fault.NotFound, "BUDGET_NOT_FOUND", "budget not found")
	ErrLineNotFound         = fault.New(fault.NotFound, "LINE_NOT_FOUND", "budget line not found")
	ErrActualNotFound       = fault.New(fault.NotFound, "ACTUAL_NOT_FOUND", "actual not found")
	ErrCommitmentNotFound   = fault.New(fault.NotFound, "COMMITMENT_NOT_FOUND", "commitment not found")
	ErrTransferNotFound     = fault.New(fault.NotFound, "TRANSFER_NOT_FOUND", "transfer not found")
	ErrExchangeRateNotFound = fault.New(fault.NotFound, "EXCHANGE_RATE_NOT_FOUND", "exchange rate not found")
	ErrExchangeRateExists   = fault.New(fault.AlreadyExists, "EXCHANGE_RATE_ALREADY_EXISTS", "an exchange rate for this month and currency pair already exists")
	ErrBudgetExists         = fault.New(fault.AlreadyExists, "BUDGET_EXISTS", "the cost centre already has a budget for this fiscal year")
	ErrLineExists           = fault.New(fault.AlreadyExists, "LINE_ALREADY_EXISTS", "a line with this ID already exists in the budget")
	ErrCostCenterHasBudgets = fault.New(fault.FailedPrecondition, "COST_CENTER_HAS_BUDGETS", "the cost centre has budgets; delete them first")
)
