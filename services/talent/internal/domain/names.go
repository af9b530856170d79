// Package domain holds the talent service's entities, invariants and state machines in plain Go:
// no gRPC, no SQL.
package domain

import "github.com/quarterdeck/quarterdeck/services/platform/api/names"

// The patterns of the service's resource names (AIP-122). A name is parsed with its pattern's
// Scan, ScanResource or Last and formatted with Format; each entity's Name method formats its
// own.
const (
	TeamPattern             names.Pattern = "teams/{team}"
	PersonPattern           names.Pattern = "people/{person}"
	SkillCategoryPattern    names.Pattern = "skillCategories/{skill_category}"
	SkillPattern            names.Pattern = "skills/{skill}"
	SkillRatingPattern      names.Pattern = "people/{person}/skillRatings/{skill_rating}"
	SkillRequirementPattern names.Pattern = "teams/{team}/skillRequirements/{skill_requirement}"
	TeamCoveragePattern     names.Pattern = "teams/{team}/coverage"
	CertificationPattern    names.Pattern = "people/{person}/certifications/{certification}"
	CostCenterPattern       names.Pattern = "costCenters/{cost_center}"
)

// ProficiencyScaleName names the proficiency scale, a singleton.
const ProficiencyScaleName = "proficiencyScale"
