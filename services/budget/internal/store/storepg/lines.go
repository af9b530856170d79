package storepg

import (
	"context"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/listing"
)

const (
	selectLine          = `SELECT ` + store.LineColumns + ` FROM budget_lines WHERE budget_id = $1 AND id = $2`
	selectLineForUpdate = selectLine + ` FOR UPDATE`
	selectLines         = `SELECT ` + store.LineColumns + ` FROM budget_lines WHERE budget_id = $1 ORDER BY id`
	listLines           = `SELECT ` + store.LineColumns + ` FROM budget_lines`
	insertLine          = `INSERT INTO budget_lines (` + store.LineColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`
	updateLine = `UPDATE budget_lines SET display_name = $3, category = $4, expense_type = $5, planned_minor = $6,
		phasing_granularity = $7, phasing_amounts = $8, thresholds = $9, tag = $10, description = $11,
		create_time = $12, update_time = $13, version = $14 WHERE budget_id = $1 AND id = $2 AND version = $15`
	deleteLine = `DELETE FROM budget_lines WHERE budget_id = $1 AND id = $2 AND version = $3`

	selectLineBalance  = `SELECT ` + store.LineBalanceColumns + ` FROM line_balances WHERE chain_id = $1 AND line_id = $2`
	selectLineBalances = `SELECT ` + store.LineBalanceColumns + ` FROM line_balances WHERE chain_id = $1 ORDER BY line_id`
	putLineBalance     = `INSERT INTO line_balances (` + store.LineBalanceColumns + `) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (chain_id, line_id) DO UPDATE SET actual_minor = EXCLUDED.actual_minor,
		committed_minor = EXCLUDED.committed_minor, version = EXCLUDED.version`
	lineHasSpend = `SELECT EXISTS (SELECT 1 FROM actuals WHERE chain_id = $1 AND line_id = $2)
		OR EXISTS (SELECT 1 FROM commitments WHERE chain_id = $3 AND line_id = $4)
		OR EXISTS (SELECT 1 FROM line_balances WHERE chain_id = $5 AND line_id = $6
			AND (actual_minor <> 0 OR committed_minor <> 0))`
	chainHasSpend = `SELECT EXISTS (SELECT 1 FROM actuals WHERE chain_id = $1)
		OR EXISTS (SELECT 1 FROM commitments WHERE chain_id = $2)`
)

// GetLine implements store.Store.
func (s *Store) GetLine(ctx context.Context, budgetID, id string) (*domain.Line, error) {
	return store.GetLine(ctx, s.db, selectLine, budgetID, id)
}

// ListLines implements store.Store.
func (s *Store) ListLines(ctx context.Context, budgetID string, q *listing.Query) ([]*domain.Line, error) {
	return store.ListLines(ctx, s.db, listLines, budgetID, q)
}

func (t *tx) GetLine(ctx context.Context, budgetID, id string) (*domain.Line, error) {
	return store.GetLine(ctx, t, selectLineForUpdate, budgetID, id)
}

func (t *tx) Lines(ctx context.Context, budgetID string) ([]*domain.Line, error) {
	return store.Lines(ctx, t, selectLines, budgetID)
}

func (t *tx) InsertLine(ctx context.Context, l *domain.Line) error {
	return store.InsertLine(ctx, t, insertLine, l)
}

func (t *tx) UpdateLine(ctx context.Context, l *domain.Line, prevVersion int64) error {
	return store.UpdateLine(ctx, t, updateLine, l, prevVersion)
}

func (t *tx) DeleteLine(ctx context.Context, budgetID, id string, version int64) error {
	return store.DeleteLine(ctx, t, deleteLine, budgetID, id, version)
}

func (t *tx) LineBalance(ctx context.Context, chainID, lineID string) (*domain.LineBalance, error) {
	return store.LineBalance(ctx, t, selectLineBalance, chainID, lineID)
}

func (t *tx) PutLineBalance(ctx context.Context, b *domain.LineBalance) error {
	return store.PutLineBalance(ctx, t, putLineBalance, b)
}

func (t *tx) LineHasSpend(ctx context.Context, chainID, lineID string) (bool, error) {
	return store.Exists(ctx, t, lineHasSpend, chainID, lineID, chainID, lineID, chainID, lineID)
}

func (t *tx) ChainHasSpend(ctx context.Context, chainID string) (bool, error) {
	return store.Exists(ctx, t, chainHasSpend, chainID, chainID)
}

func (r reader) LineBalances(ctx context.Context, chainID string) ([]*domain.LineBalance, error) {
	return store.LineBalances(ctx, r.q, selectLineBalances, chainID)
}
