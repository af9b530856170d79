package store

import (
	"context"
	"fmt"
	"time"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// deferredColumns are the columns every deferred commitment query selects, in
// scanDeferredCommitment's order.
const deferredColumns = `id, cost_center_id, fiscal_year, line_id, amount_minor, amount_currency, service_start, ` +
	`service_end, source, source_ref, description, create_time`

func scanDeferredCommitment(s sqlstore.Scanner) (*domain.DeferredCommitment, error) {
	var (
		d          domain.DeferredCommitment
		start, end string
	)
	if err := s.Scan(&d.ID, &d.CostCenterID, &d.FiscalYear, &d.LineID, &d.Amount.Minor, &d.Amount.Currency, &start, &end,
		&d.Source, &d.SourceRef, &d.Description, &d.CreateTime); err != nil {
		return nil, err
	}
	var err error
	if d.ServiceStart, err = parseDate(start); err != nil {
		return nil, err
	}
	if d.ServiceEnd, err = parseDate(end); err != nil {
		return nil, err
	}
	d.CreateTime = d.CreateTime.UTC()
	return &d, nil
}

// DeferCommitment keeps d until its budget can take it, unless a deferred commitment with d's ID
// is kept already or was deleted (MarkDeferredDeleted); it reports whether it added d.
func (t Tx) DeferCommitment(ctx context.Context, d *domain.DeferredCommitment) (bool, error) {
	const q = `INSERT INTO deferred_commitments (` + deferredColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
		$10, $11, $12) ON CONFLICT (id) DO NOTHING`
	res, err := t.ExecContext(ctx, q, d.ID, d.CostCenterID, d.FiscalYear, d.LineID, d.Amount.Minor, string(d.Amount.Currency),
		formatDate(d.ServiceStart), formatDate(d.ServiceEnd), int(d.Source), d.SourceRef, d.Description,
		d.CreateTime.UTC().Truncate(time.Microsecond))
	if err != nil {
		return false, fmt.Errorf("defer commitment %s: %w", d.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("defer commitment %s: %w", d.ID, err)
	}
	if n == 0 {
		return false, nil
	}
	return t.undoDeleted(ctx, "deferred_commitments", d.ID)
}

// DeferredCommitments returns the commitments deferred to the cost centre's budget for the
// fiscal year, in the order they were deferred; the transaction keeps them from changing until
// it ends.
func (t Tx) DeferredCommitments(ctx context.Context, costCenterID string, fiscalYear int32) ([]*domain.DeferredCommitment, error) {
	const q = `SELECT ` + deferredColumns + ` FROM deferred_commitments WHERE cost_center_id = $1 AND fiscal_year = $2
		ORDER BY create_time, id`
	return sqlstore.All(ctx, t, fmt.Sprintf("commitments deferred to the budget of %s for %d", costCenterID, fiscalYear),
		scanDeferredCommitment, t.ForUpdate(q), costCenterID, fiscalYear)
}

// GetDeferredCommitment returns the commitment deferred with the ID for the cost centre, or
// domain.ErrDeferredCommitmentNotFound; in a transaction it keeps the row from changing until
// the transaction ends, so that a deletion and an approval recording it (DeferredCommitments)
// take it one after the other.
func (r reader) GetDeferredCommitment(ctx context.Context, costCenterID, id string) (*domain.DeferredCommitment, error) {
	const q = `SELECT ` + deferredColumns + ` FROM deferred_commitments WHERE cost_center_id = $1 AND id = $2`
	return sqlstore.Get(ctx, r.Q, "deferred commitment "+id, domain.ErrDeferredCommitmentNotFound, scanDeferredCommitment,
		r.ForUpdate(q), costCenterID, id)
}

// DeleteDeferredCommitment deletes the deferred commitment with the ID, once recorded or when an
// operator deletes it.
func (t Tx) DeleteDeferredCommitment(ctx context.Context, id string) error {
	const q = `DELETE FROM deferred_commitments WHERE id = $1`
	return sqlstore.Exec(ctx, t, nil, q, id)
}

// MarkDeferredDeleted remembers that an operator deleted the deferred commitment or actual with
// the ID at, so that a later event of the same renewal or invoice does not defer it again
// (DeferCommitment, DeferActual).
func (t Tx) MarkDeferredDeleted(ctx context.Context, id string, at time.Time) error {
	const q = `INSERT INTO deferred_deletions (id, delete_time) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`
	if _, err := t.ExecContext(ctx, q, id, at.UTC().Truncate(time.Microsecond)); err != nil {
		return fmt.Errorf("mark the deferred item %s deleted: %w", id, err)
	}
	return nil
}

// undoDeleted takes back the row of table (deferred_commitments or deferred_actuals) with the ID
// that the transaction has just added when an operator deleted the item of that ID before, and
// reports whether the row stays. It looks after the insert rather than before: an insert that
// waited for the deletion of the row of its ID to commit adds it again, and this statement, which
// runs after that commit, sees the deletion's mark.
func (t Tx) undoDeleted(ctx context.Context, table, id string) (bool, error) {
	q := `DELETE FROM ` + table + ` WHERE id = $1 AND EXISTS (SELECT 1 FROM deferred_deletions WHERE id = $1)`
	res, err := t.ExecContext(ctx, q, id)
	if err != nil {
		return false, fmt.Errorf("defer %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("defer %s: %w", id, err)
	}
	return n == 0, nil
}

// DropDeferredCommitments deletes the commitments deferred for the source named ref (a contract
// that ended) and returns how many there were.
func (t Tx) DropDeferredCommitments(ctx context.Context, ref string) (int64, error) {
	const q = `DELETE FROM deferred_commitments WHERE source_ref = $1`
	res, err := t.ExecContext(ctx, q, ref)
	if err != nil {
		return 0, fmt.Errorf("drop the commitments deferred for %s: %w", ref, err)
	}
	return res.RowsAffected()
}

// DeferredCommitmentTable is what ListDeferredCommitments can filter and order by.
var DeferredCommitmentTable = listing.NewTable("name", []listing.Field[*domain.DeferredCommitment]{
	{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.DeferredCommitmentPattern),
		Get: func(d *domain.DeferredCommitment) any { return d.ID }},
	{Path: "cost_center", Column: "cost_center_id", Type: filter.String, Value: listing.NameID("cost_center", domain.CostCenterPattern),
		Get: func(d *domain.DeferredCommitment) any { return d.CostCenterID }},
	{Path: "fiscal_year", Column: "fiscal_year", Type: filter.Int, Get: func(d *domain.DeferredCommitment) any { return int64(d.FiscalYear) }},
	{Path: "budget_line_id", Column: "line_id", Type: filter.String, Get: func(d *domain.DeferredCommitment) any { return d.LineID }},
	{Path: "source_reference", Column: "source_ref", Type: filter.String, Get: func(d *domain.DeferredCommitment) any { return d.SourceRef }},
	{Path: "term_value.currency_code", Column: "amount_currency", Type: filter.String,
		Get: func(d *domain.DeferredCommitment) any { return string(d.Amount.Currency) }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(d *domain.DeferredCommitment) any { return d.CreateTime }},
})

// ListDeferredCommitments returns the deferred commitments lq selects (see DeferredCommitmentTable) of the
// cost centre, which may be Wildcard.
func (s Store) ListDeferredCommitments(ctx context.Context, costCenterID string, lq *listing.Query) ([]*domain.DeferredCommitment, error) {
	const q = `SELECT ` + deferredColumns + ` FROM deferred_commitments`
	return sqlstore.List(ctx, s.Q, "deferred commitments", scanDeferredCommitment, q, lq,
		sqlstore.Parent{Column: "cost_center_id", Value: costCenterID})
}

// deferredActualColumns are the columns every deferred actual query selects, in
// scanDeferredActual's order.
const deferredActualColumns = `id, cost_center_id, fiscal_year, line_id, amount_minor, amount_currency, booking_date, ` +
	`description, source_ref, contract, create_time`

func scanDeferredActual(s sqlstore.Scanner) (*domain.DeferredActual, error) {
	var (
		d       domain.DeferredActual
		booking string
	)
	if err := s.Scan(&d.ID, &d.CostCenterID, &d.FiscalYear, &d.LineID, &d.Amount.Minor, &d.Amount.Currency, &booking,
		&d.Description, &d.SourceRef, &d.Contract, &d.CreateTime); err != nil {
		return nil, err
	}
	var err error
	if d.BookingDate, err = parseDate(booking); err != nil {
		return nil, err
	}
	d.CreateTime = d.CreateTime.UTC()
	return &d, nil
}

// DeferActual keeps d until its budget can take it, unless a deferred actual with d's ID is kept
// already or was deleted (MarkDeferredDeleted); it reports whether it added d.
func (t Tx) DeferActual(ctx context.Context, d *domain.DeferredActual) (bool, error) {
	const q = `INSERT INTO deferred_actuals (` + deferredActualColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
		$10, $11) ON CONFLICT (id) DO NOTHING`
	res, err := t.ExecContext(ctx, q, d.ID, d.CostCenterID, d.FiscalYear, d.LineID, d.Amount.Minor, string(d.Amount.Currency),
		formatDate(d.BookingDate), d.Description, d.SourceRef, d.Contract, d.CreateTime.UTC().Truncate(time.Microsecond))
	if err != nil {
		return false, fmt.Errorf("defer actual %s: %w", d.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("defer actual %s: %w", d.ID, err)
	}
	if n == 0 {
		return false, nil
	}
	return t.undoDeleted(ctx, "deferred_actuals", d.ID)
}

// DeferredActuals returns the actuals deferred to the cost centre's budget for the fiscal year:
// the invoices first, then the credit notes, each in the order they were deferred, so that a
// credit note finds the invoice it corrects booked. The transaction keeps them from changing
// until it ends.
func (t Tx) DeferredActuals(ctx context.Context, costCenterID string, fiscalYear int32) ([]*domain.DeferredActual, error) {
	const q = `SELECT ` + deferredActualColumns + ` FROM deferred_actuals WHERE cost_center_id = $1 AND fiscal_year = $2
		ORDER BY CASE WHEN amount_minor < 0 THEN 1 ELSE 0 END, create_time, id`
	return sqlstore.All(ctx, t, fmt.Sprintf("actuals deferred to the budget of %s for %d", costCenterID, fiscalYear),
		scanDeferredActual, t.ForUpdate(q), costCenterID, fiscalYear)
}

// GetDeferredActual returns the actual deferred with the ID for the cost centre, or
// domain.ErrDeferredActualNotFound; in a transaction it keeps the row from changing until the
// transaction ends, so that a deletion and an approval booking it (DeferredActuals) take it one
// after the other.
func (r reader) GetDeferredActual(ctx context.Context, costCenterID, id string) (*domain.DeferredActual, error) {
	const q = `SELECT ` + deferredActualColumns + ` FROM deferred_actuals WHERE cost_center_id = $1 AND id = $2`
	return sqlstore.Get(ctx, r.Q, "deferred actual "+id, domain.ErrDeferredActualNotFound, scanDeferredActual,
		r.ForUpdate(q), costCenterID, id)
}

// DeleteDeferredActual deletes the deferred actual with the ID, once booked or when an operator
// deletes it.
func (t Tx) DeleteDeferredActual(ctx context.Context, id string) error {
	const q = `DELETE FROM deferred_actuals WHERE id = $1`
	return sqlstore.Exec(ctx, t, nil, q, id)
}

// DeferredActualTable is what ListDeferredActuals can filter and order by.
var DeferredActualTable = listing.NewTable("name", []listing.Field[*domain.DeferredActual]{
	{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.DeferredActualPattern),
		Get: func(d *domain.DeferredActual) any { return d.ID }},
	{Path: "cost_center", Column: "cost_center_id", Type: filter.String, Value: listing.NameID("cost_center", domain.CostCenterPattern),
		Get: func(d *domain.DeferredActual) any { return d.CostCenterID }},
	{Path: "fiscal_year", Column: "fiscal_year", Type: filter.Int, Get: func(d *domain.DeferredActual) any { return int64(d.FiscalYear) }},
	{Path: "budget_line_id", Column: "line_id", Type: filter.String, Get: func(d *domain.DeferredActual) any { return d.LineID }},
	{Path: "booking_date", Column: "booking_date", Type: filter.String, Get: func(d *domain.DeferredActual) any { return formatDate(d.BookingDate) }},
	{Path: "external_reference", Column: "source_ref", Type: filter.String, Get: func(d *domain.DeferredActual) any { return d.SourceRef }},
	{Path: "contract", Column: "contract", Type: filter.String, Get: func(d *domain.DeferredActual) any { return d.Contract }},
	{Path: "amount.currency_code", Column: "amount_currency", Type: filter.String,
		Get: func(d *domain.DeferredActual) any { return string(d.Amount.Currency) }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(d *domain.DeferredActual) any { return d.CreateTime }},
})

// ListDeferredActuals returns the deferred actuals lq selects (see DeferredActualTable) of the
// cost centre, which may be Wildcard.
func (s Store) ListDeferredActuals(ctx context.Context, costCenterID string, lq *listing.Query) ([]*domain.DeferredActual, error) {
	const q = `SELECT ` + deferredActualColumns + ` FROM deferred_actuals`
	return sqlstore.List(ctx, s.Q, "deferred actuals", scanDeferredActual, q, lq,
		sqlstore.Parent{Column: "cost_center_id", Value: costCenterID})
}
