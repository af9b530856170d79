package domain

import "github.com/quarterdeck/quarterdeck/services/platform/api/fault"

// Errors of vendors, attestations, contracts, invoices, assessments, scorecards and evaluations,
// as fault.Error sentinels: kind, reason, message (fault.Named adds the name to a not-found).
// Reasons are stable API: clients branch on them. Compare with errors.Is, which matches kind and
// reason, so a copy carrying metadata or field violations still matches its sentinel.
//
// Field violations name the field's full path in the request ("vendor.display_name",
// "contract.end_date"), so the server passes them through unprefixed.
//
// Each resource's errors are added in a block of their own below, named after the resource
// (ErrVendorNotFound, ErrContractNotDraft, …).

// Errors of vendors.
var (
	ErrVendorNotFound          = fault.New(fault.NotFound, "VENDOR_NOT_FOUND", "vendor not found")
	ErrVendorExists            = fault.New(fault.AlreadyExists, "VENDOR_ALREADY_EXISTS", "a vendor with this ID already exists")
	ErrVendorInvalidTransition = fault.New(fault.FailedPrecondition, "INVALID_STATE_TRANSITION", "the transition is not allowed in the vendor's current state")
	ErrVendorNotProspect       = fault.New(fault.FailedPrecondition, "VENDOR_NOT_PROSPECT",
		"only a PROSPECT vendor can be deleted; offboard the vendor instead")
	ErrVendorOffboarded   = fault.New(fault.FailedPrecondition, "VENDOR_OFFBOARDED", "the vendor is offboarded")
	ErrVendorInUse        = fault.New(fault.FailedPrecondition, "VENDOR_IN_USE", "other resources refer to the vendor; change or delete them first")
	ErrAssessmentRequired = fault.New(fault.FailedPrecondition, "ASSESSMENT_REQUIRED",
		"the vendor's tier needs a completed assessment that is still valid")
	// The parent's and sub-processors' errors carry their reason in the ErrorInfo too.
	ErrParentVendorNotFound = fault.New(fault.InvalidArgument, "PARENT_VENDOR_NOT_FOUND", "the parent vendor does not exist").OnField(VendorFieldParent, "")
	ErrParentVendorCycle    = fault.New(fault.InvalidArgument, "PARENT_VENDOR_CYCLE",
		"the parent vendor cannot be the vendor itself or one of its subsidiaries").OnField(VendorFieldParent, "")
	ErrSubProcessorNotFound = fault.New(fault.InvalidArgument, "SUB_PROCESSOR_NOT_FOUND", "the sub-processor's vendor does not exist")
	ErrSubProcessorSelf     = fault.New(fault.InvalidArgument, "SUB_PROCESSOR_SELF", "a vendor cannot be its own sub-processor")
)

// Errors of assessment templates and assessments.
var (
	ErrAssessmentTemplateNotFound = fault.New(fault.NotFound, "ASSESSMENT_TEMPLATE_NOT_FOUND", "assessment template not found")
	ErrAssessmentTemplateExists   = fault.New(fault.AlreadyExists, "ASSESSMENT_TEMPLATE_EXISTS", "an assessment template with this ID already exists")
	ErrAssessmentNotFound         = fault.New(fault.NotFound, "ASSESSMENT_NOT_FOUND", "assessment not found")
	ErrAssessmentExists           = fault.New(fault.AlreadyExists, "ASSESSMENT_EXISTS", "an assessment with this ID already exists for the vendor")
	ErrAssessmentNotInProgress    = fault.New(fault.FailedPrecondition, "ASSESSMENT_NOT_IN_PROGRESS", "the assessment is not IN_PROGRESS")
	ErrAssessmentIncomplete       = fault.New(fault.FailedPrecondition, "ASSESSMENT_INCOMPLETE",
		"every question must be answered or marked not applicable, and at least one answered")
	ErrAssessorIsOwner = fault.New(fault.FailedPrecondition, "ASSESSOR_IS_OWNER", "the assessor may not be the vendor's owner")
)

// Errors of contracts.
var (
	ErrContractNotFound = fault.New(fault.NotFound, "CONTRACT_NOT_FOUND", "contract not found")
	ErrContractExists   = fault.New(fault.AlreadyExists, "CONTRACT_ALREADY_EXISTS", "a contract with this ID already exists")
	ErrContractNotDraft = fault.New(fault.FailedPrecondition, "CONTRACT_NOT_DRAFT",
		"only a DRAFT contract can change this way; out of DRAFT only owner, description, slas and notice_window_days can")
	ErrContractEnded             = fault.New(fault.FailedPrecondition, "CONTRACT_ENDED", "the contract is TERMINATED or EXPIRED and cannot change")
	ErrContractInvalidTransition = fault.New(fault.FailedPrecondition, "INVALID_STATE_TRANSITION",
		"the transition is not allowed in the contract's current state")
	ErrContractIncomplete = fault.New(fault.FailedPrecondition, "CONTRACT_INCOMPLETE",
		"the contract misses fields it needs to be submitted")
	ErrContractSelfApproval  = fault.New(fault.PermissionDenied, "SELF_APPROVAL", "the approver may not be the submitter")
	ErrContractVendorNotOpen = fault.New(fault.FailedPrecondition, "VENDOR_NOT_ACTIVE",
		"the vendor's state does not allow this change of the contract")
	ErrHoldExpiring = fault.New(fault.FailedPrecondition, "HOLD_EXPIRING",
		"the budget hold expires within a minute; approve again with a new request_id")
	ErrContractNotInForce = fault.New(fault.FailedPrecondition, "CONTRACT_NOT_IN_FORCE", "the contract is not ACTIVE or RENEWED")
)

// Errors of invoices.
var (
	ErrInvoiceNotFound = fault.New(fault.NotFound, "INVOICE_NOT_FOUND", "invoice not found")
	ErrInvoiceExists   = fault.New(fault.AlreadyExists, "INVOICE_ALREADY_EXISTS", "the contract already has an invoice with this number")
)

// Errors of evaluations.
var (
	ErrEvaluationNotFound = fault.New(fault.NotFound, "EVALUATION_NOT_FOUND", "evaluation not found")
	ErrEvaluationExists   = fault.New(fault.AlreadyExists, "EVALUATION_ALREADY_EXISTS", "an evaluation with this ID already exists")
	ErrEvaluationNotDraft = fault.New(fault.FailedPrecondition, "EVALUATION_NOT_DRAFT",
		"the evaluation is decided or cancelled: only a DRAFT evaluation changes")
	ErrEvaluationIncomplete = fault.New(fault.FailedPrecondition, "EVALUATION_INCOMPLETE",
		"every candidate must be scored on every criterion before the evaluation is decided")
	ErrRankingTied = fault.New(fault.FailedPrecondition, "RANKING_TIED",
		"several candidates share the first rank: name the winner")
	ErrWinnerNotCandidate      = fault.New(fault.InvalidArgument, "CANDIDATE_NOT_FOUND", "the winner is not a candidate of the evaluation")
	ErrCandidateVendorNotFound = fault.New(fault.InvalidArgument, "CANDIDATE_VENDOR_NOT_FOUND", "the candidate's vendor does not exist")
)

// Errors of attestations.
var (
	ErrAttestationNotFound = fault.New(fault.NotFound, "ATTESTATION_NOT_FOUND", "attestation not found")
	ErrAttestationExists   = fault.New(fault.AlreadyExists, "ATTESTATION_ALREADY_EXISTS", "an attestation with this ID already exists")
	ErrExpiryNotAfterIssue = fault.New(fault.InvalidArgument, "EXPIRY_NOT_AFTER_ISSUE", "expiry_date must be after issue_date")
)

// Errors of scorecards.
var (
	ErrScorecardNotFound = fault.New(fault.NotFound, "SCORECARD_NOT_FOUND",
		"scorecard not found: a vendor has scorecards from the quarter it was created in to the current one")
)

// Errors of SLA breaches.
var ErrSLABreachNotFound = fault.New(fault.NotFound, "SLA_BREACH_NOT_FOUND", "SLA breach not found")
