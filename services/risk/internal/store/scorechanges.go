package store

import (
	"context"
	"fmt"

	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
)

// scoreChangeColumns are the columns every score change query selects, in scanScoreChange's
// order. A score is not stored: it is likelihood × impact.
const scoreChangeColumns = `risk_id, seq, actor, change_time, reason, cause,
	from_inherent_likelihood, from_inherent_impact, from_inherent_level,
	to_inherent_likelihood, to_inherent_impact, to_inherent_level,
	from_residual_likelihood, from_residual_impact, from_residual_level,
	to_residual_likelihood, to_residual_impact, to_residual_level,
	from_matrix_version, to_matrix_version`

func scanScoreChange(s sqlstore.Scanner) (*domain.ScoreChange, error) {
	var c domain.ScoreChange
	err := s.Scan(&c.RiskID, &c.Seq, &c.Actor, &c.Time, &c.Reason, &c.Cause,
		&c.FromInherent.Likelihood, &c.FromInherent.Impact, &c.FromInherent.Level,
		&c.ToInherent.Likelihood, &c.ToInherent.Impact, &c.ToInherent.Level,
		&c.FromResidual.Likelihood, &c.FromResidual.Impact, &c.FromResidual.Level,
		&c.ToResidual.Likelihood, &c.ToResidual.Impact, &c.ToResidual.Level,
		&c.FromMatrixVersion, &c.ToMatrixVersion)
	if err != nil {
		return nil, err
	}
	c.Time = c.Time.UTC()
	return &c, nil
}

// ScoreChangeTable is what ListRiskScoreChanges can filter by; the order is always the name's
// (by risk, then in the order of the changes).
var ScoreChangeTable = listing.NewTable("name", []listing.Field[*domain.ScoreChange]{
	{Path: "name", Column: "risk_id || '/' || id", Type: filter.String, Value: func(v any) (any, error) {
		var risk, id string
		if !domain.ScoreChangePattern.Scan(v.(string), &risk, &id) {
			return nil, fmt.Errorf("name must be a name %s", domain.ScoreChangePattern)
		}
		return risk + "/" + id, nil
	}, Get: func(c *domain.ScoreChange) any { return c.RiskID + "/" + domain.ScoreChangeID(c.Seq) }},
	{Path: "risk", Column: "risk_id", Type: filter.String, Value: listing.NameID("risk", domain.RiskPattern), Get: func(c *domain.ScoreChange) any { return c.RiskID }},
	{Path: "actor", Column: "actor", Type: filter.String, Get: func(c *domain.ScoreChange) any { return c.Actor }},
	{Path: "cause", Column: "cause", Type: filter.String, Get: func(c *domain.ScoreChange) any { return c.Cause }},
	{Path: "change_time", Column: "change_time", Type: filter.Timestamp, Get: func(c *domain.ScoreChange) any { return c.Time }},
	{Path: "to_residual_level", Column: "to_residual_level", Type: filter.Enum, Enum: levels()},
	{Path: "to_residual_score", Column: "(to_residual_likelihood * to_residual_impact)", Type: filter.Int,
		Get: func(c *domain.ScoreChange) any { return int64(c.ToResidual.Value()) }},
})

// InsertScoreChange stores c as the next entry of its risk's history, setting its Seq. The risk's
// row must be locked in the transaction (GetRisk in a Tx), which orders the entries.
func (t Tx) InsertScoreChange(ctx context.Context, c *domain.ScoreChange) error {
	seq, err := sqlstore.Value[int64](ctx, t, "score changes of risk "+c.RiskID,
		`SELECT COALESCE(MAX(seq), 0) + 1 FROM risk_score_changes WHERE risk_id = $1`, c.RiskID)
	if err != nil {
		return err
	}
	c.Seq = seq
	q := `INSERT INTO risk_score_changes (id, ` + scoreChangeColumns + `) VALUES (` + sqlstore.Placeholders(1, 21) + `)`
	return sqlstore.Exec(ctx, t, nil, q, domain.ScoreChangeID(c.Seq), c.RiskID, c.Seq, c.Actor, c.Time, c.Reason, c.Cause,
		c.FromInherent.Likelihood, c.FromInherent.Impact, c.FromInherent.Level,
		c.ToInherent.Likelihood, c.ToInherent.Impact, c.ToInherent.Level,
		c.FromResidual.Likelihood, c.FromResidual.Impact, c.FromResidual.Level,
		c.ToResidual.Likelihood, c.ToResidual.Impact, c.ToResidual.Level,
		c.FromMatrixVersion, c.ToMatrixVersion)
}

// ListScoreChanges returns the score changes of the risk with the ID (Wildcard: of every risk)
// that lq selects, in lq's order (see ScoreChangeTable).
func (s Store) ListScoreChanges(ctx context.Context, riskID string, lq *listing.Query) ([]*domain.ScoreChange, error) {
	const q = `SELECT ` + scoreChangeColumns + ` FROM risk_score_changes`
	return sqlstore.List(ctx, s.Q, "score changes", scanScoreChange, q, lq, sqlstore.Parent{Column: "risk_id", Value: riskID})
}
