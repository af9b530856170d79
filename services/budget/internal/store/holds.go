package store

import (
	"context"
	"database/sql"
	"fmt"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// HoldExpiryKind is the kind of the due item that lets a hold lapse at its expire time, the
// scheduler handler's key.
const HoldExpiryKind = "hold_expiry"

// holdExpiryKey names the due item of a hold's expiry.
func holdExpiryKey(id string) string { return "holds/" + id + ":expiry" }

// holdColumns are the columns every hold query selects, in scanHold's order.
const holdColumns = `id, budget_id, chain_id, line_id, amount_minor, amount_currency, part_minor, held_minor, ` +
	`rate_id, rate_month, rate_source, rate_target, rate_value, service_start, service_end, expected_date, period, ` +
	`description, source, source_ref, expire_time, state, commitment_id, commitment_budget_id, creator, ` +
	`create_time, update_time, version`

func scanHold(s sqlstore.Scanner) (*domain.Hold, error) {
	var (
		h                        domain.Hold
		rate                     rateColumns
		start, end, date         string
		commitment, commitBudget sql.NullString
	)
	dest := []any{&h.ID, &h.BudgetID, &h.ChainID, &h.LineID, &h.Amount.Minor, &h.Amount.Currency, &h.PartMinor, &h.HeldMinor}
	dest = append(dest, rate.dest()...)
	dest = append(dest, &start, &end, &date, &h.Period, &h.Description, &h.Source, &h.SourceRef, &h.ExpireTime, &h.State,
		&commitment, &commitBudget, &h.Creator, &h.CreateTime, &h.UpdateTime, &h.Version)
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	var err error
	if h.Rate, err = rate.use(); err != nil {
		return nil, err
	}
	for _, d := range []struct {
		s   string
		dst *domain.Date
	}{{start, &h.ServiceStart}, {end, &h.ServiceEnd}, {date, &h.Date}} {
		if *d.dst, err = parseDate(d.s); err != nil {
			return nil, err
		}
	}
	h.CommitmentID, h.CommitmentBudgetID = commitment.String, commitBudget.String
	h.ExpireTime, h.CreateTime, h.UpdateTime = h.ExpireTime.UTC(), h.CreateTime.UTC(), h.UpdateTime.UTC()
	return &h, nil
}

func holdArgs(h *domain.Hold) []any {
	args := []any{h.ID, h.BudgetID, h.ChainID, h.LineID, h.Amount.Minor, string(h.Amount.Currency), h.PartMinor, h.HeldMinor}
	args = append(args, rateArgs(h.Rate)...)
	return append(args, formatDate(h.ServiceStart), formatDate(h.ServiceEnd), formatDate(h.Date), h.Period,
		h.Description, int(h.Source), h.SourceRef, h.ExpireTime, int(h.State), sqlstore.NullString(h.CommitmentID),
		sqlstore.NullString(h.CommitmentBudgetID), h.Creator, h.CreateTime, h.UpdateTime, h.Version)
}

// HoldTable is what ListHolds can filter and order by.
var HoldTable = listing.NewTable("name", []listing.Field[*domain.Hold]{
	{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.HoldPattern),
		Get: func(h *domain.Hold) any { return h.ID }},
	{Path: "budget", Column: "budget_id", Type: filter.String, Value: listing.NameID("budget", domain.BudgetPattern),
		Get: func(h *domain.Hold) any { return h.BudgetID }},
	{Path: "line", Column: lineNameColumn, Type: filter.String, Value: listing.Name("line", domain.LinePattern),
		Get: func(h *domain.Hold) any { return domain.LineName(h.BudgetID, h.LineID) }},
	{Path: "state", Column: "state", Type: filter.Enum, Enum: listing.EnumNumbers(budgetv1.Hold_STATE_UNSPECIFIED.Descriptor())},
	{Path: "source", Column: "source", Type: filter.Enum, Enum: listing.EnumNumbers(budgetv1.Commitment_SOURCE_UNSPECIFIED.Descriptor())},
	{Path: "source_reference", Column: "source_ref", Type: filter.String, Get: func(h *domain.Hold) any { return h.SourceRef }},
	{Path: "amount.currency_code", Column: "amount_currency", Type: filter.String,
		Get: func(h *domain.Hold) any { return string(h.Amount.Currency) }},
	{Path: "creator", Column: "creator", Type: filter.String, Get: func(h *domain.Hold) any { return h.Creator }},
	{Path: "expire_time", Column: "expire_time", Type: filter.Timestamp, Get: func(h *domain.Hold) any { return h.ExpireTime }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(h *domain.Hold) any { return h.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(h *domain.Hold) any { return h.UpdateTime }},
})

// GetHold returns the hold of the budget revision and line, or domain.ErrHoldNotFound; in a
// transaction it keeps the row from changing until the transaction ends.
func (r reader) GetHold(ctx context.Context, budgetID, lineID, id string) (*domain.Hold, error) {
	const q = `SELECT ` + holdColumns + ` FROM holds WHERE budget_id = $1 AND line_id = $2 AND id = $3`
	return sqlstore.Get(ctx, r.Q, "hold "+id, domain.ErrHoldNotFound, scanHold, r.ForUpdate(q), budgetID, lineID, id)
}

// ListHolds returns the holds lq selects (see HoldTable) of the budget revision and line;
// either may be Wildcard.
func (s Store) ListHolds(ctx context.Context, budgetID, lineID string, lq *listing.Query) ([]*domain.Hold, error) {
	const q = `SELECT ` + holdColumns + ` FROM holds`
	return sqlstore.List(ctx, s.Q, "holds", scanHold, q, lq,
		sqlstore.Parent{Column: "budget_id", Value: budgetID}, sqlstore.Parent{Column: "line_id", Value: lineID})
}

// HeldHolds returns the chain's HELD holds in ID order, keeping them from changing until the
// transaction ends.
func (t Tx) HeldHolds(ctx context.Context, chainID string) ([]*domain.Hold, error) {
	const q = `SELECT ` + holdColumns + ` FROM holds WHERE chain_id = $1 AND state = $2 ORDER BY id`
	return sqlstore.All(ctx, t, "held holds of chain "+chainID, scanHold, t.ForUpdate(q), chainID, int(domain.HoldHeld))
}

// HoldsWithRate returns the held holds converted with the exchange rate rateID, ordered by chain
// and ID; lock says whether to lock them (after their chains).
func (t Tx) HoldsWithRate(ctx context.Context, rateID string, lock bool) ([]*domain.Hold, error) {
	q := `SELECT ` + holdColumns + ` FROM holds WHERE rate_id = $1 AND state = $2 ORDER BY chain_id, id`
	if lock {
		q = t.ForUpdate(q)
	}
	return sqlstore.All(ctx, t, "holds with rate "+rateID, scanHold, q, rateID, int(domain.HoldHeld))
}

// InsertHold stores a new hold and arms its expiry at its expire time, in the transaction.
func (t Tx) InsertHold(ctx context.Context, h *domain.Hold) error {
	const q = `INSERT INTO holds (` + holdColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
		$11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)`
	if err := sqlstore.Exec(ctx, t, spendError("hold "+h.ID), q, holdArgs(h)...); err != nil {
		return err
	}
	return scheduler.Schedule(ctx, t, scheduler.Item{Key: holdExpiryKey(h.ID), Kind: HoldExpiryKind,
		Resource: h.Name(), Due: h.ExpireTime})
}

// UpdateHold replaces the stored hold whose version is prevVersion with h. A hold that is no
// longer HELD has its pending expiry cancelled in the same transaction.
func (t Tx) UpdateHold(ctx context.Context, h *domain.Hold, prevVersion int64) error {
	const q = `UPDATE holds SET budget_id = $2, chain_id = $3, line_id = $4, amount_minor = $5,
		amount_currency = $6, part_minor = $7, held_minor = $8, rate_id = $9, rate_month = $10, rate_source = $11,
		rate_target = $12, rate_value = $13, service_start = $14, service_end = $15, expected_date = $16,
		period = $17, description = $18, source = $19, source_ref = $20, expire_time = $21, state = $22,
		commitment_id = $23, commitment_budget_id = $24, creator = $25, create_time = $26, update_time = $27,
		version = $28 WHERE id = $1 AND version = $29`
	if err := sqlstore.Exec(ctx, t, spendError("hold "+h.ID), q, append(holdArgs(h), prevVersion)...); err != nil {
		return err
	}
	if h.State != domain.HoldHeld && h.State != domain.HoldExpired {
		// An expired hold's item has fired; one that was released or converted no longer lapses.
		return scheduler.Cancel(ctx, t, holdExpiryKey(h.ID))
	}
	return nil
}

// HoldExpiry returns the state of the expiry item of hold id, or scheduler.ErrNotFound.
func (r reader) HoldExpiry(ctx context.Context, id string) (scheduler.State, error) {
	return scheduler.Get(ctx, r.Q, holdExpiryKey(id))
}

// ChainOf returns the chain of the budget revision, or domain.ErrBudgetNotFound. It locks
// nothing, even in a transaction: a change of figures reads it before it locks the chain (a
// budget's chain never changes), so that the chain is the first lock it takes.
func (r reader) ChainOf(ctx context.Context, budgetID string) (string, error) {
	const q = `SELECT chain_id FROM budgets WHERE id = $1`
	return sqlstore.Get(ctx, r.Q, "budget "+budgetID, domain.ErrBudgetNotFound,
		func(s sqlstore.Scanner) (string, error) {
			var id string
			err := s.Scan(&id)
			return id, err
		}, q, budgetID)
}

// CommitmentByID returns the commitment with the ID, whatever its budget and line, or
// domain.ErrCommitmentNotFound; in a transaction it keeps the row from changing.
func (r reader) CommitmentByID(ctx context.Context, id string) (*domain.Commitment, error) {
	const q = `SELECT ` + commitmentColumns + ` FROM commitments WHERE id = $1`
	c, err := sqlstore.Get(ctx, r.Q, "commitment "+id, domain.ErrCommitmentNotFound, scanCommitment, r.ForUpdate(q), id)
	if err != nil {
		return nil, fmt.Errorf("commitment %s: %w", id, err)
	}
	return c, nil
}
