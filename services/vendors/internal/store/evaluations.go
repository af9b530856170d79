package store

import (
	"context"
	"database/sql"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/domain"
)

// evaluationColumns are the columns every evaluation query selects, in scanEvaluation's order.
const evaluationColumns = `id, title, need, owner, criteria, candidates, scores, state, winner, decision_rationale,
	decider, decide_time, cancel_reason, create_time, update_time, version`

func scanEvaluation(s sqlstore.Scanner) (*domain.Evaluation, error) {
	var (
		e                          domain.Evaluation
		criteria, candidates, subs string
		decided                    sql.NullTime
	)
	err := s.Scan(&e.ID, &e.Title, &e.Need, &e.Owner, &criteria, &candidates, &subs, &e.State, &e.Winner,
		&e.DecisionRationale, &e.Decider, &decided, &e.CancelReason, &e.CreateTime, &e.UpdateTime, &e.Version)
	if err != nil {
		return nil, err
	}
	if e.Criteria, err = sqlstore.ListOf[domain.Criterion](criteria); err != nil {
		return nil, err
	}
	if e.Candidates, err = sqlstore.ListOf[domain.Candidate](candidates); err != nil {
		return nil, err
	}
	if e.Scores, err = sqlstore.ListOf[domain.EvaluationScore](subs); err != nil {
		return nil, err
	}
	if decided.Valid {
		e.DecideTime = decided.Time.UTC()
	}
	e.CreateTime, e.UpdateTime = e.CreateTime.UTC(), e.UpdateTime.UTC()
	return &e, nil
}

// EvaluationTable is what ListEvaluations can filter and order by. Evaluations not decided yet
// order by decide_time as if decided at the start of the calendar (first, or last with desc):
// the order needs a value that is never NULL, and the zero time is what they carry.
var EvaluationTable = listing.NewTable("name", []listing.Field[*domain.Evaluation]{
	{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.EvaluationPattern), Get: func(e *domain.Evaluation) any { return e.ID }},
	{Path: "title", Column: "title", Type: filter.String, Get: func(e *domain.Evaluation) any { return e.Title }},
	{Path: "state", Column: "state", Type: filter.Enum, Enum: listing.EnumNumbers(vendorsv1.Evaluation_STATE_UNSPECIFIED.Descriptor())},
	{Path: "owner", Column: "owner", Type: filter.String, Get: func(e *domain.Evaluation) any { return e.Owner }},
	{Path: "winner", Column: "winner", Type: filter.String, Get: func(e *domain.Evaluation) any { return e.Winner }},
	{Path: "decider", Column: "decider", Type: filter.String, Get: func(e *domain.Evaluation) any { return e.Decider }},
	{Path: "decide_time", Column: "decide_time", Type: filter.Timestamp, Nullable: true,
		Sort: "COALESCE(decide_time, '0001-01-01 00:00:00+00:00')", Get: func(e *domain.Evaluation) any { return e.DecideTime.UTC() }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(e *domain.Evaluation) any { return e.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(e *domain.Evaluation) any { return e.UpdateTime }},
})

// GetEvaluation returns the evaluation with the ID, or domain.ErrEvaluationNotFound naming it; in
// a transaction it keeps the row from changing until the transaction ends.
func (r reader) GetEvaluation(ctx context.Context, id string) (*domain.Evaluation, error) {
	const q = `SELECT ` + evaluationColumns + ` FROM evaluations WHERE id = $1`
	e, err := sqlstore.Get(ctx, r.Q, "evaluation "+id, domain.ErrEvaluationNotFound, scanEvaluation, r.ForUpdate(q), id)
	return e, fault.Named(err, domain.EvaluationName(id))
}

// ListEvaluations returns the evaluations lq selects, in lq's order (see EvaluationTable).
func (s Store) ListEvaluations(ctx context.Context, lq *listing.Query) ([]*domain.Evaluation, error) {
	const q = `SELECT ` + evaluationColumns + ` FROM evaluations`
	return sqlstore.List(ctx, s.Q, "evaluations", scanEvaluation, q, lq)
}

func evaluationArgs(e *domain.Evaluation) ([]any, error) {
	criteria, err := sqlstore.JSONList(e.Criteria)
	if err != nil {
		return nil, err
	}
	candidates, err := sqlstore.JSONList(e.Candidates)
	if err != nil {
		return nil, err
	}
	scores, err := sqlstore.JSONList(e.Scores)
	if err != nil {
		return nil, err
	}
	var decided sql.NullTime
	if !e.DecideTime.IsZero() {
		decided = sql.NullTime{Time: e.DecideTime, Valid: true}
	}
	return []any{e.ID, e.Title, e.Need, e.Owner, criteria, candidates, scores, e.State, e.Winner,
		e.DecisionRationale, e.Decider, decided, e.CancelReason, e.CreateTime, e.UpdateTime, e.Version}, nil
}

// InsertEvaluation stores a new evaluation: domain.ErrEvaluationExists when the ID is taken.
func (t Tx) InsertEvaluation(ctx context.Context, e *domain.Evaluation) error {
	args, err := evaluationArgs(e)
	if err != nil {
		return err
	}
	q := `INSERT INTO evaluations (` + evaluationColumns + `) VALUES (` + sqlstore.Placeholders(1, len(args)) + `)`
	return sqlstore.Exec(ctx, t, func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrEvaluationExists.With("name", e.Name())
		}
		return err
	}, q, args...)
}

// UpdateEvaluation replaces the stored evaluation whose version is prevVersion with e.
func (t Tx) UpdateEvaluation(ctx context.Context, e *domain.Evaluation, prevVersion int64) error {
	args, err := evaluationArgs(e)
	if err != nil {
		return err
	}
	const q = `UPDATE evaluations SET title = $2, need = $3, owner = $4, criteria = $5, candidates = $6, scores = $7,
		state = $8, winner = $9, decision_rationale = $10, decider = $11, decide_time = $12, cancel_reason = $13,
		create_time = $14, update_time = $15, version = $16 WHERE id = $1 AND version = $17`
	return sqlstore.Exec(ctx, t, nil, q, append(args, prevVersion)...)
}

// DeleteEvaluation removes the evaluation at version.
func (t Tx) DeleteEvaluation(ctx context.Context, id string, version int64) error {
	const q = `DELETE FROM evaluations WHERE id = $1 AND version = $2`
	return sqlstore.Exec(ctx, t, nil, q, id, version)
}
