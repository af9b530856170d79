package domain

import (
	"strconv"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// Errors about the skills taxonomy, the scale and ratings. Compare with errors.Is.
var (
	ErrCategoryNotFound = fault.New(fault.NotFound, "SKILL_CATEGORY_NOT_FOUND", "skill category not found")
	ErrCategoryExists   = fault.New(fault.AlreadyExists, "SKILL_CATEGORY_ALREADY_EXISTS", "a skill category with this ID already exists")
	ErrCategoryNotEmpty = fault.New(fault.FailedPrecondition, "SKILL_CATEGORY_NOT_EMPTY",
		"the category holds skills; move or delete them first")
	ErrCategoryMissing    = fault.New(fault.InvalidArgument, "SKILL_CATEGORY_NOT_FOUND", "the category does not exist").OnField(FieldCategory, "")
	ErrSkillNotInTaxonomy = fault.New(fault.NotFound, "SKILL_NOT_FOUND", "skill not found")
	ErrSkillExists        = fault.New(fault.AlreadyExists, "SKILL_ALREADY_EXISTS", "a skill with this ID already exists")
	ErrSkillNameTaken     = fault.New(fault.AlreadyExists, "SKILL_NAME_TAKEN", "another skill has this display name")
	ErrSkillInUse         = fault.New(fault.FailedPrecondition, "SKILL_IN_USE",
		"people were rated on the skill, teams or positions require it, or certifications evidence it; it can no longer be deleted")
	ErrSkillMissing   = fault.New(fault.InvalidArgument, "SKILL_NOT_FOUND", "the skill is not in the taxonomy").OnField(FieldSkill, "")
	ErrRatingNotFound = fault.New(fault.NotFound, "SKILL_RATING_NOT_FOUND", "skill rating not found")
	ErrRatingFuture   = fault.New(fault.InvalidArgument, "RATE_DATE_IN_FUTURE", "a rating cannot be dated in the future").OnField(FieldRateDate, "")
	ErrRatingEarly    = fault.New(fault.InvalidArgument, "RATE_DATE_BEFORE_START",
		"a rating cannot be dated before the person's start date").OnField(FieldRateDate, "")
	ErrRatedPersonLeft = fault.New(fault.FailedPrecondition, "PERSON_LEFT", "the person has left; they can no longer be rated")
	ErrScaleName       = fault.New(fault.InvalidArgument, "INVALID_ARGUMENT", "the scale is named proficiencyScale").OnField("name", "")
)

// The client-writable fields of the taxonomy and of ratings, by their API names (display_name
// and description are shared with teams).
const (
	FieldCategory    = "category"
	FieldSkill       = "skill"
	FieldProficiency = "proficiency"
	FieldEvidence    = "evidence"
	FieldRateDate    = "rate_date"
	FieldLevels      = "levels"
)

// SkillCategoryWritableFields and SkillWritableFields list the fields their updates may change.
var (
	SkillCategoryWritableFields = []string{FieldDisplayName, FieldDescription}
	SkillWritableFields         = []string{FieldDisplayName, FieldCategory, FieldDescription}
)

// The proficiency scale's bounds: ratings and requirements use levels 1 to 5.
const (
	MinProficiency = 1
	MaxProficiency = 5
	maxLevelTitle  = 100
)

// SkillCategory groups skills in the taxonomy.
type SkillCategory struct {
	ID          string
	DisplayName string
	Description string
	CreateTime  time.Time
	UpdateTime  time.Time
	Version     int64
}

// Name is the category's resource name.
func (c *SkillCategory) Name() string { return SkillCategoryPattern.Format(c.ID) }

// NewSkillCategory returns a category created at now.
func NewSkillCategory(id, displayName, description string, now time.Time) (*SkillCategory, error) {
	now = now.UTC().Truncate(time.Microsecond)
	c := &SkillCategory{ID: id, DisplayName: strings.TrimSpace(displayName), Description: description,
		CreateTime: now, UpdateTime: now, Version: 1}
	return c, c.Validate()
}

// Validate checks the category's invariants.
func (c *SkillCategory) Validate() error {
	var vs fault.Violations
	vs.RequireText(FieldDisplayName, c.DisplayName, maxDisplayName)
	vs.LimitText(FieldDescription, c.Description, maxDescription)
	return vs.Err()
}

// Apply sets the fields named in paths at now and reports which changed.
func (c *SkillCategory) Apply(paths []string, displayName, description string, now time.Time) ([]string, error) {
	next := *c
	for _, p := range paths {
		switch p {
		case FieldDisplayName:
			next.DisplayName = strings.TrimSpace(displayName)
		case FieldDescription:
			next.Description = description
		}
	}
	if err := next.Validate(); err != nil {
		return nil, err
	}
	changed := changedFields(paths, SkillCategoryWritableFields, func(f string) bool {
		if f == FieldDisplayName {
			return next.DisplayName != c.DisplayName
		}
		return next.Description != c.Description
	})
	if len(changed) == 0 {
		return nil, nil
	}
	next.UpdateTime = now.UTC().Truncate(time.Microsecond)
	next.Version++
	*c = next
	return changed, nil
}

// Skill is an entry of the taxonomy, in one category.
type Skill struct {
	ID          string
	DisplayName string
	CategoryID  string
	Description string
	CreateTime  time.Time
	UpdateTime  time.Time
	Version     int64
}

// SkillFields are the client-writable fields of a skill.
type SkillFields struct {
	DisplayName, CategoryID, Description string
}

// Name is the skill's resource name.
func (s *Skill) Name() string { return SkillPattern.Format(s.ID) }

// NewSkill returns a skill created at now.
func NewSkill(id string, f SkillFields, now time.Time) (*Skill, error) {
	now = now.UTC().Truncate(time.Microsecond)
	s := &Skill{ID: id, CreateTime: now, UpdateTime: now, Version: 1}
	s.set(f, SkillWritableFields)
	return s, s.Validate()
}

func (s *Skill) set(f SkillFields, paths []string) {
	for _, p := range paths {
		switch p {
		case FieldDisplayName:
			s.DisplayName = strings.TrimSpace(f.DisplayName)
		case FieldCategory:
			s.CategoryID = f.CategoryID
		case FieldDescription:
			s.Description = f.Description
		}
	}
}

// Validate checks the skill's invariants.
func (s *Skill) Validate() error {
	var vs fault.Violations
	vs.RequireText(FieldDisplayName, s.DisplayName, maxDisplayName)
	vs.LimitText(FieldDescription, s.Description, maxDescription)
	if s.CategoryID == "" {
		vs.Add(FieldCategory, "REQUIRED", "category is required")
	}
	return vs.Err()
}

// Apply sets the fields named in paths at now and reports which changed.
func (s *Skill) Apply(paths []string, f SkillFields, now time.Time) ([]string, error) {
	next := *s
	next.set(f, paths)
	if err := next.Validate(); err != nil {
		return nil, err
	}
	changed := changedFields(paths, SkillWritableFields, func(field string) bool {
		switch field {
		case FieldDisplayName:
			return next.DisplayName != s.DisplayName
		case FieldCategory:
			return next.CategoryID != s.CategoryID
		case FieldDescription:
			return next.Description != s.Description
		}
		return false
	})
	if len(changed) == 0 {
		return nil, nil
	}
	next.UpdateTime = now.UTC().Truncate(time.Microsecond)
	next.Version++
	*s = next
	return changed, nil
}

// ProficiencyLevel is one level of the scale.
type ProficiencyLevel struct {
	Level       int32
	Title       string
	Description string
}

// ProficiencyScale is the organisation's five levels. Version 0 is the service's default scale,
// never changed (it has no update time).
type ProficiencyScale struct {
	Levels     []ProficiencyLevel
	UpdateTime time.Time
	Version    int64
}

// DefaultScale is the scale the service starts with.
func DefaultScale() *ProficiencyScale {
	return &ProficiencyScale{Levels: []ProficiencyLevel{
		{1, "Awareness", "Knows what the skill is for and where it applies; needs guidance to use it."},
		{2, "Novice", "Applies the skill to routine tasks with help and review."},
		{3, "Practitioner", "Applies the skill independently to the team's everyday work."},
		{4, "Advanced", "Handles hard and unusual cases; reviews and coaches others."},
		{5, "Expert", "Recognised authority inside and outside the organisation; sets direction."},
	}}
}

// Replace gives the scale new levels at now: all five, level n the n-th. It reports whether
// anything changed.
func (s *ProficiencyScale) Replace(levels []ProficiencyLevel, now time.Time) (bool, error) {
	var vs fault.Violations
	if len(levels) != MaxProficiency {
		vs.Add(FieldLevels, "FIVE_LEVELS", "the scale has exactly five levels")
		return false, vs.Err()
	}
	next := make([]ProficiencyLevel, len(levels))
	for i, l := range levels {
		field := FieldLevels + "[" + strconv.Itoa(i) + "]"
		l.Title = strings.TrimSpace(l.Title)
		if l.Level != 0 && l.Level != int32(i+1) {
			vs.Add(field+".level", "OUT_OF_ORDER", "level n is the n-th of the scale")
		}
		vs.RequireText(field+".title", l.Title, maxLevelTitle)
		vs.LimitText(field+".description", l.Description, maxDescription)
		l.Level = int32(i + 1)
		next[i] = l
	}
	if err := vs.Err(); err != nil {
		return false, err
	}
	same := len(s.Levels) == len(next)
	for i := 0; same && i < len(next); i++ {
		same = s.Levels[i] == next[i]
	}
	if same {
		return false, nil
	}
	s.Levels = next
	s.UpdateTime = now.UTC().Truncate(time.Microsecond)
	s.Version++
	return true, nil
}

// SkillRating is one assessment of a person's proficiency in a skill. Current marks the person's
// latest rating of the skill, the one that counts.
type SkillRating struct {
	ID          string
	PersonID    string
	SkillID     string
	Proficiency int32
	Evidence    string
	RateDate    civil.Date
	Rater       string
	Current     bool
	CreateTime  time.Time
}

// Name is the rating's resource name.
func (r *SkillRating) Name() string { return SkillRatingPattern.Format(r.PersonID, r.ID) }

// NewSkillRating returns a rating recorded at now by rater, dated date (today when zero), of a
// person who started on start.
func NewSkillRating(id, personID, skillID string, proficiency int32, evidence string, date civil.Date,
	rater string, start civil.Date, now time.Time) (*SkillRating, error) {
	now = now.UTC().Truncate(time.Microsecond)
	today := civil.DateOf(now)
	if date.IsZero() {
		date = today
	}
	r := &SkillRating{ID: id, PersonID: personID, SkillID: skillID, Proficiency: proficiency, Evidence: evidence,
		RateDate: date, Rater: rater, CreateTime: now}
	var vs fault.Violations
	if proficiency < MinProficiency || proficiency > MaxProficiency {
		vs.Add(FieldProficiency, "OUT_OF_RANGE", "proficiency is 1 to 5")
	}
	vs.LimitText(FieldEvidence, evidence, maxDescription)
	if err := vs.Err(); err != nil {
		return nil, err
	}
	switch {
	case today.Before(date):
		return nil, ErrRatingFuture
	case date.Before(start):
		return nil, ErrRatingEarly
	}
	return r, nil
}

// Supersedes reports whether r, recorded after cur, becomes current in its place: it is dated
// on or after cur (of two ratings dated the same day, the last recorded counts).
func (r *SkillRating) Supersedes(cur *SkillRating) bool {
	return cur == nil || !r.RateDate.Before(cur.RateDate)
}
