package domain

import (
	"errors"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

func TestScore(t *testing.T) {
	t.Parallel()
	q := func(key string, weight int32, critical bool) Question {
		return Question{Key: key, Text: key + "?", Weight: weight, Critical: critical}
	}
	rated := func(key string, rating int32) Answer { return Answer{QuestionKey: key, Rating: rating} }
	na := func(key string) Answer { return Answer{QuestionKey: key, NotApplicable: true} }
	for _, c := range []struct {
		name      string
		questions []Question
		answers   []Answer
		score     int32
		rating    RiskRating
	}{
		{"all fully in place", []Question{q("a", 1, false), q("b", 10, true)}, []Answer{rated("a", 4), rated("b", 4)}, 100, RiskLow},
		{"nothing in place", []Question{q("a", 3, false)}, []Answer{rated("a", 0)}, 0, RiskCritical},
		// 2 × 3 = 6 of 8 points: 75.
		{"weighted", []Question{q("a", 2, false), q("b", 2, false)}, []Answer{rated("a", 4), rated("b", 2)}, 75, RiskMedium},
		// 100 × 5 / 8 = 62.5 → 62 (half to even, down).
		{"half to even down", []Question{q("a", 1, false), q("b", 1, false)}, []Answer{rated("a", 4), rated("b", 1)}, 62, RiskMedium},
		// 100 × 1 / 8 = 12.5 → 12; 100 × 3 / 8 = 37.5 → 38 (half to even, up).
		{"half to even 12.5", []Question{q("a", 1, false), q("b", 1, false)}, []Answer{rated("a", 1), rated("b", 0)}, 12, RiskCritical},
		{"half to even up", []Question{q("a", 1, false), q("b", 1, false)}, []Answer{rated("a", 3), rated("b", 0)}, 38, RiskCritical},
		// 100 × 2 / 3 = 66.67 → 67 (more than half: up). Weights 1 and 2, ratings 4 and 0 of 12.
		{"over half", []Question{q("a", 1, false), q("b", 2, false)}, []Answer{rated("a", 4), rated("b", 2)}, 67, RiskMedium},
		// 100 × 9 / 12 = 75 exactly; 100 × 1 / 3 = 33.33 → 33 (less than half: down).
		{"under half", []Question{q("a", 3, false)}, []Answer{rated("a", 1)}, 25, RiskCritical},
		{"below half of a point", []Question{q("a", 1, false), q("b", 2, false)}, []Answer{rated("a", 4), rated("b", 0)}, 33, RiskCritical},
		// Thresholds: 80 LOW, 79 MEDIUM (needs a fine grain: weight 5 × 4 × 5 questions = 100 points).
		{"80 is low", []Question{q("a", 5, false), q("b", 5, false), q("c", 5, false), q("d", 5, false), q("e", 5, false)},
			[]Answer{rated("a", 4), rated("b", 4), rated("c", 4), rated("d", 4), rated("e", 0)}, 80, RiskLow},
		{"60 is medium", []Question{q("a", 5, false), q("b", 5, false), q("c", 5, false), q("d", 5, false), q("e", 5, false)},
			[]Answer{rated("a", 4), rated("b", 4), rated("c", 4), rated("d", 0), rated("e", 0)}, 60, RiskMedium},
		{"40 is high", []Question{q("a", 5, false), q("b", 5, false), q("c", 5, false), q("d", 5, false), q("e", 5, false)},
			[]Answer{rated("a", 4), rated("b", 4), rated("c", 0), rated("d", 0), rated("e", 0)}, 40, RiskHigh},
		{"35 is critical", []Question{q("a", 5, false), q("b", 5, false), q("c", 5, false), q("d", 5, false), q("e", 5, false)},
			[]Answer{rated("a", 4), rated("b", 3), rated("c", 0), rated("d", 0), rated("e", 0)}, 35, RiskCritical},
		// N/A counts neither for nor against: 4 of 4 points.
		{"not applicable", []Question{q("a", 1, false), q("b", 10, false)}, []Answer{rated("a", 4), na("b")}, 100, RiskLow},
		// A critical question rated 0 makes it at least HIGH, whatever the score (97.5 → 98).
		{"critical zero", []Question{q("a", 10, false), q("b", 10, false), q("c", 10, false), q("d", 10, false), q("e", 1, true)},
			[]Answer{rated("a", 4), rated("b", 4), rated("c", 4), rated("d", 4), rated("e", 0)}, 98, RiskHigh},
		// ... but never lowers a worse rating.
		{"critical zero, critical score", []Question{q("a", 1, true)}, []Answer{rated("a", 0)}, 0, RiskCritical},
		// A critical question marked N/A or rated above 0 does not count.
		{"critical n/a", []Question{q("a", 1, false), q("b", 1, true)}, []Answer{rated("a", 4), na("b")}, 100, RiskLow},
		{"critical one", []Question{q("a", 3, false), q("b", 1, true)}, []Answer{rated("a", 4), rated("b", 1)}, 81, RiskLow},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := Score(c.questions, c.answers)
			if err != nil {
				t.Fatal(err)
			}
			if res.Score != c.score || res.RiskRating != c.rating {
				t.Errorf("Score = %d, %d; want %d, %d", res.Score, res.RiskRating, c.score, c.rating)
			}
			if len(res.Breakdown) != len(c.questions) {
				t.Fatalf("breakdown %+v; want a line per question", res.Breakdown)
			}
			for i, l := range res.Breakdown {
				if l.QuestionKey != c.questions[i].Key {
					t.Errorf("line %d is %s; want the questions' order", i, l.QuestionKey)
				}
				if !l.NotApplicable && (l.Points != l.Weight*l.Rating || l.MaxPoints != l.Weight*4) {
					t.Errorf("line %+v: points are not weight × rating of weight × 4", l)
				}
				if l.NotApplicable && (l.Points != 0 || l.MaxPoints != 0) {
					t.Errorf("line %+v: N/A has points", l)
				}
			}
		})
	}
}

func TestScoreIncomplete(t *testing.T) {
	t.Parallel()
	qs := []Question{{Key: "a", Weight: 1}, {Key: "b", Weight: 1}, {Key: "c", Weight: 1}}
	_, err := Score(qs, []Answer{{QuestionKey: "b", Rating: 2}})
	if !errors.Is(err, ErrAssessmentIncomplete) {
		t.Fatalf("Score with two unanswered = %v; want ASSESSMENT_INCOMPLETE", err)
	}
	if got := fault.As(err).Metadata["missing"]; got != "a,c" {
		t.Errorf("missing = %q; want a,c", got)
	}
	_, err = Score(qs, []Answer{{QuestionKey: "a", NotApplicable: true}, {QuestionKey: "b", NotApplicable: true}, {QuestionKey: "c", NotApplicable: true}})
	if !errors.Is(err, ErrAssessmentIncomplete) {
		t.Errorf("Score with every question N/A = %v; want ASSESSMENT_INCOMPLETE", err)
	}
}

func TestAddMonths(t *testing.T) {
	t.Parallel()
	d := func(y int, m time.Month, day int) civil.Date { return civil.Date{Year: y, Month: m, Day: day} }
	for _, c := range []struct {
		from   civil.Date
		months int
		want   civil.Date
	}{
		{d(2026, 12, 4), 12, d(2027, 12, 4)},
		{d(2026, 12, 4), 36, d(2029, 12, 4)},
		{d(2028, 2, 29), 12, d(2029, 2, 28)},
		{d(2028, 2, 29), 48, d(2032, 2, 29)},
		{d(2027, 1, 31), 1, d(2027, 2, 28)},
		{d(2027, 8, 31), 6, d(2028, 2, 29)},
	} {
		if got := AddMonths(c.from, c.months); got != c.want {
			t.Errorf("AddMonths(%s, %d) = %s; want %s", c.from, c.months, got, c.want)
		}
	}
}

func TestTemplateValidation(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	ok := []Question{{Key: "a", Text: "A?", Weight: 1}}
	for _, c := range []struct {
		name  string
		f     AssessmentTemplateFields
		field string
	}{
		{"no display name", AssessmentTemplateFields{Questions: ok}, "display_name"},
		{"no questions", AssessmentTemplateFields{DisplayName: "T"}, "questions"},
		{"weight 0", AssessmentTemplateFields{DisplayName: "T", Questions: []Question{{Key: "a", Text: "A?"}}}, "questions[0].weight"},
		{"weight 11", AssessmentTemplateFields{DisplayName: "T", Questions: []Question{{Key: "a", Text: "A?", Weight: 11}}}, "questions[0].weight"},
		{"duplicate key", AssessmentTemplateFields{DisplayName: "T", Questions: []Question{ok[0], {Key: "a", Text: "again", Weight: 2}}}, "questions[1].key"},
	} {
		_, err := NewAssessmentTemplate("t", c.f, now)
		fe := fault.As(err)
		if fe == nil || len(fe.Violations) == 0 || fe.Violations[0].Field != c.field {
			t.Errorf("%s: NewAssessmentTemplate = %v; want a violation of %s", c.name, err, c.field)
		}
	}
	tpl, err := NewAssessmentTemplate("t", AssessmentTemplateFields{DisplayName: "T", Questions: ok}, now)
	if err != nil || tpl.Revision != 1 {
		t.Fatalf("NewAssessmentTemplate = %+v, %v; want revision 1", tpl, err)
	}
	changed, err := tpl.Apply([]string{FieldDisplayName, FieldQuestions}, AssessmentTemplateFields{DisplayName: "T2", Questions: ok}, now)
	if err != nil || len(changed) != 1 || tpl.Revision != 1 {
		t.Errorf("Apply of the same questions = %v, %v, revision %d; want display_name only, revision 1", changed, err, tpl.Revision)
	}
	more := append([]Question{{Key: "b", Text: "B?", Weight: 3, Critical: true}}, ok...)
	if _, err := tpl.Apply([]string{FieldQuestions}, AssessmentTemplateFields{Questions: more}, now); err != nil || tpl.Revision != 2 {
		t.Errorf("Apply of new questions: %v, revision %d; want revision 2", err, tpl.Revision)
	}
}
