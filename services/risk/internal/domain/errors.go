package domain

import "github.com/quarterdeck/quarterdeck/services/platform/api/fault"

// Errors of the matrix, the appetite, risks and their score history, as fault.Error sentinels:
// kind, reason, message (fault.Named adds the name to a not-found). Reasons are stable API:
// clients branch on them. Compare with errors.Is, which matches kind and reason, so a copy
// carrying metadata or field violations still matches its sentinel.
//
// Each resource's errors are in a block of their own, named after the resource; mitigation
// actions and acceptances keep theirs beside their entities.

// Errors of the matrix.
var (
	ErrMatrixVersionNotFound = fault.New(fault.NotFound, "MATRIX_VERSION_NOT_FOUND", "the risk matrix has no such version")
)

// Errors of risks.
var (
	ErrRiskNotFound          = fault.New(fault.NotFound, "RISK_NOT_FOUND", "risk not found")
	ErrRiskExists            = fault.New(fault.AlreadyExists, "RISK_ALREADY_EXISTS", "a risk with this ID already exists")
	ErrRiskInvalidTransition = fault.New(fault.FailedPrecondition, "INVALID_STATE_TRANSITION", "the transition is not allowed in the risk's current state")
	ErrRiskClosed            = fault.New(fault.FailedPrecondition, "RISK_CLOSED", "the risk is closed; reopen it first")
	ErrRiskNotIdentified     = fault.New(fault.FailedPrecondition, "RISK_NOT_IDENTIFIED",
		"only an IDENTIFIED risk can be deleted; close the risk instead")
	ErrTreatmentRequired     = fault.New(fault.FailedPrecondition, "TREATMENT_REQUIRED", "the risk needs a treatment first")
	ErrResidualAboveInherent = fault.New(fault.InvalidArgument, "RESIDUAL_ABOVE_INHERENT",
		"the residual score may not be higher than the inherent score").OnField("residual", "")
)
