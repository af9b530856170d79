package store

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// The spend another service's resource caused, found by its source reference: what the
// budget's consumers of other services' events (a vendor contract's commitments and the actuals of
// its invoices) read and change.

// SourceCommitments returns the commitments on line lineID of chain chainID, in any revision,
// whose source reference is ref, by expected date and creation; the transaction keeps them from
// changing until it ends.
func (t Tx) SourceCommitments(ctx context.Context, chainID, lineID, ref string) ([]*domain.Commitment, error) {
	const q = `SELECT ` + commitmentColumns + ` FROM commitments
		WHERE chain_id = $1 AND line_id = $2 AND source_ref = $3
		ORDER BY expected_date, create_time, id`
	return sqlstore.All(ctx, t, "commitments of "+ref, scanCommitment, t.ForUpdate(q), chainID, lineID, ref)
}

// HasSourceCommitment reports whether line lineID of chain chainID has a commitment, in any
// revision, whose source reference is ref. It locks nothing.
func (t Tx) HasSourceCommitment(ctx context.Context, chainID, lineID, ref string) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM commitments WHERE chain_id = $1 AND line_id = $2 AND source_ref = $3)`
	return sqlstore.Exists(ctx, t, "commitments of "+ref, q, chainID, lineID, ref)
}

// ActualExists reports whether the actual with the ID exists, in any budget and line.
func (t Tx) ActualExists(ctx context.Context, id string) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM actuals WHERE id = $1)`
	return sqlstore.Exists(ctx, t, "actual "+id, q, id)
}

// CommitmentExists reports whether the commitment with the ID exists, in any budget and line.
// It locks nothing.
func (t Tx) CommitmentExists(ctx context.Context, id string) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM commitments WHERE id = $1)`
	return sqlstore.Exists(ctx, t, "commitment "+id, q, id)
}

// ContractActuals returns the actuals from source on line lineID of chain chainID of the contract
// named ref, corrections excluded, newest booking first: those that consumed one of the
// commitments whose source reference is ref (an actual recorded by hand against one of them, too),
// and those whose external reference is one of its invoices (`{ref}/invoices/…`), booked when the
// contract had no commitment on the line.
func (t Tx) ContractActuals(ctx context.Context, chainID, lineID, ref string, source domain.ActualSource) ([]*domain.Actual, error) {
	const q = `SELECT ` + actualColumns + ` FROM actuals
		WHERE chain_id = $1 AND line_id = $2 AND source = $3 AND corrects_id IS NULL AND (commitment_id IN (
			SELECT id FROM commitments WHERE chain_id = $1 AND line_id = $2 AND source_ref = $4)
			OR substr(external_reference, 1, $6) = $5)
		ORDER BY booking_date DESC, create_time DESC, id DESC`
	invoices := ref + "/invoices/"
	return sqlstore.All(ctx, t, "actuals of "+ref, scanActual, q, chainID, lineID, int(source), ref,
		invoices, utf8.RuneCountInString(invoices))
}

// AdvanceSource records that budget applied version of the resource named ref, when version is
// higher than the one recorded (or none is); it reports whether it did. A consumer calls it in
// the transaction of its effect and applies the effect only when it did.
func (t Tx) AdvanceSource(ctx context.Context, ref string, version int64, now time.Time) (bool, error) {
	const q = `INSERT INTO source_versions (source_ref, version, update_time) VALUES ($1, $2, $3)
		ON CONFLICT (source_ref) DO UPDATE SET version = excluded.version, update_time = excluded.update_time
		WHERE source_versions.version < excluded.version`
	res, err := t.ExecContext(ctx, q, ref, version, now.UTC().Truncate(time.Microsecond))
	if err != nil {
		return false, fmt.Errorf("advance %s to version %d: %w", ref, version, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("advance %s to version %d: %w", ref, version, err)
	}
	return n == 1, nil
}

// SourceActuals returns the actuals from source whose external reference is ref, on any budget
// and line, corrections excluded, in the order they were recorded.
func (t Tx) SourceActuals(ctx context.Context, source domain.ActualSource, ref string) ([]*domain.Actual, error) {
	const q = `SELECT ` + actualColumns + ` FROM actuals
		WHERE source = $1 AND external_reference = $2 AND corrects_id IS NULL ORDER BY create_time, id`
	return sqlstore.All(ctx, t, "actuals of "+ref, scanActual, q, int(source), ref)
}

// ChainFor returns the ID of the chain of the cost centre's budget for the fiscal year, or
// domain.ErrBudgetNotFound when it has none. It locks nothing (see ChainOf).
func (t Tx) ChainFor(ctx context.Context, costCenterID string, fiscalYear int32) (string, error) {
	const q = `SELECT id FROM budget_chains WHERE cost_center_id = $1 AND fiscal_year = $2`
	return sqlstore.Get(ctx, t, fmt.Sprintf("budget of %s for %d", costCenterID, fiscalYear), domain.ErrBudgetNotFound,
		func(s sqlstore.Scanner) (string, error) {
			var id string
			err := s.Scan(&id)
			return id, err
		}, q, costCenterID, fiscalYear)
}

// SourceChains returns the chains, other than chainID, with a commitment on line lineID whose
// source reference is ref — a contract's later fiscal years, where its renewals are committed —
// by fiscal year. It locks nothing.
func (t Tx) SourceChains(ctx context.Context, chainID, lineID, ref string) ([]string, error) {
	const q = `SELECT id FROM budget_chains WHERE id <> $1 AND id IN (
			SELECT chain_id FROM commitments WHERE line_id = $2 AND source_ref = $3)
		ORDER BY fiscal_year, id`
	return sqlstore.All(ctx, t, "budgets of "+ref, func(s sqlstore.Scanner) (string, error) {
		var id string
		err := s.Scan(&id)
		return id, err
	}, q, chainID, lineID, ref)
}
