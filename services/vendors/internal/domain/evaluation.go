package domain

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// EvaluationState is the state of an evaluation; its values are those of the API's
// Evaluation.State.
type EvaluationState int32

// The evaluation states. DECIDED and CANCELLED are final.
const (
	EvaluationDraft     EvaluationState = 1
	EvaluationDecided   EvaluationState = 2
	EvaluationCancelled EvaluationState = 3
)

// String is the state's API name.
func (s EvaluationState) String() string {
	switch s {
	case EvaluationDraft:
		return "DRAFT"
	case EvaluationDecided:
		return "DECIDED"
	case EvaluationCancelled:
		return "CANCELLED"
	}
	return fmt.Sprintf("EvaluationState(%d)", int32(s))
}

// Limits of evaluation fields, shared with the API's validation rules.
const (
	maxEvaluationTitle     = 200
	maxEvaluationNeed      = 10000
	maxEvaluationItems     = 50   // criteria, candidates
	maxEvaluationScores    = 2500 // one per criterion and candidate
	maxEvaluationItemName  = 200
	maxScoreRationale      = 2000
	minCriterionWeight     = 1
	maxCriterionWeight     = 100
	MaxScore               = 10
	maxDecisionRationale   = 2000
	maxEvaluationCancelWhy = 2000
)

// evaluationKey is the form of a criterion's and a candidate's key.
var evaluationKey = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// Criterion is what an evaluation's candidates are scored on, with its weight (1 to 100).
type Criterion struct {
	Key         string `json:"key"`
	DisplayName string `json:"display_name"`
	Weight      int32  `json:"weight"`
}

// Candidate is a solution an evaluation compares; VendorID is set when a vendor of the
// organisation offers it.
type Candidate struct {
	Key         string `json:"key"`
	VendorID    string `json:"vendor_id,omitempty"`
	DisplayName string `json:"display_name"`
}

// EvaluationScore is one candidate's score, 0 to MaxScore, on one criterion.
type EvaluationScore struct {
	CriterionKey string `json:"criterion_key"`
	CandidateKey string `json:"candidate_key"`
	Score        int32  `json:"score"`
	Rationale    string `json:"rationale,omitempty"`
}

// Evaluation compares candidate solutions for a need on weighted criteria. A candidate earns
// weight × score points per criterion; Ranking orders the candidates by their totals. Only a
// DRAFT evaluation changes; deciding or cancelling it makes it read-only.
type Evaluation struct {
	ID         string
	Title      string
	Need       string
	Owner      string
	Criteria   []Criterion
	Candidates []Candidate
	Scores     []EvaluationScore

	State             EvaluationState
	Winner            string // a candidate's key, set on decision
	DecisionRationale string
	Decider           string
	DecideTime        time.Time // zero until decided
	CancelReason      string

	CreateTime time.Time
	UpdateTime time.Time
	// Version counts the changes of the evaluation; it starts at 1 and orders its events.
	Version int64
}

// EvaluationName returns the resource name of the evaluation with the ID.
func EvaluationName(id string) string { return EvaluationPattern.Format(id) }

// Name is the evaluation's resource name, evaluations/{evaluation}.
func (e *Evaluation) Name() string { return EvaluationName(e.ID) }

// EvaluationFields are the client-writable fields of an evaluation.
type EvaluationFields struct {
	Title      string
	Need       string
	Owner      string
	Criteria   []Criterion
	Candidates []Candidate
	Scores     []EvaluationScore
}

// The client-writable fields of an evaluation, by their API names.
const (
	EvaluationFieldTitle      = "title"
	EvaluationFieldNeed       = "need"
	EvaluationFieldOwner      = "owner"
	EvaluationFieldCriteria   = "criteria"
	EvaluationFieldCandidates = "candidates"
	EvaluationFieldScores     = "scores"
)

// EvaluationWritableFields lists the fields an update may change.
var EvaluationWritableFields = []string{EvaluationFieldTitle, EvaluationFieldNeed, EvaluationFieldOwner,
	EvaluationFieldCriteria, EvaluationFieldCandidates, EvaluationFieldScores}

// NewEvaluation returns a DRAFT evaluation created at now from f, checked against the
// invariants.
func NewEvaluation(id string, f EvaluationFields, now time.Time) (*Evaluation, error) {
	now = now.UTC().Truncate(time.Microsecond)
	e := &Evaluation{ID: id, State: EvaluationDraft, CreateTime: now, UpdateTime: now, Version: 1}
	e.set(EvaluationWritableFields, f)
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Evaluation) set(paths []string, f EvaluationFields) {
	for _, p := range paths {
		switch p {
		case EvaluationFieldTitle:
			e.Title = strings.TrimSpace(f.Title)
		case EvaluationFieldNeed:
			e.Need = f.Need
		case EvaluationFieldOwner:
			e.Owner = strings.TrimSpace(f.Owner)
		case EvaluationFieldCriteria:
			e.Criteria = slices.Clone(f.Criteria)
			for i := range e.Criteria {
				e.Criteria[i].DisplayName = strings.TrimSpace(e.Criteria[i].DisplayName)
			}
		case EvaluationFieldCandidates:
			e.Candidates = slices.Clone(f.Candidates)
			for i := range e.Candidates {
				e.Candidates[i].DisplayName = strings.TrimSpace(e.Candidates[i].DisplayName)
			}
		case EvaluationFieldScores:
			e.Scores = slices.Clone(f.Scores)
		}
	}
	// Removing a criterion or a candidate removes its scores; scores the request itself gives
	// for a key that does not exist stay, for Validate to report.
	if !slices.Contains(paths, EvaluationFieldScores) {
		e.Scores = slices.DeleteFunc(slices.Clone(e.Scores), func(s EvaluationScore) bool {
			return e.criterion(s.CriterionKey) < 0 || e.candidate(s.CandidateKey) < 0
		})
	}
}

func (e *Evaluation) criterion(key string) int {
	return slices.IndexFunc(e.Criteria, func(c Criterion) bool { return c.Key == key })
}

func (e *Evaluation) candidate(key string) int {
	return slices.IndexFunc(e.Candidates, func(c Candidate) bool { return c.Key == key })
}

// Validate checks the invariants of an evaluation that need nothing else to decide: required
// and bounded texts, unique keys, weights 1 to 100, scores 0 to 10 of the evaluation's own
// criteria and candidates, at most one per pair. Every broken rule is reported, each as a
// violation of its field ("criteria[2].weight").
func (e *Evaluation) Validate() error {
	var vs fault.Violations
	vs.RequireText(EvaluationFieldTitle, e.Title, maxEvaluationTitle)
	vs.LimitText(EvaluationFieldNeed, e.Need, maxEvaluationNeed)
	vs.LimitText(EvaluationFieldOwner, e.Owner, maxOwner)
	if len(e.Criteria) > maxEvaluationItems {
		vs.Add(EvaluationFieldCriteria, "TOO_MANY", fmt.Sprintf("an evaluation has at most %d criteria", maxEvaluationItems))
	}
	if len(e.Candidates) > maxEvaluationItems {
		vs.Add(EvaluationFieldCandidates, "TOO_MANY", fmt.Sprintf("an evaluation has at most %d candidates", maxEvaluationItems))
	}
	if len(e.Scores) > maxEvaluationScores {
		vs.Add(EvaluationFieldScores, "TOO_MANY", fmt.Sprintf("an evaluation has at most %d scores", maxEvaluationScores))
	}
	for i, c := range e.Criteria {
		field := fmt.Sprintf("%s[%d]", EvaluationFieldCriteria, i)
		checkKey(&vs, field+".key", c.Key, e.criterion(c.Key) < i)
		vs.RequireText(field+".display_name", c.DisplayName, maxEvaluationItemName)
		if c.Weight < minCriterionWeight || c.Weight > maxCriterionWeight {
			vs.Add(field+".weight", "OUT_OF_RANGE", fmt.Sprintf("weight must be %d to %d", minCriterionWeight, maxCriterionWeight))
		}
	}
	for i, c := range e.Candidates {
		field := fmt.Sprintf("%s[%d]", EvaluationFieldCandidates, i)
		checkKey(&vs, field+".key", c.Key, e.candidate(c.Key) < i)
		vs.RequireText(field+".display_name", c.DisplayName, maxEvaluationItemName)
	}
	seen := map[[2]string]bool{}
	for i, s := range e.Scores {
		field := fmt.Sprintf("%s[%d]", EvaluationFieldScores, i)
		if e.criterion(s.CriterionKey) < 0 {
			vs.Add(field+".criterion_key", "CRITERION_NOT_FOUND", fmt.Sprintf("the evaluation has no criterion %q", s.CriterionKey))
		}
		if e.candidate(s.CandidateKey) < 0 {
			vs.Add(field+".candidate_key", "CANDIDATE_NOT_FOUND", fmt.Sprintf("the evaluation has no candidate %q", s.CandidateKey))
		}
		pair := [2]string{s.CriterionKey, s.CandidateKey}
		if seen[pair] {
			vs.Add(field, "DUPLICATE", fmt.Sprintf("candidate %q is scored twice on criterion %q", s.CandidateKey, s.CriterionKey))
		}
		seen[pair] = true
		if s.Score < 0 || s.Score > MaxScore {
			vs.Add(field+".score", "OUT_OF_RANGE", fmt.Sprintf("score must be 0 to %d", MaxScore))
		}
		vs.LimitText(field+".rationale", s.Rationale, maxScoreRationale)
	}
	return vs.Err()
}

// checkKey adds a violation of field when key is not a key, or repeats an earlier one.
func checkKey(vs *fault.Violations, field, key string, duplicate bool) {
	switch {
	case !evaluationKey.MatchString(key):
		vs.Add(field, "INVALID_FORMAT", "key must be a lower-case letter, then up to 62 lower-case letters, digits and '_'")
	case duplicate:
		vs.Add(field, "DUPLICATE", fmt.Sprintf("key %q is used twice", key))
	}
}

// CandidateVendorIDs are the IDs of the vendors the candidates name, in order.
func (e *Evaluation) CandidateVendorIDs() []string {
	var ids []string
	for _, c := range e.Candidates {
		if c.VendorID != "" {
			ids = append(ids, c.VendorID)
		}
	}
	return ids
}

// CheckCandidateVendors reports, as violations of each candidate's vendor, the candidates whose
// vendor is among missing (the IDs that name no vendor).
func (e *Evaluation) CheckCandidateVendors(missing []string) error {
	var vs fault.Violations
	for i, c := range e.Candidates {
		if c.VendorID != "" && slices.Contains(missing, c.VendorID) {
			vs.Add(fmt.Sprintf("%s[%d].vendor", EvaluationFieldCandidates, i), ErrCandidateVendorNotFound.Reason,
				fmt.Sprintf("vendor %s does not exist", VendorName(c.VendorID)))
		}
	}
	return vs.Err()
}

// checkDraft refuses to change an evaluation that is no longer a DRAFT.
func (e *Evaluation) checkDraft() error {
	if e.State != EvaluationDraft {
		return ErrEvaluationNotDraft.With("name", e.Name()).With("state", e.State.String()).
			Withf("evaluation %s is %s: only a DRAFT evaluation changes", e.Name(), e.State)
	}
	return nil
}

// CheckDeletable refuses to delete an evaluation that is no longer a DRAFT: a decision is kept.
func (e *Evaluation) CheckDeletable() error { return e.checkDraft() }

// Apply sets the fields named in paths to their values in f at time now and reports which of
// them changed. Only a DRAFT changes. When something changed the version is incremented; the
// evaluation must still satisfy its invariants, or it is left untouched. Removing a criterion or
// a candidate removes its scores, which then count as changed.
func (e *Evaluation) Apply(paths []string, f EvaluationFields, now time.Time) (changed []string, err error) {
	if err := e.checkDraft(); err != nil {
		return nil, err
	}
	next := *e
	next.set(paths, f)
	if err := next.Validate(); err != nil {
		return nil, err
	}
	for _, p := range EvaluationWritableFields {
		if next.differs(e, p) {
			changed = append(changed, p)
		}
	}
	if len(changed) == 0 {
		return nil, nil
	}
	next.Version++
	next.UpdateTime = now.UTC().Truncate(time.Microsecond)
	*e = next
	return changed, nil
}

func (e *Evaluation) differs(o *Evaluation, field string) bool {
	switch field {
	case EvaluationFieldTitle:
		return e.Title != o.Title
	case EvaluationFieldNeed:
		return e.Need != o.Need
	case EvaluationFieldOwner:
		return e.Owner != o.Owner
	case EvaluationFieldCriteria:
		return !slices.Equal(e.Criteria, o.Criteria)
	case EvaluationFieldCandidates:
		return !slices.Equal(e.Candidates, o.Candidates)
	case EvaluationFieldScores:
		return !slices.Equal(e.Scores, o.Scores)
	}
	return false
}

// RankedCandidate is a candidate's place in a ranking, with its arithmetic.
type RankedCandidate struct {
	CandidateKey string
	// Rank is 1 for the best; candidates with equal totals share a rank (1, 1, 3).
	Rank int32
	// WeightedTotal is Σ weight × score over the criteria.
	WeightedTotal int32
	// MaxTotal is Σ weight × 10 over the criteria.
	MaxTotal int32
	// PercentTenths is WeightedTotal / MaxTotal in tenths of a percent, rounded half to even;
	// 0 without criteria.
	PercentTenths int32
	// Lines are the candidate's points per criterion, in the criteria's order.
	Lines []RankingLine
}

// RankingLine is one candidate's points on one criterion.
type RankingLine struct {
	CriterionKey string
	Weight       int32
	Score        int32 // 0 when not scored yet
	Points       int32 // Weight × Score
}

// Ranking ranks the candidates by their weighted totals, highest first; equal totals share a
// rank and are listed by key. A missing score counts as 0.
func (e *Evaluation) Ranking() []RankedCandidate {
	scores := make(map[[2]string]int32, len(e.Scores))
	for _, s := range e.Scores {
		scores[[2]string{s.CriterionKey, s.CandidateKey}] = s.Score
	}
	var maxTotal int32
	for _, c := range e.Criteria {
		maxTotal += c.Weight * MaxScore
	}
	out := make([]RankedCandidate, 0, len(e.Candidates))
	for _, cand := range e.Candidates {
		r := RankedCandidate{CandidateKey: cand.Key, MaxTotal: maxTotal}
		for _, c := range e.Criteria {
			score := scores[[2]string{c.Key, cand.Key}]
			l := RankingLine{CriterionKey: c.Key, Weight: c.Weight, Score: score, Points: c.Weight * score}
			r.WeightedTotal += l.Points
			r.Lines = append(r.Lines, l)
		}
		if maxTotal > 0 {
			r.PercentTenths = int32(money.DivRoundHalfEven(int64(r.WeightedTotal)*1000, int64(maxTotal)))
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b RankedCandidate) int {
		if a.WeightedTotal != b.WeightedTotal {
			return int(b.WeightedTotal - a.WeightedTotal)
		}
		return strings.Compare(a.CandidateKey, b.CandidateKey)
	})
	for i := range out {
		if i > 0 && out[i].WeightedTotal == out[i-1].WeightedTotal {
			out[i].Rank = out[i-1].Rank
		} else {
			out[i].Rank = int32(i + 1)
		}
	}
	return out
}

// missingScores counts the criterion × candidate pairs without a score.
func (e *Evaluation) missingScores() int {
	have := map[[2]string]bool{}
	for _, s := range e.Scores {
		have[[2]string{s.CriterionKey, s.CandidateKey}] = true
	}
	n := 0
	for _, c := range e.Criteria {
		for _, cand := range e.Candidates {
			if !have[[2]string{c.Key, cand.Key}] {
				n++
			}
		}
	}
	return n
}

// Decide fixes a DRAFT evaluation's ranking and winner at now, by decider. Every candidate must
// be scored on every criterion (ErrEvaluationIncomplete; also without any criterion or
// candidate). An empty winner is the candidate ranked first, ErrRankingTied when several share
// the first rank; a named winner must be a candidate, and one not ranked first needs a
// rationale.
func (e *Evaluation) Decide(winner, rationale, decider string, now time.Time) error {
	if err := e.checkDraft(); err != nil {
		return err
	}
	rationale = strings.TrimSpace(rationale)
	var vs fault.Violations
	vs.LimitText("rationale", rationale, maxDecisionRationale)
	if err := vs.Err(); err != nil {
		return err
	}
	if len(e.Criteria) == 0 || len(e.Candidates) == 0 {
		return ErrEvaluationIncomplete.With("name", e.Name()).
			Withf("evaluation %s needs at least one criterion and one candidate to be decided", e.Name())
	}
	if n := e.missingScores(); n > 0 {
		return ErrEvaluationIncomplete.With("name", e.Name()).With("missing_scores", fmt.Sprint(n)).
			Withf("evaluation %s misses %d of its %d scores: score every candidate on every criterion first",
				e.Name(), n, len(e.Criteria)*len(e.Candidates))
	}
	ranking := e.Ranking()
	if winner == "" {
		var tied []string
		for _, r := range ranking {
			if r.Rank == 1 {
				tied = append(tied, r.CandidateKey)
			}
		}
		if len(tied) > 1 {
			return ErrRankingTied.With("name", e.Name()).With("tied_candidates", strings.Join(tied, ",")).
				Withf("candidates %s share the first rank: name the winner", strings.Join(tied, ", "))
		}
		winner = tied[0]
	}
	i := slices.IndexFunc(ranking, func(r RankedCandidate) bool { return r.CandidateKey == winner })
	if i < 0 {
		return ErrWinnerNotCandidate.OnField("winner", fmt.Sprintf("the evaluation has no candidate %q", winner))
	}
	if ranking[i].Rank != 1 && rationale == "" {
		return fault.Field("rationale", "REQUIRED",
			fmt.Sprintf("candidate %q is ranked %d: say why it is chosen over the first", winner, ranking[i].Rank))
	}
	now = now.UTC().Truncate(time.Microsecond)
	e.State, e.Winner, e.DecisionRationale, e.Decider = EvaluationDecided, winner, rationale, decider
	e.DecideTime, e.UpdateTime = now, now
	e.Version++
	return nil
}

// Cancel abandons a DRAFT evaluation at now, for reason.
func (e *Evaluation) Cancel(reason string, now time.Time) error {
	if err := e.checkDraft(); err != nil {
		return err
	}
	reason = strings.TrimSpace(reason)
	var vs fault.Violations
	vs.LimitText("reason", reason, maxEvaluationCancelWhy)
	if err := vs.Err(); err != nil {
		return err
	}
	now = now.UTC().Truncate(time.Microsecond)
	e.State, e.CancelReason, e.UpdateTime = EvaluationCancelled, reason, now
	e.Version++
	return nil
}
