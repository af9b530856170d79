package store

import (
	"reflect"
	"strings"
)

// ForUpdate is the clause of the standard statements that lock the rows they read.
const ForUpdate = ` FOR UPDATE`

const (
	selectCostCenter   = `SELECT ` + CostCenterColumns + ` FROM cost_centers WHERE id = $1`
	selectBudget       = `SELECT ` + BudgetColumns + ` FROM budgets WHERE id = $1`
	selectChain        = `SELECT ` + ChainColumns + ` FROM budget_chains WHERE id = $1`
	selectLine         = `SELECT ` + LineColumns + ` FROM budget_lines WHERE budget_id = $1 AND id = $2`
	selectExchangeRate = `SELECT ` + ExchangeRateColumns + ` FROM exchange_rates WHERE id = $1`
	selectCommitment   = `SELECT ` + CommitmentColumns + ` FROM commitments WHERE budget_id = $1 AND line_id = $2 AND id = $3`
	selectTransfer     = `SELECT ` + TransferColumns + ` FROM transfers WHERE budget_id = $1 AND id = $2`
)

// StandardQueries returns the statements in the SQL both engines speak. An engine starts from
// them and replaces only what it says differently (row locks, casts, the hierarchy lock, which has
// no standard form and is left empty), so that a statement is written once unless an engine
// really needs its own.
func StandardQueries() Queries {
	return Queries{
		// Cost centres.
		// FOR UPDATE: concurrent updates of one row queue instead of losing each other's changes.
		SelectCostCenter:          selectCostCenter,
		SelectCostCenterForUpdate: selectCostCenter + ForUpdate,
		ListCostCenters:           `SELECT ` + CostCenterColumns + ` FROM cost_centers`,
		InsertCostCenter: `INSERT INTO cost_centers (` + CostCenterColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		UpdateCostCenter: `UPDATE cost_centers SET display_name = $2, code = $3, owner = $4, parent_id = $5,
		active = $6, description = $7, update_time = $8, version = $9 WHERE id = $1 AND version = $10`,
		DeleteCostCenter: `DELETE FROM cost_centers WHERE id = $1 AND version = $2`,
		HasBudgets:       `SELECT EXISTS (SELECT 1 FROM budget_chains WHERE cost_center_id = $1)`,
		HasChildren:      `SELECT EXISTS (SELECT 1 FROM cost_centers WHERE parent_id = $1)`,
		// UNION (not UNION ALL) ends the walk even on a cycle that should never exist.
		Ancestors: `WITH RECURSIVE up(id, parent_id, depth) AS (
			SELECT id, parent_id, 0 FROM cost_centers WHERE id = $1
			UNION
			SELECT c.id, c.parent_id, up.depth + 1 FROM cost_centers c JOIN up ON c.id = up.parent_id)
		SELECT id FROM up WHERE depth > 0 ORDER BY depth`,
		// LockHierarchy has no standard form: each engine sets its own.

		// Budget revisions and chains.
		SelectBudget:          selectBudget,
		SelectBudgetForUpdate: selectBudget + ForUpdate,
		ListBudgets:           `SELECT ` + BudgetColumns + ` FROM budgets`,
		InsertBudget: `INSERT INTO budgets (` + BudgetColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
		$9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`,
		UpdateBudget: `UPDATE budgets SET chain_id = $2, revision = $3, cost_center_id = $4, fiscal_year = $5,
		start_month = $6, currency = $7, display_name = $8, owner = $9, description = $10, policy = $11, state = $12,
		previous_id = $13, superseded_by_id = $14, submitter = $15, submit_time = $16, decider = $17,
		decision_time = $18, decision_reason = $19, closer = $20, close_time = $21, planned_minor = $22,
		create_time = $23, update_time = $24, version = $25 WHERE id = $1 AND version = $26`,
		DeleteBudget: `DELETE FROM budgets WHERE id = $1 AND version = $2`,
		MaxRevision:  `SELECT COALESCE(MAX(revision), 0) FROM budgets WHERE chain_id = $1`,
		// The IN list is filled in by BudgetsIn.
		BudgetsInForce: `SELECT ` + BudgetColumns + ` FROM budgets WHERE id IN (
		SELECT in_force_id FROM budget_chains WHERE fiscal_year = $1 AND cost_center_id IN (IDS))
		ORDER BY cost_center_id, id`,

		SelectChain: selectChain,
		// The lock that serialises every change of the chain's spend and figures.
		LockChain:   selectChain + ForUpdate,
		InsertChain: `INSERT INTO budget_chains (` + ChainColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		UpdateChain: `UPDATE budget_chains SET cost_center_id = $2, fiscal_year = $3, in_force_id = $4, open_id = $5,
		forecast_over_plan = $6, version = $7 WHERE id = $1 AND version = $8`,
		DeleteChain: `DELETE FROM budget_chains WHERE id = $1 AND version = $2`,

		// UNION (not UNION ALL) ends the walk even on a cycle that should never exist.
		Subtree: `WITH RECURSIVE down(id) AS (
			SELECT id FROM cost_centers WHERE id = $1
			UNION
			SELECT c.id FROM cost_centers c JOIN down ON c.parent_id = down.id)
		SELECT ` + CostCenterColumns + ` FROM cost_centers WHERE id IN (SELECT id FROM down) ORDER BY id`,

		// Lines and their balances.
		SelectLine:          selectLine,
		SelectLineForUpdate: selectLine + ForUpdate,
		SelectLines:         `SELECT ` + LineColumns + ` FROM budget_lines WHERE budget_id = $1 ORDER BY id`,
		ListLines:           `SELECT ` + LineColumns + ` FROM budget_lines`,
		InsertLine: `INSERT INTO budget_lines (` + LineColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		UpdateLine: `UPDATE budget_lines SET display_name = $3, category = $4, expense_type = $5, planned_minor = $6,
		phasing_granularity = $7, phasing_amounts = $8, thresholds = $9, tag = $10, description = $11,
		create_time = $12, update_time = $13, version = $14 WHERE budget_id = $1 AND id = $2 AND version = $15`,
		DeleteLine: `DELETE FROM budget_lines WHERE budget_id = $1 AND id = $2 AND version = $3`,

		SelectLineBalance:  `SELECT ` + LineBalanceColumns + ` FROM line_balances WHERE chain_id = $1 AND line_id = $2`,
		SelectLineBalances: `SELECT ` + LineBalanceColumns + ` FROM line_balances WHERE chain_id = $1 ORDER BY line_id`,
		PutLineBalance: `INSERT INTO line_balances (` + LineBalanceColumns + `) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (chain_id, line_id) DO UPDATE SET actual_minor = EXCLUDED.actual_minor,
		committed_minor = EXCLUDED.committed_minor, version = EXCLUDED.version`,
		LineHasSpend: `SELECT EXISTS (SELECT 1 FROM actuals WHERE chain_id = $1 AND line_id = $2)
		OR EXISTS (SELECT 1 FROM commitments WHERE chain_id = $3 AND line_id = $4)
		OR EXISTS (SELECT 1 FROM line_balances WHERE chain_id = $5 AND line_id = $6
			AND (actual_minor <> 0 OR committed_minor <> 0))`,
		ChainHasSpend: `SELECT EXISTS (SELECT 1 FROM actuals WHERE chain_id = $1)
		OR EXISTS (SELECT 1 FROM commitments WHERE chain_id = $2)`,

		// Exchange rates.
		SelectExchangeRate:          selectExchangeRate,
		SelectExchangeRateForUpdate: selectExchangeRate + ForUpdate,
		FindRate: `SELECT ` + ExchangeRateColumns + ` FROM exchange_rates
		WHERE month = $1 AND source = $2 AND target = $3`,
		ListExchangeRates: `SELECT ` + ExchangeRateColumns + ` FROM exchange_rates`,
		InsertExchangeRate: `INSERT INTO exchange_rates (` + ExchangeRateColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		UpdateExchangeRate: `UPDATE exchange_rates SET month = $2, source = $3, target = $4, value = $5,
		create_time = $6, update_time = $7, version = $8 WHERE id = $1 AND version = $9`,
		DeleteExchangeRate: `DELETE FROM exchange_rates WHERE id = $1 AND version = $2`,

		// Spend.
		SelectActual: `SELECT ` + ActualColumns + ` FROM actuals WHERE budget_id = $1 AND line_id = $2 AND id = $3`,
		ListActuals:  `SELECT ` + ActualColumns + ` FROM actuals`,
		InsertActual: `INSERT INTO actuals (` + ActualColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
		$11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`,
		SumCorrections: `SELECT SUM(converted_minor) FROM actuals WHERE corrects_id = $1`,
		// SumCorrectionAmounts is in the corrected actual's own currency (corrections share it).
		SumCorrectionAmounts: `SELECT SUM(amount_minor) FROM actuals WHERE corrects_id = $1`,

		SelectCommitment:          selectCommitment,
		SelectCommitmentForUpdate: selectCommitment + ForUpdate,
		ListCommitments:           `SELECT ` + CommitmentColumns + ` FROM commitments`,
		InsertCommitment: `INSERT INTO commitments (` + CommitmentColumns + `) VALUES ($1, $2, $3, $4, $5,
		$6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)`,
		UpdateCommitment: `UPDATE commitments SET budget_id = $2, chain_id = $3, line_id = $4, amount_minor = $5,
		amount_currency = $6, converted_minor = $7, remaining_minor = $8, rate_id = $9, rate_month = $10,
		rate_source = $11, rate_target = $12, rate_value = $13, expected_date = $14, period = $15, description = $16,
		source = $17, source_ref = $18, state = $19, creator = $20, create_time = $21, update_time = $22,
		version = $23 WHERE id = $1 AND version = $24`,

		SelectTransfer:          selectTransfer,
		SelectTransferForUpdate: selectTransfer + ForUpdate,
		ListTransfers:           `SELECT ` + TransferColumns + ` FROM transfers`,
		InsertTransfer: `INSERT INTO transfers (` + TransferColumns + `) VALUES ($1, $2, $3, $4, $5, $6,
		$7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		UpdateTransfer: `UPDATE transfers SET budget_id = $2, source_line_id = $3, target_budget_id = $4,
		target_line_id = $5, amount_minor = $6, effective_date = $7, period = $8, reason = $9, state = $10,
		requester = $11, decider = $12, decision_time = $13, decision_reason = $14, create_time = $15,
		update_time = $16, version = $17 WHERE id = $1 AND version = $18`,

		// Committed is what remains of the open commitments; released ones add nothing.
		Spend: `SELECT line_id, period, SUM(actual), SUM(committed) FROM (
			SELECT line_id, period, converted_minor AS actual, 0 AS committed FROM actuals WHERE chain_id = $1
			UNION ALL
			SELECT line_id, period, 0, remaining_minor FROM commitments WHERE chain_id = $2 AND state = $3) s
		GROUP BY line_id, period ORDER BY line_id, period`,
		PeriodSpend: `SELECT line_id, period, actual_minor, committed_minor FROM period_balances
		WHERE chain_id = $1 AND (actual_minor <> 0 OR committed_minor <> 0) ORDER BY line_id, period`,
		AddPeriodSpend: `INSERT INTO period_balances (chain_id, line_id, period, actual_minor, committed_minor)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (chain_id, line_id, period) DO UPDATE SET
			actual_minor = period_balances.actual_minor + excluded.actual_minor,
			committed_minor = period_balances.committed_minor + excluded.committed_minor`,
		RatesUsed: `SELECT DISTINCT rate_id, rate_month, rate_source, rate_target, rate_value FROM (
			SELECT rate_id, rate_month, rate_source, rate_target, rate_value FROM actuals
				WHERE chain_id = $1 AND rate_id IS NOT NULL
			UNION ALL
			SELECT rate_id, rate_month, rate_source, rate_target, rate_value FROM commitments
				WHERE chain_id = $2 AND state = $3 AND rate_id IS NOT NULL) r
		ORDER BY rate_id, rate_value`,
	}
}

// WithoutRowLocks returns q without the FOR UPDATE of its locking statements, for an engine whose
// writing transactions already run one at a time (SQLite begins them IMMEDIATE, see sqldb) and
// which has no row locks.
func (q Queries) WithoutRowLocks() Queries {
	v := reflect.ValueOf(&q).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.String {
			f.SetString(strings.TrimSuffix(f.String(), ForUpdate))
		}
	}
	return q
}
