package domain

import "github.com/quarterdeck/quarterdeck/services/platform/api/fault"

// ErrCostCenterHasBudgets is returned when a cost centre that budgets refer to is deleted.
var ErrCostCenterHasBudgets = fault.New(fault.FailedPrecondition, "COST_CENTER_HAS_BUDGETS", "the cost centre has budgets; delete them first")
