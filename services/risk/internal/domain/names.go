// Package domain holds the risk service's entities, invariants and state machines in plain Go:
// no gRPC, no SQL.
package domain

import "github.com/quarterdeck/quarterdeck/services/platform/api/names"

// The patterns of the service's resource names (AIP-122). A name is parsed with its pattern's
// Scan, ScanResource or Last and formatted with Format; each entity's Name method formats its
// own.
const (
	RiskMatrixPattern       names.Pattern = "riskMatrix/versions/{version}"
	RiskPattern             names.Pattern = "risks/{risk}"
	ScoreChangePattern      names.Pattern = "risks/{risk}/scoreChanges/{score_change}"
	MitigationActionPattern names.Pattern = "risks/{risk}/actions/{action}"
	AcceptancePattern       names.Pattern = "risks/{risk}/acceptances/{acceptance}"
)

// The names of the singletons.
const (
	// RiskMatrixName names the current version of the risk matrix.
	RiskMatrixName = "riskMatrix"
	// RiskAppetiteName names the risk appetite.
	RiskAppetiteName = "riskAppetite"
)

// The patterns of incident handling's resource names.
const (
	IncidentPattern      names.Pattern = "incidents/{incident}"
	TimelineEntryPattern names.Pattern = "incidents/{incident}/timelineEntries/{timeline_entry}"
	BreachImpactPattern  names.Pattern = "incidents/{incident}/breachImpact"
	PostmortemPattern    names.Pattern = "incidents/{incident}/postmortem"
	ActionItemPattern    names.Pattern = "incidents/{incident}/postmortem/actionItems/{action_item}"
)

// The patterns of compliance's resource names.
const (
	FrameworkPattern       names.Pattern = "frameworks/{framework}"
	RequirementPattern     names.Pattern = "frameworks/{framework}/requirements/{requirement}"
	PosturePattern         names.Pattern = "frameworks/{framework}/posture"
	PostureSnapshotPattern names.Pattern = "frameworks/{framework}/postureSnapshots/{posture_snapshot}"
	ControlPattern         names.Pattern = "controls/{control}"
	ControlTestPattern     names.Pattern = "controls/{control}/tests/{test}"
	PolicyPattern          names.Pattern = "policies/{policy}"
	PolicyVersionPattern   names.Pattern = "policies/{policy}/versions/{version}"
	// TeamPattern is the name of a team of the talent service, whose people a policy may ask
	// to acknowledge it.
	TeamPattern names.Pattern = "teams/{team}"
	// ContinuityPlanPattern and ContinuityExercisePattern name business continuity's resources.
	ContinuityPlanPattern     names.Pattern = "continuityPlans/{continuity_plan}"
	ContinuityExercisePattern names.Pattern = "continuityPlans/{continuity_plan}/exercises/{exercise}"
	// VendorPattern is the name of a vendor of the vendors service, on which a continuity plan's
	// service may depend.
	VendorPattern names.Pattern = "vendors/{vendor}"
)
