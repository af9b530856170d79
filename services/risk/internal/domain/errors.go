package domain

import "github.com/quarterdeck/quarterdeck/services/platform/api/fault"

// Errors of the risk service, as fault.Error sentinels: kind, reason, message (fault.Named adds
// the name to a not-found). Reasons are stable API: clients branch on them. Compare with
// errors.Is, which matches kind and reason, so a copy carrying metadata or field violations still
// matches its sentinel. Each resource's errors are declared beside it (action.go,
// acceptance.go, …), those of risks here.

// Errors of risks.
var (
	ErrRiskNotFound = fault.New(fault.NotFound, "RISK_NOT_FOUND", "risk not found")
	ErrRiskClosed   = fault.New(fault.FailedPrecondition, "RISK_CLOSED", "the risk is CLOSED; reopen it first")
)
