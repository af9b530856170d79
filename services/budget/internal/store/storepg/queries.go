package storepg

import "github.com/quarterdeck/quarterdeck/services/budget/internal/store"

// queries are the standard statements with PostgreSQL's own where it needs them.
var queries = func() *store.Queries {
	q := store.StandardQueries()
	// A transaction-scoped advisory lock, released at commit or rollback.
	q.LockHierarchy = `SELECT pg_advisory_xact_lock(hashtext('quarterdeck.budget.cost_center_hierarchy'))`
	// SUM of BIGINT is NUMERIC in PostgreSQL; the casts keep the sums integers for the driver.
	q.SumCorrections = `SELECT SUM(converted_minor)::BIGINT FROM actuals WHERE corrects_id = $1`
	q.SumCorrectionAmounts = `SELECT SUM(amount_minor)::BIGINT FROM actuals WHERE corrects_id = $1`
	// Committed is what remains of the open commitments; released ones add nothing.
	q.Spend = `SELECT line_id, period, SUM(actual)::BIGINT, SUM(committed)::BIGINT FROM (
			SELECT line_id, period, converted_minor AS actual, 0::BIGINT AS committed FROM actuals WHERE chain_id = $1
			UNION ALL
			SELECT line_id, period, 0, remaining_minor FROM commitments WHERE chain_id = $2 AND state = $3) s
		GROUP BY line_id, period ORDER BY line_id, period`
	return &q
}()
