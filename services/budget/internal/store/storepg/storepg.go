// Package storepg is the budget service's store on PostgreSQL.
package storepg

import (
	"context"
	"database/sql"
	"embed"
	"io/fs"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/effects"
	"github.com/quarterdeck/quarterdeck/services/platform/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the budget schema for PostgreSQL.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

const (
	selectCostCenter = `SELECT ` + store.CostCenterColumns + ` FROM cost_centers WHERE id = $1`
	// FOR UPDATE: concurrent updates of one cost centre queue instead of losing each other's changes.
	selectCostCenterForUpdate = selectCostCenter + ` FOR UPDATE`
	listCostCenters           = `SELECT ` + store.CostCenterColumns + ` FROM cost_centers`
	insertCostCenter          = `INSERT INTO cost_centers (` + store.CostCenterColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	updateCostCenter = `UPDATE cost_centers SET display_name = $2, code = $3, owner = $4, parent_id = $5,
		active = $6, description = $7, update_time = $8, version = $9 WHERE id = $1 AND version = $10`
	deleteCostCenter = `DELETE FROM cost_centers WHERE id = $1 AND version = $2`
	hasChildren      = `SELECT EXISTS (SELECT 1 FROM cost_centers WHERE parent_id = $1)`
	// UNION (not UNION ALL) ends the walk even on a cycle that should never exist.
	ancestors = `WITH RECURSIVE up(id, parent_id, depth) AS (
			SELECT id, parent_id, 0 FROM cost_centers WHERE id = $1
			UNION
			SELECT c.id, c.parent_id, up.depth + 1 FROM cost_centers c JOIN up ON c.id = up.parent_id)
		SELECT id FROM up WHERE depth > 0 ORDER BY depth`
	// A transaction-scoped advisory lock, released at commit or rollback.
	lockHierarchy = `SELECT pg_advisory_xact_lock(hashtext('quarterdeck.budget.cost_center_hierarchy'))`
)

// Store is the PostgreSQL store.
type Store struct {
	db *sqldb.DB
	reader
}

// New returns a store on db, which must be a migrated PostgreSQL database.
func New(db *sqldb.DB) *Store { return &Store{db: db, reader: reader{db}} }

var _ store.Store = (*Store)(nil)

// GetCostCenter implements store.Store.
func (s *Store) GetCostCenter(ctx context.Context, id string) (*domain.CostCenter, error) {
	return store.GetCostCenter(ctx, s.db, selectCostCenter, id)
}

// ListCostCenters implements store.Store.
func (s *Store) ListCostCenters(ctx context.Context, q *listing.Query) ([]*domain.CostCenter, error) {
	return store.ListCostCenters(ctx, s.db, listCostCenters, q)
}

// Within implements store.Store.
func (s *Store) Within(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return s.db.InTx(ctx, func(t *sql.Tx) error { return fn(ctx, &tx{effects.Tx{Tx: t, Engine: sqldb.Postgres}, reader{t}}) })
}

// tx embeds what every mutation writes besides the change (events, audit record, request ID)
// and the reads it shares with the store.
type tx struct {
	effects.Tx
	reader
}

func (t *tx) GetCostCenter(ctx context.Context, id string) (*domain.CostCenter, error) {
	return store.GetCostCenter(ctx, t, selectCostCenterForUpdate, id)
}

func (t *tx) InsertCostCenter(ctx context.Context, c *domain.CostCenter) error {
	return store.InsertCostCenter(ctx, t, insertCostCenter, c)
}

func (t *tx) UpdateCostCenter(ctx context.Context, c *domain.CostCenter, prevVersion int64) error {
	return store.UpdateCostCenter(ctx, t, updateCostCenter, c, prevVersion)
}

func (t *tx) DeleteCostCenter(ctx context.Context, id string, version int64) error {
	return store.DeleteCostCenter(ctx, t, hasBudgets, deleteCostCenter, id, version)
}

func (t *tx) HasChildren(ctx context.Context, id string) (bool, error) {
	return store.Exists(ctx, t, hasChildren, id)
}

func (t *tx) Ancestors(ctx context.Context, id string) ([]string, error) {
	return store.IDs(ctx, t, ancestors, id)
}

func (t *tx) LockHierarchy(ctx context.Context) error {
	_, err := t.ExecContext(ctx, lockHierarchy)
	return err
}
