package domain

import (
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// Errors about skill requirements. Compare with errors.Is.
var (
	ErrRequirementNotFound = fault.New(fault.NotFound, "SKILL_REQUIREMENT_NOT_FOUND", "skill requirement not found")
	ErrRequirementExists   = fault.New(fault.AlreadyExists, "SKILL_REQUIREMENT_ALREADY_EXISTS", "the team already requires this skill")
)

// The client-writable fields of a requirement, by their API names.
const (
	FieldMinProficiency = "min_proficiency"
	FieldRequiredPeople = "required_people"
)

// SkillRequirementWritableFields lists the fields an update of a requirement may change.
var SkillRequirementWritableFields = []string{FieldMinProficiency, FieldRequiredPeople}

// maxRequiredPeople bounds a requirement's number of people.
const maxRequiredPeople = 1000

// SkillRequirement is a skill a team needs: RequiredPeople of its ACTIVE people at or above
// MinProficiency. Its ID is the skill's. Coverage is its state as last evaluated.
type SkillRequirement struct {
	TeamID         string
	SkillID        string
	MinProficiency int32
	RequiredPeople int32
	Coverage       Coverage
	CreateTime     time.Time
	UpdateTime     time.Time
	// Version counts the changes of the requirement and of its coverage's state; it orders the
	// events of both.
	Version int64
}

// Coverage is how many of a team's people cover a required skill, and who when only one does.
type Coverage struct {
	Covered int32
	// KeyPersonID is the one person who covers the skill when Covered is 1, else empty.
	KeyPersonID string
	// Gap is whether fewer people cover it than required.
	Gap bool
	// EvaluateTime is when the state (gap, key person) last changed; zero before it ever did.
	EvaluateTime time.Time
}

// Name is the requirement's resource name.
func (r *SkillRequirement) Name() string { return SkillRequirementPattern.Format(r.TeamID, r.SkillID) }

// Shortfall is how many more people the requirement needs.
func (r *SkillRequirement) Shortfall() int32 { return max(0, r.RequiredPeople-r.Coverage.Covered) }

// NewSkillRequirement returns a requirement created at now, not yet evaluated.
func NewSkillRequirement(teamID, skillID string, minProficiency, requiredPeople int32, now time.Time) (*SkillRequirement, error) {
	now = now.UTC().Truncate(time.Microsecond)
	r := &SkillRequirement{TeamID: teamID, SkillID: skillID, MinProficiency: minProficiency, RequiredPeople: requiredPeople,
		CreateTime: now, UpdateTime: now, Version: 1}
	return r, r.Validate()
}

// Validate checks the requirement's invariants.
func (r *SkillRequirement) Validate() error {
	var vs fault.Violations
	if r.SkillID == "" {
		vs.Add(FieldSkill, "REQUIRED", "skill is required")
	}
	if r.MinProficiency < MinProficiency || r.MinProficiency > MaxProficiency {
		vs.Add(FieldMinProficiency, "OUT_OF_RANGE", "min_proficiency is 1 to 5")
	}
	if r.RequiredPeople < 1 || r.RequiredPeople > maxRequiredPeople {
		vs.Add(FieldRequiredPeople, "OUT_OF_RANGE", "required_people is 1 to 1000")
	}
	return vs.Err()
}

// Apply sets the fields named in paths at now and reports which changed; the coverage is
// evaluated again by the caller.
func (r *SkillRequirement) Apply(paths []string, minProficiency, requiredPeople int32, now time.Time) ([]string, error) {
	next := *r
	for _, p := range paths {
		switch p {
		case FieldMinProficiency:
			next.MinProficiency = minProficiency
		case FieldRequiredPeople:
			next.RequiredPeople = requiredPeople
		}
	}
	if err := next.Validate(); err != nil {
		return nil, err
	}
	changed := changedFields(paths, SkillRequirementWritableFields, func(f string) bool {
		if f == FieldMinProficiency {
			return next.MinProficiency != r.MinProficiency
		}
		return next.RequiredPeople != r.RequiredPeople
	})
	if len(changed) == 0 {
		return nil, nil
	}
	next.UpdateTime = now.UTC().Truncate(time.Microsecond)
	next.Version++
	*r = next
	return changed, nil
}

// CoverageChange is a change of a requirement's coverage state: each flag says which event it
// causes.
type CoverageChange struct {
	GapOpened, GapClosed         bool
	KeyPersonRisk, KeyPersonGone bool
}

// Count is how many events the change causes: each has a version of its own.
func (c CoverageChange) Count() int64 {
	var n int64
	for _, b := range []bool{c.GapOpened, c.GapClosed, c.KeyPersonRisk, c.KeyPersonGone} {
		if b {
			n++
		}
	}
	return n
}

// Evaluate sets the coverage to covered people, keyPerson being the one when covered is 1, at
// now, and returns the change of state it makes. A change of state (a gap opening or closing,
// the one key person appearing, changing or going) moves the evaluation time, and the version
// once per event it causes; a new count alone does neither.
func (r *SkillRequirement) Evaluate(covered int32, keyPerson string, now time.Time) CoverageChange {
	if covered != 1 {
		keyPerson = ""
	}
	gap := covered < r.RequiredPeople
	prev := r.Coverage
	var c CoverageChange
	switch {
	case gap && !prev.Gap:
		c.GapOpened = true
	case !gap && prev.Gap:
		c.GapClosed = true
	}
	switch {
	case keyPerson != "" && keyPerson != prev.KeyPersonID:
		c.KeyPersonRisk = true
	case keyPerson == "" && prev.KeyPersonID != "":
		c.KeyPersonGone = true
	}
	r.Coverage.Covered, r.Coverage.Gap, r.Coverage.KeyPersonID = covered, gap, keyPerson
	if n := c.Count(); n > 0 {
		r.Coverage.EvaluateTime = now.UTC().Truncate(time.Microsecond)
		r.Version += n
	}
	return c
}
