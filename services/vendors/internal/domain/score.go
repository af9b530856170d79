package domain

import "strings"

// RiskRating is a vendor's or an assessment's risk rating; its values are those of the API's
// RiskRating, from the least to the most severe.
type RiskRating int32

// The risk ratings.
const (
	RiskUnspecified RiskRating = 0
	RiskLow         RiskRating = 1
	RiskMedium      RiskRating = 2
	RiskHigh        RiskRating = 3
	RiskCritical    RiskRating = 4
)

// The lowest scores of the risk ratings: LOW from 80, MEDIUM from 60, HIGH from 40, CRITICAL
// below.
const (
	LowRiskFrom    = 80
	MediumRiskFrom = 60
	HighRiskFrom   = 40
)

// ScoreLine is how one question contributed to a score.
type ScoreLine struct {
	QuestionKey   string `json:"question_key"`
	Weight        int32  `json:"weight"`
	Rating        int32  `json:"rating"`
	NotApplicable bool   `json:"not_applicable,omitempty"`
	Points        int32  `json:"points"`
	MaxPoints     int32  `json:"max_points"`
}

// ScoreResult is the outcome of scoring an assessment's answers.
type ScoreResult struct {
	Score      int32
	RiskRating RiskRating
	Breakdown  []ScoreLine
}

// Score scores answers to qs. Each question answered (not N/A) earns weight × rating points out
// of weight × 4; the score is 100 × points / max points, rounded half to even, and the risk
// rating follows from it (RatingOf), at least HIGH when a critical question is rated 0. Every
// question needs an answer and at least one must not be N/A: otherwise ErrAssessmentIncomplete,
// whose "missing" metadata lists the keys of the questions without an answer, comma-separated.
func Score(qs []Question, answers []Answer) (ScoreResult, error) {
	byKey := make(map[string]Answer, len(answers))
	for _, a := range answers {
		byKey[a.QuestionKey] = a
	}
	var (
		res               ScoreResult
		missing           []string
		points, maxPoints int64
		criticalZero      bool
	)
	for _, q := range qs {
		a, ok := byKey[q.Key]
		if !ok {
			missing = append(missing, q.Key)
			continue
		}
		line := ScoreLine{QuestionKey: q.Key, Weight: q.Weight, NotApplicable: a.NotApplicable}
		if !a.NotApplicable {
			line.Rating, line.Points, line.MaxPoints = a.Rating, q.Weight*a.Rating, q.Weight*MaxRating
			points += int64(line.Points)
			maxPoints += int64(line.MaxPoints)
			criticalZero = criticalZero || (q.Critical && a.Rating == 0)
		}
		res.Breakdown = append(res.Breakdown, line)
	}
	if len(missing) > 0 {
		return ScoreResult{}, ErrAssessmentIncomplete.With("missing", strings.Join(missing, ","))
	}
	if maxPoints == 0 {
		return ScoreResult{}, ErrAssessmentIncomplete.Withf("every question is marked not applicable; at least one must be answered")
	}
	res.Score = int32(roundHalfEven(100*points, maxPoints))
	res.RiskRating = RatingOf(res.Score)
	if criticalZero && res.RiskRating < RiskHigh {
		res.RiskRating = RiskHigh
	}
	return res, nil
}

// RatingOf returns the risk rating of a score: LOW from 80, MEDIUM from 60, HIGH from 40,
// CRITICAL below.
func RatingOf(score int32) RiskRating {
	switch {
	case score >= LowRiskFrom:
		return RiskLow
	case score >= MediumRiskFrom:
		return RiskMedium
	case score >= HighRiskFrom:
		return RiskHigh
	}
	return RiskCritical
}

// roundHalfEven returns n / d for n ≥ 0 and d > 0, rounded to the nearest integer and a half to
// the even one.
func roundHalfEven(n, d int64) int64 {
	q, r := n/d, n%d
	switch {
	case 2*r > d, 2*r == d && q%2 == 1:
		q++
	}
	return q
}
