// Package domain holds the vendors service's entities, invariants and state machines in plain
// Go: no gRPC, no SQL.
package domain

import "github.com/quarterdeck/quarterdeck/services/platform/api/names"

// The patterns of the service's resource names (AIP-122). A name is parsed with its pattern's
// Scan, ScanResource or Last and formatted with Format; each entity's Name method formats its
// own.
const (
	VendorPattern             names.Pattern = "vendors/{vendor}"
	AttestationPattern        names.Pattern = "vendors/{vendor}/attestations/{attestation}"
	ContractPattern           names.Pattern = "vendors/{vendor}/contracts/{contract}"
	InvoicePattern            names.Pattern = "vendors/{vendor}/contracts/{contract}/invoices/{invoice}"
	AssessmentTemplatePattern names.Pattern = "assessmentTemplates/{assessment_template}"
	AssessmentPattern         names.Pattern = "vendors/{vendor}/assessments/{assessment}"
	// The last segment of a scorecard's name is its calendar quarter, e.g. 2026-Q4.
	ScorecardPattern  names.Pattern = "vendors/{vendor}/scorecards/{scorecard}"
	EvaluationPattern names.Pattern = "evaluations/{evaluation}"
	// An SLA breach is found from the risk service's incident events (Incident).
	SLABreachPattern names.Pattern = "vendors/{vendor}/slaBreaches/{sla_breach}"
)
