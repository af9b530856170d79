package store

import (
	"context"
	"database/sql"

	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/domain"
)

// positionColumns are the columns every position query selects, in scanPosition's order.
const positionColumns = `id, team_id, title, level, required_skills, cost_minor, cost_currency, target_start, reason,
	backfill_of, description, state, requester, approver, budget_line, hold, person_id, start_date, open_time,
	fill_time, time_to_fill_days, cancel_reason, create_time, update_time, version`

func scanPosition(s sqlstore.Scanner) (*domain.Position, error) {
	var (
		p                        domain.Position
		skills, currency, target string
		backfill, person, start  sql.NullString
		openTime, fillTime       sql.NullTime
	)
	if err := s.Scan(&p.ID, &p.TeamID, &p.Title, &p.Level, &skills, &p.AnnualCost.Minor, &currency, &target, &p.Reason,
		&backfill, &p.Description, &p.State, &p.Requester, &p.Approver, &p.BudgetLine, &p.Hold, &person, &start,
		&openTime, &fillTime, &p.TimeToFillDays, &p.CancelReason, &p.CreateTime, &p.UpdateTime, &p.Version); err != nil {
		return nil, err
	}
	var err error
	if p.RequiredSkills, err = sqlstore.ListOf[string](skills); err != nil {
		return nil, err
	}
	if p.TargetStart, err = sqlstore.DateOf(sql.NullString{String: target, Valid: true}); err != nil {
		return nil, err
	}
	if p.StartDate, err = sqlstore.DateOf(start); err != nil {
		return nil, err
	}
	p.AnnualCost.Currency = money.Currency(currency)
	p.BackfillOf, p.PersonID = backfill.String, person.String
	p.OpenTime, p.FillTime = sqlstore.TimeOf(openTime), sqlstore.TimeOf(fillTime)
	p.CreateTime, p.UpdateTime = p.CreateTime.UTC(), p.UpdateTime.UTC()
	return &p, nil
}

// PositionTable is what ListPositions can filter and order by. The budgeted annual cost is
// neither: lists answer who is hired where, and the figures are budget's.
var PositionTable = listing.NewTable("name", []listing.Field[*domain.Position]{
	{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.PositionPattern),
		Get: func(p *domain.Position) any { return p.ID }},
	{Path: "team", Column: "team_id", Type: filter.String, Value: listing.NameID("team", domain.TeamPattern),
		Get: func(p *domain.Position) any { return p.TeamID }},
	{Path: "title", Column: "title", Type: filter.String, Get: func(p *domain.Position) any { return p.Title }},
	{Path: "level", Column: "level", Type: filter.String, Get: func(p *domain.Position) any { return p.Level }},
	{Path: "state", Column: "state", Type: filter.Enum, Enum: listing.EnumNumbers(talentv1.Position_STATE_UNSPECIFIED.Descriptor())},
	{Path: "reason", Column: "reason", Type: filter.Enum, Enum: listing.EnumNumbers(talentv1.Position_REASON_UNSPECIFIED.Descriptor())},
	// Dates compare as their YYYY-MM-DD text: target_start_date >= "2027-01-01".
	{Path: "target_start_date", Column: "target_start", Type: filter.String, Get: func(p *domain.Position) any { return p.TargetStart.String() }},
	{Path: "person", Column: "person_id", Type: filter.String, Nullable: true, Value: listing.NameID("person", domain.PersonPattern)},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(p *domain.Position) any { return p.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(p *domain.Position) any { return p.UpdateTime }},
})

// GetPosition returns the position with the ID, or domain.ErrPositionNotFound; in a transaction
// it keeps the row from changing until the transaction ends.
func (r reader) GetPosition(ctx context.Context, id string) (*domain.Position, error) {
	const q = `SELECT ` + positionColumns + ` FROM positions WHERE id = $1`
	return sqlstore.Get(ctx, r.Q, "position "+id, domain.ErrPositionNotFound, scanPosition, r.ForUpdate(q), id)
}

// ListPositions returns the positions lq selects, in lq's order (see PositionTable).
func (s Store) ListPositions(ctx context.Context, lq *listing.Query) ([]*domain.Position, error) {
	const q = `SELECT ` + positionColumns + ` FROM positions`
	return sqlstore.List(ctx, s.Q, "positions", scanPosition, q, lq)
}

// TeamOpenings returns the positions of the team that are OPEN or in OFFER.
func (r reader) TeamOpenings(ctx context.Context, teamID string) ([]*domain.Position, error) {
	const q = `SELECT ` + positionColumns + ` FROM positions WHERE team_id = $1 AND state IN (3, 4) ORDER BY id`
	return sqlstore.All(ctx, r.Q, "openings of team "+teamID, scanPosition, q, teamID)
}

// positionError translates a driver error of a write of p into the domain error it means.
func positionError(p *domain.Position) func(error) error {
	return func(err error) error {
		if c, ok := sqldb.UniqueViolation(err); ok {
			if c == "positions_person_id_key" || c == "positions.person_id" {
				return domain.ErrFillPersonTaken.With("person", domain.PersonPattern.Format(p.PersonID))
			}
			return domain.ErrPositionExists.With("name", p.Name())
		}
		if sqldb.IsForeignKeyViolation(err) {
			return domain.ErrPositionTeamNotFound
		}
		return err
	}
}

// positionArgs are p's values in the order of positionColumns.
func positionArgs(p *domain.Position) ([]any, error) {
	skills, err := sqlstore.JSONList(p.RequiredSkills)
	if err != nil {
		return nil, err
	}
	return []any{p.ID, p.TeamID, p.Title, p.Level, skills, p.AnnualCost.Minor, string(p.AnnualCost.Currency),
		p.TargetStart.String(), int(p.Reason), sqlstore.NullString(p.BackfillOf), p.Description, int(p.State),
		p.Requester, p.Approver, p.BudgetLine, p.Hold, sqlstore.NullString(p.PersonID), sqlstore.NullDate(p.StartDate),
		sqlstore.NullTime(p.OpenTime), sqlstore.NullTime(p.FillTime), p.TimeToFillDays, p.CancelReason,
		p.CreateTime, p.UpdateTime, p.Version}, nil
}

// InsertPosition stores a new position: domain.ErrPositionExists when the ID is taken.
func (t Tx) InsertPosition(ctx context.Context, p *domain.Position) error {
	const q = `INSERT INTO positions (` + positionColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
		$12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`
	args, err := positionArgs(p)
	if err != nil {
		return err
	}
	return sqlstore.Exec(ctx, t, positionError(p), q, args...)
}

// UpdatePosition replaces the stored position whose version is prevVersion with p:
// domain.ErrFillPersonTaken when its person filled another position.
func (t Tx) UpdatePosition(ctx context.Context, p *domain.Position, prevVersion int64) error {
	const q = `UPDATE positions SET team_id = $2, title = $3, level = $4, required_skills = $5, cost_minor = $6,
		cost_currency = $7, target_start = $8, reason = $9, backfill_of = $10, description = $11, state = $12,
		requester = $13, approver = $14, budget_line = $15, hold = $16, person_id = $17, start_date = $18,
		open_time = $19, fill_time = $20, time_to_fill_days = $21, cancel_reason = $22, create_time = $23,
		update_time = $24, version = $25 WHERE id = $1 AND version = $26`
	args, err := positionArgs(p)
	if err != nil {
		return err
	}
	return sqlstore.Exec(ctx, t, positionError(p), q, append(args, prevVersion)...)
}

// DeletePosition removes the position at version.
func (t Tx) DeletePosition(ctx context.Context, id string, version int64) error {
	const q = `DELETE FROM positions WHERE id = $1 AND version = $2`
	return sqlstore.Exec(ctx, t, nil, q, id, version)
}
