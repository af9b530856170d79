package storepg

import (
	"context"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/listing"
)

const (
	selectActual = `SELECT ` + store.ActualColumns + ` FROM actuals WHERE budget_id = $1 AND line_id = $2 AND id = $3`
	listActuals  = `SELECT ` + store.ActualColumns + ` FROM actuals`
	insertActual = `INSERT INTO actuals (` + store.ActualColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
		$11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`
	// SUM of BIGINT is NUMERIC in PostgreSQL; the cast keeps it an integer for the driver.
	sumCorrections = `SELECT SUM(converted_minor)::BIGINT FROM actuals WHERE corrects_id = $1`
	// sumCorrectionAmounts is in the corrected actual's own currency (corrections share it).
	sumCorrectionAmounts = `SELECT SUM(amount_minor)::BIGINT FROM actuals WHERE corrects_id = $1`

	selectCommitment          = `SELECT ` + store.CommitmentColumns + ` FROM commitments WHERE budget_id = $1 AND line_id = $2 AND id = $3`
	selectCommitmentForUpdate = selectCommitment + ` FOR UPDATE`
	listCommitments           = `SELECT ` + store.CommitmentColumns + ` FROM commitments`
	insertCommitment          = `INSERT INTO commitments (` + store.CommitmentColumns + `) VALUES ($1, $2, $3, $4, $5,
		$6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)`
	updateCommitment = `UPDATE commitments SET budget_id = $2, chain_id = $3, line_id = $4, amount_minor = $5,
		amount_currency = $6, converted_minor = $7, remaining_minor = $8, rate_id = $9, rate_month = $10,
		rate_source = $11, rate_target = $12, rate_value = $13, expected_date = $14, period = $15, description = $16,
		source = $17, source_ref = $18, state = $19, creator = $20, create_time = $21, update_time = $22,
		version = $23 WHERE id = $1 AND version = $24`

	selectTransfer          = `SELECT ` + store.TransferColumns + ` FROM transfers WHERE budget_id = $1 AND id = $2`
	selectTransferForUpdate = selectTransfer + ` FOR UPDATE`
	listTransfers           = `SELECT ` + store.TransferColumns + ` FROM transfers`
	insertTransfer          = `INSERT INTO transfers (` + store.TransferColumns + `) VALUES ($1, $2, $3, $4, $5, $6,
		$7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`
	updateTransfer = `UPDATE transfers SET budget_id = $2, source_line_id = $3, target_budget_id = $4,
		target_line_id = $5, amount_minor = $6, effective_date = $7, period = $8, reason = $9, state = $10,
		requester = $11, decider = $12, decision_time = $13, decision_reason = $14, create_time = $15,
		update_time = $16, version = $17 WHERE id = $1 AND version = $18`

	// Committed is what remains of the open commitments; released ones add nothing.
	spend = `SELECT line_id, period, SUM(actual)::BIGINT, SUM(committed)::BIGINT FROM (
			SELECT line_id, period, converted_minor AS actual, 0::BIGINT AS committed FROM actuals WHERE chain_id = $1
			UNION ALL
			SELECT line_id, period, 0, remaining_minor FROM commitments WHERE chain_id = $2 AND state = $3) s
		GROUP BY line_id, period ORDER BY line_id, period`
	periodSpend = `SELECT line_id, period, actual_minor, committed_minor FROM period_balances
		WHERE chain_id = $1 AND (actual_minor <> 0 OR committed_minor <> 0) ORDER BY line_id, period`
	addPeriodSpend = `INSERT INTO period_balances (chain_id, line_id, period, actual_minor, committed_minor)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (chain_id, line_id, period) DO UPDATE SET
			actual_minor = period_balances.actual_minor + excluded.actual_minor,
			committed_minor = period_balances.committed_minor + excluded.committed_minor`
	ratesUsed = `SELECT DISTINCT rate_id, rate_month, rate_source, rate_target, rate_value FROM (
			SELECT rate_id, rate_month, rate_source, rate_target, rate_value FROM actuals
				WHERE chain_id = $1 AND rate_id IS NOT NULL
			UNION ALL
			SELECT rate_id, rate_month, rate_source, rate_target, rate_value FROM commitments
				WHERE chain_id = $2 AND state = $3 AND rate_id IS NOT NULL) r
		ORDER BY rate_id, rate_value`
)

// GetActual implements store.Store.
func (s *Store) GetActual(ctx context.Context, budgetID, lineID, id string) (*domain.Actual, error) {
	return store.GetActual(ctx, s.db, selectActual, budgetID, lineID, id)
}

// ListActuals implements store.Store.
func (s *Store) ListActuals(ctx context.Context, budgetID, lineID string, q *listing.Query) ([]*domain.Actual, error) {
	return store.ListActuals(ctx, s.db, listActuals, budgetID, lineID, q)
}

// GetCommitment implements store.Store.
func (s *Store) GetCommitment(ctx context.Context, budgetID, lineID, id string) (*domain.Commitment, error) {
	return store.GetCommitment(ctx, s.db, selectCommitment, budgetID, lineID, id)
}

// ListCommitments implements store.Store.
func (s *Store) ListCommitments(ctx context.Context, budgetID, lineID string, q *listing.Query) ([]*domain.Commitment, error) {
	return store.ListCommitments(ctx, s.db, listCommitments, budgetID, lineID, q)
}

// GetTransfer implements store.Store.
func (s *Store) GetTransfer(ctx context.Context, budgetID, id string) (*domain.Transfer, error) {
	return store.GetTransfer(ctx, s.db, selectTransfer, budgetID, id)
}

// ListTransfers implements store.Store.
func (s *Store) ListTransfers(ctx context.Context, budgetID string, q *listing.Query) ([]*domain.Transfer, error) {
	return store.ListTransfers(ctx, s.db, listTransfers, budgetID, q)
}

func (t *tx) InsertActual(ctx context.Context, a *domain.Actual) error {
	return store.InsertActual(ctx, t, insertActual, a)
}

func (t *tx) GetActual(ctx context.Context, budgetID, lineID, id string) (*domain.Actual, error) {
	return store.GetActual(ctx, t, selectActual, budgetID, lineID, id)
}

func (t *tx) SumCorrections(ctx context.Context, actualID string) (int64, error) {
	return store.Sum(ctx, t, sumCorrections, actualID)
}

func (t *tx) SumCorrectionAmounts(ctx context.Context, actualID string) (int64, error) {
	return store.Sum(ctx, t, sumCorrectionAmounts, actualID)
}

func (t *tx) InsertCommitment(ctx context.Context, c *domain.Commitment) error {
	return store.InsertCommitment(ctx, t, insertCommitment, c)
}

func (t *tx) GetCommitment(ctx context.Context, budgetID, lineID, id string) (*domain.Commitment, error) {
	return store.GetCommitment(ctx, t, selectCommitmentForUpdate, budgetID, lineID, id)
}

func (t *tx) UpdateCommitment(ctx context.Context, c *domain.Commitment, prevVersion int64) error {
	return store.UpdateCommitment(ctx, t, updateCommitment, c, prevVersion)
}

func (t *tx) InsertTransfer(ctx context.Context, tr *domain.Transfer) error {
	return store.InsertTransfer(ctx, t, insertTransfer, tr)
}

func (t *tx) GetTransfer(ctx context.Context, budgetID, id string) (*domain.Transfer, error) {
	return store.GetTransfer(ctx, t, selectTransferForUpdate, budgetID, id)
}

func (t *tx) UpdateTransfer(ctx context.Context, tr *domain.Transfer, prevVersion int64) error {
	return store.UpdateTransfer(ctx, t, updateTransfer, tr, prevVersion)
}

func (r reader) Spend(ctx context.Context, chainID string) ([]store.LineSpend, error) {
	return store.Spend(ctx, r.q, spend, chainID, chainID, int(domain.CommitmentOpen))
}

func (r reader) PeriodSpend(ctx context.Context, chainID string) ([]store.LineSpend, error) {
	return store.Spend(ctx, r.q, periodSpend, chainID)
}

func (t *tx) AddPeriodSpend(ctx context.Context, chainID string, s store.LineSpend) error {
	_, err := t.ExecContext(ctx, addPeriodSpend, chainID, s.LineID, s.Period, s.ActualMinor, s.CommittedMinor)
	return err
}

func (r reader) RatesUsed(ctx context.Context, chainID string) ([]domain.RateUse, error) {
	return store.RatesUsed(ctx, r.q, ratesUsed, chainID, chainID, int(domain.CommitmentOpen))
}
