package storesqlite

import (
	"context"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/listing"
)

const (
	hasBudgets = `SELECT EXISTS (SELECT 1 FROM budget_chains WHERE cost_center_id = $1)`

	selectBudget = `SELECT ` + store.BudgetColumns + ` FROM budgets WHERE id = $1`
	listBudgets  = `SELECT ` + store.BudgetColumns + ` FROM budgets`
	insertBudget = `INSERT INTO budgets (` + store.BudgetColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
		$9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`
	updateBudget = `UPDATE budgets SET chain_id = $2, revision = $3, cost_center_id = $4, fiscal_year = $5,
		start_month = $6, currency = $7, display_name = $8, owner = $9, description = $10, policy = $11, state = $12,
		previous_id = $13, superseded_by_id = $14, submitter = $15, submit_time = $16, decider = $17,
		decision_time = $18, decision_reason = $19, closer = $20, close_time = $21, planned_minor = $22,
		create_time = $23, update_time = $24, version = $25 WHERE id = $1 AND version = $26`
	deleteBudget = `DELETE FROM budgets WHERE id = $1 AND version = $2`
	maxRevision  = `SELECT COALESCE(MAX(revision), 0) FROM budgets WHERE chain_id = $1`
	// The IN list is filled in by store.BudgetsIn.
	budgetsInForce = `SELECT ` + store.BudgetColumns + ` FROM budgets WHERE id IN (
		SELECT in_force_id FROM budget_chains WHERE fiscal_year = $1 AND cost_center_id IN (IDS))
		ORDER BY cost_center_id, id`

	selectChain = `SELECT ` + store.ChainColumns + ` FROM budget_chains WHERE id = $1`
	// No row lock: BEGIN IMMEDIATE already gives the transaction the database's write lock,
	// which serialises every change of the chain's spend and figures.
	lockChain   = selectChain
	insertChain = `INSERT INTO budget_chains (` + store.ChainColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7)`
	updateChain = `UPDATE budget_chains SET cost_center_id = $2, fiscal_year = $3, in_force_id = $4, open_id = $5,
		forecast_over_plan = $6, version = $7 WHERE id = $1 AND version = $8`
	deleteChain = `DELETE FROM budget_chains WHERE id = $1 AND version = $2`

	// UNION (not UNION ALL) ends the walk even on a cycle that should never exist.
	subtree = `WITH RECURSIVE down(id) AS (
			SELECT id FROM cost_centers WHERE id = $1
			UNION
			SELECT c.id FROM cost_centers c JOIN down ON c.parent_id = down.id)
		SELECT id FROM down ORDER BY id`
)

// GetBudget implements store.Store.
func (s *Store) GetBudget(ctx context.Context, id string) (*domain.Budget, error) {
	return store.GetBudget(ctx, s.db, selectBudget, id)
}

// ListBudgets implements store.Store.
func (s *Store) ListBudgets(ctx context.Context, q *listing.Query) ([]*domain.Budget, error) {
	return store.ListBudgets(ctx, s.db, listBudgets, q)
}

// GetChain implements store.Store.
func (s *Store) GetChain(ctx context.Context, id string) (*domain.Chain, error) {
	return store.GetChain(ctx, s.db, selectChain, id)
}

func (t *tx) GetBudget(ctx context.Context, id string) (*domain.Budget, error) {
	return store.GetBudget(ctx, t, selectBudget, id)
}

func (t *tx) InsertBudget(ctx context.Context, b *domain.Budget) error {
	return store.InsertBudget(ctx, t, insertBudget, b)
}

func (t *tx) UpdateBudget(ctx context.Context, b *domain.Budget, prevVersion int64) error {
	return store.UpdateBudget(ctx, t, updateBudget, b, prevVersion)
}

func (t *tx) DeleteBudget(ctx context.Context, id string, version int64) error {
	return store.Delete(ctx, t, "budget "+id, deleteBudget, id, version)
}

func (t *tx) MaxRevision(ctx context.Context, chainID string) (int32, error) {
	return store.MaxRevision(ctx, t, maxRevision, chainID)
}

func (t *tx) InsertChain(ctx context.Context, c *domain.Chain) error {
	return store.InsertChain(ctx, t, insertChain, c)
}

func (t *tx) LockChain(ctx context.Context, id string) (*domain.Chain, error) {
	return store.GetChain(ctx, t, lockChain, id)
}

func (t *tx) LockChains(ctx context.Context, ids ...string) ([]*domain.Chain, error) {
	return store.LockChains(ctx, t.LockChain, ids)
}

func (t *tx) UpdateChain(ctx context.Context, c *domain.Chain, prevVersion int64) error {
	return store.UpdateChain(ctx, t, updateChain, c, prevVersion)
}

func (t *tx) DeleteChain(ctx context.Context, id string, version int64) error {
	return store.Delete(ctx, t, "budget chain "+id, deleteChain, id, version)
}

// reader implements store.Reader on the database or on a transaction.
type reader struct{ q store.Querier }

func (r reader) Subtree(ctx context.Context, costCenterID string) ([]string, error) {
	return store.IDs(ctx, r.q, subtree, costCenterID)
}

func (r reader) BudgetsInForce(ctx context.Context, costCenterIDs []string, fiscalYear int32) ([]*domain.Budget, error) {
	return store.BudgetsIn(ctx, r.q, budgetsInForce, fiscalYear, costCenterIDs)
}
