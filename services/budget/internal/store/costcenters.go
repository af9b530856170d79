package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// costCenterColumns are the columns every cost-centre query selects, in scanCostCenter's order.
const costCenterColumns = `id, display_name, code, owner, parent_id, active, description, create_time, update_time, version`

func scanCostCenter(s sqlstore.Scanner) (*domain.CostCenter, error) {
	var (
		c      domain.CostCenter
		parent sql.NullString
	)
	err := s.Scan(&c.ID, &c.DisplayName, &c.Code, &c.Owner, &parent, &c.Active, &c.Description,
		&c.CreateTime, &c.UpdateTime, &c.Version)
	if err != nil {
		return nil, err
	}
	c.ParentID = parent.String
	c.CreateTime, c.UpdateTime = c.CreateTime.UTC(), c.UpdateTime.UTC()
	return &c, nil
}

// CostCenterTable is what ListCostCenters can filter and order by.
var CostCenterTable = listing.NewTable("name", []listing.Field[*domain.CostCenter]{
	{Path: "name", Column: "id", Type: filter.String, Value: costCenterID("name"), Get: func(c *domain.CostCenter) any { return c.ID }},
	{Path: "display_name", Column: "display_name", Type: filter.String, Get: func(c *domain.CostCenter) any { return c.DisplayName }},
	{Path: "code", Column: "code", Type: filter.String, Get: func(c *domain.CostCenter) any { return c.Code }},
	{Path: "owner", Column: "owner", Type: filter.String, Get: func(c *domain.CostCenter) any { return c.Owner }},
	{Path: "description", Column: "description", Type: filter.String, Get: func(c *domain.CostCenter) any { return c.Description }},
	// Roots have no parent: "parent = null" finds them; they sort first (as "").
	{Path: "parent", Column: "parent_id", Type: filter.String, Nullable: true, Value: costCenterID("parent"),
		Sort: "COALESCE(parent_id, '')", Get: func(c *domain.CostCenter) any { return c.ParentID }},
	{Path: "active", Column: "active", Type: filter.Bool, Get: func(c *domain.CostCenter) any { return c.Active }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(c *domain.CostCenter) any { return c.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(c *domain.CostCenter) any { return c.UpdateTime }},
})

// costCenterID converts a cost centre name in a filter to the stored ID.
func costCenterID(field string) func(any) (any, error) {
	return func(v any) (any, error) {
		if id, ok := domain.CostCenterPattern.Last(v.(string)); ok {
			return id, nil
		}
		return nil, fmt.Errorf("%s must be a cost centre name, %s", field, domain.CostCenterPattern)
	}
}

// GetCostCenter returns the cost centre with the ID, or domain.ErrCostCenterNotFound; in a
// transaction it keeps the row from changing until the transaction ends.
func (r reader) GetCostCenter(ctx context.Context, id string) (*domain.CostCenter, error) {
	const q = `SELECT ` + costCenterColumns + ` FROM cost_centers WHERE id = $1`
	return sqlstore.Get(ctx, r.Q, "cost centre "+id, domain.ErrCostCenterNotFound, scanCostCenter, r.ForUpdate(q), id)
}

// ListCostCenters returns the cost centres lq selects, in lq's order (see CostCenterTable).
func (s Store) ListCostCenters(ctx context.Context, lq *listing.Query) ([]*domain.CostCenter, error) {
	const q = `SELECT ` + costCenterColumns + ` FROM cost_centers`
	return sqlstore.List(ctx, s.Q, "cost centres", scanCostCenter, q, lq)
}

// Subtree returns the cost centre and all its descendants, in ID order, in one query; none when
// it does not exist.
func (r reader) Subtree(ctx context.Context, costCenterID string) ([]*domain.CostCenter, error) {
	// UNION (not UNION ALL) ends the walk even on a cycle that should never exist.
	const q = `WITH RECURSIVE down(id) AS (
			SELECT id FROM cost_centers WHERE id = $1
			UNION
			SELECT c.id FROM cost_centers c JOIN down ON c.parent_id = down.id)
		SELECT ` + costCenterColumns + ` FROM cost_centers WHERE id IN (SELECT id FROM down) ORDER BY id`
	return sqlstore.All(ctx, r.Q, "subtree of cost centre "+costCenterID, scanCostCenter, q, costCenterID)
}

// costCenterError translates a driver error of a write of c into the domain error it means, so
// both engines report the same thing.
func costCenterError(c *domain.CostCenter) func(error) error {
	return func(err error) error {
		if constraint, ok := sqldb.UniqueViolation(err); ok {
			if strings.Contains(constraint, "code") {
				return domain.ErrCodeTaken.With("code", c.Code)
			}
			return domain.ErrCostCenterExists.With("name", c.Name())
		}
		if sqldb.IsForeignKeyViolation(err) {
			return domain.ErrParentNotFound
		}
		return err
	}
}

// InsertCostCenter stores a new cost centre: domain.ErrCostCenterExists when the ID is taken,
// domain.ErrCodeTaken when the code is, domain.ErrParentNotFound when the parent is missing.
func (t Tx) InsertCostCenter(ctx context.Context, c *domain.CostCenter) error {
	const q = `INSERT INTO cost_centers (` + costCenterColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	return sqlstore.Exec(ctx, t, costCenterError(c), q, c.ID, c.DisplayName, c.Code, c.Owner,
		sqlstore.NullString(c.ParentID), c.Active, c.Description, c.CreateTime, c.UpdateTime, c.Version)
}

// UpdateCostCenter replaces the stored cost centre whose version is prevVersion with c.
func (t Tx) UpdateCostCenter(ctx context.Context, c *domain.CostCenter, prevVersion int64) error {
	const q = `UPDATE cost_centers SET display_name = $2, code = $3, owner = $4, parent_id = $5, active = $6,
		description = $7, update_time = $8, version = $9 WHERE id = $1 AND version = $10`
	return sqlstore.Exec(ctx, t, costCenterError(c), q, c.ID, c.DisplayName, c.Code, c.Owner,
		sqlstore.NullString(c.ParentID), c.Active, c.Description, c.UpdateTime, c.Version, prevVersion)
}

// DeleteCostCenter removes the cost centre at version: domain.ErrHasChildren while children
// refer to it, domain.ErrCostCenterHasBudgets while budgets do. The foreign keys of both refuse
// the delete; the check first tells which applies, since SQLite's error does not name the key.
// PostgreSQL's does, which covers a budget created between the check and the delete.
func (t Tx) DeleteCostCenter(ctx context.Context, id string, version int64) error {
	const hasBudgets = `SELECT EXISTS (SELECT 1 FROM budget_chains WHERE cost_center_id = $1)`
	has, err := sqlstore.Exists(ctx, t, "delete cost centre "+id, hasBudgets, id)
	if err != nil {
		return err
	}
	name := domain.CostCenterName(id)
	if has {
		return domain.ErrCostCenterHasBudgets.With("name", name)
	}
	const q = `DELETE FROM cost_centers WHERE id = $1 AND version = $2`
	return sqlstore.Exec(ctx, t, func(err error) error {
		if !sqldb.IsForeignKeyViolation(err) {
			return fmt.Errorf("delete cost centre %s: %w", id, err)
		}
		if strings.Contains(err.Error(), "budget_chains") {
			return domain.ErrCostCenterHasBudgets.With("name", name)
		}
		return domain.ErrHasChildren.With("name", name)
	}, q, id, version)
}

// HasChildren reports whether any cost centre has id as its parent.
func (t Tx) HasChildren(ctx context.Context, id string) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM cost_centers WHERE parent_id = $1)`
	return sqlstore.Exists(ctx, t, "children of cost centre "+id, q, id)
}

// Ancestors returns the IDs of id's parent, its parent's parent and so on up to the root.
func (t Tx) Ancestors(ctx context.Context, id string) ([]string, error) {
	// UNION (not UNION ALL) ends the walk even on a cycle that should never exist.
	const q = `WITH RECURSIVE up(id, parent_id, depth) AS (
			SELECT id, parent_id, 0 FROM cost_centers WHERE id = $1
			UNION
			SELECT c.id, c.parent_id, up.depth + 1 FROM cost_centers c JOIN up ON c.id = up.parent_id)
		SELECT id FROM up WHERE depth > 0 ORDER BY depth`
	return sqlstore.Strings(ctx, t, "ancestors of cost centre "+id, q, id)
}

// LockHierarchy serialises the transactions that change the shape of the cost-centre tree, so
// two concurrent moves cannot build a cycle together.
func (t Tx) LockHierarchy(ctx context.Context) error {
	return t.Dialect.Lock(ctx, t, "quarterdeck.budget.cost_center_hierarchy")
}
