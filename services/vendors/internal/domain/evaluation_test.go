package domain

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

var evalNow = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

func newEval(t *testing.T, criteria []Criterion, candidates []string, scores ...EvaluationScore) *Evaluation {
	t.Helper()
	f := EvaluationFields{Title: "Observability 2027", Criteria: criteria}
	for _, k := range candidates {
		f.Candidates = append(f.Candidates, Candidate{Key: k, DisplayName: k})
	}
	f.Scores = scores
	e, err := NewEvaluation("obs", f, evalNow)
	if err != nil {
		t.Fatalf("NewEvaluation: %v", err)
	}
	return e
}

func TestRanking(t *testing.T) {
	t.Parallel()
	type want struct {
		key                   string
		rank, total, max, pct int32
	}
	for _, c := range []struct {
		name       string
		criteria   []Criterion
		candidates []string
		scores     []EvaluationScore
		want       []want
	}{
		{
			name:       "ties share a rank, the next rank skips",
			criteria:   []Criterion{{Key: "cost", DisplayName: "Cost", Weight: 50}, {Key: "security", DisplayName: "Security", Weight: 50}},
			candidates: []string{"c", "b", "a"},
			scores: []EvaluationScore{
				{CriterionKey: "cost", CandidateKey: "a", Score: 8}, {CriterionKey: "security", CandidateKey: "a", Score: 6},
				{CriterionKey: "cost", CandidateKey: "b", Score: 6}, {CriterionKey: "security", CandidateKey: "b", Score: 8},
				{CriterionKey: "cost", CandidateKey: "c", Score: 5}, {CriterionKey: "security", CandidateKey: "c", Score: 5},
			},
			// Equal totals are listed by key.
			want: []want{{"a", 1, 700, 1000, 700}, {"b", 1, 700, 1000, 700}, {"c", 3, 500, 1000, 500}},
		},
		{
			name:       "percent in tenths, rounded half to even; a missing score counts 0",
			criteria:   []Criterion{{Key: "a", DisplayName: "A", Weight: 1}, {Key: "b", DisplayName: "B", Weight: 39}},
			candidates: []string{"x", "y", "z"},
			scores: []EvaluationScore{
				{CriterionKey: "a", CandidateKey: "x", Score: 1}, // 1/400 = 2.5‰ → 2
				{CriterionKey: "a", CandidateKey: "y", Score: 3}, // 3/400 = 7.5‰ → 8
				{CriterionKey: "b", CandidateKey: "y", Score: 0},
			},
			want: []want{{"y", 1, 3, 400, 8}, {"x", 2, 1, 400, 2}, {"z", 3, 0, 400, 0}},
		},
		{
			name:       "without criteria every candidate ties at 0 of 0",
			candidates: []string{"b", "a"},
			want:       []want{{"a", 1, 0, 0, 0}, {"b", 1, 0, 0, 0}},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEval(t, c.criteria, c.candidates, c.scores...)
			var got []want
			for _, r := range e.Ranking() {
				got = append(got, want{r.CandidateKey, r.Rank, r.WeightedTotal, r.MaxTotal, r.PercentTenths})
				if len(r.Lines) != len(c.criteria) {
					t.Errorf("%s has %d lines; want one per criterion", r.CandidateKey, len(r.Lines))
				}
				var sum int32
				for i, l := range r.Lines {
					if l.CriterionKey != c.criteria[i].Key || l.Points != l.Weight*l.Score {
						t.Errorf("%s line %d = %+v; want criterion %s, points = weight × score", r.CandidateKey, i, l, c.criteria[i].Key)
					}
					sum += l.Points
				}
				if sum != r.WeightedTotal {
					t.Errorf("%s lines sum to %d; total %d", r.CandidateKey, sum, r.WeightedTotal)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("ranking = %+v\nwant      %+v", got, c.want)
			}
		})
	}
}

func TestEvaluationValidate(t *testing.T) {
	t.Parallel()
	crit := []Criterion{{Key: "cost", DisplayName: "Cost", Weight: 10}}
	cand := []Candidate{{Key: "acme", DisplayName: "Acme"}}
	for _, c := range []struct {
		name  string
		f     EvaluationFields
		field string
	}{
		{"title required", EvaluationFields{Title: "  "}, "title"},
		{"weight 0", EvaluationFields{Title: "t", Criteria: []Criterion{{Key: "cost", DisplayName: "Cost"}}}, "criteria[0].weight"},
		{"weight above 100", EvaluationFields{Title: "t", Criteria: []Criterion{{Key: "cost", DisplayName: "Cost", Weight: 101}}}, "criteria[0].weight"},
		{"criterion key twice", EvaluationFields{Title: "t", Criteria: append(slices.Clone(crit), crit[0])}, "criteria[1].key"},
		{"candidate key twice", EvaluationFields{Title: "t", Candidates: append(slices.Clone(cand), cand[0])}, "candidates[1].key"},
		{"bad key", EvaluationFields{Title: "t", Candidates: []Candidate{{Key: "Acme", DisplayName: "Acme"}}}, "candidates[0].key"},
		{"score of an unknown criterion", EvaluationFields{Title: "t", Criteria: crit, Candidates: cand,
			Scores: []EvaluationScore{{CriterionKey: "speed", CandidateKey: "acme", Score: 3}}}, "scores[0].criterion_key"},
		{"score of an unknown candidate", EvaluationFields{Title: "t", Criteria: crit, Candidates: cand,
			Scores: []EvaluationScore{{CriterionKey: "cost", CandidateKey: "globex", Score: 3}}}, "scores[0].candidate_key"},
		{"score twice", EvaluationFields{Title: "t", Criteria: crit, Candidates: cand,
			Scores: []EvaluationScore{{CriterionKey: "cost", CandidateKey: "acme", Score: 3}, {CriterionKey: "cost", CandidateKey: "acme", Score: 4}}}, "scores[1]"},
		{"score above 10", EvaluationFields{Title: "t", Criteria: crit, Candidates: cand,
			Scores: []EvaluationScore{{CriterionKey: "cost", CandidateKey: "acme", Score: 11}}}, "scores[0].score"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewEvaluation("e", c.f, evalNow)
			fe := fault.As(err)
			if fe == nil || fe.Kind != fault.InvalidArgument || !slices.ContainsFunc(fe.Violations, func(v fault.Violation) bool { return v.Field == c.field }) {
				t.Errorf("NewEvaluation = %v; want a violation of %s", err, c.field)
			}
		})
	}
}

func TestEvaluationApplyDropsScoresOfRemovedItems(t *testing.T) {
	t.Parallel()
	e := newEval(t, []Criterion{{Key: "cost", DisplayName: "Cost", Weight: 10}, {Key: "fit", DisplayName: "Fit", Weight: 5}},
		[]string{"a", "b"},
		EvaluationScore{CriterionKey: "cost", CandidateKey: "a", Score: 1}, EvaluationScore{CriterionKey: "fit", CandidateKey: "b", Score: 2},
		EvaluationScore{CriterionKey: "cost", CandidateKey: "b", Score: 3})
	changed, err := e.Apply([]string{EvaluationFieldCandidates}, EvaluationFields{Candidates: []Candidate{{Key: "b", DisplayName: "B"}}}, evalNow.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(changed, []string{EvaluationFieldCandidates, EvaluationFieldScores}) || len(e.Scores) != 2 || e.Version != 2 {
		t.Errorf("changed %v, scores %+v, version %d; want candidates and scores changed, b's two scores kept, version 2", changed, e.Scores, e.Version)
	}
	// Scores given in the same update must name what remains.
	_, err = e.Apply([]string{EvaluationFieldCriteria, EvaluationFieldScores}, EvaluationFields{
		Criteria: []Criterion{{Key: "fit", DisplayName: "Fit", Weight: 5}},
		Scores:   []EvaluationScore{{CriterionKey: "cost", CandidateKey: "b", Score: 3}}}, evalNow)
	if fe := fault.As(err); fe == nil || len(fe.Violations) != 1 || fe.Violations[0].Field != "scores[0].criterion_key" {
		t.Errorf("Apply with a score of a removed criterion = %v; want a violation of scores[0].criterion_key", err)
	}
}

func TestEvaluationDecide(t *testing.T) {
	t.Parallel()
	crit := []Criterion{{Key: "cost", DisplayName: "Cost", Weight: 50}, {Key: "security", DisplayName: "Security", Weight: 50}}
	scores := func(a, b, c [2]int32) []EvaluationScore {
		var out []EvaluationScore
		for i, k := range []string{"cost", "security"} {
			out = append(out, EvaluationScore{CriterionKey: k, CandidateKey: "a", Score: a[i]},
				EvaluationScore{CriterionKey: k, CandidateKey: "b", Score: b[i]}, EvaluationScore{CriterionKey: k, CandidateKey: "c", Score: c[i]})
		}
		return out
	}
	tied := scores([2]int32{8, 6}, [2]int32{6, 8}, [2]int32{5, 5})
	for _, c := range []struct {
		name                string
		scores              []EvaluationScore
		winner, rationale   string
		wantErr             error
		wantField           string
		wantWinner, wantWhy string
	}{
		{name: "incomplete", scores: tied[:5], wantErr: ErrEvaluationIncomplete},
		{name: "tied at the top", scores: tied, wantErr: ErrRankingTied},
		{name: "tied, winner named", scores: tied, winner: "b", wantWinner: "b"},
		{name: "not first without rationale", scores: tied, winner: "c", wantErr: fault.New(fault.InvalidArgument, fault.ReasonInvalid, ""), wantField: "rationale"},
		{name: "not first with rationale", scores: tied, winner: "c", rationale: " cheapest exit ", wantWinner: "c", wantWhy: "cheapest exit"},
		{name: "not a candidate", scores: tied, winner: "d", wantErr: ErrWinnerNotCandidate, wantField: "winner"},
		{name: "clear first", scores: scores([2]int32{9, 9}, [2]int32{6, 8}, [2]int32{5, 5}), wantWinner: "a"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEval(t, crit, []string{"a", "b", "c"}, c.scores...)
			err := e.Decide(c.winner, c.rationale, "people/cto", evalNow.Add(time.Hour))
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("Decide = %v; want %v", err, c.wantErr)
				}
				if c.wantField != "" {
					if fe := fault.As(err); len(fe.Violations) != 1 || fe.Violations[0].Field != c.wantField {
						t.Errorf("Decide = %v; want a violation of %s", err, c.wantField)
					}
				}
				if e.State != EvaluationDraft || e.Version != 1 {
					t.Errorf("a refused decision changed the evaluation: %s v%d", e.State, e.Version)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decide = %v", err)
			}
			if e.State != EvaluationDecided || e.Winner != c.wantWinner || e.DecisionRationale != c.wantWhy ||
				e.Decider != "people/cto" || !e.DecideTime.Equal(evalNow.Add(time.Hour)) || e.Version != 2 {
				t.Errorf("decided %+v; want winner %q, rationale %q", e, c.wantWinner, c.wantWhy)
			}
			// Decided is final: nothing changes any more.
			if err := e.Cancel("", evalNow); !errors.Is(err, ErrEvaluationNotDraft) {
				t.Errorf("Cancel after decision = %v; want EVALUATION_NOT_DRAFT", err)
			}
			if _, err := e.Apply([]string{EvaluationFieldTitle}, EvaluationFields{Title: "x"}, evalNow); !errors.Is(err, ErrEvaluationNotDraft) {
				t.Errorf("Apply after decision = %v; want EVALUATION_NOT_DRAFT", err)
			}
		})
	}
	// Without candidates there is nothing to decide.
	e := newEval(t, crit, nil)
	if err := e.Decide("", "", "people/cto", evalNow); !errors.Is(err, ErrEvaluationIncomplete) {
		t.Errorf("Decide without candidates = %v; want EVALUATION_INCOMPLETE", err)
	}
}
