package domain

import (
	"fmt"
	"slices"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// AssessmentState is the state of an assessment; its values are those of the API's
// Assessment.State.
type AssessmentState int32

// The states of an assessment: IN_PROGRESS → COMPLETED | CANCELLED, both final.
const (
	AssessmentInProgress AssessmentState = 1
	AssessmentCompleted  AssessmentState = 2
	AssessmentCancelled  AssessmentState = 3
)

// The writable fields of an assessment, as update masks name them.
const (
	FieldAnswers  = "answers"
	FieldAssessor = "assessor"
)

// Answer answers one question of an assessment.
type Answer struct {
	QuestionKey   string   `json:"question_key"`
	Rating        int32    `json:"rating"`
	NotApplicable bool     `json:"not_applicable,omitempty"`
	EvidenceURIs  []string `json:"evidence_uris,omitempty"`
	Comment       string   `json:"comment,omitempty"`
}

func (a Answer) equal(b Answer) bool {
	return a.QuestionKey == b.QuestionKey && a.Rating == b.Rating && a.NotApplicable == b.NotApplicable &&
		slices.Equal(a.EvidenceURIs, b.EvidenceURIs) && a.Comment == b.Comment
}

// Assessment is one due-diligence review of a vendor against a copy of a template's questions.
type Assessment struct {
	VendorID         string
	ID               string
	TemplateID       string
	TemplateRevision int32
	Questions        []Question
	Assessor         string
	Answers          []Answer
	State            AssessmentState
	// Score, RiskRating, Breakdown, CompleteTime, ValidUntil and VendorTier are set on completion.
	Score        int32
	RiskRating   RiskRating
	Breakdown    []ScoreLine
	CompleteTime time.Time
	ValidUntil   civil.Date
	// VendorTier is the vendor's tier at completion, which set ValidUntil.
	VendorTier   int32
	CancelReason string
	CreateTime   time.Time
	UpdateTime   time.Time
	Version      int64
}

// AssessmentName returns the resource name of the vendor's assessment with the ID.
func AssessmentName(vendorID, id string) string { return AssessmentPattern.Format(vendorID, id) }

// Name returns the assessment's resource name.
func (a *Assessment) Name() string { return AssessmentName(a.VendorID, a.ID) }

// Vendor returns the resource name of the assessment's vendor.
func (a *Assessment) Vendor() string { return VendorPattern.Format(a.VendorID) }

// NewAssessment starts an assessment of v, IN_PROGRESS, on a copy of the questions of t's current
// revision. The assessor may not be the vendor's owner; answers must name the copy's questions.
func NewAssessment(v *Vendor, id string, t *AssessmentTemplate, assessor string, answers []Answer, now time.Time) (*Assessment, error) {
	if v.State == VendorOffboarded {
		return nil, ErrVendorOffboarded.With("name", v.Name())
	}
	var vs fault.Violations
	if assessor == "" {
		vs.Add(FieldAssessor, "REQUIRED", "an assessment needs an assessor")
	}
	vs = append(vs, validateAnswers(t.Questions, answers)...)
	if err := vs.Err(); err != nil {
		return nil, err
	}
	if v.Owner != "" && assessor == v.Owner {
		return nil, ErrAssessorIsOwner.With("owner", v.Owner)
	}
	now = now.UTC()
	return &Assessment{VendorID: v.ID, ID: id, TemplateID: t.ID, TemplateRevision: t.Revision,
		Questions: slices.Clone(t.Questions), Assessor: assessor, Answers: slices.Clone(answers),
		State: AssessmentInProgress, CreateTime: now, UpdateTime: now, Version: 1}, nil
}

// AssessmentFields are the writable fields of an assessment.
type AssessmentFields struct {
	Assessor string
	Answers  []Answer
}

// Apply sets the fields at paths to f's values, only while IN_PROGRESS, and returns the paths
// whose value changed. vendorOwner is the vendor's owner, whom the assessor may not be.
func (a *Assessment) Apply(paths []string, f AssessmentFields, vendorOwner string, now time.Time) ([]string, error) {
	if a.State != AssessmentInProgress {
		return nil, ErrAssessmentNotInProgress.With("name", a.Name())
	}
	var vs fault.Violations
	if slices.Contains(paths, FieldAssessor) && f.Assessor == "" {
		vs.Add(FieldAssessor, "REQUIRED", "an assessment needs an assessor")
	}
	if slices.Contains(paths, FieldAnswers) {
		vs = append(vs, validateAnswers(a.Questions, f.Answers)...)
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	var changed []string
	for _, p := range paths {
		switch p {
		case FieldAssessor:
			if f.Assessor != a.Assessor {
				if vendorOwner != "" && f.Assessor == vendorOwner {
					return nil, ErrAssessorIsOwner.With("owner", vendorOwner)
				}
				a.Assessor = f.Assessor
				changed = append(changed, p)
			}
		case FieldAnswers:
			if !slices.EqualFunc(a.Answers, f.Answers, Answer.equal) {
				a.Answers = slices.Clone(f.Answers)
				changed = append(changed, p)
			}
		}
	}
	if len(changed) > 0 {
		a.UpdateTime = now.UTC()
		a.Version++
	}
	return changed, nil
}

// validateAnswers returns the violations of answers to qs: each names one of the questions, at
// most once, with a rating from 0 to 4.
func validateAnswers(qs []Question, answers []Answer) fault.Violations {
	var vs fault.Violations
	known := make(map[string]bool, len(qs))
	for _, q := range qs {
		known[q.Key] = true
	}
	seen := make(map[string]bool, len(answers))
	for i, a := range answers {
		at := fmt.Sprintf("%s[%d]", FieldAnswers, i)
		switch {
		case !known[a.QuestionKey]:
			vs.Add(at+".question_key", "UNKNOWN_QUESTION", fmt.Sprintf("the assessment has no question %q", a.QuestionKey))
		case seen[a.QuestionKey]:
			vs.Add(at+".question_key", "DUPLICATE_ANSWER", fmt.Sprintf("question %q is answered twice", a.QuestionKey))
		}
		seen[a.QuestionKey] = true
		if a.Rating < 0 || a.Rating > MaxRating {
			vs.Add(at+".rating", "OUT_OF_RANGE", fmt.Sprintf("the rating must be 0 to %d", MaxRating))
		}
	}
	return vs
}

// Complete scores and rates an IN_PROGRESS assessment (see Score) and sets it valid until the
// day of completion (UTC) plus months, the reassessment cadence of the vendor's tier. Every
// question must be answered or marked N/A, and at least one answered: otherwise
// ErrAssessmentIncomplete with the keys of the missing questions in its "missing" metadata.
func (a *Assessment) Complete(tier int32, months int, now time.Time) error {
	if a.State != AssessmentInProgress {
		return ErrAssessmentNotInProgress.With("name", a.Name())
	}
	res, err := Score(a.Questions, a.Answers)
	if err != nil {
		return err
	}
	now = now.UTC()
	a.State, a.Score, a.RiskRating, a.Breakdown = AssessmentCompleted, res.Score, res.RiskRating, res.Breakdown
	a.CompleteTime, a.VendorTier = now, tier
	a.ValidUntil = AddMonths(civil.DateOf(now), months)
	a.UpdateTime = now
	a.Version++
	return nil
}

// RecordAssessment makes the completed a the vendor's latest assessment: the vendor's risk
// rating is a's while today is on or before a's valid_until. The vendor's representation (its
// risk_rating) changes with it, so its version and update time move on.
func (v *Vendor) RecordAssessment(a *Assessment, now time.Time) {
	v.LatestAssessmentID, v.LatestRiskRating, v.AssessmentValidUntil = a.ID, int32(a.RiskRating), a.ValidUntil
	v.UpdateTime = now.UTC()
	v.Version++
}

// Cancel abandons an IN_PROGRESS assessment for reason.
func (a *Assessment) Cancel(reason string, now time.Time) error {
	if a.State != AssessmentInProgress {
		return ErrAssessmentNotInProgress.With("name", a.Name())
	}
	a.State, a.CancelReason = AssessmentCancelled, reason
	a.UpdateTime = now.UTC()
	a.Version++
	return nil
}

// DueTime is when a completed assessment falls due for reassessment: the start (UTC) of the day
// after its last valid day.
func (a *Assessment) DueTime() time.Time { return a.ValidUntil.Time().AddDate(0, 0, 1) }

// AddMonths returns d plus n calendar months (civil.Date.AddMonths): on the same day of the
// month or, when the target month is shorter, on its last day, so a validity never runs past its
// cadence.
func AddMonths(d civil.Date, n int) civil.Date { return d.AddMonths(n) }
