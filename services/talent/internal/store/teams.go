package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/domain"
)

// teamColumns are the columns every team query selects, in scanTeam's order.
const teamColumns = `id, display_name, parent_id, manager_id, cost_center, description, create_time, update_time, version`

func scanTeam(s sqlstore.Scanner) (*domain.Team, error) {
	var (
		t                           domain.Team
		parent, manager, costCenter sql.NullString
	)
	if err := s.Scan(&t.ID, &t.DisplayName, &parent, &manager, &costCenter, &t.Description,
		&t.CreateTime, &t.UpdateTime, &t.Version); err != nil {
		return nil, err
	}
	t.ParentID, t.ManagerID, t.CostCenter = parent.String, manager.String, costCenter.String
	t.CreateTime, t.UpdateTime = t.CreateTime.UTC(), t.UpdateTime.UTC()
	return &t, nil
}

// TeamTable is what ListTeams can filter and order by.
var TeamTable = listing.NewTable("name", []listing.Field[*domain.Team]{
	{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.TeamPattern),
		Get: func(t *domain.Team) any { return t.ID }},
	{Path: "display_name", Column: "display_name", Type: filter.String, Get: func(t *domain.Team) any { return t.DisplayName }},
	// Roots have no parent: "parent = null" finds them; they sort first (as "").
	{Path: "parent", Column: "parent_id", Type: filter.String, Nullable: true, Value: listing.NameID("parent", domain.TeamPattern),
		Sort: "COALESCE(parent_id, '')", Get: func(t *domain.Team) any { return t.ParentID }},
	{Path: "manager", Column: "manager_id", Type: filter.String, Nullable: true, Value: listing.NameID("manager", domain.PersonPattern)},
	{Path: "cost_center", Column: "cost_center", Type: filter.String, Nullable: true},
	{Path: "description", Column: "description", Type: filter.String, Get: func(t *domain.Team) any { return t.Description }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(t *domain.Team) any { return t.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(t *domain.Team) any { return t.UpdateTime }},
})

// GetTeam returns the team with the ID, or domain.ErrTeamNotFound; in a transaction it keeps the
// row from changing until the transaction ends.
func (r reader) GetTeam(ctx context.Context, id string) (*domain.Team, error) {
	const q = `SELECT ` + teamColumns + ` FROM teams WHERE id = $1`
	return sqlstore.Get(ctx, r.Q, "team "+id, domain.ErrTeamNotFound, scanTeam, r.ForUpdate(q), id)
}

// ListTeams returns the teams lq selects, in lq's order (see TeamTable).
func (s Store) ListTeams(ctx context.Context, lq *listing.Query) ([]*domain.Team, error) {
	const q = `SELECT ` + teamColumns + ` FROM teams`
	return sqlstore.List(ctx, s.Q, "teams", scanTeam, q, lq)
}

// teamError translates a driver error of a write of t into the domain error it means, so both
// engines report the same thing.
func teamError(t *domain.Team) func(error) error {
	return func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrTeamExists.With("name", t.Name())
		}
		if sqldb.IsForeignKeyViolation(err) {
			return domain.ErrParentNotFound
		}
		return err
	}
}

// InsertTeam stores a new team: domain.ErrTeamExists when the ID is taken,
// domain.ErrParentNotFound when the parent is missing.
func (t Tx) InsertTeam(ctx context.Context, team *domain.Team) error {
	const q = `INSERT INTO teams (` + teamColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	return sqlstore.Exec(ctx, t, teamError(team), q, team.ID, team.DisplayName, sqlstore.NullString(team.ParentID),
		sqlstore.NullString(team.ManagerID), sqlstore.NullString(team.CostCenter), team.Description,
		team.CreateTime, team.UpdateTime, team.Version)
}

// UpdateTeam replaces the stored team whose version is prevVersion with team.
func (t Tx) UpdateTeam(ctx context.Context, team *domain.Team, prevVersion int64) error {
	const q = `UPDATE teams SET display_name = $2, parent_id = $3, manager_id = $4, cost_center = $5,
		description = $6, update_time = $7, version = $8 WHERE id = $1 AND version = $9`
	return sqlstore.Exec(ctx, t, teamError(team), q, team.ID, team.DisplayName, sqlstore.NullString(team.ParentID),
		sqlstore.NullString(team.ManagerID), sqlstore.NullString(team.CostCenter), team.Description,
		team.UpdateTime, team.Version, prevVersion)
}

// TeamInUse reports whether anything keeps the team from being deleted: a child team or a
// person (ACTIVE or LEFT); other resources that belong to a team add their tables here.
func (t Tx) TeamInUse(ctx context.Context, id string) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM teams WHERE parent_id = $1)
		OR EXISTS (SELECT 1 FROM people WHERE team_id = $1)`
	return sqlstore.Exists(ctx, t, "uses of team "+id, q, id)
}

// DeleteTeam removes the team at version; a child or member that appeared meanwhile makes the
// foreign keys refuse it with domain.ErrTeamNotEmpty.
func (t Tx) DeleteTeam(ctx context.Context, id string, version int64) error {
	const q = `DELETE FROM teams WHERE id = $1 AND version = $2`
	return sqlstore.Exec(ctx, t, func(err error) error {
		if sqldb.IsForeignKeyViolation(err) {
			return domain.ErrTeamNotEmpty.With("name", domain.TeamName(id))
		}
		return fmt.Errorf("delete team %s: %w", id, err)
	}, q, id, version)
}

// TeamAncestors returns the IDs of id's parent, its parent's parent and so on up to the root.
func (t Tx) TeamAncestors(ctx context.Context, id string) ([]string, error) {
	// UNION (not UNION ALL) ends the walk even on a cycle that should never exist.
	const q = `WITH RECURSIVE up(id, parent_id, depth) AS (
			SELECT id, parent_id, 0 FROM teams WHERE id = $1
			UNION
			SELECT c.id, c.parent_id, up.depth + 1 FROM teams c JOIN up ON c.id = up.parent_id)
		SELECT id FROM up WHERE depth > 0 ORDER BY depth`
	return sqlstore.Strings(ctx, t, "ancestors of team "+id, q, id)
}

// LockTeamTree serialises the transactions that change the shape of the team tree, so two
// concurrent moves cannot build a cycle together.
func (t Tx) LockTeamTree(ctx context.Context) error {
	return t.Dialect.Lock(ctx, t, "quarterdeck.talent.team_tree")
}
