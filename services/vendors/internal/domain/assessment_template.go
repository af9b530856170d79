package domain

import (
	"fmt"
	"slices"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// The limits of an assessment template's fields and questions, as the API states them.
const (
	MaxTemplateQuestions = 200
	MinQuestionWeight    = 1
	MaxQuestionWeight    = 10
	// MaxRating is the highest rating of an answer: the control is fully in place.
	MaxRating = 4
)

// The writable fields of an assessment template, as update masks name them.
const (
	FieldDisplayName = "display_name"
	FieldDescription = "description"
	FieldQuestions   = "questions"
)

// Question is one weighted question of a template, copied into the assessments started from it.
type Question struct {
	Key      string `json:"key"`
	Text     string `json:"text"`
	Category string `json:"category,omitempty"`
	Weight   int32  `json:"weight"`
	Critical bool   `json:"critical,omitempty"`
}

// AssessmentTemplate is a due-diligence questionnaire. Revision counts the changes of its
// questions; assessments keep a copy of the questions of the revision they were started from, so
// a template can change (or be deleted) at any time without changing a started assessment.
type AssessmentTemplate struct {
	ID          string
	DisplayName string
	Description string
	Questions   []Question
	Revision    int32
	CreateTime  time.Time
	UpdateTime  time.Time
	Version     int64
}

// AssessmentTemplateFields are the writable fields of a template.
type AssessmentTemplateFields struct {
	DisplayName string
	Description string
	Questions   []Question
}

// AssessmentTemplateName returns the resource name of the template with the ID.
func AssessmentTemplateName(id string) string { return AssessmentTemplatePattern.Format(id) }

// Name returns the template's resource name.
func (t *AssessmentTemplate) Name() string { return AssessmentTemplateName(t.ID) }

// NewAssessmentTemplate returns a template at revision 1 and version 1, or the violations of f
// (field paths relative to the template).
func NewAssessmentTemplate(id string, f AssessmentTemplateFields, now time.Time) (*AssessmentTemplate, error) {
	if err := f.validate([]string{FieldDisplayName, FieldDescription, FieldQuestions}); err != nil {
		return nil, err
	}
	now = now.UTC()
	return &AssessmentTemplate{ID: id, DisplayName: f.DisplayName, Description: f.Description,
		Questions: slices.Clone(f.Questions), Revision: 1, CreateTime: now, UpdateTime: now, Version: 1}, nil
}

// Apply sets the fields at paths to f's values and returns the paths whose value changed. A
// change of the questions makes a new revision. Nothing changes when f is invalid.
func (t *AssessmentTemplate) Apply(paths []string, f AssessmentTemplateFields, now time.Time) ([]string, error) {
	if err := f.validate(paths); err != nil {
		return nil, err
	}
	var changed []string
	for _, p := range paths {
		switch p {
		case FieldDisplayName:
			if t.DisplayName != f.DisplayName {
				t.DisplayName = f.DisplayName
				changed = append(changed, p)
			}
		case FieldDescription:
			if t.Description != f.Description {
				t.Description = f.Description
				changed = append(changed, p)
			}
		case FieldQuestions:
			if !slices.Equal(t.Questions, f.Questions) {
				t.Questions = slices.Clone(f.Questions)
				t.Revision++
				changed = append(changed, p)
			}
		}
	}
	if len(changed) > 0 {
		t.UpdateTime = now.UTC()
		t.Version++
	}
	return changed, nil
}

// validate checks the fields at paths.
func (f AssessmentTemplateFields) validate(paths []string) error {
	var vs fault.Violations
	if slices.Contains(paths, FieldDisplayName) && f.DisplayName == "" {
		vs.Add(FieldDisplayName, "REQUIRED", "a template needs a display name")
	}
	if slices.Contains(paths, FieldQuestions) {
		vs = append(vs, ValidateQuestions(f.Questions)...)
	}
	return vs.Err()
}

// ValidateQuestions returns the violations of a template's questions: 1 to 200 of them, each
// with a key unique within the template, a text and a weight from 1 to 10.
func ValidateQuestions(qs []Question) fault.Violations {
	var vs fault.Violations
	switch {
	case len(qs) == 0:
		vs.Add(FieldQuestions, "REQUIRED", "a template needs at least one question")
	case len(qs) > MaxTemplateQuestions:
		vs.Add(FieldQuestions, "TOO_MANY", fmt.Sprintf("a template has at most %d questions", MaxTemplateQuestions))
	}
	seen := make(map[string]bool, len(qs))
	for i, q := range qs {
		at := fmt.Sprintf("%s[%d]", FieldQuestions, i)
		if q.Key == "" {
			vs.Add(at+".key", "REQUIRED", "a question needs a key")
		} else if seen[q.Key] {
			vs.Add(at+".key", "DUPLICATE_QUESTION_KEY", fmt.Sprintf("question key %q is used twice", q.Key))
		}
		seen[q.Key] = true
		if q.Text == "" {
			vs.Add(at+".text", "REQUIRED", "a question needs a text")
		}
		if q.Weight < MinQuestionWeight || q.Weight > MaxQuestionWeight {
			vs.Add(at+".weight", "OUT_OF_RANGE", fmt.Sprintf("the weight must be %d to %d", MinQuestionWeight, MaxQuestionWeight))
		}
	}
	return vs
}
