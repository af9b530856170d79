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
